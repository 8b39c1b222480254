//! Hostile edits of the core loop through the real binary against the emulator: tasks
//! swapped between two policy blocks, a task handed from one block to another, and the
//! other ordinary edits that must never ungate a task the configuration still gates, orphan
//! an object or record one remote id under two addresses.

use std::collections::BTreeMap;

use pamform::emulator::journal::{JournalAction, JournalEntry};
use serde_json::Value;

use crate::support::cli::{QUICKSTART, Tenant, Workspace, converged, policy_ids, state_ids};

/// Every id in state once (the PAM switch aside).
fn no_id_twice(ws: &Workspace) {
    let ids = state_ids(ws);
    let mut seen = BTreeMap::new();
    for (a, id) in ids.iter().filter(|(a, _)| a.as_str() != "privileged_access") {
        if let Some(other) = seen.insert(id.to_lowercase(), a.clone()) {
            panic!("remote id {id} is in state under {other} and {a}");
        }
    }
}

/// Policy removals the emulator recorded since `since`.
fn removals_since(tenant: &Tenant, since: u64) -> Vec<JournalEntry> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let v: Value = rt.block_on(async {
        reqwest::get(format!("{}/_emulator/journal?since={since}", tenant.base_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let entries: Vec<JournalEntry> = serde_json::from_value(v["entries"].clone()).unwrap();
    entries.into_iter().filter(|e| e.action == JournalAction::Removed).collect()
}

fn journal_end(tenant: &Tenant) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let v: Value = rt.block_on(async {
        reqwest::get(format!("{}/_emulator/journal", tenant.base_url)).await.unwrap().json().await.unwrap()
    });
    v["entries"].as_array().and_then(|e| e.last()).and_then(|e| e["seq"].as_u64()).unwrap_or(0)
}

const MOVE: &str = "Exchange\\\\New-MoveRequest";
const MAILBOX: &str = "Exchange\\\\Set-Mailbox";

/// The quickstart with the two policies' tasks exchanged: both tasks stay gated by the new
/// configuration, so neither policy may be removed; each block takes over the other's
/// policy.
#[test]
fn swapping_two_policies_tasks_never_ungates_them() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let ids = policy_ids(&tenant);
    let before = state_ids(&ws);
    let seq = journal_end(&tenant);

    let swapped = QUICKSTART.replace(MOVE, "TMP").replace(MAILBOX, MOVE).replace("TMP", MAILBOX);
    assert_ne!(swapped, QUICKSTART);
    ws.configure(&tenant, &swapped);
    let plan = ws.run(&["plan"]).expect(0);
    assert!(plan.stdout.contains("0 to destroy") || plan.stdout.contains("No changes"), "{}", plan.stdout);
    converged(&ws);

    let removed = removals_since(&tenant, seq);
    assert!(removed.is_empty(), "tasks were ungated although both configurations gate them: {removed:?}");
    assert_eq!(policy_ids(&tenant), ids, "the same policies, with the same ids");
    let after = state_ids(&ws);
    assert_eq!(after["access_policy.move_request"], before["access_policy.set_mailbox"]);
    assert_eq!(after["access_policy.set_mailbox"], before["access_policy.move_request"]);
    no_id_twice(&ws);
}

/// A task handed from one block to another while the first block gates a new task: the
/// handed task stays gated (its policy changes address), the new task is created, and the
/// task nobody gates any more loses its policy; nothing is orphaned.
#[test]
fn a_task_handed_to_another_block_stays_gated() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let ids = policy_ids(&tenant);
    let seq = journal_end(&tenant);

    // move_request: New-MoveRequest -> Set-User; set_mailbox: Set-Mailbox -> New-MoveRequest.
    let handed =
        QUICKSTART.replace(MAILBOX, "TMP").replace(MOVE, "Exchange\\\\Set-User").replace("TMP", MOVE);
    ws.configure(&tenant, &handed);
    converged(&ws);

    let removed: Vec<String> = removals_since(&tenant, seq).iter().map(|e| e.target.to_lowercase()).collect();
    assert!(
        !removed.contains(&"exchange\\new-moverequest".to_string()),
        "New-MoveRequest was ungated although both configurations gate it: {removed:?}"
    );
    let now = policy_ids(&tenant);
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now.get("exchange\\new-moverequest"), ids.get("exchange\\new-moverequest"));
    assert!(now.contains_key("exchange\\set-user"), "{now:?}");
    let state = state_ids(&ws);
    assert_eq!(state["access_policy.set_mailbox"], ids["exchange\\new-moverequest"]);
    assert_eq!(state["access_policy.move_request"], now["exchange\\set-user"]);
    no_id_twice(&ws);
}

const EXTRA: &str = "
access_policy \"extra\" {
  task           = \"Exchange\\\\Set-User\"
  approval       = \"manual\"
  approver_group = approver_group.approvers
}
";

