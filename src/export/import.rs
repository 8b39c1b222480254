//! Import into state: the state entry that records a tenant object (found with
//! [`crate::plan::import::find`]) at a configured address with the tenant's current values.

use crate::model::{Address, Configuration, ResourceType, TenantSnapshot};
use crate::plan::attributes::{self, Attrs, MemberNames};
use crate::state::ResourceState;

pub use crate::plan::import::{ImportError, find};

/// The state entry recording the object behind `remote_id` at `address` with its current
/// values; `None` when the snapshot no longer holds it.
pub fn state_entry(
    address: &Address,
    remote_id: &str,
    config: &Configuration,
    snapshot: &TenantSnapshot,
) -> Option<ResourceState> {
    let attrs = match address.kind {
        ResourceType::ApproverGroup => {
            let g = snapshot.groups.values().find(|g| g.id.eq_ignore_ascii_case(remote_id))?;
            let membership = config.groups.get(address).map(|c| c.membership).unwrap_or_default();
            Attrs::Group(attributes::live_group(g, &MemberNames::new(config, snapshot), membership))
        }
        ResourceType::AccessPolicy => {
            Attrs::Policy(attributes::live_policy(snapshot.policy_by_id(remote_id)?))
        }
        ResourceType::PrivilegedAccess => Attrs::Pam(attributes::live_pam(&snapshot.pam)),
    };
    let dependencies = config.dependencies(address).map(|d| d.iter().cloned().collect()).unwrap_or_default();
    Some(ResourceState::new(address.clone(), remote_id.to_string(), attrs.to_value(), dependencies))
}
