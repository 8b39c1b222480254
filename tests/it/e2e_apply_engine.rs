//! The apply engine end to end, through the real binary against the emulator: refresh written
//! back when nothing changes, creates recorded before their visibility wait (kill -9 during
//! it orphans nothing), the 30-policy limit during swaps, writes retried after dropped
//! connections, Ctrl-C handled like Terraform, long operations reported, and group renames
//! that free the Exchange name.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use pamform::wire::exchange::cmdlet;
use serde_json::{Value, json};

use crate::support::cli::{Tenant, Workspace};
use crate::support::upn;

const EMAIL: &str = "pam-approvers@contoso.onmicrosoft.com";

/// One approver group, nothing else.
fn one_group(name: &str) -> String {
    format!(
        "approver_group \"approvers\" {{\n  name    = \"{name}\"\n  email   = \"{EMAIL}\"\n  members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]\n}}\n"
    )
}

fn group(tenant: &Tenant, identity: &str) -> Option<Value> {
    let (status, body) = tenant.try_invoke(cmdlet::GET_GROUP, json!({ "Identity": identity }));
    (status == 200).then(|| body["value"][0].clone())
}

fn group_count(tenant: &Tenant) -> usize {
    tenant.invoke(cmdlet::GET_GROUP, json!({"ResultSize": "Unlimited"})).len()
}

/// Spawns `pamform apply --auto-approve` and forwards its stderr lines to a channel.
fn spawn_apply(ws: &Workspace, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut args = vec!["apply", "--auto-approve"];
    args.extend_from_slice(extra);
    let mut child =
        ws.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("apply starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Reads lines until one contains `needle`; returns everything read. Panics when the
/// process ends first.
fn read_until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv() {
        let hit = line.contains(needle);
        seen.push(line);
        if hit {
            return seen;
        }
    }
    panic!("the output never said {needle:?}:\n{}", seen.join("\n"));
}

#[test]
fn a_group_recreated_out_of_band_is_readopted_and_drift_is_clean() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &one_group("PAM Approvers"));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let old_id = ws.state().unwrap().resources[0].id.clone();
    ws.run(&["drift"]).expect(0);

    // Deleted and created again by hand, same email and members: a new object id.
    tenant.invoke(cmdlet::REMOVE_GROUP, json!({"Identity": EMAIL}));
    tenant.invoke(
        cmdlet::NEW_GROUP,
        json!({
            "Name": "PAM Approvers", "DisplayName": "PAM Approvers", "Alias": "pam-approvers",
            "PrimarySmtpAddress": EMAIL, "Members": [upn("alice"), upn("bob")],
        }),
    );
    let new_id = group(&tenant, EMAIL).unwrap()["ExternalDirectoryObjectId"].as_str().unwrap().to_string();
    assert_ne!(old_id, new_id);
    ws.run(&["drift"]).expect(2);

    let run = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("No changes."), "{}", run.all());
    assert!(run.stdout.contains("State updated from the tenant: 1 resource"), "{}", run.all());
    assert_eq!(ws.state().unwrap().resources[0].id, new_id);
    ws.run(&["drift"]).expect(0);

    // Nothing more to record the next time.
    let run = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(!run.stdout.contains("State updated"), "{}", run.all());
}

#[test]
fn kill_during_the_visibility_wait_orphans_nothing() {
    let tenant = Tenant::start();
    tenant.set_faults(json!({"replication_delay_ms": 600_000}));
    let ws = Workspace::new(&tenant, &one_group("PAM Approvers"));
    let (mut child, rx) = spawn_apply(&ws, &["--visibility-timeout", "10m"]);
    // The tenant answered the create; Graph will not show the group for ten minutes.
    read_until(&rx, "approver_group.approvers: Creation complete");
    child.kill().unwrap();
    child.wait().unwrap();

    let state = ws.state().expect("state was written before the visibility wait");
    assert_eq!(state.resources.len(), 1, "{state:?}");
    assert!(group(&tenant, EMAIL).is_some());

    // The configuration no longer names the group: the next apply removes it.
    tenant.set_faults(json!({}));
    ws.configure(&tenant, "");
    let run = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("1 destroyed"), "{}", run.all());
    assert!(group(&tenant, EMAIL).is_none(), "the group was orphaned");
    assert!(ws.state().unwrap().resources.is_empty());
    ws.run(&["drift"]).expect(0);
}

