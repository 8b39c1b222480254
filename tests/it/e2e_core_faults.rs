//! apply against a misbehaving tenant: throttling (429 with Retry-After), server errors (503)
//! and replication delay. It converges and the next plan is clean. Also: large membership
//! changes replace the member list in one call, small ones add and remove members.

use pamform::emulator::{Faults, Seed};
use pamform::wire::exchange::cmdlet;
use serde_json::json;

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::upn;

#[test]
fn apply_converges_through_throttling_errors_and_replication_delay() {
    let tenant = Tenant::start();
    tenant.set_faults(json!({
        "throttle_rate": 0.15,
        "server_error_rate": 0.1,
        "retry_after_ms": 50,
        "replication_delay_ms": 400,
        "fault_seed": 7,
    }));
    let ws = Workspace::new(&tenant, QUICKSTART);
    let run = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let c = tenant.counters();
    assert!(
        c["throttled"].as_u64().unwrap() + c["server_errors"].as_u64().unwrap() > 0,
        "the faults were injected: {c}"
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);

    // A change under the same conditions converges too.
    ws.configure(
        &tenant,
        &QUICKSTART.replace("\"bob@contoso.onmicrosoft.com\"", "\"carol@contoso.onmicrosoft.com\""),
    );
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    tenant.set_faults(json!({}));
    assert_eq!(
        tenant.group_members("pam-approvers@contoso.onmicrosoft.com"),
        vec![upn("alice"), upn("carol")]
    );
    assert_eq!(tenant.policies().len(), 2);
}

fn many_users() -> Seed {
    let mut seed: Seed = serde_json::from_str(pamform::emulator::seed::DEFAULT_SEED_JSON).unwrap();
    let template = seed.users.iter().find(|u| u.user_principal_name.starts_with("alice")).unwrap().clone();
    for i in 0..50 {
        let mut u = template.clone();
        u.id = String::new();
        u.user_principal_name = upn(&format!("user{i:02}"));
        u.display_name = Some(format!("User {i:02}"));
        seed.users.push(u);
    }
    seed
}

fn group_of(members: impl Iterator<Item = usize>) -> String {
    let list: Vec<String> = members.map(|i| format!("\"{}\"", upn(&format!("user{i:02}")))).collect();
    format!(
        "approver_group \"big\" {{\n  name    = \"Big\"\n  email   = \"big@contoso.onmicrosoft.com\"\n  members = [{}]\n}}\n",
        list.join(", ")
    )
}

#[test]
fn membership_small_changes_add_and_remove_large_ones_replace() {
    let tenant = Tenant::start_with(Some(many_users()), Faults::default());
    let ws = Workspace::new(&tenant, &group_of(0..25));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    let calls = |name: &str| tenant.counters()["per_cmdlet"][name].as_u64().unwrap_or(0);

    // Three changes: one by one.
    ws.configure(&tenant, &group_of((2..25).chain(40..41)));
    let (adds, removes, replaces) = (
        calls(cmdlet::ADD_GROUP_MEMBER),
        calls(cmdlet::REMOVE_GROUP_MEMBER),
        calls(cmdlet::UPDATE_GROUP_MEMBER),
    );
    ws.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(calls(cmdlet::ADD_GROUP_MEMBER) - adds, 1);
    assert_eq!(calls(cmdlet::REMOVE_GROUP_MEMBER) - removes, 2);
    assert_eq!(calls(cmdlet::UPDATE_GROUP_MEMBER), replaces);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);

    // Forty changes: the whole list in one call.
    ws.configure(&tenant, &group_of(25..50));
    let (adds, removes) = (calls(cmdlet::ADD_GROUP_MEMBER), calls(cmdlet::REMOVE_GROUP_MEMBER));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(calls(cmdlet::UPDATE_GROUP_MEMBER) - replaces, 1);
    assert_eq!((calls(cmdlet::ADD_GROUP_MEMBER), calls(cmdlet::REMOVE_GROUP_MEMBER)), (adds, removes));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(tenant.group_members("big@contoso.onmicrosoft.com").len(), 25);
}

