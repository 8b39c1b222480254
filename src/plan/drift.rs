//! Drift in the plan: every resource state records, compared with what the refresh found
//! (changed attributes, or the object gone). The `drift` command builds its own report in
//! [`crate::drift`].

use super::attributes::Attrs;
use super::{Inputs, ResourceDrift};
use crate::model::{Membership, ResourceType};

/// Drift: state vs tenant, for every resource in state.
pub(super) fn of(inputs: &Inputs<'_>) -> Vec<ResourceDrift> {
    let mut drift = Vec::new();
    for (r, recorded) in inputs.state.resources.iter().zip(&inputs.recorded) {
        let Some(recorded) = recorded else { continue };
        let membership = recorded.as_group().map(|g| g.membership).unwrap_or_default();
        let live = inputs.live(&r.address, Some(&r.id), None, membership).filter(|(id, _)| {
            r.address.kind == ResourceType::PrivilegedAccess || id.eq_ignore_ascii_case(&r.id)
        });
        match live {
            None => drift.push(ResourceDrift {
                address: r.address.clone(),
                remote_id: r.id.clone(),
                before: recorded.clone(),
                after: None,
                changed: vec![],
            }),
            Some((_, mut now)) => {
                if let (Attrs::Group(rec), Attrs::Group(n)) = (&recorded, &mut now)
                    && rec.membership == Membership::Additive
                {
                    // Additive groups only own the listed members: others are not drift.
                    n.members.retain(|m| rec.members.contains(m));
                }
                let changed = recorded.changed_attributes(&now);
                if !changed.is_empty() {
                    drift.push(ResourceDrift {
                        address: r.address.clone(),
                        remote_id: r.id.clone(),
                        before: recorded.clone(),
                        after: Some(now),
                        changed: changed.into_iter().map(str::to_string).collect(),
                    });
                }
            }
        }
    }
    drift
}
