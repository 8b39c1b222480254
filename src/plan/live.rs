//! Finding a resource's object in the refreshed tenant (by the id state recorded, or by its
//! natural key) and knowing which state address owns each remote object.

use std::collections::BTreeMap;

use super::attributes::{self, Attrs, GroupAttrs};
use super::desired::Desired;
use super::{Inputs, PRIVILEGED_ACCESS_ID};
use crate::model::{Address, Membership, RemoteGroup, RemotePolicy, ResourceType, normalize};
use crate::state::{ResourceState, State};

/// A resource's object in the refreshed tenant, before its attributes are built.
#[derive(Clone, Copy)]
pub(super) enum Found<'a> {
    Group(&'a RemoteGroup),
    Policy(&'a RemotePolicy),
    Pam,
}

impl Found<'_> {
    /// The object's remote id.
    pub(super) fn id(&self) -> &str {
        match self {
            Found::Group(g) => &g.id,
            Found::Policy(p) => &p.id,
            Found::Pam => PRIVILEGED_ACCESS_ID,
        }
    }
}

impl<'a> Inputs<'a> {
    /// Where a resource's object lives in the tenant: found by `id_hint`, else by the natural
    /// key of `hint` (a group's email, a policy's target).
    pub(super) fn locate(
        &self,
        address: &Address,
        id_hint: Option<&str>,
        hint: Option<&Attrs>,
    ) -> Option<Found<'a>> {
        let snapshot = self.snapshot;
        match address.kind {
            ResourceType::ApproverGroup => {
                let by_id =
                    id_hint.and_then(|id| snapshot.groups.values().find(|g| g.id.eq_ignore_ascii_case(id)));
                let by_key = || hint.and_then(Attrs::as_group).and_then(|d| snapshot.group(&d.email));
                by_id.or_else(by_key).map(Found::Group)
            }
            ResourceType::AccessPolicy => {
                let by_id = id_hint.and_then(|id| snapshot.policy_by_id(id));
                let by_key = || {
                    hint.and_then(Attrs::as_policy)
                        .and_then(|d| d.target())
                        .and_then(|t| snapshot.policy_by_target(&t))
                };
                by_id.or_else(by_key).map(Found::Policy)
            }
            ResourceType::PrivilegedAccess => Some(Found::Pam),
        }
    }

    /// The live attributes of a found object. A group's are built once per plan (drift,
    /// exchanges and the diff all ask, and a group's members are thousands of names) and
    /// copied after that.
    pub(super) fn attrs_of(&self, found: Found<'a>, membership: Membership) -> Attrs {
        match found {
            Found::Group(g) => {
                let mut built = self.live_groups.borrow_mut();
                let attrs = built
                    .entry(std::ptr::from_ref(g))
                    .or_insert_with(|| attributes::live_group(g, &self.names, membership));
                Attrs::Group(GroupAttrs { membership, ..attrs.clone() })
            }
            Found::Policy(p) => Attrs::Policy(attributes::live_policy(p)),
            Found::Pam => Attrs::Pam(attributes::live_pam(&self.snapshot.pam)),
        }
    }

    /// Where a resource's object lives in the tenant (see [`Inputs::locate`]), with its id
    /// and live attributes.
    pub(super) fn live(
        &self,
        address: &Address,
        id_hint: Option<&str>,
        hint: Option<&Attrs>,
        membership: Membership,
    ) -> Option<(String, Attrs)> {
        let found = self.locate(address, id_hint, hint)?;
        Some((found.id().to_string(), self.attrs_of(found, membership)))
    }

    /// What state recorded for `entry` (one of the state's resources), read once per plan.
    pub(super) fn recorded(&self, entry: &ResourceState) -> Option<&Attrs> {
        let i = self.state.resources.iter().position(|r| std::ptr::eq(r, entry))?;
        self.recorded[i].as_ref()
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
        let recorded = self.recorded(entry)?;
        let key = natural_key(recorded)?;
        let wanted_elsewhere = desired.iter().any(|(a, w)| {
            a != address && a.kind == address.kind && natural_key(&w.attrs).as_ref() == Some(&key)
        });
        if wanted_elsewhere {
            return None;
        }
        let (id, now) = self.live(address, None, Some(recorded), membership)?;
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