/// Tasks no pamform read or write depends on.
const TASKS: &[&str] = &[
    "Add-RoleGroupMember",
    "Disable-Mailbox",
    "Enable-Mailbox",
    "New-JournalRule",
    "New-MailboxSearch",
    "New-MoveRequest",
    "New-RetentionPolicy",
    "New-RoleGroup",
    "New-TransportRule",
    "Remove-JournalRule",
    "Remove-MoveRequest",
    "Remove-TransportRule",
    "Set-InboxRule",
    "Set-JournalRule",
    "Set-Mailbox",
    "Set-MailboxSearch",
    "Set-MoveRequest",
    "Set-OrganizationConfig",
    "Set-RetentionPolicy",
    "Set-TransportRule",
    "Set-User",
];

fn policy_block(name: &str, task: &str) -> String {
    format!(
        "access_policy \"{name}\" {{\n  task           = \"Exchange\\\\{task}\"\n  approval       = \"manual\"\n  approver_group = approver_group.approvers\n}}\n"
    )
}

#[test]
fn swapping_policies_at_the_limit_never_exceeds_it() {
    let tenant = Tenant::start();
    // Managed: 6 policies named z_*; unmanaged: enough to fill the tenant to 30.
    let managed: Vec<&str> = TASKS[..6].to_vec();
    let mut hcl = one_group("PAM Approvers");
    for (i, t) in managed.iter().enumerate() {
        hcl.push_str(&policy_block(&format!("z_old{i}"), t));
    }
    let ws = Workspace::new(&tenant, &hcl);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    // PAM is off in the tenant, so these gate nothing.
    let roles = [
        "Move Mailboxes",
        "Mailbox Search",
        "Journaling",
        "Transport Rules",
        "Retention Management",
        "Legal Hold",
        "Mail Recipients",
        "Distribution Groups",
        "Organization Configuration",
        "Role Management",
    ];
    let role_groups = ["Organization Management", "Recipient Management", "Compliance Management"];
    let targets: Vec<String> = TASKS[10..]
        .iter()
        .map(|t| format!("Exchange\\{t}"))
        .chain(roles.iter().map(|r| format!("Role:{r}")))
        .chain(role_groups.iter().map(|g| format!("RoleGroup:{g}")))
        .collect();
    for t in targets.iter().take(30 - managed.len()) {
        tenant
            .invoke(cmdlet::NEW_POLICY, json!({"Task": t, "ApprovalType": "Manual", "ApproverGroup": EMAIL}));
    }
    assert_eq!(tenant.policies().len(), 30);
    let (status, body) = tenant.try_invoke(
        cmdlet::NEW_POLICY,
        json!({"Task": "Exchange\\Get-Mailbox", "ApprovalType": "Manual", "ApproverGroup": EMAIL}),
    );
    assert_ne!(status, 200, "the tenant was not full: {body}");

    // Swap four of the six managed policies for four new ones whose addresses sort first.
    let mut hcl = one_group("PAM Approvers");
    for (i, t) in managed[..2].iter().enumerate() {
        hcl.push_str(&policy_block(&format!("z_old{i}"), t));
    }
    for (i, t) in TASKS[6..10].iter().enumerate() {
        hcl.push_str(&policy_block(&format!("a_new{i}"), t));
    }
    ws.configure(&tenant, &hcl);
    let run = ws.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("4 added, 0 changed, 4 destroyed"), "{}", run.all());
    assert_eq!(tenant.policies().len(), 30);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn one_apply_converges_with_dropped_connections() {
    let mut hcl = one_group("PAM Approvers");
    for (i, t) in TASKS[..8].iter().enumerate() {
        hcl.push_str(&policy_block(&format!("p{i}"), t));
    }
    let mut dropped = 0;
    for seed in 1..=4 {
        let tenant = Tenant::start();
        tenant.set_faults(json!({"drop_rate": 0.08, "fault_seed": seed}));
        let ws = Workspace::new(&tenant, &hcl);
        let run = ws.run(&["apply", "--auto-approve"]);
        assert_eq!(run.code, 0, "seed {seed}\n{}", run.all());
        dropped += tenant.counters()["dropped"].as_u64().unwrap_or(0);
        tenant.set_faults(json!({}));
        let plan = ws.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(plan.code, 0, "seed {seed}: one apply did not converge\n{}", plan.all());
        assert_eq!(tenant.policies().len(), 8);
        assert_eq!(group_count(&tenant), 1);
        assert_eq!(tenant.group_members(EMAIL), vec![upn("alice"), upn("bob")]);
    }
    assert!(dropped > 0, "no connection was dropped");
}

fn group_and_two_policies() -> String {
    let mut hcl = one_group("PAM Approvers");
    hcl.push_str(&policy_block("first", "Set-Mailbox"));
    hcl.push_str(&policy_block("second", "New-MoveRequest"));
    hcl
}

