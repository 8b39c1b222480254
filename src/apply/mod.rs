//! Carries out a plan: operations run concurrently where the dependency graph allows and in
//! order where it does not; state is saved after every successful operation, so an
//! interruption at any instant loses at most the one in flight; when an operation fails,
//! those that depend on it are skipped and the rest complete. What each operation does in
//! the tenant is the [`Executor`]'s business.

pub mod executor;

use std::collections::{BTreeMap, BTreeSet};
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

    let ops: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.is_actionable()).collect();
    let waits = wait_graph(&ops);
    let shared = Mutex::new((&mut *state, None::<StateError>));
    let mut report = Report::default();
    let mut done: BTreeSet<&Address> = BTreeSet::new();
    let mut failed: BTreeMap<&Address, &Address> = BTreeMap::new(); // op -> root failure
    let mut pending: Vec<&ResourceChange> = ops.clone();
    let mut running = FuturesUnordered::new();

    loop {
        // Skip what depends on a failure; start what is ready.
        let mut i = 0;
        while i < pending.len() {
            let c = pending[i];
            let deps = &waits[&c.address];
            if let Some(root) = deps.iter().find_map(|d| failed.get(d).copied()) {
                on_event(Event::Skipped(c, root));
                report.skipped.push((c.address.clone(), root.clone()));
                failed.insert(&c.address, root);
                pending.remove(i);
                continue;
            }
            if running.len() < concurrency.max(1) && deps.iter().all(|d| done.contains(d)) {
                pending.remove(i);
                on_event(Event::Started(c));
                running.push(async move {
                    let started = Instant::now();
                    let result =
                        if needs_tenant(c) { executor.execute(c).await } else { Ok(recorded_after(c)) };
                    (c, result, started.elapsed())
                });
                continue;
            }
            i += 1;
        }
        if running.is_empty() {
            match pending.first() {
                // Only a dependency cycle leaves work that can never start; run it in order.
                Some(&c) => {
                    pending.remove(0);
                    on_event(Event::Started(c));
                    let started = Instant::now();
                    let result =
                        if needs_tenant(c) { executor.execute(c).await } else { Ok(recorded_after(c)) };
                    finish(
                        c,
                        result,
                        started.elapsed(),
                        &shared,
                        store,
                        &mut report,
                        &mut done,
                        &mut failed,
                        on_event,
                    );
                    continue;
                }
                None => break,
            }
        }
        if let Some((c, result, took)) = running.next().await {
            finish(c, result, took, &shared, store, &mut report, &mut done, &mut failed, on_event);
        }
    }
    let (_, err) = shared.into_inner().expect("state lock");
    match err {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

#[allow(clippy::too_many_arguments)]
fn finish<'a>(
    c: &'a ResourceChange,
    result: Result<Applied, OperationError>,
    took: Duration,
    shared: &Mutex<(&mut State, Option<StateError>)>,
    store: &StateStore,
    report: &mut Report,
    done: &mut BTreeSet<&'a Address>,
    failed: &mut BTreeMap<&'a Address, &'a Address>,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) {
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
            done.insert(&c.address);
        }
        Err(e) => {
            on_event(Event::Failed(c, &e));
            report.failed.push((c.address.clone(), e.0.clone()));
            failed.insert(&c.address, &c.address);
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

/// For each operation, the operations it must wait for: creates and updates wait for what
/// they depend on; deletes wait for the removal of what depends on them, and a group's
/// deletion also waits for every change that takes a reference to it away (a policy replaced
/// onto another group, the PAM switch given another default group): Exchange refuses to
/// remove a group that a policy or the PAM switch still names.
fn wait_graph<'a>(ops: &[&'a ResourceChange]) -> BTreeMap<Address, Vec<&'a Address>> {
    let by_addr: BTreeMap<&Address, &ResourceChange> = ops.iter().map(|c| (&c.address, *c)).collect();
    let mut waits = BTreeMap::new();
    for c in ops {
        let mut w: Vec<&Address> = Vec::new();
        if c.action == Action::Delete {
            let email = c.before.as_ref().and_then(Attrs::as_group).map(|g| g.email.as_str());
            for o in ops {
                let depends = matches!(o.action, Action::Delete | Action::Replace)
                    && o.dependencies.contains(&c.address);
                let references = o.address != c.address
                    && email.is_some_and(|e| o.before.as_ref().is_some_and(|b| names_group(b, e)));
                if depends || references {
                    w.push(&o.address);
                }
            }
        } else {
            for d in &c.dependencies {
                if let Some(dep) = by_addr.get(d)
                    && dep.action != Action::Delete
                {
                    w.push(&dep.address);
                }
            }
        }
        waits.insert(c.address.clone(), w);
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
