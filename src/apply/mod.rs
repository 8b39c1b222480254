//! Carries out a plan: operations run concurrently where the dependency graph allows and in
//! order where it does not; state is saved as soon as the tenant answers each write, so an
//! interruption at any instant loses at most the writes in flight; waiting for a write to
//! show in the tenant's reads (settling) holds no parallelism slot, and only what depends on
//! the object waits for it. When an operation fails, those that depend on it are skipped and
//! the rest complete. Policy creations wait for policy removals so that the tenant never
//! holds more policies than it allows. What each operation does in the tenant is the
//! [`Executor`]'s business; rendering is the caller's, through [`Event`]s.

pub mod executor;

use std::future::Future;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use crate::model::{Address, ResourceType};
use crate::plan::attributes::Attrs;
use crate::plan::{Action, Plan, PlanMode, ResourceChange};
use crate::state::{ResourceState, State, StateError, Storage};

/// How often a running operation reports that it is still running, by default.
pub const STILL_RUNNING_EVERY: Duration = Duration::from_secs(10);

/// What an operation left in the tenant.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The object exists with this id and these attributes.
    Recorded { id: String, attributes: Attrs },
    /// The object is gone.
    Removed,
}

/// Why an operation failed, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OperationError(pub String);

/// Performs one change in the tenant, in two steps: the write, after which state records
/// the outcome, and the settle, a wait until the tenant's reads show it.
pub trait Executor: Sync {
    fn execute<'a>(
        &'a self,
        change: &'a ResourceChange,
    ) -> impl Future<Output = Result<Applied, OperationError>> + Send + 'a;

    /// Waits until what `execute` did shows in the tenant's reads; gives up quietly within
    /// its own budget. Operations that depend on the object start only after it.
    fn settle<'a>(
        &'a self,
        change: &'a ResourceChange,
        applied: &'a Applied,
    ) -> impl Future<Output = ()> + Send + 'a {
        let _ = (change, applied);
        async {}
    }
}

/// Progress, as it happens.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Started(&'a ResourceChange),
    /// Every [`Options::still_running_every`] while the write runs, with the time since it started.
    StillRunning(&'a ResourceChange, Duration),
    /// The tenant answered and state records it; with the id the object now has, when it
    /// exists.
    Finished(&'a ResourceChange, Duration, Option<String>),
    Failed(&'a ResourceChange, &'a OperationError),
    Skipped(&'a ResourceChange, &'a Address),
}

/// The account of an apply.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub succeeded: Vec<(Address, Action)>,
    pub failed: Vec<(Address, String)>,
    /// Skipped operations and the failed one they depended on.
    pub skipped: Vec<(Address, Address)>,
    /// Set when an interrupt stopped the apply before everything ran.
    pub interrupted: bool,
    /// Operations an interrupt kept from starting.
    pub not_started: Vec<(Address, Action)>,
    /// State entries brought up to date with the tenant without an operation.
    pub refreshed: usize,
}

impl Report {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && !self.interrupted
    }

    pub fn count(&self, f: impl Fn(Action) -> bool) -> usize {
        self.succeeded.iter().filter(|(_, a)| f(*a)).count()
    }
}

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Writes in flight at once (settling does not count).
    pub concurrency: usize,
    /// Policies the tenant holds when apply starts, managed or not; `None`: those the plan
    /// knows of.
    pub live_policies: Option<usize>,
    /// The most policies the tenant allows at any instant.
    pub policy_limit: usize,
    /// How often a running write reports that it is still running.
    pub still_running_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 4,
            live_policies: None,
            policy_limit: crate::wire::exchange::MAX_POLICIES,
            still_running_every: STILL_RUNNING_EVERY,
        }
    }
}

/// A request to stop: no new operation starts, those in flight finish and are recorded.
#[derive(Debug)]
pub struct Interrupt {
    tx: tokio::sync::watch::Sender<bool>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt { tx: tokio::sync::watch::Sender::new(false) }
    }
}