#[test]
fn a_failed_operation_skips_its_dependents_and_the_rest_completes() {
    // A mailbox already holds the address the configuration wants for its group: creating the
    // configured group fails at apply (addresses are unique in Exchange), which the plan,
    // reading groups by address, does not foresee.
    let mut seed: Seed = serde_json::from_str(pamform::emulator::seed::DEFAULT_SEED_JSON).unwrap();
    seed.users.push(
        serde_json::from_value(json!({"user_principal_name": upn("pat"), "mailbox": true,
            "mail": "pam-approvers@contoso.onmicrosoft.com"}))
        .unwrap(),
    );
    let tenant = Tenant::start_with(Some(seed), Faults::default());
    let hcl = format!(
        "{QUICKSTART}\napprover_group \"second\" {{\n  name    = \"Second\"\n  email   = \"second@contoso.onmicrosoft.com\"\n  members = [\"{}\"]\n}}\n",
        upn("dave")
    );
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["apply", "--auto-approve"]).expect(1);
    let out = run.all().replace('\n', " ");
    assert!(out.contains("approver_group.approvers: failed:"), "{}", run.all());
    assert!(out.contains("already being used"), "{}", run.all());
    for dependent in ["access_policy.move_request", "access_policy.set_mailbox", "privileged_access"] {
        assert!(
            run.stderr.contains(&format!("{dependent}: skipped because approver_group.approvers failed")),
            "{dependent}: {}",
            run.all()
        );
    }
    assert!(out.contains("Apply incomplete. Resources: 1 added, 0 changed, 0 destroyed."), "{}", run.all());
    // What succeeded is in state; the independent group exists.
    let state = ws.state().unwrap();
    let addrs: Vec<String> = state.resources.iter().map(|r| r.address.to_string()).collect();
    assert_eq!(addrs, vec!["approver_group.second"]);
    assert_eq!(tenant.group_members("second@contoso.onmicrosoft.com"), vec![upn("dave")]);
    assert!(tenant.policies().is_empty());

    // Once the cause is fixed, apply picks up where it stopped.
    ws.configure(&tenant, &hcl.replace("pam-approvers@contoso", "pam-approvers-2@contoso"));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn independent_operations_run_concurrently_within_the_exchange_limit() {
    let tenant = Tenant::start();
    tenant.set_faults(json!({"exchange_latency_ms": 60, "exchange_concurrency_limit": 3}));
    let tasks =
        ["Set-Mailbox", "New-MailboxSearch", "New-MoveRequest", "New-JournalRule", "New-TransportRule"];
    let mut hcl = String::from(
        "approver_group \"g\" {\n  name    = \"G\"\n  email   = \"g@contoso.onmicrosoft.com\"\n  members = [\"alice@contoso.onmicrosoft.com\"]\n}\n",
    );
    for t in tasks {
        hcl.push_str(&format!(
            "access_policy \"{}\" {{\n  task           = \"Exchange\\\\{t}\"\n  approval       = \"manual\"\n  approver_group = approver_group.g\n}}\n",
            t.to_lowercase().replace('-', "_")
        ));
    }
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let peak = tenant.counters()["peak_concurrency"]["exchange"].as_u64().unwrap();
    assert!(peak > 1, "policies that only share a group ran one by one (peak {peak})");
    assert!(peak <= 3, "the client exceeded Exchange's concurrency limit (peak {peak})");
    assert_eq!(tenant.counters()["per_status"]["429"].as_u64().unwrap_or(0), 0, "{}", tenant.counters());
    tenant.set_faults(json!({}));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn removals_converge_under_replication_delay() {
    let tenant = Tenant::start();
    tenant.set_faults(json!({"replication_delay_ms": 1500}));
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    let cut = QUICKSTART
        .split("access_policy \"set_mailbox\"")
        .next()
        .unwrap()
        .replace(", \"bob@contoso.onmicrosoft.com\"", "");
    ws.configure(&tenant, &cut);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    ws.run(&["apply", "--auto-approve", "--destroy"]).expect(0);
    ws.run(&["plan", "--destroy", "--detailed-exitcode"]).expect(0);
    let run = ws.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(run.stdout.contains("Plan: 2 to add, 1 to change, 0 to destroy."), "{}", run.stdout);
}
