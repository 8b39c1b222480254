//! Refusing what cannot be applied safely, after the diff: two addresses managing one
//! remote object, a `prevent_destroy` resource the plan would destroy, and a group removed
//! while something still names its email. Each is an error at the span to fix.

use std::collections::{BTreeMap, BTreeSet};

use super::attributes::Attrs;
use super::{Action, Inputs, ResourceChange, refusal};
use crate::diagnostic::{Diagnostic, codes};
use crate::model::{Address, Configuration, ResourceType, Span};

/// One remote object, one address: changes of two addresses on the same object (a state
/// file that records it twice) are refused rather than applied twice.
pub(super) fn shared_objects(config: &Configuration, changes: &[ResourceChange]) -> Vec<Diagnostic> {
    let mut seen: BTreeMap<(ResourceType, String), &Address> = BTreeMap::new();
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.address.kind != ResourceType::PrivilegedAccess) {
        let Some(id) = &c.remote_id else { continue };
        if let Some(first) = seen.insert((c.address.kind, id.to_lowercase()), &c.address) {
            out.push(refusal(
                codes::OWNER_CONFLICT,
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

/// Resources with `lifecycle.prevent_destroy` that the plan would replace (in address
/// order) or destroy (in the order state records them). A `moved` block's destination
/// speaks for the address it moves.
pub(super) fn prevent_destroy(
    inputs: &Inputs<'_>,
    ends: &BTreeMap<Address, Address>,
    changes: &[ResourceChange],
) -> Vec<Diagnostic> {
    let config = inputs.config;
    let guarded = |a: &Address| {
        config
            .meta(a)
            .or_else(|| ends.get(a).and_then(|to| config.meta(to)))
            .is_some_and(|m| m.lifecycle.prevent_destroy)
    };
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.action == Action::Replace && guarded(&c.address)) {
        out.push(refusal(
            codes::PREVENT_DESTROY,
            format!(
                "{} has lifecycle.prevent_destroy set, but the plan would replace it (destroy, then create) because {} changed",
                c.address,
                c.replace_paths.join(", ")
            ),
            config.block_span(&c.address),
            Some("set those attributes back, or remove prevent_destroy from its lifecycle block first"),
        ));
    }
    let deleted = |a: &Address| changes.iter().any(|c| &c.address == a && c.action == Action::Delete);
    for r in inputs.state.resources.iter().filter(|r| deleted(&r.address) && guarded(&r.address)) {
        let at = ends.get(&r.address).filter(|to| config.contains(to)).unwrap_or(&r.address);
        out.push(refusal(
            codes::PREVENT_DESTROY,
            format!("{} has lifecycle.prevent_destroy set, but the plan would destroy it", r.address),
            config.block_span(at),
            Some("remove prevent_destroy from its lifecycle block first, or leave it out of --destroy with --target"),
        ));
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
fn namers_after(inputs: &Inputs<'_>, changes: &[ResourceChange]) -> Vec<Namer> {
    let (config, snapshot, state) = (inputs.config, inputs.snapshot, inputs.state);
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
pub(super) fn groups_still_named(inputs: &Inputs<'_>, changes: &[ResourceChange]) -> Vec<Diagnostic> {
    let (config, snapshot) = (inputs.config, inputs.snapshot);
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
    let namers = namers_after(inputs, changes);
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
            out.push(refusal(
                codes::GROUP_STILL_NAMED,
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
