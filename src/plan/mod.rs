//! The diff: configuration vs refreshed tenant vs state, into a [`Plan`] of actions, each
//! with its reason; a remote object belongs to one address (renames are moves, never
//! destroy and create). Normalisation lives in [`attributes`]; checks against the tenant in
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
    /// The object in state under another address that left the configuration has the same
    /// natural key (task, role, role group; group email): it is moved, never recreated.
    ImpliedMove,
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

/// The stable codes of the errors that make a plan impossible.
pub mod code {
    pub const PREVENT_DESTROY: &str = "pamform::prevent_destroy";
    pub const IMPORT_NOT_FOUND: &str = "pamform::import_not_found";
    /// An import of an object another address already manages.
    pub const IMPORT_OWNED: &str = "pamform::import_owned";
    pub const MOVED_BOTH_EXIST: &str = "pamform::moved_both_exist";
    /// Two addresses would manage one remote object.
    pub const OWNER_CONFLICT: &str = "pamform::owner_conflict";
    /// A group would be removed while a policy or the PAM switch still names it.
    pub const GROUP_STILL_NAMED: &str = "pamform::group_still_named";
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
///
/// A remote object belongs to one address, in state and in the plan: an object is adopted
/// by its natural key only when no state address records it; an address that leaves the
/// configuration while another with the same natural key appears is moved, never destroyed
/// and created again; what cannot be decided safely is an error at the span.
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

    let mut drift = refresh_drift(state, snapshot, &names);
    if options.mode == PlanMode::RefreshOnly {
        return finish(
            Plan { mode: options.mode, targets: options.targets.clone(), changes: vec![], drift },
            errors,
        );
    }

