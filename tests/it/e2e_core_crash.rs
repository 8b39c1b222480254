//! Crash safety: `apply` killed with SIGKILL at random moments, each time followed by a normal
//! `apply`. Every time the state file must be readable, the tenant must end up equal to the
//! configuration, and no object may exist twice.

use std::collections::BTreeMap;
use std::time::Duration;

use pamform::wire::exchange::cmdlet;
use rand::Rng;
use serde_json::{Value, json};

use crate::support::cli::{QUICKSTART, Tenant, Workspace};

/// A second configuration that differs from the quickstart in every way apply can act on:
/// new and removed members, a new group, a replaced policy, a new and a removed policy.
const VARIANT: &str = r#"
approver_group "approvers" {
  name    = "PAM Approvers"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "carol@contoso.onmicrosoft.com", "dave@contoso.onmicrosoft.com"]
}

approver_group "mailbox" {
  name    = "PAM Mailbox Approvers"
  email   = "pam-mailbox@contoso.onmicrosoft.com"
  members = ["erin@contoso.onmicrosoft.com", "frank@contoso.onmicrosoft.com"]
}

privileged_access {
  enabled                = true
  default_approver_group = approver_group.mailbox
  system_accounts        = ["svc-pamform@contoso.onmicrosoft.com"]
}

access_policy "set_mailbox" {
  task           = "Exchange\\Set-Mailbox"
  approval       = "auto"
  approver_group = approver_group.mailbox
}

access_policy "search" {
  task           = "Exchange\\New-MailboxSearch"
  approval       = "manual"
  approver_group = approver_group.approvers
}

access_policy "journaling" {
  role           = "Journaling"
  approval       = "manual"
  approver_group = approver_group.approvers
}
"#;

fn count_by(items: &[Value], key: impl Fn(&Value) -> String) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(key(i)).or_insert(0) += 1;
    }
    out
}

fn assert_no_duplicates(tenant: &Tenant) {
    let groups = tenant.invoke(cmdlet::GET_GROUP, json!({"ResultSize": "Unlimited"}));
    let by_email = count_by(&groups, |g| g["PrimarySmtpAddress"].as_str().unwrap_or_default().to_lowercase());
    assert!(by_email.values().all(|n| *n == 1), "duplicate groups: {by_email:?}");
    let policies = tenant.policies();
    let by_target = count_by(&policies, |p| {
        format!("{}|{}|{}", p["Task"], p["ManagementRole"], p["ManagementRoleGroup"]).to_lowercase()
    });
    assert!(by_target.values().all(|n| *n == 1), "duplicate policies: {by_target:?}");
}

#[test]
fn apply_killed_at_random_moments_always_recovers() {
    let tenant = Tenant::start();
    tenant.set_faults(json!({"exchange_latency_ms": 50, "graph_latency_ms": 10}));
    let ws = Workspace::new(&tenant, QUICKSTART);
    let mut rng = rand::rng();
    let mut interrupted = 0;
    for round in 0..20 {
        let config = if round % 2 == 0 { VARIANT } else { QUICKSTART };
        ws.configure(&tenant, config);
        let mut child = ws
            .command(&["apply", "--auto-approve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("apply starts");
        std::thread::sleep(Duration::from_millis(rng.random_range(20..350)));
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        // SIGKILL: no destructors, no lock release but the kernel's.
        let _ = child.kill();
        let _ = child.wait();

        // The state is readable (or absent before the first write), whatever the instant.
        let _ = ws.state();
        assert_no_duplicates(&tenant);

        let run = ws.run(&["apply", "--auto-approve"]);
        assert_eq!(run.code, 0, "round {round}: apply after a kill failed\n{}", run.all());
        ws.run(&["plan", "--detailed-exitcode"]).expect(0);
        assert_no_duplicates(&tenant);
    }
    assert!(interrupted >= 10, "only {interrupted} of 20 applies were interrupted mid-way");
}
