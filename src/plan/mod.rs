//! The diff: configuration vs refreshed tenant vs state, into a [`Plan`] of actions, each
//! with its reason. Normalisation lives in [`attributes`]; checks against the tenant in
//! [`checks`]; rendering elsewhere ([`crate::output`]). The plan is pure data: building it
//! makes no calls.

pub mod attributes;
pub mod checks;
pub mod import;
pub mod saved;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{Address, Configuration, ResourceType, Span, TenantSnapshot};
use crate::state::State;
use attributes::{Attrs, MemberNames};

/// What a change does, as Terraform names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Delete, then create (policies cannot be updated in place).
    Replace,
    Delete,
}

impl Action {
    /// Terraform's `change.actions` list.
    pub fn terraform_actions(self) -> Vec<&'static str> {
        match self {
            Action::NoOp => vec!["no-op"],
            Action::Create => vec!["create"],
            Action::Update => vec!["update"],
            Action::Replace => vec!["delete", "create"],
            Action::Delete => vec!["delete"],
        }
    }
}

/// Why a change is planned, where it is not obvious.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The object was deleted outside pamform and will be created again.
    DeletedOutside,
    /// An object with the same natural key exists and will be adopted.
    Adopt,
    /// An `import` block or command adopts the object.
    ImportBlock,
    /// Attributes that cannot be updated in place changed.
    ReplaceBecauseCannotUpdate,
    /// The resource is no longer in the configuration.
    DeleteBecauseNoResourceConfig,
    /// `--destroy` was given.
    DeleteBecauseDestroy,
    /// A `moved` block renamed the resource.
    Moved,
}

impl Reason {
    /// Terraform's `action_reason`, where one exists.
    pub fn terraform_reason(&self) -> Option<&'static str> {
        match self {
            Reason::ReplaceBecauseCannotUpdate => Some("replace_because_cannot_update"),
            Reason::DeleteBecauseNoResourceConfig => Some("delete_because_no_resource_config"),
            _ => None,
        }
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub action: Action,
    /// The tenant's values (None when the object does not exist).
    pub before: Option<Attrs>,
    /// The values after apply (None when deleted).
    pub after: Option<Attrs>,
    /// Attributes that differ.
    pub changed: Vec<String>,
    /// Attributes whose change forces replacement.
    pub replace_paths: Vec<String>,
    pub reasons: Vec<Reason>,
    /// The remote id of the existing object, if any.
    pub remote_id: Option<String>,
    /// Set when the object is adopted into state: the id it is found by.
    pub importing: Option<String>,
    /// Set when a `moved` block renames the resource.
    pub previous_address: Option<Address>,
    /// Resources this one depends on (configuration and state).
    pub dependencies: Vec<Address>,
}

impl ResourceChange {
    /// Whether apply has anything to do for it (including state-only work).
    pub fn is_actionable(&self) -> bool {
        self.action != Action::NoOp || self.importing.is_some() || self.previous_address.is_some()
    }
}

/// A difference between state and the tenant found by the refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDrift {
    pub address: Address,
    pub remote_id: String,
    /// As recorded in state.
    pub before: Attrs,
    /// As found in the tenant; None when the object is gone.
    pub after: Option<Attrs>,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanMode {
    #[default]
    Normal,
    Destroy,
    RefreshOnly,
}

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub mode: PlanMode,
    pub targets: Vec<Address>,
}

/// The outcome of a diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub mode: PlanMode,
    pub targets: Vec<Address>,
    /// One entry per resource in configuration or state, ordered by address.
    pub changes: Vec<ResourceChange>,
    pub drift: Vec<ResourceDrift>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub replace: usize,
    #[serde(rename = "move")]
    pub moved: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                    s.replace += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
            if c.importing.is_some() {
                s.import += 1;
            }
            if c.previous_address.is_some() {
                s.moved += 1;
            }
        }
        s
    }

    /// Whether applying would change the tenant or the state.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(ResourceChange::is_actionable)
            || (self.mode == PlanMode::RefreshOnly && !self.drift.is_empty())
    }

    pub fn change(&self, address: &Address) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| &c.address == address)
    }
}

/// Something that makes a plan impossible, with the span to point at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub code: &'static str,
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl PlanError {
    fn new(code: &'static str, message: impl Into<String>, span: Option<Span>, help: Option<&str>) -> Self {
        PlanError { code, message: message.into(), span, help: help.map(str::to_string) }
    }
}

