//! Finding a resource's object in the refreshed tenant (by the id state recorded, or by its
//! natural key) and knowing which state address owns each remote object.

use std::collections::BTreeMap;

use super::attributes::{self, Attrs};
use super::desired::Desired;
use super::{Inputs, PRIVILEGED_ACCESS_ID};
use crate::model::{Address, Membership, ResourceType, normalize};
use crate::state::{ResourceState, State};

impl Inputs<'_> {
    /// Where a resource's object lives in the tenant: found by `id_hint`, else by the natural
    /// key of `hint` (a group's email, a policy's target), with its id and live attributes.
    pub(super) fn live(
        &self,
        address: &Address,
        id_hint: Option<&str>,
        hint: Option<&Attrs>,
        membership: Membership,
    ) -> Option<(String, Attrs)> {
        let snapshot = self.snapshot;
        match address.kind {
            ResourceType::ApproverGroup => {
                let by_id =
                    id_hint.and_then(|id| snapshot.groups.values().find(|g| g.id.eq_ignore_ascii_case(id)));
                let by_key = || hint.and_then(Attrs::as_group).and_then(|d| snapshot.group(&d.email));
                let g = by_id.or_else(by_key)?;
                Some((g.id.clone(), Attrs::Group(attributes::live_group(g, &self.names, membership))))
            }
            ResourceType::AccessPolicy => {
                let by_id = id_hint.and_then(|id| snapshot.policy_by_id(id));
                let by_key = || {
                    hint.and_then(Attrs::as_policy)
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

    /// The object recreated outside pamform for a state entry whose recorded object is gone:
    /// the one with the natural key state recorded (old group email, old policy target),
    /// when no other state address owns it and no configured resource of the same kind has
    /// that key (that one adopts it instead).
    pub(super) fn recreated(
        &self,
        address: &Address,
        entry: &ResourceState,
        desired: &Desired,
        membership: Membership,
    ) -> Option<(String, Attrs)> {
        let recorded = Attrs::from_value(address.kind, &entry.attributes)?;
        let key = natural_key(&recorded)?;
        let wanted_elsewhere = desired.iter().any(|(a, w)| {
            a != address && a.kind == address.kind && natural_key(&w.attrs).as_ref() == Some(&key)
        });
        if wanted_elsewhere {
            return None;
        }
        let (id, now) = self.live(address, None, Some(&recorded), membership)?;
        if self.owners.get(address.kind, &id).is_some_and(|o| o != address) {
            return None;
        }
        Some((id, now))
    }
}

/// The natural key of a group (email) or policy (target), lower-cased.
pub(super) fn natural_key(attrs: &Attrs) -> Option<String> {
    match attrs {
        Attrs::Group(g) => Some(normalize::principal(&g.email)),
        Attrs::Policy(p) => p.target().map(|t| t.natural_key()),
        Attrs::Pam(_) => None,
    }
}

/// Which state address records each remote object (the first, should state hold one twice).
pub(super) struct Owners<'a>(BTreeMap<(ResourceType, String), &'a Address>);

impl<'a> Owners<'a> {
    pub(super) fn of(state: &'a State) -> Self {
        let mut map = BTreeMap::new();
        for r in state.resources.iter().filter(|r| r.address.kind != ResourceType::PrivilegedAccess) {
            map.entry((r.address.kind, r.id.to_lowercase())).or_insert(&r.address);
        }
        Owners(map)
    }

    pub(super) fn get(&self, kind: ResourceType, id: &str) -> Option<&'a Address> {
        self.0.get(&(kind, id.to_lowercase())).copied()
    }
}
