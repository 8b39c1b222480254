//! Which state entry, and so which remote object, each configured address takes over:
//! `moved` blocks (chains followed), implied moves (a new address whose object, found by
//! natural key, a state address leaving the configuration records) and exchanges of objects
//! between addresses that stay. A remote object keeps exactly one address; what cannot be
//! decided safely is an error at the span.

use std::collections::{BTreeMap, BTreeSet};

use super::desired::Desired;
use super::live::{Found, natural_key};
use super::{Inputs, PlanMode, refusal};
use crate::diagnostic::{Diagnostic, codes};
use crate::model::{Address, Configuration, Membership, ResourceType, normalize};
use crate::state::{ResourceState, State};

/// The state entry each address starts from, when it is not its own.
pub(super) struct Ownership {
    /// Where each `moved` chain ends: from -> final to.
    pub ends: BTreeMap<Address, Address>,
    /// Destination -> the state address a `moved` block moves there.
    pub moved_from: BTreeMap<Address, Address>,
    /// New address -> the state address leaving the configuration whose object it takes.
    pub implied: BTreeMap<Address, Address>,
    /// Addresses that would take an object another address keeps (errors say why).
    pub refused: BTreeSet<Address>,
    /// Address -> the remote id it manages from now on, where it differs from its entry's.
    pub exchanged: BTreeMap<Address, String>,
}

impl Ownership {
    /// The state address whose entry `address` takes over (by a `moved` block or implied).
    pub(super) fn previous(&self, address: &Address) -> Option<&Address> {
        self.moved_from.get(address).or_else(|| self.implied.get(address))
    }

    /// The state entry `address` starts from: its own, or the one moved to it.
    pub(super) fn entry<'s>(&self, state: &'s State, address: &Address) -> Option<&'s ResourceState> {
        state.get(address).or_else(|| self.previous(address).and_then(|p| state.get(p)))
    }

    /// State addresses whose entries other addresses take over.
    pub(super) fn taken(&self) -> BTreeSet<&Address> {
        self.moved_from.values().chain(self.implied.values()).collect()
    }
}

/// Resolves moves, implied moves and exchanges for the desired resources.
pub(super) fn resolve(
    inputs: &Inputs<'_>,
    desired: &Desired,
    mode: PlanMode,
    errors: &mut Vec<Diagnostic>,
) -> Ownership {
    let ends = crate::config::move_destinations(&inputs.config.moves);
    let moved_from = match mode {
        PlanMode::Normal => explicit_moves(inputs.config, inputs.state, &ends, errors),
        _ => BTreeMap::new(),
    };
    let mut ownership = Ownership {
        ends,
        moved_from,
        implied: BTreeMap::new(),
        refused: BTreeSet::new(),
        exchanged: BTreeMap::new(),
    };
    implied_moves(inputs, desired, &mut ownership, errors);
    ownership.exchanged = exchanges(inputs, desired, &ownership);
    ownership
}

/// The moves `moved` blocks make of state entries: destination -> the state address moved
/// there. A `from` still declared keeps its object (validation rejects such a block).
fn explicit_moves(
    config: &Configuration,
    state: &State,
    ends: &BTreeMap<Address, Address>,
    errors: &mut Vec<Diagnostic>,
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
            errors.push(refusal(
                codes::MOVED_BOTH_EXIST,
                format!("cannot move {from} to {to}: the configuration declares no resource instance {to}"),
                span,
                Some("move to the address of a declared instance, e.g. with its for_each key"),
            ));
        } else if state.get(to).is_some() {
            errors.push(refusal(
                codes::MOVED_BOTH_EXIST,
                format!("cannot move {from} to {to}: both are in state"),
                span,
                Some("remove one of them with `pamform state rm`, or delete this moved block"),
            ));
        } else if let Some(other) = out.get(to) {
            errors.push(refusal(
                codes::MOVED_BOTH_EXIST,
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

/// Implied moves: a new address whose object (found by natural key) a state address that
/// leaves the configuration records takes that state entry over. An object another declared
/// address keeps, or that two new addresses claim, is refused.
fn implied_moves(
    inputs: &Inputs<'_>,
    desired: &Desired,
    ownership: &mut Ownership,
    errors: &mut Vec<Diagnostic>,
) {
    let moved_to: BTreeMap<&Address, &Address> =
        ownership.moved_from.iter().map(|(to, from)| (from, to)).collect();
    let mut claims: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for (address, wanted) in desired {
        if address.kind == ResourceType::PrivilegedAccess
            || inputs.state.get(address).is_some()
            || ownership.moved_from.contains_key(address)
            || inputs.imports.contains_key(address)
        {
            continue;
        }
        let Some(id) = inputs.locate(address, None, Some(&wanted.attrs)).map(|f| f.id().to_string()) else {
            continue;
        };
        let Some(owner) = inputs.owners.get(address.kind, &id) else { continue };
        let now_at = moved_to.get(owner).copied().unwrap_or(owner);
        if desired.contains_key(now_at) {
            errors.push(refusal(
                codes::OWNER_CONFLICT,
                format!("{address} describes the object `{id}`, which {now_at} manages"),
                wanted.span,
                Some(&format!(
                    "a remote object belongs to one address: give {address} other values, or hand the object over in two steps (remove the block at {now_at} and add `moved {{ from = {now_at}, to = {address} }}`, apply, then declare {now_at} again)"
                )),
            ));
            ownership.refused.insert(address.clone());
            continue;
        }
        claims.entry(owner).or_default().push(address);
    }
    for (old, news) in claims {
        if let [new] = news[..] {
            ownership.implied.insert(new.clone(), old.clone());
            continue;
        }
        for new in &news {
            let others: Vec<String> = news.iter().filter(|n| n != &new).map(|n| n.to_string()).collect();
            errors.push(refusal(
                codes::OWNER_CONFLICT,
                format!("{new} and {} both describe the object that {old} manages", others.join(", ")),
                inputs.config.block_span(new),
                Some(&format!("add a `moved` block from {old} to the address that should keep its object")),
            ));
            ownership.refused.insert((*new).clone());
        }
    }
}

/// Addresses that stay in the configuration but now describe the object another of them
/// records (two policies' tasks swapped, a task handed from one block to another, two
/// groups' emails swapped): each takes over the object with its new natural key instead of
/// both being replaced, so that no task both configurations gate is ungated. Objects none
/// of them wants any more stay with their address when it found none, else go to those
/// that found none, which replace them: every object keeps exactly one address. Returns
/// address -> the remote id it manages from now on.
fn exchanges(inputs: &Inputs<'_>, desired: &Desired, ownership: &Ownership) -> BTreeMap<Address, String> {
    struct Moving<'a> {
        address: &'a Address,
        id: String,
        now_key: String,
        want_key: String,
    }
    let mut moving: Vec<Moving> = Vec::new();
    for (address, wanted) in desired {
        if address.kind == ResourceType::PrivilegedAccess {
            continue;
        }
        let Some(e) = ownership.entry(inputs.state, address) else { continue };
        let Some(found) =
            inputs.locate(address, Some(&e.id), None).filter(|f| f.id().eq_ignore_ascii_case(&e.id))
        else {
            continue;
        };
        // A group's key is its email: its members are not needed to know it.
        let now_key = match found {
            Found::Group(g) => Some(normalize::principal(&g.email)),
            Found::Policy(_) | Found::Pam => natural_key(&inputs.attrs_of(found, Membership::default())),
        };
        let id = found.id().to_string();
        let (Some(now_key), Some(want_key)) = (now_key, natural_key(&wanted.attrs)) else {
            continue;
        };
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