impl Interrupt {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once [`Interrupt::trigger`] was called (at once if it already was).
    pub async fn triggered(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// One operation: a plan change, or one half of a replacement.
#[derive(Debug, Clone)]
struct Op {
    change: ResourceChange,
    /// The removal or creation half of a replaced object.
    replace_half: bool,
}

impl Op {
    /// What the operation does to the tenant's policy count once it completes.
    fn policy_delta(&self) -> i64 {
        if self.change.address.kind != ResourceType::AccessPolicy || self.replace_half {
            return 0;
        }
        match self.change.action {
            Action::Create => 1,
            Action::Delete => -1,
            _ => 0,
        }
    }
}

/// Applies `plan`, saving `state` through `store` after every write.
pub async fn run<E: Executor>(
    plan: &Plan,
    executor: &E,
    state: &mut State,
    store: &dyn Storage,
    options: &Options,
    interrupt: &Interrupt,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, StateError> {
    let mut report = Report::default();
    if plan.mode == PlanMode::RefreshOnly {
        accept_drift(plan, state);
        store.save(state)?;
        return Ok(report);
    }

    // State-only work first: renames from `moved` blocks, objects already gone from the
    // tenant, and what the refresh found for everything unchanged.
    let mut touched = false;
    for c in &plan.changes {
        if let Some(prev) = &c.previous_address {
            touched |= state.rename(prev, &c.address);
        }
    }
    report.refreshed = record_refresh(plan, state);
    if touched || report.refreshed > 0 {
        store.save(state)?;
    }

    let ops = operations(plan);
    let waits = wait_graph(&ops);
    let delta: Vec<i64> = ops.iter().map(Op::policy_delta).collect();
    let mut live_policies = options.live_policies.map(|n| n as i64).unwrap_or_else(|| {
        plan.changes
            .iter()
            .filter(|c| c.address.kind == ResourceType::AccessPolicy && c.before.is_some())
            .count() as i64
    });
    let limit = options.policy_limit as i64;
    let concurrency = options.concurrency.max(1);
    let every = options.still_running_every.max(Duration::from_millis(1));

    let mut save_error = None;
    let mut settled = vec![false; ops.len()];
    let mut failed: Vec<Option<usize>> = vec![None; ops.len()]; // op -> its root failure
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    // Creations whose own removal is done go first: their object is missing from the tenant.
    pending.sort_by_key(|i| !(ops[*i].replace_half && ops[*i].change.action != Action::Delete));
    let mut writing = FuturesUnordered::new();
    let mut settling = FuturesUnordered::new();
    let write = |i: usize| {
        let c = &ops[i].change;
        async move {
            let started = Instant::now();
            let result = if needs_tenant(c) {
                let work = executor.execute(c);
                tokio::pin!(work);
                let mut ticks = 1u32;
                loop {
                    tokio::select! {
                        r = &mut work => break r,
                        _ = tokio::time::sleep_until(started + every * ticks) => {
                            on_event(Event::StillRunning(c, every * ticks));
                            ticks += 1;
                        }
                    }
                }
            } else {
                Ok(recorded_after(c))
            };
            (i, result, started.elapsed())
        }
    };
    let settle = |i: usize, applied: Applied| {
        let c = &ops[i].change;
        async move {
            if needs_tenant(c) {
                executor.settle(c, &applied).await;
            }
            i
        }
    };

    loop {
        // A state that cannot be saved stops the run as an interrupt does: nothing more is
        // started in the tenant that state could not record (e.g. the lock was lost).
        let stopping = interrupt.is_set() || save_error.is_some();
        if !stopping {
            // Skip what depends on a failure; start what is ready.
            let mut k = 0;
            while k < pending.len() {
                let i = pending[k];
                let c = &ops[i].change;
                if let Some(root) = waits[i].iter().find_map(|d| failed[*d]) {
                    on_event(Event::Skipped(c, &ops[root].change.address));
                    report.skipped.push((c.address.clone(), ops[root].change.address.clone()));
                    failed[i] = Some(root);
                    pending.remove(k);
                    continue;
                }
                let ready = waits[i].iter().all(|d| settled[*d]);
                let fits = delta[i] <= 0 || live_policies + delta[i] <= limit;
                if writing.len() < concurrency && ready && fits {
                    // A creation starts only once state records it as pending.
                    if mark_pending(state, c)
                        && let Err(e) = store.save(state)
                    {
                        unmark_pending(state, c);
                        keep_save_error(&mut save_error, Err(e));
                        break;
                    }
                    pending.remove(k);
                    live_policies += delta[i].max(0);
                    on_event(Event::Started(c));
                    writing.push(write(i));
                    continue;
                }
                k += 1;
            }
        }
        let stopping = stopping || save_error.is_some();
        if writing.is_empty() && (settling.is_empty() || stopping) {
            if stopping {
                report.interrupted = !pending.is_empty();
                report.not_started =
                    pending.iter().map(|i| (ops[*i].change.address.clone(), ops[*i].change.action)).collect();
                break;
            }
            // Only a dependency cycle, or a policy creation no removal can make room for,
            // leaves work that can never start: run it, ready work first, and let the
            // tenant answer.
            let next = pending
                .iter()
                .position(|i| waits[*i].iter().all(|d| settled[*d]))
                .or((!pending.is_empty()).then_some(0));
            match next {
                Some(k) => {
                    let i = pending[k];
                    if mark_pending(state, &ops[i].change)
                        && let Err(e) = store.save(state)
                    {
                        unmark_pending(state, &ops[i].change);
                        keep_save_error(&mut save_error, Err(e));
                        continue;
                    }
                    pending.remove(k);
                    live_policies += delta[i].max(0);
                    on_event(Event::Started(&ops[i].change));
                    writing.push(write(i));
                }
                None => break,
            }
        }
        tokio::select! {
            Some((i, result, took)) = writing.next(), if !writing.is_empty() => {
                let c = &ops[i].change;
                match result {
                    Ok(applied) => {
                        let new_id = record(state, c, &applied);
                        if let Err(e) = store.save(state)
                            && save_error.is_none()
                        {
                            save_error = Some(e);
                        }
                        on_event(Event::Finished(c, took, new_id));
                        report.succeeded.push((c.address.clone(), c.action));
                        live_policies += delta[i].min(0);
                        settling.push(settle(i, applied));
                    }
                    Err(e) => {
                        if unmark_pending(state, c) {
                            keep_save_error(&mut save_error, store.save(state));
                        }
                        on_event(Event::Failed(c, &e));
                        report.failed.push((c.address.clone(), e.0.clone()));
                        failed[i] = Some(i);
                        live_policies -= delta[i].max(0);
                    }
                }
            }
            Some(i) = settling.next(), if !settling.is_empty() => settled[i] = true,
            _ = interrupt.triggered(), if !interrupt.is_set() => {}
        }
    }
    match save_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Brings state up to date with what the refresh found, without touching the tenant:
/// entries whose object is gone are dropped (unless the plan creates it again), and each
/// unchanged resource gets the id and values the tenant has now, which re-adopts an object
/// recreated outside pamform under the same natural key. Returns how many entries changed.
pub fn record_refresh(plan: &Plan, state: &mut State) -> usize {
    if plan.mode == PlanMode::RefreshOnly {
        return 0;
    }
    let mut n = 0;
    for d in &plan.drift {
        if d.after.is_none()
            && plan.change(&d.address).is_none_or(|c| c.action == Action::Delete)
            && state.remove(&d.address).is_some()
        {
            n += 1;
        }
    }
    for c in &plan.changes {
        if c.importing.is_some() || c.action == Action::Delete {
            continue;
        }
        // A change to an object other than the one state records (recreated outside
        // pamform, or handed over from another address): state records that object, as it
        // is now, before the change runs, so that no id is ever recorded under two addresses
        // and an interruption leaves state naming the objects the plan manages.
        let values = if c.action == Action::NoOp { &c.after } else { &c.before };
        let (Some(id), Some(after)) = (&c.remote_id, values) else { continue };
        let Some(r) = state.get(&c.address) else { continue };
        if c.action != Action::NoOp && r.id.eq_ignore_ascii_case(id) {
            continue;
        }
        let value = after.to_value();
        if r.id != *id || r.attributes != value || r.dependencies != c.dependencies {
            state.upsert(ResourceState::new(c.address.clone(), id.clone(), value, c.dependencies.clone()));
            n += 1;
        }
    }
    n
}

/// Before a group or policy is created, state records it as pending (its address, the
/// values it is created with, no id yet), so that a run killed after the tenant made the
/// object and before state recorded its id leaves no orphan: the next plan finds the object
/// by the natural key recorded, and adopts it, or removes it when the configuration no
/// longer wants it. Returns whether state changed.
fn mark_pending(state: &mut State, c: &ResourceChange) -> bool {
    if c.action != Action::Create
        || c.address.kind == ResourceType::PrivilegedAccess
        || state.get(&c.address).is_some()
    {
        return false;
    }
    let Some(after) = &c.after else { return false };
    state.upsert(ResourceState::new(
        c.address.clone(),
        String::new(),
        after.to_value(),
        c.dependencies.clone(),
    ));
    true
}

/// A create the tenant refused made nothing: its pending entry goes. Returns whether state
/// changed.
fn unmark_pending(state: &mut State, c: &ResourceChange) -> bool {
    if c.action != Action::Create || !state.get(&c.address).is_some_and(|r| r.id.is_empty()) {
        return false;
    }
    state.remove(&c.address).is_some()
}

fn keep_save_error(first: &mut Option<StateError>, result: Result<(), StateError>) {
    if let Err(e) = result
        && first.is_none()
    {
        *first = Some(e);
    }
}

/// Records a write's outcome in state; returns the object's id when it exists.
fn record(state: &mut State, c: &ResourceChange, applied: &Applied) -> Option<String> {
    match applied {
        Applied::Recorded { id, attributes } => {
            state.upsert(ResourceState::new(
                c.address.clone(),
                id.clone(),
                attributes.to_value(),
                c.dependencies.clone(),
            ));
            Some(id.clone())
        }
        Applied::Removed => {
            state.remove(&c.address);
            None
        }
    }
}

/// The operations to run: the plan's actionable changes, with each replaced group or policy
/// split into its removal and its creation, so that removals of everything naming a group
/// can run before the group's removal, and creations after its creation.
fn operations(plan: &Plan) -> Vec<Op> {
    let mut ops = Vec::new();
    for c in plan.changes.iter().filter(|c| c.is_actionable()) {
        if c.action == Action::Replace && c.address.kind != ResourceType::PrivilegedAccess {
            let mut remove = c.clone();
            remove.action = Action::Delete;
            remove.after = None;
            let mut create = c.clone();
            create.action = Action::Create;
            create.before = None;
            create.remote_id = None;
            ops.push(Op { change: remove, replace_half: true });
            ops.push(Op { change: create, replace_half: true });
        } else {
            ops.push(Op { change: c.clone(), replace_half: false });
        }
    }
    ops
}

/// Whether the change does anything in the tenant (imports and moves only touch state).
fn needs_tenant(c: &ResourceChange) -> bool {
    c.action != Action::NoOp
}

fn recorded_after(c: &ResourceChange) -> Applied {
    match &c.after {
        Some(a) => Applied::Recorded { id: c.remote_id.clone().unwrap_or_default(), attributes: a.clone() },
        None => Applied::Removed,
    }
}

/// For each operation, the operations it must wait for: creations and updates wait for the
/// creation or update of what they depend on (and for their own removal, when replaced);
/// removals wait for the removal of what depends on them, and a group's removal also waits
/// for every change that takes a reference to it away (a policy moved to another group, the
/// PAM switch given another default group): Exchange refuses to remove a group that a
/// policy or the PAM switch still names. The removal half of a replacement also waits for
/// what its creation half waits for, so that the object is missing from the tenant for as
/// short a time as possible, unless that would make a cycle.
fn wait_graph(ops: &[Op]) -> Vec<Vec<usize>> {
    let mut waits = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let c = &op.change;
        let mut w = Vec::new();
        if c.action == Action::Delete {
            let email = c.before.as_ref().and_then(Attrs::as_group).map(|g| g.email.as_str());
            for (j, o) in ops.iter().enumerate() {
                let o = &o.change;
                if j == i || o.address == c.address {
                    continue;
                }
                let depends = o.action == Action::Delete && o.dependencies.contains(&c.address);
                let references = email.is_some_and(|e| o.before.as_ref().is_some_and(|b| names_group(b, e)));
                if depends || references {
                    w.push(j);
                }
            }
        } else {
            for (j, o) in ops.iter().enumerate() {
                let o = &o.change;
                let dependency = o.action != Action::Delete && c.dependencies.contains(&o.address);
                let own_removal = j != i && o.address == c.address && o.action == Action::Delete;
                if dependency || own_removal {
                    w.push(j);
                }
            }
        }
        waits.push(w);
    }
    for (i, op) in ops.iter().enumerate() {
        if !(op.replace_half && op.change.action == Action::Delete) {
            continue;
        }
        let Some(create) = ops.iter().position(|o| {
            o.replace_half && o.change.address == op.change.address && o.change.action != Action::Delete
        }) else {
            continue;
        };
        let extra: Vec<usize> =
            waits[create].iter().copied().filter(|d| *d != i && !waits[i].contains(d)).collect();
        for d in extra {
            // Adding i -> d makes a cycle when d already (transitively) waits for i.
            if !reaches(&waits, d, i) {
                waits[i].push(d);
            }
        }
    }
    waits
}

/// Whether `from` waits, directly or through others, for `to`.
fn reaches(waits: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; waits.len()];
    let mut todo = vec![from];
    while let Some(n) = todo.pop() {
        if n == to {
            return true;
        }
        if !std::mem::replace(&mut seen[n], true) {
            todo.extend(waits[n].iter().copied());
        }
    }
    false
}

/// Whether a resource's attributes name the group with `email` (as approver or default group).
fn names_group(attrs: &Attrs, email: &str) -> bool {
    match attrs {
        Attrs::Policy(p) => p.approver_group.eq_ignore_ascii_case(email),
        Attrs::Pam(p) => {
            p.enabled && p.default_approver_group.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(email))
        }
        Attrs::Group(_) => false,
    }
}

/// Refresh-only: the tenant's values become the recorded ones.
fn accept_drift(plan: &Plan, state: &mut State) {
    for d in &plan.drift {
        match &d.after {
            None => {
                state.remove(&d.address);
            }
            Some(now) => {
                if let Some(r) = state.get(&d.address) {
                    let deps = r.dependencies.clone();
                    state.upsert(ResourceState::new(
                        d.address.clone(),
                        d.remote_id.clone(),
                        now.to_value(),
                        deps,
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
