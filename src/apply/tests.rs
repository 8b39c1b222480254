//! Scheduler tests with executors that record calls or model a tenant (its policy limit and
//! its refusal to remove a group something names); the tenant side is covered end to end
//! against the emulator.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use proptest::prelude::*;

use super::*;
use crate::model::Membership;
use crate::plan::attributes::{GroupAttrs, PolicyAttrs};
use crate::plan::{PlanMode, Reason};
use crate::state::StateStore;

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
    let options = Options { concurrency: 3, ..Options::default() };
    let report = run(p, ex, state, &store, &options, &Interrupt::default(), &|_| {}).await.unwrap();
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
    // One save per operation, and one before each create (recording it as pending).
    let saved = StateStore::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(saved.serial, 6);
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

/// A tenant in miniature: policies by address with the group they name, groups by email.
#[derive(Debug, Default)]
struct Model {
    policies: BTreeMap<Address, String>,
    groups: BTreeSet<String>,
    most_policies: usize,
    /// "start ADDR", "end ADDR", "settled ADDR", in the order they happened.
    timeline: Vec<String>,
}

/// An executor over [`Model`] that refuses what Exchange refuses.
struct Fake {
    tenant: Mutex<Model>,
    limit: usize,
    /// Milliseconds a write takes; by operation index in the plan, cycling.
    write_ms: Vec<u64>,
    settle_ms: u64,
    /// A settle also waits until this entry is in the timeline (for at most five seconds).
    settle_until: Option<String>,
    /// Where state is saved, to check it records a write before its settle.
    state_dir: Option<PathBuf>,
    recorded_before_settle: Mutex<Vec<bool>>,
}

impl Fake {
    fn new(model: Model) -> Self {
        Fake {
            tenant: Mutex::new(model),
            limit: 30,
            write_ms: vec![1],
            settle_ms: 0,
            settle_until: None,
            state_dir: None,
            recorded_before_settle: Mutex::default(),
        }
    }

    fn log(&self, what: &str, c: &ResourceChange) {
        let verb = if c.action == Action::Delete { "delete " } else { "" };
        self.tenant.lock().unwrap().timeline.push(format!("{what} {verb}{}", c.address));
    }

    fn position(&self, entry: &str) -> usize {
        let t = self.tenant.lock().unwrap();
        t.timeline.iter().position(|e| e == entry).unwrap_or_else(|| panic!("no {entry} in {:?}", t.timeline))
    }
}

impl Executor for Fake {
    async fn execute(&self, c: &ResourceChange) -> Result<Applied, OperationError> {
        self.log("start", c);
        let n = c.address.name.bytes().map(u64::from).sum::<u64>() as usize;
        tokio::time::sleep(Duration::from_millis(self.write_ms[n % self.write_ms.len()])).await;
        let mut t = self.tenant.lock().unwrap();
        t.timeline.push(format!(
            "end {}{}",
            if c.action == Action::Delete { "delete " } else { "" },
            c.address
        ));
        match (&c.after, c.action) {
            (_, Action::Delete) => match c.address.kind {
                ResourceType::AccessPolicy => {
                    t.policies.remove(&c.address);
                }
                _ => {
                    let email = c.before.as_ref().and_then(Attrs::as_group).unwrap().email.clone();
                    if t.policies.values().any(|g| *g == email) {
                        return Err(OperationError(format!("{email} is still named by a policy")));
                    }
                    t.groups.remove(&email);
                }
            },
            (Some(Attrs::Policy(p)), _) => {
                if !t.policies.contains_key(&c.address) && t.policies.len() >= self.limit {
                    return Err(OperationError("PolicyLimitExceeded".into()));
                }
                if !t.groups.contains(&p.approver_group) {
                    return Err(OperationError(format!("no group {}", p.approver_group)));
                }
                t.policies.insert(c.address.clone(), p.approver_group.clone());
                t.most_policies = t.most_policies.max(t.policies.len());
            }
            (Some(Attrs::Group(g)), _) => {
                t.groups.insert(g.email.clone());
            }
            _ => {}
        }
        Ok(recorded_after(c))
    }

