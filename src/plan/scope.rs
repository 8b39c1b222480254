//! What the refresh must read for a plan: the groups, principals, roles, role groups and
//! recipient names the configuration and the state name, and whether the tenant's catalog
//! of tasks, roles and role groups is needed to check the names policies use. Deciding it
//! is planning; the tenant client only carries it out.

use super::attributes::Attrs;
use crate::model::{Configuration, GroupRef, PolicyTarget, normalize};
use crate::state::State;
use crate::tenant::RefreshRequest;

/// Everything a plan for `config` and `state` needs to read.
pub fn reads(config: &Configuration, state: Option<&State>) -> RefreshRequest {
    let mut req = RefreshRequest::default();
    for g in config.groups.values() {
        req.groups.insert(normalize::principal(&g.email.value));
        req.principals.extend(g.members.iter().map(|m| normalize::principal(&m.value)));
        // Exchange keeps `Name` and alias unique: whoever holds them blocks a new group.
        req.recipient_names.insert(g.name.value.trim().to_string());
        req.recipient_names.insert(g.effective_alias().trim().to_string());
    }
    // Tasks, roles and role groups are checked against what the tenant has.
    req.catalog = !config.policies.is_empty();
    let mut group_ref = |r: &GroupRef| {
        if let Some(email) = config.group_email(r) {
            req.groups.insert(normalize::principal(&email));
        }
    };
    for p in config.policies.values() {
        group_ref(&p.approver_group.value);
    }
    if let Some(p) = &config.privileged_access {
        if let Some(g) = &p.default_approver_group {
            group_ref(&g.value);
        }
        req.principals.extend(p.system_accounts.iter().map(|s| normalize::principal(&s.value)));
    }
    for p in config.policies.values() {
        match &p.target.value {
            PolicyTarget::Role(r) => {
                req.roles.insert(r.clone());
            }
            PolicyTarget::RoleGroup(g) => {
                req.role_groups.insert(g.clone());
            }
            PolicyTarget::Task(_) => {}
        }
    }
    if let Some(state) = state {
        for r in &state.resources {
            if let Some(Attrs::Group(g)) = Attrs::from_value(r.address.kind, &r.attributes) {
                req.groups.insert(g.email);
            }
        }
    }
    // System accounts may be application ids, which the directory lookup does not know.
    req.principals.retain(|p| normalize::is_email_like(p));
    req
}
