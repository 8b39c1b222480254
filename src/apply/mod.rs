//! Carries out a plan: operations run concurrently where the dependency graph allows and in
//! order where it does not; state is saved after every successful operation, so an
//! interruption at any instant loses at most the one in flight; when an operation fails,
//! those that depend on it are skipped and the rest complete. What each operation does in
//! the tenant is the [`Executor`]'s business.

pub mod executor;

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::model::Address;
use crate::plan::attributes::Attrs;
use crate::plan::{Action, Plan, PlanMode, ResourceChange};
use crate::state::{ResourceState, State, StateError, StateStore};

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

/// Performs one change in the tenant.
pub trait Executor: Sync {
    fn execute<'a>(
        &'a self,
        change: &'a ResourceChange,
    ) -> impl Future<Output = Result<Applied, OperationError>> + Send + 'a;
}

/// Progress, as it happens.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Started(&'a ResourceChange),
    /// With the id the object now has, when it exists.
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
}

impl Report {
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }

    pub fn count(&self, f: impl Fn(Action) -> bool) -> usize {
        self.succeeded.iter().filter(|(_, a)| f(*a)).count()
    }
}

/// Applies `plan`, saving `state` through `store` after every change.
pub async fn run<E: Executor>(
    plan: &Plan,
    executor: &E,
    state: &mut State,
    store: &StateStore,
    concurrency: usize,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Report, StateError> {
    if plan.mode == PlanMode::RefreshOnly {
        accept_drift(plan, state);
        store.save(state)?;
        return Ok(Report::default());
    }

    // State-only work first: renames from `moved` blocks and objects already gone from the tenant.
    let mut touched = false;
    for c in &plan.changes {
        if let Some(prev) = &c.previous_address {
            touched |= state.rename(prev, &c.address);
        }
    }
    for d in &plan.drift {
        if d.after.is_none() && plan.change(&d.address).is_none_or(|c| c.action == Action::Delete) {
            touched |= state.remove(&d.address).is_some();
        }
    }
    if touched {
        store.save(state)?;
    }

    let ops = operations(plan);
    let waits = wait_graph(&ops);
    let shared = Mutex::new((&mut *state, None::<StateError>));
    let mut report = Report::default();
    let mut done = vec![false; ops.len()];
    let mut failed: Vec<Option<usize>> = vec![None; ops.len()]; // op -> its root failure
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut running = FuturesUnordered::new();
    let execute = |i: usize| {
        let c = &ops[i];
        async move {
            let started = Instant::now();
            let result = if needs_tenant(c) { executor.execute(c).await } else { Ok(recorded_after(c)) };
            (i, result, started.elapsed())
        }
    };

    loop {
        // Skip what depends on a failure; start what is ready.
        let mut k = 0;
        while k < pending.len() {
            let i = pending[k];
            let c = &ops[i];
            if let Some(root) = waits[i].iter().find_map(|d| failed[*d]) {
                on_event(Event::Skipped(c, &ops[root].address));
                report.skipped.push((c.address.clone(), ops[root].address.clone()));
                failed[i] = Some(root);
                pending.remove(k);
                continue;
            }
            if running.len() < concurrency.max(1) && waits[i].iter().all(|d| done[*d]) {
                pending.remove(k);
                on_event(Event::Started(c));
                running.push(execute(i));
                continue;
            }
            k += 1;
        }
        if running.is_empty() {
            match pending.first().copied() {
                // Only a dependency cycle leaves work that can never start; run it in order.
                Some(i) => {
                    pending.remove(0);
                    on_event(Event::Started(&ops[i]));
                    running.push(execute(i));
                }
                None => break,
            }
        }
        if let Some((i, result, took)) = running.next().await {
            let c = &ops[i];
            match finish(c, result, took, &shared, store, &mut report, on_event) {
                true => done[i] = true,
                false => failed[i] = Some(i),
            }
        }
    }
    let (_, err) = shared.into_inner().expect("state lock");
    match err {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// The operations to run: the plan's actionable changes, with each replaced group or policy
/// split into its removal and its creation, so that removals of everything naming a group
/// can run before the group's removal, and creations after its creation.
fn operations(plan: &Plan) -> Vec<ResourceChange> {
    let mut ops = Vec::new();
    for c in plan.changes.iter().filter(|c| c.is_actionable()) {
        if c.action == Action::Replace && c.address.kind != crate::model::ResourceType::PrivilegedAccess {
            let mut remove = c.clone();
            remove.action = Action::Delete;
            remove.after = None;
            let mut create = c.clone();
            create.action = Action::Create;
            create.before = None;
            create.remote_id = None;
            ops.push(remove);
            ops.push(create);
        } else {
            ops.push(c.clone());
        }
    }
    ops
}

/// Records a finished operation; returns whether it succeeded.
fn finish(
    c: &ResourceChange,
    result: Result<Applied, OperationError>,
    took: Duration,
    shared: &Mutex<(&mut State, Option<StateError>)>,
    store: &StateStore,
    report: &mut Report,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> bool {
    match result {
        Ok(applied) => {
            let mut guard = shared.lock().expect("state lock");
            let (state, err) = &mut *guard;
            let new_id = match applied {
                Applied::Recorded { id, attributes } => {
                    state.upsert(ResourceState::new(
                        c.address.clone(),
                        id.clone(),
                        attributes.to_value(),
                        c.dependencies.clone(),
                    ));
                    Some(id)
                }
                Applied::Removed => {
                    state.remove(&c.address);
                    None
                }
            };
            if let Err(e) = store.save(state)
                && err.is_none()
            {
                *err = Some(e);
            }
            drop(guard);
            on_event(Event::Finished(c, took, new_id));
            report.succeeded.push((c.address.clone(), c.action));
            true
        }
        Err(e) => {
            on_event(Event::Failed(c, &e));
            report.failed.push((c.address.clone(), e.0.clone()));
            false
        }
    }
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
/// policy or the PAM switch still names.
fn wait_graph(ops: &[ResourceChange]) -> Vec<Vec<usize>> {
    let mut waits = Vec::with_capacity(ops.len());
    for (i, c) in ops.iter().enumerate() {
        let mut w = Vec::new();
        if c.action == Action::Delete {
            let email = c.before.as_ref().and_then(Attrs::as_group).map(|g| g.email.as_str());
            for (j, o) in ops.iter().enumerate() {
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
                let dependency = o.action != Action::Delete && c.dependencies.contains(&o.address);
                let own_removal = j != i && o.address == c.address && o.action == Action::Delete;
                if dependency || own_removal {
                    w.push(j);
                }
            }
        }
        waits.push(w);
    }
    waits
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
