//! What the refresh must read for a plan: the groups, principals, roles, role groups and
//! recipient names the configuration and the state name, and whether the tenant's catalog
//! of tasks, roles and role groups is needed to check the names policies use. Deciding it
//! is planning; the tenant client only carries it out.

use std::borrow::Cow;

use super::attributes;
use crate::model::{Configuration, GroupRef, PolicyTarget, ResourceType, normalize};
use crate::state::State;
use crate::tenant::RefreshRequest;

/// Everything a plan for `config` and `state` needs to read.
pub fn reads(config: &Configuration, state: Option<&State>) -> RefreshRequest {
    let mut req = RefreshRequest::default();
    // Every member of every group (tens of thousands on a large tenant, most named in
    // several groups): gathered borrowed, sorted and deduplicated before any is copied.
    let mut principals: Vec<Cow<'_, str>> = Vec::new();
    for g in config.groups.values() {
        req.groups.insert(normalize::principal(&g.email.value));
        principals.extend(g.members.iter().map(|m| normalize::principal_cow(&m.value)));
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
        principals.extend(p.system_accounts.iter().map(|s| normalize::principal_cow(&s.value)));
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
        for r in state.resources.iter().filter(|r| r.address.kind == ResourceType::ApproverGroup) {
            if let Some(email) = attributes::recorded_group_email(&r.attributes) {
                req.groups.insert(email.to_string());
            }
        }
    }
    principals.sort_unstable();
    principals.dedup();
    // System accounts may be application ids, which the directory lookup does not know.
    req.principals =
        principals.into_iter().filter(|p| normalize::is_email_like(p)).map(Cow::into_owned).collect();
    req
}
