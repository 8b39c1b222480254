//! A write whose connection drops after the tenant ran it: the client cannot know whether it
//! ran. Writes that can be checked on retry (a group or policy that now exists) complete; one
//! that cannot is reported as "may or may not have run", and the next apply converges.

use serde_json::json;

use crate::support::cli::{QUICKSTART, Tenant, Workspace};

/// An error message without the terminal renderer's wrapping: no whitespace, no gutter.
fn flat(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_start().trim_start_matches(['x', '|']).trim())
        .collect::<String>()
        .split_whitespace()
        .collect()
}

#[test]
fn a_write_that_loses_its_answer_may_or_may_not_have_run() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    tenant.set_faults(json!({ "drop_after_write": true }));
    let run = ws.run(&["apply", "--auto-approve"]).expect(1);
    assert!(tenant.counters()["dropped"].as_u64().unwrap() > 0, "{}", tenant.counters());

    // Creations are found on retry and complete.
    for done in [
        "approver_group.approvers: Creation complete",
        "access_policy.move_request: Creation complete",
        "access_policy.set_mailbox: Creation complete",
    ] {
        assert!(run.all().contains(done), "{}", run.all());
    }
    // Switching PAM on changes the tenant on every try, so its outcome stays unknown.
    let text = flat(&run.stderr);
    assert!(
        text.contains("Enable-ElevatedAccessControlmayormaynothaverun:theconnectiondroppedafteritwassent;refreshandtryagain"),
        "{}",
        run.all()
    );
    assert!(text.contains("staterecordseverythingthatsucceeded"), "{}", run.all());

    // It did run: the next plan finds PAM on and adopts it; the next apply converges.
    tenant.set_faults(json!({}));
    assert_eq!(tenant.org_config()["ElevatedAccessControl"], json!("Enabled"), "{}", tenant.org_config());
    let plan = ws.run(&["plan"]).expect(0);
    assert!(plan.stdout.contains("privileged_access will be imported"), "{}", plan.all());
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(tenant.policies().len(), 2);
}
