//! The pull-request flow through the real binary: `plan --out`, `show PLANFILE`, and
//! `apply PLANFILE` applying exactly what was reviewed, or refusing a stale, tampered or
//! truncated plan, or one edited by hand with its checksum recomputed. The configuration
//! directory may be typed any way, from any working directory. Real JSON outputs validate
//! against the schemas in `schemas/`.

use pamform::wire::exchange::cmdlet;
use serde_json::{Value, json};

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::plans::{plan_validator, schema};
use crate::support::{pamform, upn};

fn assert_valid(validator: &jsonschema::Validator, text: &str, what: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON: {e}\n{text}"));
    let errors: Vec<String> =
        validator.iter_errors(&v).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{v:#}");
    v
}

/// A workspace with the quickstart applied and a pending change saved to plan.bin.
fn planned(tenant: &Tenant) -> Workspace {
    let ws = Workspace::new(tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.configure(
        tenant,
        &QUICKSTART.replace("\"bob@contoso.onmicrosoft.com\"", "\"carol@contoso.onmicrosoft.com\""),
    );
    let run = ws.run(&["plan", "--out", "plan.bin", "--detailed-exitcode"]).expect(2);
    assert!(run.stdout.contains("+ \"carol@contoso.onmicrosoft.com\""), "{}", run.stdout);
    assert!(
        run.stderr.contains("Saved the plan to: plan.bin")
            && run.stderr.contains("    pamform apply plan.bin"),
        "{}",
        run.stderr
    );
    ws
}

fn refused(ws: &Workspace, tenant: &Tenant, expect: &str) {
    let writes = tenant.write_count();
    let state = std::fs::read(ws.file("pamform.state.json")).ok();
    let run = ws.run(&["apply", "plan.bin"]).expect(1);
    assert!(run.stderr.contains("stale plan"), "{}", run.stderr);
    assert!(run.stderr.contains("the saved plan plan.bin "), "the file is named: {}", run.stderr);
    // The message may be wrapped to the terminal's width, each continuation marked `|`.
    let flat = run.stderr.replace("\n  | ", " ").replace('\n', " ");
    assert!(flat.contains(expect), "expected `{expect}` in\n{}", run.stderr);
    assert_eq!(tenant.write_count(), writes, "a refused plan changes nothing in the tenant");
    assert_eq!(std::fs::read(ws.file("pamform.state.json")).ok(), state, "nor the state");
}

#[test]
fn a_fresh_plan_is_applied_exactly() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let run = ws.run(&["apply", "plan.bin"]).expect(0);
    assert!(
        run.stdout.contains("Apply complete! Resources: 0 added, 1 changed, 0 destroyed."),
        "{}",
        run.all()
    );
    assert_eq!(
        tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
        vec![upn("alice"), upn("carol")]
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    // Applying it twice is refused: the state moved.
    refused(&ws, &tenant, "the state changed");
}

#[test]
fn a_saved_plan_on_an_empty_tenant_applies() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["plan", "--out", "plan.bin"]).expect(0);
    ws.run(&["apply", "plan.bin"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn stale_when_the_state_changed() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    ws.run(&["state", "rm", "access_policy.set_mailbox"]).expect(0);
    refused(&ws, &tenant, "the state changed");
}

#[test]
fn stale_when_a_tenant_object_changed_out_of_band() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    tenant.invoke(
        cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("mallory")}),
    );
    refused(&ws, &tenant, "group pam-approvers@contoso.onmicrosoft.com changed in the tenant");
}

#[test]
fn stale_when_a_policy_is_removed_out_of_band() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let id = tenant.policies()[0]["Identity"].as_str().unwrap().to_string();
    tenant.invoke(cmdlet::REMOVE_POLICY, json!({"Identity": id}));
    refused(&ws, &tenant, &format!("access policy {id} disappeared"));
}

#[test]
fn stale_when_the_configuration_changed() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    ws.configure(&tenant, QUICKSTART);
    refused(&ws, &tenant, "the configuration changed");
}

