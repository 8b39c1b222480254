//! `--target`: the targeted addresses and everything they need, so that a partial apply
//! leaves configuration, state and tenant consistent.

use std::collections::{BTreeMap, BTreeSet};

use super::live::Owners;
use super::{Action, ResourceChange};
use crate::model::Address;

/// The addresses a plan for `targets` keeps: the targets, what they need (see
/// [`targeted`]), and every address whose object one of them takes over.
pub(super) fn kept(
    targets: &[Address],
    changes: &[ResourceChange],
    owners: &Owners<'_>,
) -> BTreeSet<Address> {
    let mut keep = targeted(targets, changes);
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
            return keep;
        }
        for a in more {
            keep.extend(targeted(std::slice::from_ref(&a), changes));
        }
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
