//! Scheduler tests with an executor that records calls; the tenant side is covered end to
//! end against the emulator.

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::*;
use crate::model::Membership;
use crate::plan::attributes::{GroupAttrs, PolicyAttrs};
use crate::plan::{PlanMode, Reason};

struct Recorder {
    calls: Mutex<Vec<String>>,
    fail: Option<Address>,
}

impl Executor for Recorder {
    async fn execute(&self, change: &ResourceChange) -> Result<Applied, OperationError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.calls.lock().unwrap().push(change.address.to_string());
        if self.fail.as_ref() == Some(&change.address) {
            return Err(OperationError("boom".into()));
        }
        Ok(recorded_after(change))
    }
}

fn group(name: &str) -> Attrs {
    Attrs::Group(GroupAttrs {
        name: name.into(),
        email: format!("{name}@x.io"),
        alias: name.into(),
        description: String::new(),
        members: BTreeSet::new(),
        membership: Membership::Authoritative,
    })
}

fn policy(task: &str, group: &str) -> Attrs {
    Attrs::Policy(PolicyAttrs {
        task: Some(format!("Exchange\\{task}")),
        role: None,
        role_group: None,
        approval: crate::model::Approval::Manual,
        approver_group: format!("{group}@x.io"),
    })
}

fn change(address: Address, action: Action, after: Option<Attrs>, deps: Vec<Address>) -> ResourceChange {
    ResourceChange {
        remote_id: Some(format!("id-{address}")),
        address,
        action,
        before: None,
        after,
        changed: vec![],
        replace_paths: vec![],
        reasons: vec![Reason::Adopt],
        importing: None,
        previous_address: None,
        dependencies: deps,
    }
}

fn plan(changes: Vec<ResourceChange>) -> Plan {
    Plan { mode: PlanMode::Normal, targets: vec![], changes, drift: vec![] }
}

async fn apply(p: &Plan, ex: &Recorder, state: &mut State) -> (Report, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::new(dir.path());
    let report = run(p, ex, state, &store, 3, &|_| {}).await.unwrap();
    (report, dir)
}

#[tokio::test]
async fn creates_wait_for_dependencies_and_state_is_saved_after_each() {
    let g = Address::group("g");
    let p1 = Address::policy("p1");
    let p2 = Address::policy("p2");
    let p = plan(vec![
        change(p1.clone(), Action::Create, Some(policy("A-B", "g")), vec![g.clone()]),
        change(p2.clone(), Action::Create, Some(policy("C-D", "g")), vec![g.clone()]),
        change(g.clone(), Action::Create, Some(group("g")), vec![]),
    ]);
    let ex = Recorder { calls: Mutex::default(), fail: None };
    let mut state = State::new("t");
    let (report, dir) = apply(&p, &ex, &mut state).await;
    assert!(report.is_success());
    let calls = ex.calls.lock().unwrap().clone();
    assert_eq!(calls[0], "approver_group.g");
    assert_eq!(state.resources.len(), 3);
    // One save per operation.
    let saved = StateStore::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(saved.serial, 3);
    assert_eq!(saved, state);
}

#[tokio::test]
async fn deletes_run_in_reverse_dependency_order() {
    let g = Address::group("g");
    let p1 = Address::policy("p1");
    let p = plan(vec![
        change(g.clone(), Action::Delete, None, vec![]),
        change(p1.clone(), Action::Delete, None, vec![g.clone()]),
    ]);
    let ex = Recorder { calls: Mutex::default(), fail: None };
    let mut state = State::new("t");
    state.upsert(ResourceState::new(g.clone(), "id".into(), group("g").to_value(), vec![]));
    state.upsert(ResourceState::new(p1.clone(), "id".into(), policy("A-B", "g").to_value(), vec![g.clone()]));
    let (report, _dir) = apply(&p, &ex, &mut state).await;
    assert!(report.is_success());
    assert_eq!(*ex.calls.lock().unwrap(), vec!["access_policy.p1", "approver_group.g"]);
    assert!(state.resources.is_empty());
}

#[tokio::test]
async fn a_failure_skips_dependents_and_others_complete() {
    let g = Address::group("g");
    let h = Address::group("h");
    let p1 = Address::policy("p1");
    let p = plan(vec![
        change(g.clone(), Action::Create, Some(group("g")), vec![]),
        change(h.clone(), Action::Create, Some(group("h")), vec![]),
        change(p1.clone(), Action::Create, Some(policy("A-B", "g")), vec![g.clone()]),
    ]);
    let ex = Recorder { calls: Mutex::default(), fail: Some(g.clone()) };
    let mut state = State::new("t");
    let (report, _dir) = apply(&p, &ex, &mut state).await;
    assert_eq!(report.failed, vec![(g.clone(), "boom".to_string())]);
    assert_eq!(report.skipped, vec![(p1.clone(), g.clone())]);
    assert_eq!(state.resources.iter().map(|r| r.address.clone()).collect::<Vec<_>>(), vec![h]);
}

#[tokio::test]
async fn imports_and_moves_only_touch_state() {
    let old = Address::group("old");
    let new = Address::group("new");
    let imported = Address::group("imp");
    let mut mv = change(new.clone(), Action::NoOp, Some(group("new")), vec![]);
    mv.previous_address = Some(old.clone());
    let mut imp = change(imported.clone(), Action::NoOp, Some(group("imp")), vec![]);
    imp.importing = Some("imp@x.io".into());
    let p = plan(vec![mv, imp]);
    let ex = Recorder { calls: Mutex::default(), fail: None };
    let mut state = State::new("t");
    state.upsert(ResourceState::new(old.clone(), "id-old".into(), group("new").to_value(), vec![]));
    let (report, _dir) = apply(&p, &ex, &mut state).await;
    assert!(report.is_success());
    assert!(ex.calls.lock().unwrap().is_empty());
    assert!(state.get(&old).is_none());
    assert!(state.get(&new).is_some());
    assert_eq!(state.get(&imported).unwrap().id, "id-approver_group.imp");
}

#[tokio::test]
async fn a_group_is_deleted_only_after_nothing_names_it() {
    // The policy moves from group g to group h: Exchange refuses to remove g while the
    // policy still names it, although the policy no longer depends on g in configuration.
    let g = Address::group("g");
    let h = Address::group("h");
    let p1 = Address::policy("p1");
    let mut delete_g = change(g.clone(), Action::Delete, None, vec![]);
    delete_g.before = Some(group("g"));
    let mut replace_p1 = change(p1.clone(), Action::Replace, Some(policy("A-B", "h")), vec![h.clone()]);
    replace_p1.before = Some(policy("A-B", "g"));
    let p = plan(vec![delete_g, replace_p1, change(h.clone(), Action::NoOp, Some(group("h")), vec![])]);
    let ex = Recorder { calls: Mutex::default(), fail: None };
    let mut state = State::new("t");
    let (report, _dir) = apply(&p, &ex, &mut state).await;
    assert!(report.is_success());
    // The replacement is split: the policy's removal, then g's removal and the policy's
    // creation (in either order).
    let calls = ex.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0], "access_policy.p1");
    assert!(calls[1..].contains(&"approver_group.g".to_string()), "{calls:?}");
    assert_eq!(report.succeeded.len(), 3);
}
