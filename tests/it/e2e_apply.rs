//! plan and apply through the real binary against the emulator: the core loop converges
//! and a second apply writes nothing.

use crate::support::cli::{QUICKSTART, Tenant, Workspace};

#[test]
fn apply_converges_and_a_second_apply_writes_nothing() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    let applied = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        applied.stdout.contains("Apply complete! Resources: 3 added, 1 changed, 0 destroyed."),
        "{}",
        applied.stdout
    );

    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    let writes = tenant.write_count();
    let again = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(tenant.write_count(), writes, "a second apply must not write");

    assert_eq!(tenant.policies().len(), 2);
    assert_eq!(tenant.org_config()["ElevatedAccessControl"], "Enabled");
    let state = ws.state().expect("state written");
    assert_eq!(state.resources.len(), 4);
    assert!(!applied.all().contains(tenant.secret()), "the secret leaked into output");
}

#[test]
fn apply_refuses_to_prompt_without_a_terminal() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let run = ws.run(&["apply"]).expect(1);
    assert!(run.stderr.contains("no terminal"), "{}", run.stderr);
    assert_eq!(tenant.write_count(), 0);
    assert!(ws.state().is_none());
}
