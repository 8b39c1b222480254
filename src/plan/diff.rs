//! Matching and diffing: each desired address is matched to its object in the tenant (the
//! one its state entry records, one recreated with the same natural key, one an `import`
//! names, or one adopted by natural key) and its attributes diffed into an action; each
//! state entry that nothing wants any more becomes a delete.

use std::collections::BTreeSet;

use super::attributes::Attrs;
use super::desired::{Desired, Wanted};
use super::ownership::Ownership;
use super::{Action, Inputs, PRIVILEGED_ACCESS_ID, PlanMode, Reason, ResourceChange, import, refusal};
use crate::diagnostic::{Diagnostic, codes};
use crate::model::{Address, Membership, Meta, ResourceType};
use crate::state::ResourceState;

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

/// The change of every desired address, in address order. An address that cannot be
/// matched safely gets an error instead of a change.
pub(super) fn desired_changes(
    inputs: &Inputs<'_>,
    desired: &Desired,
    ownership: &Ownership,
    errors: &mut Vec<Diagnostic>,
) -> Vec<ResourceChange> {
    let mut changes = Vec::new();
    for (address, wanted) in desired {
        if ownership.refused.contains(address) {
            continue;
        }
        let previous_address = ownership.previous(address).cloned();
        let entry = ownership.entry(inputs.state, address);
        let matched = match match_live(inputs, desired, ownership, address, wanted, entry) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let Matched { live, mut reasons, importing } = matched;
        let d = diff_attributes(address, &wanted.attrs, live, inputs.config.meta(address));
        if d.action == Action::Replace {
            reasons.push(Reason::ReplaceBecauseCannotUpdate);
        }
        if previous_address.is_some() {
            reasons.push(if ownership.moved_from.contains_key(address) {
                Reason::Moved
            } else {
                Reason::ImpliedMove
            });
        }
        changes.push(ResourceChange {
            address: address.clone(),
            action: d.action,
            before: d.before,
            after: Some(d.after),
            changed: d.changed,
            replace_paths: d.replace_paths,
            reasons,
            remote_id: d.remote_id,
            importing,
            previous_address,
            dependencies: wanted.deps.iter().cloned().collect(),
        });
    }
    changes
}

/// A desired address matched to the tenant.
struct Matched {
    /// Its object's id and live attributes; None when it is to be created.
    live: Option<(String, Attrs)>,
    reasons: Vec<Reason>,
    /// Set when the object is adopted into state: the id it is found by.
    importing: Option<String>,
}

/// Finds the object a desired address manages. `Ok(None)` leaves the address out of the
/// plan (its object is owned by another address, which the ownership step dealt with).
// A refusal is built on the cold path only; boxing it would add noise for no gain.
#[allow(clippy::result_large_err)]
fn match_live(
    inputs: &Inputs<'_>,
    desired: &Desired,
    ownership: &Ownership,
    address: &Address,
    wanted: &Wanted,
    entry: Option<&ResourceState>,
) -> Result<Option<Matched>, Diagnostic> {
    let want = &wanted.attrs;
    let membership = want.as_group().map(|g| g.membership).unwrap_or_default();
    let mut matched = Matched { live: None, reasons: Vec::new(), importing: None };
    if let Some(e) = entry {
        let own = ownership.exchanged.get(address).map_or(e.id.as_str(), String::as_str);
        let found = inputs
            .live(address, Some(own), None, membership)
            .filter(|(id, _)| address.kind == ResourceType::PrivilegedAccess || id.eq_ignore_ascii_case(own))
            .or_else(|| inputs.recreated(address, e, desired, membership))
            .or_else(|| inputs.live(address, None, Some(want), membership));
        match &found {
            None => matched.reasons.push(Reason::DeletedOutside),
            // The recorded object is gone and another with the same natural key is there: it
            // is taken over only if no other address records it.
            Some((id, _)) if !id.eq_ignore_ascii_case(own) => {
                if let Some(other) = inputs.owners.get(address.kind, id).filter(|o| **o != e.address) {
                    return Err(refusal(
                        codes::OWNER_CONFLICT,
                        format!(
                            "{address}: its object `{}` is gone, and the object with the same key (`{id}`) is managed by {other}",
                            e.id
                        ),
                        wanted.span,
                        Some(&format!(
                            "a remote object belongs to one address: change {address} or {other} so that they describe different objects"
                        )),
                    ));
                }
            }
            Some(_) => {}
        }
        matched.live = found;
    } else if let Some(imp) = inputs.imports.get(address) {
        let found = import::find(address, &imp.id.value, inputs.config, inputs.snapshot).and_then(|id| {
            import::check_owner(inputs.state, address, &imp.id.value, &id)?;
            Ok(id)
        });
        let id = found.map_err(|e| {
            let code = match e {
                import::ImportError::OwnedElsewhere { .. } => codes::IMPORT_OWNED,
                _ => codes::IMPORT_NOT_FOUND,
            };
            refusal(code, format!("cannot import {address}: {e}"), Some(imp.id.span), None)
        })?;
        matched.reasons.push(Reason::ImportBlock);
        matched.importing = Some(imp.id.value.clone());
        matched.live = inputs.live(address, Some(&id), Some(want), membership);
    } else {
        let found = inputs.live(address, None, Some(want), membership);
        match &found {
            // The PAM switch always exists: taking it under management is an import only
            // when nothing changes, otherwise a plain update.
            Some((_, now))
                if address.kind == ResourceType::PrivilegedAccess
                    && now.changed_attributes(want).is_empty() =>
            {
                matched.importing = Some(PRIVILEGED_ACCESS_ID.to_string());
            }
            Some(_) if address.kind == ResourceType::PrivilegedAccess => {}
            // Owned objects were moved or refused by the ownership step; never adopt one twice.
            Some((id, _)) if inputs.owners.get(address.kind, id).is_some() => return Ok(None),
            Some((id, _)) => {
                matched.reasons.push(Reason::Adopt);
                matched.importing = Some(id.clone());
            }
            None => {}
        }
        matched.live = found;
    }
    Ok(Some(matched))
}

