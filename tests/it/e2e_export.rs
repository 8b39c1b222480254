//! Export end to end, through the real binary against an emulator on 127.0.0.1: the contoso
//! example applied, exported into a directory holding only a tenant block, and taken under
//! management by a plan that shows only imports.

use std::path::Path;

use crate::support::cli::{Run, Tenant, Workspace};
use crate::support::pamform;

/// The contoso example with its tenant block replaced by the harness's: its other files
/// (variables, locals, pamvars) as they are.
fn contoso(tenant: &Tenant) -> Workspace {
    let ws = Workspace::new(tenant, "");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.ends_with(".pam.hcl") && !name.ends_with(".pamvars.hcl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        ws.write(&name, &without_tenant_block(&text));
    }
    ws
}

fn without_tenant_block(text: &str) -> String {
    let Some(start) = text.find("tenant {") else { return text.to_string() };
    let end = start + text[start..].find("\n}\n").expect("the tenant block closes") + 3;
    format!("{}{}", &text[..start], &text[end..])
}

fn files(ws: &Workspace) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(ws.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .map(|p| (p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

fn assert_only_imports(run: &Run, n: usize) {
    assert!(
        run.stdout.contains(&format!("Plan: {n} to import, 0 to add, 0 to change, 0 to destroy.")),
        "{}",
        run.all()
    );
    assert!(
        !run.stdout.contains("will be created") && !run.stdout.contains("will be updated"),
        "{}",
        run.stdout
    );
}

#[test]
fn contoso_round_trips_through_export() {
    let tenant = Tenant::start();
    let source = contoso(&tenant);
    source.run(&["apply", "--auto-approve"]).expect(0);

    let ws = Workspace::new(&tenant, "");
    let out = ws.path().to_str().unwrap().to_string();
    let export = ws.run(&["export", "--out", &out]).expect(0);
    assert!(
        export
            .stdout
            .contains("Exported 4 approver groups, 12 access policies and the PAM setting (PAM enabled)"),
        "{}",
        export.all()
    );
    assert!(export.stdout.contains("Every PAM object in the tenant is managed."), "{}", export.stdout);
    // The directory's own tenant block stays; the export adds everything else.
    let names: Vec<String> = files(&ws).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "access_policies.pam.hcl",
            "approver_groups.pam.hcl",
            "imports.pam.hcl",
            "main.pam.hcl",
            "privileged_access.pam.hcl"
        ]
    );
    let text: String = files(&ws).into_iter().map(|(_, t)| t).collect();
    for expected in [
        "approver_group \"pam_security_approvers\"",
        "approver_group = approver_group.pam_mailbox_approvers",
        "default_approver_group = approver_group.pam_approvers",
        "access_policy \"new_move_request\"",
        "access_policy \"role_group_organization_management\"",
        "to = privileged_access",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    ws.run(&["validate"]).expect(0);
    // The exported files are formatted (the harness writes main.pam.hcl).
    let exported: Vec<String> =
        names.iter().filter(|n| *n != "main.pam.hcl").map(|n| ws.file(n).display().to_string()).collect();
    let mut check = vec!["fmt", "--check"];
    check.extend(exported.iter().map(String::as_str));
    ws.run(&check).expect(0);

    // 4 groups, 12 policies, the PAM switch.
    let plan = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert_only_imports(&plan, 17);
    let writes = tenant.write_count();
    let apply = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(apply.stdout.contains("17 imported, 0 added, 0 changed, 0 destroyed"), "{}", apply.all());
    assert_eq!(tenant.write_count(), writes, "importing changes nothing in the tenant");
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);

    // Names are stable: exporting again gives the same files, and needs --force.
    let before = files(&ws);
    let refused = ws.run(&["export", "--out", &out]).expect(1);
    assert!(refused.stderr.contains("pass --force to overwrite"), "{}", refused.stderr);
    assert_eq!(files(&ws), before, "a refused export writes nothing");
    ws.run(&["export", "--out", &out, "--force"]).expect(0);
    assert_eq!(files(&ws), before);
}

#[test]
fn export_takes_the_tenant_from_flags_and_writes_its_block() {
    let tenant = Tenant::start();
    Workspace::new(&tenant, crate::support::cli::QUICKSTART).run(&["apply", "--auto-approve"]).expect(0);

    let ws = Workspace::new(&tenant, "");
    std::fs::remove_file(ws.file("main.pam.hcl")).unwrap();
    let url = &tenant.base_url;
    let nothing = ws.run(&["export"]).expect(1);
    assert!(nothing.stderr.contains("no tenant to export"), "{}", nothing.stderr);
    let export = ws
        .run(&[
            "export",
            "--tenant",
            crate::support::DOMAIN,
            "--exchange-url",
            url,
            "--graph-url",
            url,
            "--login-url",
            url,
        ])
        .expect(0);
    assert!(export.stdout.contains("main.pam.hcl"), "{}", export.stdout);
    let main = std::fs::read_to_string(ws.file("main.pam.hcl")).unwrap();
    assert!(main.contains(&format!("exchange_url = \"{url}\"")), "{main}");
    ws.run(&["fmt", "--check"]).expect(0);
    let plan = ws.run(&["plan"]).expect(0);
    // 1 group, 2 policies, the PAM switch.
    assert_only_imports(&plan, 4);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn export_refuses_a_directory_that_holds_configuration() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, crate::support::cli::QUICKSTART);
    let out = ws.path().to_str().unwrap().to_string();
    let run = ws.run(&["export", "--out", &out, "--force"]).expect(1);
    assert!(run.stderr.contains("already holds configuration"), "{}", run.stderr);

    let elsewhere = Workspace::new(&tenant, "");
    std::fs::rename(elsewhere.file("main.pam.hcl"), elsewhere.file("tenant.pam.hcl")).unwrap();
    let run = ws.run(&["export", "--out", elsewhere.path().to_str().unwrap()]).expect(1);
    assert!(run.stderr.contains("has a tenant block of its own"), "{}", run.stderr);
}

#[test]
fn an_embedded_emulator_file_is_written_relative_to_the_out_directory() {
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("source");
    let out = root.path().join("out");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("main.pam.hcl"),
        format!(
            "tenant {{\n  id       = \"{}\"\n  emulator = \"tenant.json\"\n}}\n{}",
            crate::support::DOMAIN,
            crate::support::cli::QUICKSTART
        ),
    )
    .unwrap();
    let run = |dir: &Path, args: &[&str]| {
        let mut cmd = pamform();
        cmd.arg("-C").arg(dir).args(args).env("NO_COLOR", "1");
        for k in ["PAMFORM_CLIENT_ID", "PAMFORM_CLIENT_SECRET", "PAMFORM_TENANT_ID"] {
            cmd.env_remove(k);
        }
        Run::from(cmd.output().unwrap())
    };
    run(&source, &["apply", "--auto-approve"]).expect(0);
    run(&source, &["export", "--out", out.to_str().unwrap()]).expect(0);
    let main = std::fs::read_to_string(out.join("main.pam.hcl")).unwrap();
    assert!(main.contains("emulator = \"../source/tenant.json\""), "{main}");
    assert_only_imports(&run(&out, &["plan"]).expect(0), 4);
}