/// The id state records for `privileged_access`: there is one per tenant.
pub const PRIVILEGED_ACCESS_ID: &str = "tenant";

/// Where a resource's object lives in the tenant.
fn live_attrs(
    address: &Address,
    id_hint: Option<&str>,
    desired: Option<&Attrs>,
    membership: crate::model::Membership,
    snapshot: &TenantSnapshot,
    names: &MemberNames,
) -> Option<(String, Attrs)> {
    match address.kind {
        ResourceType::ApproverGroup => {
            let by_id =
                id_hint.and_then(|id| snapshot.groups.values().find(|g| g.id.eq_ignore_ascii_case(id)));
            let by_key = || desired.and_then(Attrs::as_group).and_then(|d| snapshot.group(&d.email));
            let g = by_id.or_else(by_key)?;
            Some((g.id.clone(), Attrs::Group(attributes::live_group(g, names, membership))))
        }
        ResourceType::AccessPolicy => {
            let by_id = id_hint.and_then(|id| snapshot.policy_by_id(id));
            let by_key = || {
                desired
                    .and_then(Attrs::as_policy)
                    .and_then(|d| d.target())
                    .and_then(|t| snapshot.policy_by_target(&t))
            };
            let p = by_id.or_else(by_key)?;
            Some((p.id.clone(), Attrs::Policy(attributes::live_policy(p))))
        }
        ResourceType::PrivilegedAccess => {
            Some((PRIVILEGED_ACCESS_ID.to_string(), Attrs::Pam(attributes::live_pam(&snapshot.pam))))
        }
    }
}