/// The outcome of diffing desired attributes against the live ones.
struct Diffed {
    action: Action,
    before: Option<Attrs>,
    after: Attrs,
    changed: Vec<String>,
    replace_paths: Vec<String>,
    remote_id: Option<String>,
}

/// Diffs what an address wants against its live object (None: to be created), keeping the
/// live values of `lifecycle.ignore_changes` and the members an additive group does not own.
fn diff_attributes(
    address: &Address,
    want: &Attrs,
    live: Option<(String, Attrs)>,
    meta: Option<&Meta>,
) -> Diffed {
    let mut after = want.clone();
    let Some((id, now)) = live else {
        return Diffed {
            action: Action::Create,
            before: None,
            after,
            changed: vec![],
            replace_paths: vec![],
            remote_id: None,
        };
    };
    if let Some(meta) = meta {
        let ignored: Vec<&str> = meta.lifecycle.ignore_changes.iter().map(|s| s.value.as_str()).collect();
        if ignored.contains(&"all") {
            after = now.clone();
        } else if !ignored.is_empty() {
            after.take_attributes(&now, &ignored);
        }
    }
    if let (Attrs::Group(a), Attrs::Group(n)) = (&mut after, &now)
        && a.membership == Membership::Additive
    {
        a.members.extend(n.members.iter().cloned());
    }
    let changed: Vec<&str> =
        now.changed_attributes(&after).into_iter().filter(|c| *c != "membership").collect();
    let forces: Vec<&str> = changed.iter().copied().filter(|c| forces_replacement(address.kind, c)).collect();
    let action = if changed.is_empty() {
        Action::NoOp
    } else if !forces.is_empty() {
        Action::Replace
    } else {
        Action::Update
    };
    Diffed {
        action,
        before: Some(now),
        after,
        changed: to_strings(&changed),
        replace_paths: to_strings(&forces),
        remote_id: Some(id),
    }
}

/// Resources in state but not desired (and not moved): deletes. `changes` are the desired
/// ones, whose objects are not re-adopted for deletion.
pub(super) fn removals(
    inputs: &Inputs<'_>,
    desired: &Desired,
    ownership: &Ownership,
    mode: PlanMode,
    changes: &[ResourceChange],
) -> Vec<ResourceChange> {
    let taken = ownership.taken();
    // The object recorded for an address that leaves the configuration, when it was
    // recreated outside pamform with the same natural key, is re-adopted to be destroyed,
    // unless another address owns or takes that object.
    let claimed: BTreeSet<(ResourceType, String)> = changes
        .iter()
        .filter_map(|c| c.remote_id.as_deref().map(|id| (c.address.kind, id.to_lowercase())))
        .collect();
    let mut out = Vec::new();
    for (r, recorded) in inputs.state.resources.iter().zip(&inputs.recorded) {
        if desired.contains_key(&r.address) || taken.contains(&r.address) {
            continue;
        }
        let Some(recorded) = recorded else { continue };
        let membership = recorded.as_group().map(|g| g.membership).unwrap_or_default();
        let live = inputs.live(&r.address, Some(&r.id), Some(recorded), membership).filter(|(id, _)| {
            r.address.kind == ResourceType::PrivilegedAccess
                || id.eq_ignore_ascii_case(&r.id)
                || (inputs.owners.get(r.address.kind, id).is_none()
                    && !claimed.contains(&(r.address.kind, id.to_lowercase())))
        });
        let Some((id, now)) = live else {
            // Already gone: the refresh drops it from state; nothing to do in the tenant.
            continue;
        };
        if r.address.kind == ResourceType::PrivilegedAccess && !now.as_pam().is_some_and(|p| p.enabled) {
            // PAM is already off: nothing to destroy.
            continue;
        }
        let reason = if mode == PlanMode::Destroy {
            Reason::DeleteBecauseDestroy
        } else {
            Reason::DeleteBecauseNoResourceConfig
        };
        out.push(ResourceChange {
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
    out
}

fn to_strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