fn interrupt(child: &Child) {
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Waits for the process, with the rest of its stderr.
fn finish(child: Child, rx: mpsc::Receiver<String>) -> (Option<i32>, String, String) {
    let rest: Vec<String> = rx.iter().collect();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), rest.join("\n"))
}

#[test]
fn ctrl_c_finishes_what_runs_saves_state_and_reports() {
    let tenant = Tenant::start();
    // Every Exchange answer takes 1.5 s: creating the group (a read, then the write) takes
    // at least 3 s after it is announced.
    tenant.set_faults(json!({"exchange_latency_ms": 1500}));
    let ws = Workspace::new(&tenant, &group_and_two_policies());
    let (child, rx) = spawn_apply(&ws, &["--parallelism", "1"]);
    read_until(&rx, "approver_group.approvers: Creating...");
    interrupt(&child);
    let (code, stdout, stderr) = finish(child, rx);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("Interrupt received."), "{stderr}");
    assert!(stderr.contains("Please wait for pamform to exit or data loss may occur."), "{stderr}");
    // The running create finished and is recorded; nothing else started.
    assert!(stderr.contains("approver_group.approvers: Creation complete"), "{stderr}");
    assert!(!stderr.contains("access_policy.first: Creating..."), "{stderr}");
    assert!(stderr.contains("access_policy.first was not created"), "{stderr}");
    assert!(stdout.contains("Apply interrupted. Resources: 1 added, 0 changed, 0 destroyed."), "{stdout}");
    let state = ws.state().unwrap();
    assert_eq!(state.resources.len(), 1);
    assert!(tenant.policies().is_empty());

    // The lock was released: the next apply takes it at once and finishes the job.
    tenant.set_faults(json!({}));
    let run = ws.run(&["apply", "--auto-approve", "--lock-timeout", "0s"]).expect(0);
    assert!(run.stdout.contains("2 added"), "{}", run.all());
    assert_eq!(tenant.policies().len(), 2);
}

#[test]
fn a_second_ctrl_c_stops_at_once_with_state_consistent() {
    let tenant = Tenant::start();
    tenant.set_faults(json!({"exchange_latency_ms": 1500}));
    let ws = Workspace::new(&tenant, &group_and_two_policies());
    let (child, rx) = spawn_apply(&ws, &["--parallelism", "1"]);
    read_until(&rx, "approver_group.approvers: Creating...");
    interrupt(&child);
    read_until(&rx, "Interrupt received.");
    interrupt(&child);
    let (code, stdout, stderr) = finish(child, rx);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("Two interrupts received. Exiting immediately"), "{stderr}");
    assert!(!stdout.contains("Apply"), "no summary after a second interrupt: {stdout}");
    // Whatever the instant, the state is readable and a new apply converges.
    let _ = ws.state();
    tenant.set_faults(json!({}));
    ws.run(&["apply", "--auto-approve", "--lock-timeout", "0s"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(tenant.policies().len(), 2);
    assert_eq!(group_count(&tenant), 1);
}

#[test]
fn a_long_operation_says_it_is_still_running_every_ten_seconds() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &group_and_two_policies());
    let (child, rx) = spawn_apply(&ws, &["--parallelism", "1"]);
    read_until(&rx, "approver_group.approvers: Creating...");
    // From now on every Exchange answer takes 10.5 s: the next write runs past 10 s.
    tenant.set_faults(json!({"exchange_latency_ms": 10_500}));
    let seen = read_until(&rx, ": Still creating... [10s elapsed]");
    let line = seen.last().unwrap();
    assert!(line.starts_with("approver_group.approvers:") || line.starts_with("access_policy."), "{line}");
    interrupt(&child);
    let (code, stdout, stderr) = finish(child, rx);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("Apply interrupted."), "{stdout}");
}

#[test]
fn renaming_a_group_frees_its_exchange_name() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &one_group("Team"));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(group(&tenant, EMAIL).unwrap()["Name"], json!("Team"));

    ws.configure(&tenant, &one_group("Team Old"));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let g = group(&tenant, EMAIL).unwrap();
    assert_eq!((g["Name"].clone(), g["DisplayName"].clone()), (json!("Team Old"), json!("Team Old")));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);

    // A new group can take the old name.
    let mut hcl = one_group("Team Old");
    hcl.push_str(
        "approver_group \"second\" {\n  name    = \"Team\"\n  email   = \"team@contoso.onmicrosoft.com\"\n  members = [\"carol@contoso.onmicrosoft.com\"]\n}\n",
    );
    ws.configure(&tenant, &hcl);
    let run = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(group(&tenant, "team@contoso.onmicrosoft.com").unwrap()["Name"], json!("Team"));
}