/// apply killed with SIGKILL while the tenant creates a policy (its answer not yet in), then
/// a configuration that no longer names that policy: the policy the tenant made is not left
/// behind unmanaged. State records the create as pending before it starts, so the next plan
/// finds the object by the key it recorded and removes it.
#[test]
fn killed_during_a_create_then_dropped_from_the_configuration_leaves_no_orphan() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);

    tenant.set_faults(serde_json::json!({ "exchange_latency_ms": 3000 }));
    ws.configure(&tenant, &format!("{QUICKSTART}{EXTRA}"));
    let mut child = ws
        .command(&["apply", "--auto-approve"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        let creating = line.contains("access_policy.extra: Creating...");
        seen.push(line);
        if creating {
            break;
        }
    }
    assert!(seen.last().is_some_and(|l| l.contains("Creating...")), "{seen:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    tenant.set_faults(serde_json::json!({ "exchange_latency_ms": 0 }));

    // The create landed in the tenant (whether or not the killed request got through).
    let (status, body) = tenant.try_invoke(
        pamform::wire::exchange::cmdlet::NEW_POLICY,
        serde_json::json!({
            "Task": "Exchange\\Set-User",
            "ApprovalType": "Manual",
            "ApproverGroup": "pam-approvers@contoso.onmicrosoft.com",
        }),
    );
    assert!(status == 200 || body.to_string().contains("already exists"), "{status} {body}");
    assert_eq!(policy_ids(&tenant).len(), 3);

    ws.configure(&tenant, QUICKSTART);
    converged(&ws);
    let now = policy_ids(&tenant);
    assert!(!now.contains_key("exchange\\set-user"), "the killed apply's policy is left unmanaged: {now:?}");
    assert_eq!(now.len(), 2, "{now:?}");
    let state = state_ids(&ws);
    assert!(!state.contains_key("access_policy.extra"), "{state:?}");
    no_id_twice(&ws);
}

/// The same kill, and the configuration keeps the policy: the next apply adopts the object
/// the killed run made instead of failing on "already exists".
#[test]
fn killed_during_a_create_then_applied_again_adopts_the_object() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);

    tenant.set_faults(serde_json::json!({ "exchange_latency_ms": 3000 }));
    ws.configure(&tenant, &format!("{QUICKSTART}{EXTRA}"));
    let mut child = ws
        .command(&["apply", "--auto-approve"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        if line.unwrap().contains("access_policy.extra: Creating...") {
            started = true;
            break;
        }
    }
    assert!(started, "the apply never started the create");
    child.kill().unwrap();
    child.wait().unwrap();
    tenant.set_faults(serde_json::json!({ "exchange_latency_ms": 0, "replication_delay_ms": 1500 }));
    let _ = tenant.try_invoke(
        pamform::wire::exchange::cmdlet::NEW_POLICY,
        serde_json::json!({
            "Task": "Exchange\\Set-User",
            "ApprovalType": "Manual",
            "ApproverGroup": "pam-approvers@contoso.onmicrosoft.com",
        }),
    );
    ws.run(&["apply", "--auto-approve", "--visibility-timeout", "20s"]).expect(0);
    tenant.set_faults(serde_json::json!({ "replication_delay_ms": 0 }));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    let now = policy_ids(&tenant);
    assert_eq!(now.len(), 3, "{now:?}");
    assert_eq!(state_ids(&ws).get("access_policy.extra"), now.get("exchange\\set-user"));
    no_id_twice(&ws);
}

/// The swap applied with `--target` on one of the two blocks: the object handed over is
/// recorded under its new address together with the other half of the exchange, never
/// under two addresses (a state file that names one id twice is refused by every later run).
#[test]
fn swapping_tasks_with_target_on_one_block_keeps_state_loadable() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let before = state_ids(&ws);
    let seq = journal_end(&tenant);

    let swapped = QUICKSTART.replace(MOVE, "TMP").replace(MAILBOX, MOVE).replace("TMP", MAILBOX);
    ws.configure(&tenant, &swapped);
    ws.run(&["apply", "--auto-approve", "--target", "access_policy.move_request"]).expect(0);
    ws.run(&["state", "list"]).expect(0);
    no_id_twice(&ws);
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    let after = state_ids(&ws);
    assert_eq!(after["access_policy.move_request"], before["access_policy.set_mailbox"]);
    assert_eq!(after["access_policy.set_mailbox"], before["access_policy.move_request"]);
    assert!(removals_since(&tenant, seq).is_empty());
}

/// A `moved` block renames one of two blocks whose tasks are swapped in the same edit: the
/// moved block takes over the other's policy, as in a plain swap; nothing is removed.
#[test]
fn moved_block_combined_with_a_task_swap_never_ungates() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let ids = policy_ids(&tenant);
    let before = state_ids(&ws);
    let seq = journal_end(&tenant);

    let edited = QUICKSTART
        .replace(MOVE, "TMP")
        .replace(MAILBOX, MOVE)
        .replace("TMP", MAILBOX)
        .replace("access_policy \"move_request\"", "access_policy \"renamed\"");
    ws.configure(
        &tenant,
        &format!(
            "{edited}\nmoved {{\n  from = access_policy.move_request\n  to   = access_policy.renamed\n}}\n"
        ),
    );
    converged(&ws);

    let removed = removals_since(&tenant, seq);
    assert!(removed.is_empty(), "tasks were ungated although both configurations gate them: {removed:?}");
    assert_eq!(policy_ids(&tenant), ids);
    let after = state_ids(&ws);
    assert!(!after.contains_key("access_policy.move_request"), "{after:?}");
    assert_eq!(after["access_policy.renamed"], before["access_policy.set_mailbox"]);
    assert_eq!(after["access_policy.set_mailbox"], before["access_policy.move_request"]);
    no_id_twice(&ws);
}