    // Desired resources.
    let mut desired: BTreeMap<Address, (Attrs, BTreeSet<Address>, Option<Span>)> = BTreeMap::new();
    if options.mode == PlanMode::Normal {
        for (a, g) in &config.groups {
            desired.insert(
                a.clone(),
                (
                    Attrs::Group(attributes::desired_group(g, &names)),
                    g.meta.dependencies.clone(),
                    Some(g.span),
                ),
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
    // A policy or PAM switch that names a configured group by its email string depends on
    // that group as a reference would: the group is created before and removed after it.
    let by_email: BTreeMap<String, &Address> =
        config.groups.iter().map(|(a, g)| (crate::model::normalize::principal(&g.email.value), a)).collect();
    for (attrs, deps, _) in desired.values_mut() {
        let named = match attrs {
            Attrs::Policy(p) => Some(p.approver_group.as_str()),
            Attrs::Pam(p) => p.default_approver_group.as_deref(),
            Attrs::Group(_) => None,
        };
        if let Some(group) = named.and_then(|e| by_email.get(&crate::model::normalize::principal(e))) {
            deps.insert((*group).clone());
        }
    }

    // Moves from `moved` blocks (chains followed): the state entry at `from` lives at `to`.
    let ends = crate::config::move_destinations(&config.moves);
    let moved_from = match options.mode {
        PlanMode::Normal => explicit_moves(config, state, &ends, &mut errors),
        _ => BTreeMap::new(),
    };
    let moved_to: BTreeMap<&Address, &Address> = moved_from.iter().map(|(to, from)| (from, to)).collect();
    let imports: BTreeMap<&Address, &crate::model::Import> =
        config.imports.iter().map(|i| (&i.to.value, i)).collect();
    let owners = Owners::of(state);

    // Implied moves: a new address whose object (found by natural key) a state address that
    // leaves the configuration records takes that state entry over.
    let mut implied: BTreeMap<Address, Address> = BTreeMap::new();
    let mut refused: BTreeSet<Address> = BTreeSet::new();
    let mut claims: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for (address, (want, _, span)) in &desired {
        if address.kind == ResourceType::PrivilegedAccess
            || state.get(address).is_some()
            || moved_from.contains_key(address)
            || imports.contains_key(address)
        {
            continue;
        }
        let membership = want.as_group().map(|g| g.membership).unwrap_or_default();
        let Some((id, _)) = live_attrs(address, None, Some(want), membership, snapshot, &names) else {
            continue;
        };
        let Some(owner) = owners.get(address.kind, &id) else { continue };
        let now_at = moved_to.get(owner).copied().unwrap_or(owner);
        if desired.contains_key(now_at) {
            errors.push(PlanError::new(
                code::OWNER_CONFLICT,
                format!("{address} describes the object `{id}`, which {now_at} manages"),
                *span,
                Some(&format!(
                    "a remote object belongs to one address: give {address} other values, or hand the object over in two steps (remove the block at {now_at} and add `moved {{ from = {now_at}, to = {address} }}`, apply, then declare {now_at} again)"
                )),
            ));
            refused.insert(address.clone());
            continue;
        }
        claims.entry(owner).or_default().push(address);
    }
    for (old, news) in claims {
        if let [new] = news[..] {
            implied.insert(new.clone(), old.clone());
            continue;
        }
        for new in &news {
            let others: Vec<String> = news.iter().filter(|n| n != &new).map(|n| n.to_string()).collect();
            errors.push(PlanError::new(
                code::OWNER_CONFLICT,
                format!("{new} and {} both describe the object that {old} manages", others.join(", ")),
                config.block_span(new),
                Some(&format!("add a `moved` block from {old} to the address that should keep its object")),
            ));
            refused.insert((*new).clone());
        }
    }

    // The state entry each desired address starts from (its own, or the one moved to it).
    let entries: BTreeMap<&Address, &crate::state::ResourceState> = desired
        .keys()
        .filter_map(|a| {
            let e = state
                .get(a)
                .or_else(|| moved_from.get(a).or_else(|| implied.get(a)).and_then(|p| state.get(p)))?;
            Some((a, e))
        })
        .collect();
    let exchanged = exchanges(&desired, &entries, snapshot, &names);
    let mut changes = Vec::new();
    let mut guarded: Vec<(Address, PlanError)> = Vec::new();
    for (address, (want, deps, span)) in &desired {
        if refused.contains(address) {
            continue;
        }
        let previous_address = moved_from.get(address).or_else(|| implied.get(address)).cloned();
        let entry = state.get(address).or_else(|| previous_address.as_ref().and_then(|p| state.get(p)));
        let meta = config.meta(address);
        let membership = want.as_group().map(|g| g.membership).unwrap_or_default();
        let mut reasons = Vec::new();
        let mut importing = None;
        let live = match entry {
            Some(e) => {
                let own = exchanged.get(address).map_or(e.id.as_str(), String::as_str);
                let found = live_attrs(address, Some(own), None, membership, snapshot, &names)
                    .filter(|(id, _)| {
                        address.kind == ResourceType::PrivilegedAccess || id.eq_ignore_ascii_case(own)
                    })
                    .or_else(|| recreated(address, e, &desired, membership, snapshot, &names, &owners))
                    .or_else(|| live_attrs(address, None, Some(want), membership, snapshot, &names));
                match &found {
                    None => reasons.push(Reason::DeletedOutside),
                    // The recorded object is gone and another with the same natural key is
                    // there: it is taken over only if no other address records it.
                    Some((id, _)) if !id.eq_ignore_ascii_case(own) => {
                        if let Some(other) = owners.get(address.kind, id).filter(|o| **o != e.address) {
                            errors.push(PlanError::new(
                                code::OWNER_CONFLICT,
                                format!(
                                    "{address}: its object `{}` is gone, and the object with the same key (`{id}`) is managed by {other}",
                                    e.id
                                ),
                                *span,
                                Some(&format!(
                                    "a remote object belongs to one address: change {address} or {other} so that they describe different objects"
                                )),
                            ));
                            continue;
                        }
                    }
                    Some(_) => {}
                }
                found
            }
            None => {
                if let Some(imp) = imports.get(address) {
                    let found = import::find(address, &imp.id.value, config, snapshot).and_then(|id| {
                        import::check_owner(state, address, &imp.id.value, &id)?;
                        Ok(id)
                    });
                    match found {
                        Ok(id) => {
                            reasons.push(Reason::ImportBlock);
                            importing = Some(imp.id.value.clone());
                            live_attrs(address, Some(&id), Some(want), membership, snapshot, &names)
                        }
                        Err(e) => {
                            let code = match e {
                                import::ImportError::OwnedElsewhere { .. } => code::IMPORT_OWNED,
                                _ => code::IMPORT_NOT_FOUND,
                            };
                            errors.push(PlanError::new(
                                code,
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
                        // Owned objects were moved or refused above; never adopt one twice.
                        Some((id, _)) if owners.get(address.kind, id).is_some() => continue,
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
        if action == Action::Replace && meta.is_some_and(|m| m.lifecycle.prevent_destroy) {
            guarded.push((
                address.clone(),
                PlanError::new(
                    code::PREVENT_DESTROY,
                    format!(
                        "{address} has lifecycle.prevent_destroy set, but the plan would replace it (destroy, then create) because {} changed",
                        replace_paths.join(", ")
                    ),
                    config.block_span(address),
                    Some("set those attributes back, or remove prevent_destroy from its lifecycle block first"),
                ),
            ));
        }
        if previous_address.is_some() {
            reasons.push(if moved_from.contains_key(address) { Reason::Moved } else { Reason::ImpliedMove });
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

    // Resources in state but not desired (and not moved): delete. Deleting one that has
    // prevent_destroy is an error, unless --target leaves it out of the plan.
    let taken: BTreeSet<&Address> = moved_from.values().chain(implied.values()).collect();
    // The object recorded for an address that leaves the configuration, when it was
    // recreated outside pamform with the same natural key, is re-adopted to be destroyed,
    // unless another address owns or takes that object.
    let claimed: BTreeSet<(ResourceType, String)> = changes
        .iter()
        .filter_map(|c| c.remote_id.as_deref().map(|id| (c.address.kind, id.to_lowercase())))
        .collect();
    for r in &state.resources {
        if desired.contains_key(&r.address) || taken.contains(&r.address) {
            continue;
        }
        let Some(recorded) = Attrs::from_value(r.address.kind, &r.attributes) else { continue };
        let membership = recorded.as_group().map(|g| g.membership).unwrap_or_default();
        let live = live_attrs(&r.address, Some(&r.id), Some(&recorded), membership, snapshot, &names).filter(
            |(id, _)| {
                r.address.kind == ResourceType::PrivilegedAccess
                    || id.eq_ignore_ascii_case(&r.id)
                    || (owners.get(r.address.kind, id).is_none()
                        && !claimed.contains(&(r.address.kind, id.to_lowercase())))
            },
        );
        let Some((id, now)) = live else {
            // Already gone: the refresh drops it from state; nothing to do in the tenant.
            continue;
        };
        if r.address.kind == ResourceType::PrivilegedAccess && !now.as_pam().is_some_and(|p| p.enabled) {
            // PAM is already off: nothing to destroy.
            continue;
        }
        let meta = config.meta(&r.address).or_else(|| ends.get(&r.address).and_then(|to| config.meta(to)));
        if meta.is_some_and(|m| m.lifecycle.prevent_destroy) {
            let at = ends.get(&r.address).filter(|to| config.contains(to)).unwrap_or(&r.address);
            guarded.push((r.address.clone(), PlanError::new(
                code::PREVENT_DESTROY,
                format!("{} has lifecycle.prevent_destroy set, but the plan would destroy it", r.address),
                config.block_span(at),
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
    errors.extend(shared_objects(config, &changes));
    if !options.targets.is_empty() {
        let mut keep = targeted(&options.targets, &changes);
        // An object handed from one address to another is recorded under the new one only
        // together with the change of the address that held it: both or neither.
        loop {
            let more: Vec<Address> = changes
                .iter()
                .filter(|c| keep.contains(&c.address))
                .filter_map(|c| owners.get(c.address.kind, c.remote_id.as_deref()?))
                .filter(|o| !keep.contains(*o) && changes.iter().any(|c| &c.address == *o))
                .cloned()
                .collect();
            if more.is_empty() {
                break;
            }
            for a in more {
                keep.extend(targeted(std::slice::from_ref(&a), &changes));
            }
        }
        changes.retain(|c| keep.contains(&c.address));
        drift.retain(|d| keep.contains(&d.address));
    }
    errors
        .extend(guarded.into_iter().filter(|(a, _)| changes.iter().any(|c| &c.address == a)).map(|(_, e)| e));
    errors.extend(groups_still_named(config, snapshot, state, &changes));
    finish(Plan { mode: options.mode, targets: options.targets.clone(), changes, drift }, errors)
}

/// Addresses that stay in the configuration but now describe the object another of them
/// records (two policies' tasks swapped, a task handed from one block to another, two
/// groups' emails swapped): each takes over the object with its new natural key instead of
/// both being replaced, so that no task both configurations gate is ungated. Objects none
/// of them wants any more stay with their address when it found none, else go to those
/// that found none, which replace them: every object keeps exactly one address. Returns
/// address -> the remote id it manages from now on.
fn exchanges(
    desired: &BTreeMap<Address, (Attrs, BTreeSet<Address>, Option<Span>)>,
    entries: &BTreeMap<&Address, &crate::state::ResourceState>,
    snapshot: &TenantSnapshot,
    names: &MemberNames,
) -> BTreeMap<Address, String> {
    struct Moving<'a> {
        address: &'a Address,
        id: String,
        now_key: String,
        want_key: String,
    }
    let mut moving: Vec<Moving> = Vec::new();
    for (address, (want, _, _)) in desired {
        if address.kind == ResourceType::PrivilegedAccess {
            continue;
        }
        let Some(e) = entries.get(address) else { continue };
        let membership = want.as_group().map(|g| g.membership).unwrap_or_default();
        let Some((id, now)) = live_attrs(address, Some(&e.id), None, membership, snapshot, names)
            .filter(|(id, _)| id.eq_ignore_ascii_case(&e.id))
        else {
            continue;
        };
        let (Some(now_key), Some(want_key)) = (natural_key(&now), natural_key(want)) else { continue };
        if now_key != want_key {
            moving.push(Moving { address, id, now_key, want_key });
        }
    }
    let mut out: BTreeMap<Address, String> = BTreeMap::new();
    // Objects (by index in `moving`) that have their address, and addresses that have one.
    let mut taken: BTreeSet<usize> = BTreeSet::new();
    let mut placed: BTreeSet<usize> = BTreeSet::new();
    for (i, m) in moving.iter().enumerate() {
        let other = moving.iter().position(|o| {
            o.address != m.address && o.address.kind == m.address.kind && o.now_key == m.want_key
        });
        if let Some(j) = other {
            out.insert(m.address.clone(), moving[j].id.clone());
            taken.insert(j);
            placed.insert(i);
        }
    }
    if out.is_empty() {
        return out;
    }
    // Those that found no object keep their own when nobody took it...
    for i in 0..moving.len() {
        if !placed.contains(&i) && !taken.contains(&i) {
            taken.insert(i);
            placed.insert(i);
        }
    }
    // ...or replace one that nobody wants any more.
    for (i, m) in moving.iter().enumerate() {
        if placed.contains(&i) {
            continue;
        }
        if let Some(j) =
            (0..moving.len()).find(|j| !taken.contains(j) && moving[*j].address.kind == m.address.kind)
        {
            out.insert(m.address.clone(), moving[j].id.clone());
            taken.insert(j);
            placed.insert(i);
        }
    }
    out
}

/// The object recreated outside pamform for a state entry whose recorded object is gone:
/// the one with the natural key state recorded (old group email, old policy target), when no
/// other state address owns it and no configured resource of the same kind has that key
/// (that one adopts it instead).
fn recreated(
    address: &Address,
    entry: &crate::state::ResourceState,
    desired: &BTreeMap<Address, (Attrs, BTreeSet<Address>, Option<Span>)>,
    membership: crate::model::Membership,
    snapshot: &TenantSnapshot,
    names: &MemberNames,
    owners: &Owners<'_>,
) -> Option<(String, Attrs)> {
    let recorded = Attrs::from_value(address.kind, &entry.attributes)?;
    let key = natural_key(&recorded)?;
    let wanted_elsewhere = desired.iter().any(|(a, (w, _, _))| {
        a != address && a.kind == address.kind && natural_key(w).as_ref() == Some(&key)
    });
    if wanted_elsewhere {
        return None;
    }
    let (id, now) = live_attrs(address, None, Some(&recorded), membership, snapshot, names)?;
    if owners.get(address.kind, &id).is_some_and(|o| o != address) {
        return None;
    }
    Some((id, now))
}

/// The natural key of a group (email) or policy (target), lower-cased.
fn natural_key(attrs: &Attrs) -> Option<String> {
    match attrs {
        Attrs::Group(g) => Some(crate::model::normalize::principal(&g.email)),
        Attrs::Policy(p) => p.target().map(|t| t.natural_key()),
        Attrs::Pam(_) => None,
    }
}

/// Drift: state vs tenant, for every resource in state.
fn refresh_drift(state: &State, snapshot: &TenantSnapshot, names: &MemberNames) -> Vec<ResourceDrift> {
    let mut drift = Vec::new();
    for r in &state.resources {
        let Some(recorded) = Attrs::from_value(r.address.kind, &r.attributes) else { continue };
        let membership = recorded.as_group().map(|g| g.membership).unwrap_or_default();
        let live =
            live_attrs(&r.address, Some(&r.id), None, membership, snapshot, names).filter(|(id, _)| {
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
    drift
}

/// The moves `moved` blocks make of state entries: destination -> the state address moved
/// there. A `from` still declared keeps its object (validation rejects such a block).
fn explicit_moves(
    config: &Configuration,
    state: &State,
    ends: &BTreeMap<Address, Address>,
    errors: &mut Vec<PlanError>,
) -> BTreeMap<Address, Address> {
    let mut out: BTreeMap<Address, Address> = BTreeMap::new();
    for r in &state.resources {
        let Some(to) = ends.get(&r.address) else { continue };
        if to == &r.address || config.contains(&r.address) {
            continue;
        }
        let span = config.moves.iter().find(|m| m.from.value == r.address).map(|m| m.span);
        let from = &r.address;
        if !config.contains(to) {
            errors.push(PlanError::new(
                code::MOVED_BOTH_EXIST,
                format!("cannot move {from} to {to}: the configuration declares no resource instance {to}"),
                span,
                Some("move to the address of a declared instance, e.g. with its for_each key"),
            ));
        } else if state.get(to).is_some() {
            errors.push(PlanError::new(
                code::MOVED_BOTH_EXIST,
                format!("cannot move {from} to {to}: both are in state"),
                span,
                Some("remove one of them with `pamform state rm`, or delete this moved block"),
            ));
        } else if let Some(other) = out.get(to) {
            errors.push(PlanError::new(
                code::MOVED_BOTH_EXIST,
                format!("cannot move both {other} and {from} to {to}: both are in state"),
                span,
                Some("remove one of them with `pamform state rm`, or delete the moved block that leads from it"),
            ));
        } else {
            out.insert(to.clone(), from.clone());
        }
    }
    out
}

/// Which state address records each remote object (the first, should state hold one twice).
struct Owners<'a>(BTreeMap<(ResourceType, String), &'a Address>);

impl<'a> Owners<'a> {
    fn of(state: &'a State) -> Self {
        let mut map = BTreeMap::new();
        for r in state.resources.iter().filter(|r| r.address.kind != ResourceType::PrivilegedAccess) {
            map.entry((r.address.kind, r.id.to_lowercase())).or_insert(&r.address);
        }
        Owners(map)
    }

    fn get(&self, kind: ResourceType, id: &str) -> Option<&'a Address> {
        self.0.get(&(kind, id.to_lowercase())).copied()
    }
}

/// One remote object, one address: changes of two addresses on the same object (a state
/// file that records it twice) are refused rather than applied twice.
fn shared_objects(config: &Configuration, changes: &[ResourceChange]) -> Vec<PlanError> {
    let mut seen: BTreeMap<(ResourceType, String), &Address> = BTreeMap::new();
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.address.kind != ResourceType::PrivilegedAccess) {
        let Some(id) = &c.remote_id else { continue };
        if let Some(first) = seen.insert((c.address.kind, id.to_lowercase()), &c.address) {
            out.push(PlanError::new(
                code::OWNER_CONFLICT,
                format!("{first} and {} both manage the remote object `{id}`", c.address),
                config.block_span(&c.address).or_else(|| config.block_span(first)),
                Some(&format!(
                    "a remote object belongs to one address: forget the one that should not manage it with `pamform state rm`, e.g. `pamform state rm {}`",
                    if config.contains(&c.address) { first } else { &c.address }
                )),
            ));
        }
    }
    out
}

/// Something that names a group by email once the plan is applied.
struct Namer {
    what: String,
    email: String,
    /// Where the configuration names it, if it does.
    span: Option<Span>,
    is_pam: bool,
}

/// Everything that names a group after the plan: the policies and PAM switch the plan leaves
/// or makes (by reference or by email), and what the tenant keeps that the plan does not
/// touch (unmanaged or untargeted policies, the live PAM switch).
fn namers_after(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    state: &State,
    changes: &[ResourceChange],
) -> Vec<Namer> {
    let pam_span = config
        .privileged_access
        .as_ref()
        .map(|p| p.default_approver_group.as_ref().map(|g| g.span).unwrap_or(p.span));
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.action != Action::Delete) {
        match c.after.as_ref() {
            Some(Attrs::Policy(p)) => out.push(Namer {
                what: c.address.to_string(),
                email: p.approver_group.clone(),
                span: config.policies.get(&c.address).map(|p| p.approver_group.span),
                is_pam: false,
            }),
            Some(Attrs::Pam(p)) if p.enabled => out.extend(p.default_approver_group.iter().map(|g| Namer {
                what: "privileged_access (its default approver group)".into(),
                email: g.clone(),
                span: pam_span,
                is_pam: true,
            })),
            _ => {}
        }
    }
    let in_plan: BTreeSet<String> = changes
        .iter()
        .filter(|c| c.address.kind == ResourceType::AccessPolicy)
        .filter_map(|c| c.remote_id.as_deref())
        .map(str::to_lowercase)
        .collect();
    for p in snapshot.policies.iter().filter(|p| !in_plan.contains(&p.id.to_lowercase())) {
        let managed = state
            .resources
            .iter()
            .find(|r| r.address.kind == ResourceType::AccessPolicy && r.id.eq_ignore_ascii_case(&p.id));
        out.push(Namer {
            what: match managed {
                Some(r) => r.address.to_string(),
                None => format!("the unmanaged policy for {} (`{}`)", p.target.display_value(), p.id),
            },
            email: p.approver_group.clone(),
            span: managed.and_then(|r| config.policies.get(&r.address)).map(|c| c.approver_group.span),
            is_pam: false,
        });
    }
    if !changes.iter().any(|c| c.address.kind == ResourceType::PrivilegedAccess) && snapshot.pam.enabled {
        out.extend(snapshot.pam.default_approver_group.iter().map(|g| Namer {
            what: "the tenant's PAM switch (its default approver group)".into(),
            email: g.clone(),
            span: pam_span,
            is_pam: true,
        }));
    }
    out
}

/// A group the plan removes (or replaces with another email) while something still names
/// its email after the plan: Exchange would refuse the removal on every apply.
fn groups_still_named(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    state: &State,
    changes: &[ResourceChange],
) -> Vec<PlanError> {
    let removed: Vec<(&ResourceChange, &str)> = changes
        .iter()
        .filter(|c| c.address.kind == ResourceType::ApproverGroup)
        .filter_map(|c| {
            let before = c.before.as_ref().and_then(Attrs::as_group)?;
            let gone = match c.action {
                Action::Delete => true,
                Action::Replace => c
                    .after
                    .as_ref()
                    .and_then(Attrs::as_group)
                    .is_none_or(|a| !a.email.eq_ignore_ascii_case(&before.email)),
                _ => false,
            };
            gone.then_some((c, before.email.as_str()))
        })
        .collect();
    if removed.is_empty() {
        return vec![];
    }
    let live_default =
        snapshot.pam.default_approver_group.as_deref().filter(|_| snapshot.pam.enabled).unwrap_or_default();
    let namers = namers_after(config, snapshot, state, changes);
    let mut out = Vec::new();
    for (c, email) in removed {
        for n in namers.iter().filter(|n| n.email.eq_ignore_ascii_case(email)) {
            // Replacing PAM's live default group has its own check (plan::checks).
            if c.action == Action::Replace && n.is_pam && live_default.eq_ignore_ascii_case(email) {
                continue;
            }
            let how = if c.action == Action::Replace {
                "replaced by a group with another email"
            } else {
                "removed"
            };
            let help = match n.span {
                Some(_) => format!(
                    "point {} at another group (or remove it) in the same change, or keep {}",
                    n.what, c.address
                ),
                None => format!(
                    "change or remove it in the tenant first (or `pamform import` it and change it here), or keep {}",
                    c.address
                ),
            };
            out.push(PlanError::new(
                code::GROUP_STILL_NAMED,
                format!(
                    "{} would be {how}, but {} still names its email `{email}`, and Exchange does not remove a group that is still named",
                    c.address, n.what
                ),
                n.span.or_else(|| config.block_span(&c.address)),
                Some(&help),
            ));
        }
    }
    out
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