/// Builds the plan. `state` is `None` before the first apply.
pub fn build(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    state: Option<&State>,
    options: &PlanOptions,
) -> Result<Plan, Vec<PlanError>> {
    let mut errors = Vec::new();
    let names = MemberNames::new(config, snapshot);
    let empty = State::new("");
    let state = state.unwrap_or(&empty);

    // Moves: the state entry at `from` is treated as living at `to`.
    let mut moved_from: BTreeMap<Address, Address> = BTreeMap::new();
    for m in &config.moves {
        let (from, to) = (&m.from.value, &m.to.value);
        match (state.get(from).is_some(), state.get(to).is_some()) {
            (true, false) => {
                moved_from.insert(to.clone(), from.clone());
            }
            (true, true) => errors.push(PlanError::new(
                "pamform::moved_both_exist",
                format!("cannot move {from} to {to}: both are in state"),
                Some(m.span),
                Some("remove one of them with `pamform state rm`, or delete this moved block"),
            )),
            _ => {}
        }
    }
    let imports: BTreeMap<&Address, &crate::model::Import> =
        config.imports.iter().map(|i| (&i.to.value, i)).collect();

    // The state entry for each configured address (following moves).
    let state_entry =
        |addr: &Address| state.get(addr).or_else(|| moved_from.get(addr).and_then(|from| state.get(from)));

    // Drift: state vs tenant, for every resource in state.
    let mut drift = Vec::new();
    for r in &state.resources {
        let Some(recorded) = Attrs::from_value(r.address.kind, &r.attributes) else { continue };
        let membership = recorded.as_group().map(|g| g.membership).unwrap_or_default();
        let live =
            live_attrs(&r.address, Some(&r.id), None, membership, snapshot, &names).filter(|(id, _)| {
                r.address.kind == ResourceType::PrivilegedAccess || id.eq_ignore_ascii_case(&r.id)
            });
        match live {
            None => drift.push(ResourceDrift {
                address: r.address.clone(),
                remote_id: r.id.clone(),
                before: recorded,
                after: None,
                changed: vec![],
            }),
            Some((_, mut now)) => {
                if let (Attrs::Group(rec), Attrs::Group(n)) = (&recorded, &mut now)
                    && rec.membership == crate::model::Membership::Additive
                {
                    // Additive groups only own the listed members: others are not drift.
                    n.members.retain(|m| rec.members.contains(m));
                }
                let changed = recorded.changed_attributes(&now);
                if !changed.is_empty() {
                    drift.push(ResourceDrift {
                        address: r.address.clone(),
                        remote_id: r.id.clone(),
                        before: recorded,
                        after: Some(now),
                        changed: changed.into_iter().map(str::to_string).collect(),
                    });
                }
            }
        }
    }

    let mut changes = Vec::new();
    if options.mode == PlanMode::RefreshOnly {
        return finish(Plan { mode: options.mode, targets: options.targets.clone(), changes, drift }, errors);
    }

    // Desired resources.
    let mut desired: BTreeMap<Address, (Attrs, BTreeSet<Address>, Option<Span>)> = BTreeMap::new();
    if options.mode == PlanMode::Normal {
        for (a, g) in &config.groups {
            desired.insert(
                a.clone(),
                (Attrs::Group(attributes::desired_group(g)), g.meta.dependencies.clone(), Some(g.span)),
            );
        }
        for (a, p) in &config.policies {
            desired.insert(
                a.clone(),
                (
                    Attrs::Policy(attributes::desired_policy(config, p)),
                    p.meta.dependencies.clone(),
                    Some(p.span),
                ),
            );
        }
        if let Some(p) = &config.privileged_access {
            desired.insert(
                p.address.clone(),
                (Attrs::Pam(attributes::desired_pam(config, p)), p.meta.dependencies.clone(), Some(p.span)),
            );
        }
    }

    for (address, (want, deps, _span)) in &desired {
        let entry = state_entry(address);
        let meta = config.meta(address);
        let membership = want.as_group().map(|g| g.membership).unwrap_or_default();
        let mut reasons = Vec::new();
        let mut importing = None;
        let live = match entry {
            Some(e) => {
                let found = live_attrs(address, Some(&e.id), Some(want), membership, snapshot, &names);
                if found.is_none() {
                    reasons.push(Reason::DeletedOutside);
                }
                found
            }
            None => {
                if let Some(imp) = imports.get(address) {
                    match import::find(address, &imp.id.value, config, snapshot) {
                        Ok(id) => {
                            reasons.push(Reason::ImportBlock);
                            importing = Some(imp.id.value.clone());
                            live_attrs(address, Some(&id), Some(want), membership, snapshot, &names)
                        }
                        Err(e) => {
                            errors.push(PlanError::new(
                                "pamform::import_not_found",
                                format!("cannot import {address}: {e}"),
                                Some(imp.id.span),
                                None,
                            ));
                            continue;
                        }
                    }
                } else {
                    let found = live_attrs(address, None, Some(want), membership, snapshot, &names);
                    match &found {
                        // The PAM switch always exists: taking it under management is an
                        // import only when nothing changes, otherwise a plain update.
                        Some((_, now))
                            if address.kind == ResourceType::PrivilegedAccess
                                && now.changed_attributes(want).is_empty() =>
                        {
                            importing = Some(PRIVILEGED_ACCESS_ID.to_string());
                        }
                        Some(_) if address.kind == ResourceType::PrivilegedAccess => {}
                        Some((id, _)) => {
                            reasons.push(Reason::Adopt);
                            importing = Some(id.clone());
                        }
                        None => {}
                    }
                    found
                }
            }
        };
        let mut after = want.clone();
        let (action, changed, replace_paths, remote_id, before) = match live {
            None => (Action::Create, vec![], vec![], None, None),
            Some((id, now)) => {
                if let Some(meta) = meta {
                    let ignored: Vec<&str> =
                        meta.lifecycle.ignore_changes.iter().map(|s| s.value.as_str()).collect();
                    if ignored.contains(&"all") {
                        after = now.clone();
                    } else {
                        after.take_attributes(&now, &ignored);
                    }
                }
                if let (Attrs::Group(a), Attrs::Group(n)) = (&mut after, &now)
                    && a.membership == crate::model::Membership::Additive
                {
                    a.members.extend(n.members.iter().cloned());
                }
                let changed: Vec<&str> =
                    now.changed_attributes(&after).into_iter().filter(|c| *c != "membership").collect();
                let forces: Vec<&str> =
                    changed.iter().copied().filter(|c| forces_replacement(address.kind, c)).collect();
                let action = if changed.is_empty() {
                    Action::NoOp
                } else if !forces.is_empty() {
                    reasons.push(Reason::ReplaceBecauseCannotUpdate);
                    Action::Replace
                } else {
                    Action::Update
                };
                (action, to_strings(&changed), to_strings(&forces), Some(id), Some(now))
            }
        };
        let previous_address = moved_from.get(address).cloned();
        if previous_address.is_some() {
            reasons.push(Reason::Moved);
        }
        changes.push(ResourceChange {
            address: address.clone(),
            action,
            before,
            after: Some(after),
            changed,
            replace_paths,
            reasons,
            remote_id,
            importing,
            previous_address,
            dependencies: deps.iter().cloned().collect(),
        });
    }

    // Resources in state but not desired: delete. Deleting one that has prevent_destroy is
    // an error, unless --target leaves it out of the plan.
    let mut guarded: Vec<(Address, PlanError)> = Vec::new();
    let moved_away: BTreeSet<&Address> = moved_from.values().collect();
    for r in &state.resources {
        if desired.contains_key(&r.address) || moved_away.contains(&r.address) {
            continue;
        }
        let Some(recorded) = Attrs::from_value(r.address.kind, &r.attributes) else { continue };
        let membership = recorded.as_group().map(|g| g.membership).unwrap_or_default();
        let live =
            live_attrs(&r.address, Some(&r.id), None, membership, snapshot, &names).filter(|(id, _)| {
                r.address.kind == ResourceType::PrivilegedAccess || id.eq_ignore_ascii_case(&r.id)
            });
        let Some((id, now)) = live else {
            // Already gone: the refresh drops it from state; nothing to do in the tenant.
            continue;
        };
        if r.address.kind == ResourceType::PrivilegedAccess && !now.as_pam().is_some_and(|p| p.enabled) {
            // PAM is already off: nothing to destroy.
            continue;
        }
        if let Some(meta) = config.meta(&r.address)
            && meta.lifecycle.prevent_destroy
        {
            guarded.push((r.address.clone(), PlanError::new(
                "pamform::prevent_destroy",
                format!("{} has lifecycle.prevent_destroy set, but the plan would destroy it", r.address),
                config.block_span(&r.address),
                Some("remove prevent_destroy from its lifecycle block first, or leave it out of --destroy with --target"),
            )));
        }
        let reason = if options.mode == PlanMode::Destroy {
            Reason::DeleteBecauseDestroy
        } else {
            Reason::DeleteBecauseNoResourceConfig
        };
        changes.push(ResourceChange {
            address: r.address.clone(),
            action: Action::Delete,
            before: Some(now),
            after: None,
            changed: vec![],
            replace_paths: vec![],
            reasons: vec![reason],
            remote_id: Some(id),
            importing: None,
            previous_address: None,
            dependencies: r.dependencies.clone(),
        });
    }

    changes.sort_by(|a, b| a.address.cmp(&b.address));
    if !options.targets.is_empty() {
        let keep = targeted(&options.targets, &changes);
        changes.retain(|c| keep.contains(&c.address));
        drift.retain(|d| keep.contains(&d.address));
    }
    errors
        .extend(guarded.into_iter().filter(|(a, _)| changes.iter().any(|c| &c.address == a)).map(|(_, e)| e));
    finish(Plan { mode: options.mode, targets: options.targets.clone(), changes, drift }, errors)
}