    async fn settle(&self, c: &ResourceChange, _applied: &Applied) {
        if let Some(dir) = &self.state_dir {
            let saved = StateStore::new(dir).load().unwrap().unwrap_or_else(|| State::new("t"));
            let recorded = saved.get(&c.address).is_some() == (c.action != Action::Delete);
            self.recorded_before_settle.lock().unwrap().push(recorded);
        }
        tokio::time::sleep(Duration::from_millis(self.settle_ms)).await;
        if let Some(entry) = &self.settle_until {
            for _ in 0..5000 {
                if self.tenant.lock().unwrap().timeline.contains(entry) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        self.log("settled", c);
    }
}

async fn apply_with<E: Executor>(
    p: &Plan,
    ex: &E,
    state: &mut State,
    dir: &std::path::Path,
    options: &Options,
) -> Report {
    run(p, ex, state, &StateStore::new(dir), options, &Interrupt::default(), &|_| {}).await.unwrap()
}

fn with_before(mut c: ResourceChange, before: Attrs) -> ResourceChange {
    c.before = Some(before);
    c
}

#[tokio::test]
async fn a_create_is_recorded_before_it_settles_and_settling_holds_no_slot() {
    let a = Address::group("a");
    let b = Address::group("b");
    let p1 = Address::policy("p1");
    let p = plan(vec![
        change(a.clone(), Action::Create, Some(group("a")), vec![]),
        change(b.clone(), Action::Create, Some(group("b")), vec![]),
        change(p1.clone(), Action::Create, Some(policy("A-B", "a")), vec![a.clone()]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut ex = Fake::new(Model::default());
    ex.settle_until = Some("start approver_group.b".into());
    ex.state_dir = Some(dir.path().to_path_buf());
    let options = Options { concurrency: 1, ..Options::default() };
    let report = apply_with(&p, &ex, &mut State::new("t"), dir.path(), &options).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(*ex.recorded_before_settle.lock().unwrap(), vec![true, true, true]);
    // With one slot, b is written while a settles; the policy waits for a to settle.
    let (a_settled, b_start) =
        (ex.position("settled approver_group.a"), ex.position("start approver_group.b"));
    let a_end = ex.position("end approver_group.a");
    assert!(a_end < b_start && b_start < a_settled, "{:?}", ex.tenant.lock().unwrap().timeline);
    assert!(a_settled < ex.position("start access_policy.p1"));
}

#[tokio::test]
async fn a_replaced_policy_is_removed_only_when_its_new_group_is_there() {
    let g = Address::group("g");
    let h = Address::group("h");
    let p1 = Address::policy("p1");
    let p = plan(vec![
        change(h.clone(), Action::Create, Some(group("h")), vec![]),
        with_before(
            change(p1.clone(), Action::Replace, Some(policy("A-B", "h")), vec![h.clone()]),
            policy("A-B", "g"),
        ),
        change(g.clone(), Action::NoOp, Some(group("g")), vec![]),
    ]);
    let mut model = Model::default();
    model.groups.insert("g@x.io".into());
    model.policies.insert(p1.clone(), "g@x.io".into());
    let mut ex = Fake::new(model);
    ex.write_ms = vec![20];
    let dir = tempfile::tempdir().unwrap();
    let report = apply_with(&p, &ex, &mut State::new("t"), dir.path(), &Options::default()).await;
    assert!(report.is_success(), "{report:?}");
    assert!(ex.position("settled approver_group.h") < ex.position("start delete access_policy.p1"));
    assert!(ex.position("end delete access_policy.p1") < ex.position("start access_policy.p1"));
}

#[tokio::test]
async fn replacing_a_group_and_the_policy_naming_it_is_ordered_without_a_cycle() {
    // The group's email changes, so it is replaced, and so is the policy that names it.
    let g = Address::group("g");
    let p1 = Address::policy("p1");
    let mut new_g = group("g");
    if let Attrs::Group(x) = &mut new_g {
        x.email = "g2@x.io".into();
    }
    let mut new_p = policy("A-B", "g");
    if let Attrs::Policy(x) = &mut new_p {
        x.approver_group = "g2@x.io".into();
    }
    let p = plan(vec![
        with_before(change(g.clone(), Action::Replace, Some(new_g), vec![]), group("g")),
        with_before(change(p1.clone(), Action::Replace, Some(new_p), vec![g.clone()]), policy("A-B", "g")),
    ]);
    let mut model = Model::default();
    model.groups.insert("g@x.io".into());
    model.policies.insert(p1.clone(), "g@x.io".into());
    let ex = Fake::new(model);
    let dir = tempfile::tempdir().unwrap();
    let report = apply_with(&p, &ex, &mut State::new("t"), dir.path(), &Options::default()).await;
    assert!(report.is_success(), "{report:?}");
    let t = ex.tenant.lock().unwrap();
    assert_eq!(t.groups, BTreeSet::from(["g2@x.io".to_string()]));
    assert_eq!(t.policies.get(&p1).map(String::as_str), Some("g2@x.io"));
}

#[tokio::test]
async fn an_interrupt_lets_the_running_write_finish_and_starts_nothing_new() {
    let names = ["a", "b", "c"];
    let p = plan(
        names.iter().map(|n| change(Address::group(*n), Action::Create, Some(group(n)), vec![])).collect(),
    );
    let mut ex = Fake::new(Model::default());
    ex.write_ms = vec![30];
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::new(dir.path());
    let interrupt = Interrupt::default();
    let options = Options { concurrency: 1, ..Options::default() };
    let mut state = State::new("t");
    let on_event = |e: Event<'_>| {
        if matches!(e, Event::Started(_)) {
            interrupt.trigger();
        }
    };
    let report = run(&p, &ex, &mut state, &store, &options, &interrupt, &on_event).await.unwrap();
    assert!(report.interrupted && !report.is_success());
    assert_eq!(report.succeeded, vec![(Address::group("a"), Action::Create)]);
    assert_eq!(report.not_started.len(), 2);
    let saved = store.load().unwrap().unwrap();
    assert_eq!(
        saved.resources.iter().map(|r| r.address.clone()).collect::<Vec<_>>(),
        vec![Address::group("a")]
    );
}

/// An executor whose writes finish only when released.
struct Held(tokio::sync::Notify);

impl Executor for Held {
    async fn execute(&self, c: &ResourceChange) -> Result<Applied, OperationError> {
        self.0.notified().await;
        Ok(recorded_after(c))
    }
}

#[tokio::test]
async fn a_long_write_reports_that_it_is_still_running() {
    let a = Address::group("a");
    let p = plan(vec![change(a.clone(), Action::Create, Some(group("a")), vec![])]);
    let ex = Held(tokio::sync::Notify::new());
    let dir = tempfile::tempdir().unwrap();
    let ticks = Mutex::new(Vec::new());
    let options = Options { still_running_every: Duration::from_millis(20), ..Options::default() };
    let on_event = |e: Event<'_>| {
        if let Event::StillRunning(c, elapsed) = e {
            let mut t = ticks.lock().unwrap();
            t.push((c.address.clone(), elapsed));
            if t.len() == 2 {
                ex.0.notify_one();
            }
        }
    };
    let mut state = State::new("t");
    let report =
        run(&p, &ex, &mut state, &StateStore::new(dir.path()), &options, &Interrupt::default(), &on_event)
            .await
            .unwrap();
    assert!(report.is_success());
    assert_eq!(
        *ticks.lock().unwrap(),
        vec![(a.clone(), Duration::from_millis(20)), (a, Duration::from_millis(40))]
    );
}

#[tokio::test]
async fn unchanged_resources_get_the_ids_and_values_the_refresh_found() {
    let g = Address::group("g");
    let gone = Address::group("gone");
    let same = Address::group("same");
    let mut state = State::new("t");
    state.upsert(ResourceState::new(g.clone(), "dead".into(), group("g").to_value(), vec![]));
    state.upsert(ResourceState::new(gone.clone(), "id-gone".into(), group("gone").to_value(), vec![]));
    state.upsert(ResourceState::new(
        same.clone(),
        "id-approver_group.same".into(),
        group("same").to_value(),
        vec![],
    ));
    let mut recreated = change(g.clone(), Action::NoOp, Some(group("g")), vec![]);
    recreated.remote_id = Some("new".into());
    let mut p = plan(vec![recreated, change(same.clone(), Action::NoOp, Some(group("same")), vec![])]);
    for (a, id) in [(&g, "dead"), (&gone, "id-gone")] {
        p.drift.push(crate::plan::ResourceDrift {
            address: a.clone(),
            remote_id: id.into(),
            before: group(&a.name),
            after: None,
            changed: vec![],
        });
    }
    assert!(!p.has_changes());
    let ex = Fake::new(Model::default());
    let dir = tempfile::tempdir().unwrap();
    let report = apply_with(&p, &ex, &mut state, dir.path(), &Options::default()).await;
    assert_eq!(report.refreshed, 2);
    assert!(ex.tenant.lock().unwrap().timeline.is_empty());
    assert_eq!(state.get(&g).unwrap().id, "new");
    assert!(state.get(&gone).is_none());
    assert_eq!(StateStore::new(dir.path()).load().unwrap().unwrap(), state);
    // Once recorded, there is nothing more to write.
    assert_eq!(record_refresh(&p, &mut state), 0);
}

/// A swap at the policy limit: `keep` policies stay, `remove` go, `replace` change group
/// (to a new group when `new_group`), `create` are new; every policy names group g.
#[derive(Debug, Clone)]
struct Swap {
    keep: usize,
    remove: usize,
    replace: usize,
    create: usize,
    unmanaged: usize,
    new_group: bool,
    drop_g: bool,
    concurrency: usize,
    write_ms: Vec<u64>,
}

fn swaps() -> impl Strategy<Value = Swap> {
    (
        0usize..20,
        0usize..12,
        0usize..6,
        0usize..12,
        0usize..4,
        any::<bool>(),
        any::<bool>(),
        1usize..6,
        prop::collection::vec(0u64..4, 1..5),
    )
        .prop_map(|(keep, remove, replace, create, unmanaged, new_group, drop_g, concurrency, write_ms)| {
            Swap {
                keep,
                remove,
                replace,
                create,
                unmanaged,
                new_group,
                // g can go only when nothing that stays (managed or not) names it.
                drop_g: drop_g && new_group && keep == 0 && unmanaged == 0,
                concurrency,
                write_ms,
            }
        })
        .prop_filter("fits the limit before and after", |s| {
            s.keep + s.remove + s.replace + s.unmanaged <= 30
                && s.keep + s.replace + s.create + s.unmanaged <= 30
        })
}

fn swap_plan(s: &Swap) -> (Plan, Model) {
    let g = Address::group("g");
    let h = Address::group("h");
    let target = if s.new_group { &h } else { &g };
    let target_name = &target.name;
    let mut model = Model::default();
    model.groups.insert("g@x.io".into());
    for i in 0..s.unmanaged {
        model.policies.insert(Address::policy(format!("unmanaged{i}")), "g@x.io".into());
    }
    let mut changes = Vec::new();
    let mut n = 0;
    let mut next = |prefix: &str| {
        n += 1;
        (Address::policy(format!("{prefix}{n}")), format!("Task-{n}"))
    };
    for _ in 0..s.keep {
        let (a, task) = next("keep");
        model.policies.insert(a.clone(), "g@x.io".into());
        changes.push(with_before(
            change(a, Action::NoOp, Some(policy(&task, "g")), vec![g.clone()]),
            policy(&task, "g"),
        ));
    }
    for _ in 0..s.remove {
        let (a, task) = next("remove");
        model.policies.insert(a.clone(), "g@x.io".into());
        changes.push(with_before(change(a, Action::Delete, None, vec![g.clone()]), policy(&task, "g")));
    }
    for _ in 0..s.replace {
        let (a, task) = next("replace");
        model.policies.insert(a.clone(), "g@x.io".into());
        let mut after = policy(&task, target_name);
        if let Attrs::Policy(p) = &mut after {
            p.approval = crate::model::Approval::Auto;
        }
        changes.push(with_before(
            change(a, Action::Replace, Some(after), vec![target.clone()]),
            policy(&task, "g"),
        ));
    }
    for _ in 0..s.create {
        let (a, task) = next("create");
        changes.push(change(a, Action::Create, Some(policy(&task, target_name)), vec![target.clone()]));
    }
    if s.new_group {
        changes.push(change(h.clone(), Action::Create, Some(group("h")), vec![]));
    }
    if s.drop_g {
        changes.push(with_before(change(g.clone(), Action::Delete, None, vec![]), group("g")));
    } else {
        changes.push(with_before(change(g.clone(), Action::NoOp, Some(group("g")), vec![]), group("g")));
    }
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    (plan(changes), model)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    /// Whatever the mix and timing, the tenant never holds more than 30 policies, no group
    /// is removed while a policy names it, and the apply converges in one run.
    #[test]
    fn swaps_at_the_policy_limit_never_exceed_it(s in swaps()) {
        let (p, model) = swap_plan(&s);
        let expected_policies = s.keep + s.replace + s.create + s.unmanaged;
        let live = model.policies.len();
        let mut ex = Fake::new(model);
        ex.write_ms = s.write_ms.clone();
        let dir = tempfile::tempdir().unwrap();
        let options = Options { concurrency: s.concurrency, live_policies: Some(live), ..Options::default() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let report = rt.block_on(apply_with(&p, &ex, &mut State::new("t"), dir.path(), &options));
        let t = ex.tenant.lock().unwrap();
        prop_assert!(report.is_success(), "{:?}\n{:?}", report, t.timeline);
        prop_assert!(t.most_policies <= 30, "{} policies at once", t.most_policies);
        prop_assert_eq!(t.policies.len(), expected_policies);
        prop_assert_eq!(t.groups.contains("g@x.io"), !s.drop_g);
    }
}
