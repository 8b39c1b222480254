//! `pamform emulator exec`: an out-of-band change to the emulated tenant through the real
//! `InvokeCommand` wire, found by `pamform drift`; its output as text and JSON; the emulator
//! it picks (--url, the configuration's URLs, its embedded data file, the server of that
//! file); and its errors (unknown cmdlet, bad parameter, no emulator at the URL, not
//! loopback, a malformed command line).

use serde_json::Value;

use crate::emulator_ux_support::{Served, embedded, flat, run_in};
use crate::support::cli::{QUICKSTART, Run, Tenant, Workspace};
use crate::support::{DOMAIN, upn};

/// `pamform emulator exec ARGS` from an empty directory (no configuration, no credentials).
fn exec_bare(args: &[&str]) -> Run {
    let empty = tempfile::tempdir().unwrap();
    run_in(empty.path(), &[&["emulator", "exec"][..], args].concat())
}

#[test]
fn an_out_of_band_change_is_reported_by_drift() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["drift"]).expect(0);

    // The configuration's URLs name the emulator; the workspace's credentials sign in.
    let mallory = upn("mallory");
    let added = ws
        .run(&[
            "emulator",
            "exec",
            "--",
            "Add-DistributionGroupMember",
            "-Identity",
            "pam-approvers",
            "-Member",
            &mallory,
        ])
        .expect(0);
    assert!(
        added.stderr.contains("Add-DistributionGroupMember done; it returned nothing"),
        "{}",
        added.stderr
    );
    assert!(tenant.group_members("pam-approvers@contoso.onmicrosoft.com").contains(&mallory));

    let drift = ws.run(&["drift", "--json"]).expect(2);
    let report: Value = serde_json::from_str(&drift.stdout).unwrap();
    let text = report.to_string();
    assert!(text.contains(&mallory), "{text}");
    assert!(text.contains("\"high\""), "approver membership widened is high: {text}");
    let human = ws.run(&["drift"]).expect(2);
    assert!(human.stdout.contains("high") && human.stdout.contains(&mallory), "{}", human.stdout);
}

#[test]
fn output_as_text_and_json_from_a_url() {
    let tenant = Tenant::start();
    let url = tenant.base_url.clone();
    let text = exec_bare(&["--url", &url, "--", "Get-Recipient", "-Identity", "alice"]).expect(0);
    assert!(
        text.stdout.contains("PrimarySmtpAddress        : alice@contoso.onmicrosoft.com"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("EmailAddresses            : {SMTP:alice@contoso.onmicrosoft.com}"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("@odata"), "annotations are left out: {}", text.stdout);
    assert!(text.stderr.contains(&format!("Emulator {url}, tenant {DOMAIN}")), "{}", text.stderr);

    let json = exec_bare(&["--url", &url, "--json", "--", "Get-Recipient", "-Identity", "alice"]).expect(0);
    assert_eq!(json.stdout.lines().count(), 1, "one line: {}", json.stdout);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["cmdlet"], "Get-Recipient");
    assert_eq!(v["value"][0]["PrimarySmtpAddress"], "alice@contoso.onmicrosoft.com");
    assert_eq!(v["warnings"], serde_json::json!([]));

    // Switches, `-Name:value` and lists reach the cmdlet.
    let made = exec_bare(&[
        "--url",
        &url,
        "--json",
        "--",
        "New-DistributionGroup",
        "-Name",
        "ops",
        "-Type:Security",
        "-Members",
        "carol@contoso.onmicrosoft.com,dave@contoso.onmicrosoft.com",
    ])
    .expect(0);
    let v: Value = serde_json::from_str(&made.stdout).unwrap();
    assert_eq!(v["value"][0]["RecipientTypeDetails"], "MailUniversalSecurityGroup");
    assert_eq!(tenant.group_members("ops@contoso.onmicrosoft.com").len(), 2);
}

#[test]
fn errors_say_what_went_wrong() {
    let tenant = Tenant::start();
    let url = tenant.base_url.clone();
    let unknown = exec_bare(&["--url", &url, "--", "Frob-Thing", "-Identity", "x"]).expect(1);
    assert!(flat(&unknown.stderr).contains("The term 'Frob-Thing' is not recognized"), "{}", unknown.stderr);

    let bad =
        exec_bare(&["--url", &url, "--", "Add-DistributionGroupMember", "-Identity", "x", "-Nope", "y"])
            .expect(1);
    assert!(flat(&bad.stderr).contains("Invalid cmdlet parameters specified. Nope"), "{}", bad.stderr);

    // A port nobody listens on: the URL is named.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gone = format!("http://127.0.0.1:{port}");
    let unreachable = exec_bare(&["--url", &gone, "--", "Get-OrganizationConfig"]).expect(1);
    let said = flat(&unreachable.stderr);
    assert!(said.contains(&format!("cannot reach an emulator at {gone}")), "{said}");
    assert!(said.contains("pamform emulator serve"), "{said}");

    let remote =
        exec_bare(&["--url", "https://outlook.office365.com", "--", "Get-OrganizationConfig"]).expect(1);
    assert!(flat(&remote.stderr).contains("changes an emulator on this machine only"), "{}", remote.stderr);

    let nameless = exec_bare(&["--url", &url, "--", "Get-Recipient", "alice"]).expect(1);
    assert!(
        flat(&nameless.stderr).contains("`alice` has no parameter name before it"),
        "{}",
        nameless.stderr
    );
    let not_a_cmdlet = exec_bare(&["--url", &url, "--", "pam-approvers!"]).expect(1);
    assert!(flat(&not_a_cmdlet.stderr).contains("is not a cmdlet name"), "{}", not_a_cmdlet.stderr);
    assert_eq!(tenant.write_count(), 0, "nothing changed");
}

#[test]
fn the_embedded_data_file_or_its_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The data file named relative to the configuration directory.
    embedded(dir, std::path::Path::new("tenant.json"), QUICKSTART);
    let run = |args: &[&str]| run_in(dir, args);
    run(&["apply", "--auto-approve"]).expect(0);
    // Embedded: the configuration's data file, in an emulator of its own.
    let mallory = upn("mallory");
    let exec =
        ["emulator", "exec", "--", "Add-DistributionGroupMember", "-Identity", "pam-approvers", "-Member"];
    let embedded = run(&[&exec[..], &[mallory.as_str()]].concat()).expect(0);
    assert!(embedded.stderr.contains("Emulator embedded on"), "{}", embedded.stderr);
    let drift = run(&["drift"]).expect(2);
    assert!(drift.stdout.contains(&mallory), "{}", drift.stdout);

    // Served: the change goes to the server that has the file.
    let served = Served::start(&["--data", dir.join("tenant.json").to_str().unwrap()]);
    let remove =
        ["emulator", "exec", "--", "Remove-DistributionGroupMember", "-Identity", "pam-approvers", "-Member"];
    let there = run(&[&remove[..], &[mallory.as_str()]].concat()).expect(0);
    assert!(
        flat(&there.stderr).contains(&format!(
            "is served at {} (pid {}); running the cmdlet there",
            served.base_url,
            served.pid()
        )),
        "{}",
        there.stderr
    );
    drop(served);
    run(&["drift"]).expect(0);
}
