//! The diff: configuration vs refreshed tenant vs state, into a [`Plan`] of actions, each
//! with its reason; a remote object belongs to one address (renames are moves, never
//! destroy and create). [`build`] runs the steps in order, each in its own file: what the
//! configuration wants (`desired`), which state entry and object each address owns
//! (`ownership`), matching and diffing (`diff`), narrowing to `--target` (`targets`) and
//! refusing what cannot be applied safely (`safety`). Normalisation lives in
//! [`attributes`]; checks against the tenant in [`checks`]; what the refresh must read in
//! [`scope`]; rendering elsewhere ([`crate::views`]). The plan is pure data: building it
//! makes no calls, and what makes it impossible is a [`Diagnostic`] at the span to fix.

pub mod attributes;
pub mod checks;
mod desired;
mod diff;
mod drift;
pub mod import;
mod live;
mod ownership;
mod safety;
pub mod saved;
pub mod scope;
mod targets;
#[cfg(test)]
mod test_support;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::model::{Address, Configuration, Import, RemoteGroup, Span, TenantSnapshot};
use crate::state::State;
use attributes::{Attrs, GroupAttrs, MemberNames};
use live::Owners;

pub use diff::forces_replacement;
pub use scope::reads;

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

/// The id state records for `privileged_access`: there is one per tenant.
pub const PRIVILEGED_ACCESS_ID: &str = "tenant";

/// What every step reads: the three inputs and the lookups made from them once.
struct Inputs<'a> {
    config: &'a Configuration,
    snapshot: &'a TenantSnapshot,
    /// Empty before the first apply.
    state: &'a State,
    names: MemberNames<'a>,
    owners: Owners<'a>,
    /// The `import` block of each address that has one.
    imports: BTreeMap<&'a Address, &'a Import>,
    /// What state recorded for each of its resources, in its order (None: unreadable).
    recorded: Vec<Option<Attrs>>,
    /// Live attributes of the groups asked about so far, by the snapshot's group.
    live_groups: RefCell<HashMap<*const RemoteGroup, GroupAttrs>>,
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
) -> Result<Plan, Vec<Diagnostic>> {
    let empty = State::new("");
    let state = state.unwrap_or(&empty);
    let inputs = Inputs {
        config,
        snapshot,
        state,
        names: MemberNames::new(config, snapshot),
        owners: Owners::of(state),
        imports: config.imports.iter().map(|i| (&i.to.value, i)).collect(),
        recorded: state.resources.iter().map(|r| Attrs::from_value(r.address.kind, &r.attributes)).collect(),
        live_groups: RefCell::new(HashMap::new()),
    };
    let mut drift = drift::of(&inputs);
    if options.mode == PlanMode::RefreshOnly {
        return finish(options, vec![], drift, vec![]);
    }

    let mut errors = Vec::new();
    let desired = desired::resources(config, options.mode, &inputs.names);
    let ownership = ownership::resolve(&inputs, &desired, options.mode, &mut errors);
    let mut changes = diff::desired_changes(&inputs, &desired, &ownership, &mut errors);
    changes.extend(diff::removals(&inputs, &desired, &ownership, options.mode, &changes));
    changes.sort_by(|a, b| a.address.cmp(&b.address));

    errors.extend(safety::shared_objects(config, &changes));
    if !options.targets.is_empty() {
        let keep = targets::kept(&options.targets, &changes, &inputs.owners);
        changes.retain(|c| keep.contains(&c.address));
        drift.retain(|d| keep.contains(&d.address));
    }
    errors.extend(safety::prevent_destroy(&inputs, &ownership.ends, &changes));
    errors.extend(safety::groups_still_named(&inputs, &changes));
    // A refusal quotes names and addresses; none of a sensitive variable's values may show.
    let mut redacted = crate::diagnostic::Diagnostics::new();
    redacted.extend(errors);
    redacted.redact(&config.sensitive_texts);
    finish(options, changes, drift, redacted.into_vec())
}

fn finish(
    options: &PlanOptions,
    changes: Vec<ResourceChange>,
    drift: Vec<ResourceDrift>,
    errors: Vec<Diagnostic>,
) -> Result<Plan, Vec<Diagnostic>> {
    if errors.is_empty() {
        Ok(Plan { mode: options.mode, targets: options.targets.clone(), changes, drift })
    } else {
        Err(errors)
    }
}

/// A problem that makes the plan impossible, pointing at `span` when there is one.
fn refusal(
    code: &'static str,
    message: impl Into<String>,
    span: Option<Span>,
    help: Option<&str>,
) -> Diagnostic {
    let mut d = Diagnostic::error(code, message);
    if let Some(span) = span {
        d = d.with_label(span, "here");
    }
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}