#[test]
fn tampered_and_truncated_plans_are_refused() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let good = std::fs::read_to_string(ws.file("plan.bin")).unwrap();
    let tampered = good.replace("carol@contoso.onmicrosoft.com", "mallory@contoso.onmicrosoft.com");
    assert_ne!(tampered, good);
    for (what, text, says) in [
        ("tampered", tampered, "checksum"),
        ("truncated", good[..good.len() / 2].to_string(), "truncated"),
        ("empty", String::new(), "truncated"),
    ] {
        ws.write("plan.bin", &text);
        let writes = tenant.write_count();
        let run = ws.run(&["apply", "plan.bin"]).expect(1);
        assert!(run.stderr.contains(says), "{what}: {}", run.stderr);
        assert!(run.stderr.contains("pamform plan --out"), "{what}: says what to do: {}", run.stderr);
        assert_eq!(tenant.write_count(), writes, "{what}");
        ws.run(&["show", "plan.bin"]).expect(1);
    }
    ws.run(&["apply", "missing.bin"]).expect(1);
}

#[test]
fn the_plan_file_is_private_and_holds_no_secret() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let text = std::fs::read_to_string(ws.file("plan.bin")).unwrap();
    assert!(!text.contains(tenant.secret()), "the client secret is in the plan file");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format"], "pamform-plan");
    assert_eq!(v["version"], 3);
    let state = ws.state().unwrap();
    assert_eq!(v["state"]["lineage"], json!(state.lineage));
    assert_eq!(v["state"]["serial"], json!(state.serial));
    assert!(v["configuration_hash"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["fingerprints"].as_object().unwrap().keys().any(|k| k.starts_with("group:")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.file("plan.bin")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn show_renders_saved_plans_and_state() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let planned_text = ws.run(&["plan"]).expect(0).stdout;
    let shown = ws.run(&["show", "plan.bin"]).expect(0);
    assert_eq!(shown.stdout, planned_text, "show renders the plan as plan printed it");
    let md = ws.run(&["show", "plan.bin", "--format", "markdown"]).expect(0);
    assert!(md.stdout.contains("approver_group.approvers"), "{}", md.stdout);
    assert!(md.stdout.contains("<details>"), "{}", md.stdout);
    let state_text = ws.run(&["show"]).expect(0);
    assert!(state_text.stdout.contains("# access_policy.move_request:"), "{}", state_text.stdout);
}

#[test]
fn json_outputs_validate_against_the_schemas() {
    let tenant = Tenant::start();
    let states = jsonschema::draft202012::new(&schema("state.schema.json")).unwrap();
    let fresh = Workspace::new(&tenant, QUICKSTART);
    let none =
        assert_valid(&states, &fresh.run(&["show", "--json"]).expect(0).stdout, "show --json, no state");
    assert_eq!(none, json!({"format_version": 1, "resources": []}));

    let ws = planned(&tenant);
    let plans = plan_validator();

    let plan = assert_valid(&plans, &ws.run(&["plan", "--json"]).expect(0).stdout, "plan --json");
    let changes = plan["resource_changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["change"]["actions"] == json!(["update"])), "{plan:#}");
    let shown = assert_valid(
        &plans,
        &ws.run(&["show", "--json", "plan.bin"]).expect(0).stdout,
        "show --json PLANFILE",
    );
    assert_eq!(shown["resource_changes"], plan["resource_changes"]);
    assert_valid(&states, &ws.run(&["show", "--json"]).expect(0).stdout, "show --json");
    assert_valid(&states, &std::fs::read_to_string(ws.file("pamform.state.json")).unwrap(), "the state file");

    // Plans of other modes, and with drift, validate too.
    tenant.invoke(
        cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": "pam-approvers@contoso.onmicrosoft.com", "Member": upn("mallory")}),
    );
    for args in
        [&["plan", "--json"][..], &["plan", "--json", "--destroy"], &["plan", "--json", "--refresh-only"]]
    {
        let v = assert_valid(&plans, &ws.run(args).expect(0).stdout, &format!("{args:?}"));
        assert!(!v["resource_drift"].as_array().unwrap().is_empty(), "{args:?}: {v:#}");
    }
}

/// The binary run from `cwd` with `-C dir` typed as given.
fn run_in(tenant: &Tenant, cwd: &std::path::Path, dir: &str, args: &[&str]) -> crate::support::cli::Run {
    let mut cmd = pamform();
    cmd.current_dir(cwd).arg("-C").arg(dir).args(args);
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    for (k, v) in tenant.env() {
        cmd.env(k, v);
    }
    crate::support::cli::Run::from(cmd.output().expect("pamform runs"))
}

#[test]
fn the_directory_may_be_typed_any_way_and_from_anywhere() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let parent = ws.path().parent().unwrap().to_path_buf();
    let name = ws.path().file_name().unwrap().to_str().unwrap().to_string();
    let elsewhere = tempfile::tempdir().unwrap();
    let absolute = ws.path().to_str().unwrap().to_string();
    let forms: [(&std::path::Path, String); 3] = [
        (&parent, name.clone()),
        (&parent, format!("./{name}/")),
        (elsewhere.path(), format!("{absolute}/")),
    ];
    // Each saved plan is applied with the directory typed another way, from another place.
    let members = ["carol", "dave", "erin"];
    for (i, member) in members.iter().enumerate() {
        let (plan_cwd, plan_dir) = &forms[i];
        let (apply_cwd, apply_dir) = &forms[(i + 1) % forms.len()];
        ws.configure(
            &tenant,
            &QUICKSTART.replace("\"bob@contoso.onmicrosoft.com\"", &format!("\"{}\"", upn(member))),
        );
        // The plan file by its absolute path: file arguments are relative to where pamform
        // runs, which differs between the two commands here.
        let plan = ws.file("plan.bin");
        let plan = plan.to_str().unwrap();
        run_in(&tenant, plan_cwd, plan_dir, &["plan", "--out", plan]).expect(0);
        assert!(ws.file("plan.bin").exists(), "the plan file is written where it was named");
        let run = run_in(&tenant, apply_cwd, apply_dir, &["apply", plan]);
        assert_eq!(run.code, 0, "planned with -C {plan_dir}, applied with -C {apply_dir}:\n{}", run.all());
        assert_eq!(
            tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
            vec![upn("alice"), upn(member)],
            "planned with -C {plan_dir}, applied with -C {apply_dir}"
        );
    }
}

#[test]
fn variables_count_as_evaluation_reads_them() {
    let tenant = Tenant::start();
    let config = QUICKSTART
        .replace("\"bob@contoso.onmicrosoft.com\"", "var.second")
        .replace("# The smallest", "variable \"second\" {\n  type = string\n}\n\n# The smallest");
    let ws = Workspace::new(&tenant, &config);
    let with = |var: &str, value: &str, args: &[&str]| {
        let mut cmd = ws.command(args);
        cmd.env(var, value);
        crate::support::cli::Run::from(cmd.output().expect("pamform runs"))
    };
    with("PAMFORM_VAR_second", &upn("bob"), &["apply", "--auto-approve"]).expect(0);
    // The same value from --var or from the environment is the same configuration; an unused
    // environment variable is not part of it.
    ws.run(&["plan", "--out", "plan.bin", "--var", &format!("second={}", upn("carol"))]).expect(0);
    let mut cmd = ws.command(&["apply", "plan.bin"]);
    cmd.env("PAMFORM_VAR_second", upn("carol")).env("PAMFORM_VAR_unused", "x");
    let run = crate::support::cli::Run::from(cmd.output().unwrap());
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
        vec![upn("alice"), upn("carol")]
    );

    // Another value is another configuration.
    ws.run(&["plan", "--out", "plan.bin", "--var", &format!("second={}", upn("dave"))]).expect(0);
    let run = with("PAMFORM_VAR_second", &upn("erin"), &["apply", "plan.bin"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("stale plan") && run.stderr.contains("the configuration changed"),
        "{}",
        run.stderr
    );
}

/// The plan file with `edit` applied to its JSON and its checksum recomputed, as someone
/// who read the format would do it.
fn edit_plan_file(ws: &Workspace, edit: impl FnOnce(&mut Value)) {
    use sha2::{Digest, Sha256};
    let text = std::fs::read_to_string(ws.file("plan.bin")).unwrap();
    let mut body: Value = serde_json::from_str(&text).unwrap();
    body.as_object_mut().unwrap().remove("checksum");
    edit(&mut body);
    let digest = Sha256::digest(serde_json::to_vec(&body).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    body.as_object_mut().unwrap().insert("checksum".into(), json!(format!("sha256:{hex}")));
    ws.write("plan.bin", &serde_json::to_string(&body).unwrap());
}

#[test]
fn a_hand_edited_plan_with_a_recomputed_checksum_is_refused() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    edit_plan_file(&ws, |body| {
        let changes = body["plan"]["changes"].as_array_mut().unwrap();
        let group = changes.iter_mut().find(|c| c["address"] == json!("approver_group.approvers")).unwrap();
        group["after"]["members"].as_array_mut().unwrap().push(json!(upn("mallory")));
    });
    // The checksum is right: the file reads, and `show` renders the edited plan.
    let shown = ws.run(&["show", "plan.bin"]).expect(0);
    assert!(shown.stdout.contains("mallory"), "{}", shown.stdout);
    refused(
        &ws,
        &tenant,
        "approver_group.approvers: `members` after apply differs: the saved plan adds mallory@contoso.onmicrosoft.com",
    );
    assert_eq!(
        tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
        vec![upn("alice"), upn("bob")],
        "nothing changed in the tenant"
    );
}

#[test]
fn an_edited_action_or_remote_id_is_refused() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    let good = std::fs::read_to_string(ws.file("plan.bin")).unwrap();
    edit_plan_file(&ws, |body| {
        let changes = body["plan"]["changes"].as_array_mut().unwrap();
        let policy = changes.iter_mut().find(|c| c["address"] == json!("access_policy.set_mailbox")).unwrap();
        policy["action"] = json!("delete");
        policy["after"] = Value::Null;
    });
    refused(&ws, &tenant, "access_policy.set_mailbox: the saved plan will destroy it");

    ws.write("plan.bin", &good);
    edit_plan_file(&ws, |body| {
        let changes = body["plan"]["changes"].as_array_mut().unwrap();
        let policy = changes.iter_mut().find(|c| c["address"] == json!("access_policy.set_mailbox")).unwrap();
        policy["remote_id"] = json!("someone-elses-policy");
    });
    refused(&ws, &tenant, "access_policy.set_mailbox: the remote id differs");

    // The untouched file still applies.
    ws.write("plan.bin", &good);
    ws.run(&["apply", "plan.bin"]).expect(0);
}

#[test]
fn a_plan_file_of_another_version_says_to_plan_again() {
    let tenant = Tenant::start();
    let ws = planned(&tenant);
    edit_plan_file(&ws, |body| body["version"] = json!(1));
    let run = ws.run(&["apply", "plan.bin"]).expect(1);
    assert!(run.stderr.contains("has version 1") && run.stderr.contains("plan again"), "{}", run.stderr);
}

#[test]
fn a_saved_implied_move_says_so_and_applies_without_touching_the_tenant() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.configure(&tenant, &QUICKSTART.replace("access_policy \"move_request\"", "access_policy \"move\""));
    let run = ws.run(&["plan", "--out", "plan.bin"]).expect(0);
    assert!(
        run.stdout.contains("  # access_policy.move_request has moved to access_policy.move\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("  #     from = access_policy.move_request\n"), "{}", run.stdout);
    assert!(run.stdout.contains("1 to move."), "{}", run.stdout);
    assert!(!run.stdout.contains("Security impact"), "a move ungates nothing: {}", run.stdout);
    let writes = tenant.write_count();
    ws.run(&["apply", "plan.bin"]).expect(0);
    assert_eq!(tenant.write_count(), writes, "a move changes nothing in the tenant");
    let state = ws.state().unwrap();
    assert!(state.resources.iter().any(|r| r.address.to_string() == "access_policy.move"));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

/// File arguments are relative to where pamform runs, not to `-C`: a plan saved from another
/// directory lands there and is applied from there.
#[test]
fn plan_files_are_relative_to_where_pamform_runs() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = ws.command(args);
        cmd.current_dir(elsewhere.path());
        crate::support::cli::Run::from(cmd.output().unwrap())
    };
    run(&["plan", "--out", "saved.bin"]).expect(0);
    assert!(elsewhere.path().join("saved.bin").exists(), "written where pamform ran");
    assert!(!ws.file("saved.bin").exists(), "not in the configuration directory");
    run(&["show", "saved.bin"]).expect(0);
    run(&["apply", "saved.bin"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}
