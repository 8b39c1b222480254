//! What the configuration wants: each configured resource's normalised attributes, what it
//! depends on and where it is declared. `--destroy` wants nothing.

use std::collections::{BTreeMap, BTreeSet};

use super::PlanMode;
use super::attributes::{self, Attrs, MemberNames};
use crate::model::{Address, Configuration, Span, normalize};

/// One configured resource as the plan sees it.
pub(super) struct Wanted {
    pub attrs: Attrs,
    /// Resources it depends on: by reference, or by naming a configured group's email.
    pub deps: BTreeSet<Address>,
    pub span: Option<Span>,
}

/// Every configured resource, by address.
pub(super) type Desired = BTreeMap<Address, Wanted>;

/// The desired resources of a plan in `mode`.
pub(super) fn resources(config: &Configuration, mode: PlanMode, names: &MemberNames<'_>) -> Desired {
    let mut desired = Desired::new();
    if mode == PlanMode::Normal {
        for (a, g) in &config.groups {
            desired.insert(
                a.clone(),
                Wanted {
                    attrs: Attrs::Group(attributes::desired_group(g, names)),
                    deps: g.meta.dependencies.clone(),
                    span: Some(g.span),
                },
            );
        }
        for (a, p) in &config.policies {
            desired.insert(
                a.clone(),
                Wanted {
                    attrs: Attrs::Policy(attributes::desired_policy(config, p)),
                    deps: p.meta.dependencies.clone(),
                    span: Some(p.span),
                },
            );
        }
        if let Some(p) = &config.privileged_access {
            desired.insert(
                p.address.clone(),
                Wanted {
                    attrs: Attrs::Pam(attributes::desired_pam(config, p)),
                    deps: p.meta.dependencies.clone(),
                    span: Some(p.span),
                },
            );
        }
    }
    depend_on_named_groups(config, &mut desired);
    desired
}

/// A policy or PAM switch that names a configured group by its email string depends on
/// that group as a reference would: the group is created before and removed after it.
fn depend_on_named_groups(config: &Configuration, desired: &mut Desired) {
    let by_email: BTreeMap<String, &Address> =
        config.groups.iter().map(|(a, g)| (normalize::principal(&g.email.value), a)).collect();
    for wanted in desired.values_mut() {
        let named = match &wanted.attrs {
            Attrs::Policy(p) => Some(p.approver_group.as_str()),
            Attrs::Pam(p) => p.default_approver_group.as_deref(),
            Attrs::Group(_) => None,
        };
        if let Some(group) = named.and_then(|e| by_email.get(&normalize::principal(e))) {
            wanted.deps.insert((*group).clone());
        }
    }
}