fn finish(plan: Plan, errors: Vec<PlanError>) -> Result<Plan, Vec<PlanError>> {
    if errors.is_empty() { Ok(plan) } else { Err(errors) }
}

fn to_strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Which attribute changes cannot be made in place.
pub fn forces_replacement(kind: ResourceType, attribute: &str) -> bool {
    match kind {
        // Microsoft has no Set- cmdlet for policies: any change is remove + new.
        ResourceType::AccessPolicy => true,
        // The email is the group's natural key and Set-DistributionGroup does not change
        // alias or address in pamform's use; a new address means a new group.
        ResourceType::ApproverGroup => matches!(attribute, "email" | "alias"),
        ResourceType::PrivilegedAccess => false,
    }
}

/// The targeted addresses plus, transitively, what they need: what a created or updated
/// resource depends on, and what depends on a destroyed one (it cannot outlive it). A
/// destroyed resource's own dependencies stay: `--destroy --target` removes only the target.
fn targeted(targets: &[Address], changes: &[ResourceChange]) -> BTreeSet<Address> {
    let by_addr: BTreeMap<&Address, &ResourceChange> = changes.iter().map(|c| (&c.address, c)).collect();
    let mut keep = BTreeSet::new();
    let mut todo: Vec<Address> = changes
        .iter()
        .map(|c| &c.address)
        .filter(|a| targets.iter().any(|t| t.selects(a)))
        .cloned()
        .collect();
    while let Some(a) = todo.pop() {
        if !keep.insert(a.clone()) {
            continue;
        }
        let Some(c) = by_addr.get(&a) else { continue };
        if c.action == Action::Delete {
            todo.extend(
                changes
                    .iter()
                    .filter(|o| o.action == Action::Delete && o.dependencies.contains(&a))
                    .map(|o| o.address.clone()),
            );
        } else {
            todo.extend(c.dependencies.iter().cloned());
        }
    }
    keep
}
