//! What the refresh must read for a plan: the groups, principals, roles, role groups and
//! recipient names the configuration and the state name, and whether the tenant's catalog
//! of tasks, roles and role groups is needed to check the names policies use. Deciding it
//! is planning; the tenant client only carries it out.

use std::borrow::Cow;
use std::collections::HashMap;

use super::attributes;
use crate::model::{Address, Configuration, GroupRef, PolicyTarget, ResourceType, normalize};
use crate::state::{ResourceState, State};
use crate::tenant::{KnownGroup, RefreshRequest};

/// Everything a plan for `config` and `state` needs to read.
pub fn reads(config: &Configuration, state: Option<&State>) -> RefreshRequest {
    let mut req = RefreshRequest::default();
    let recorded: HashMap<&Address, &ResourceState> = state
        .iter()
        .flat_map(|s| &s.resources)
        .filter(|r| r.address.kind == ResourceType::ApproverGroup)
        .map(|r| (&r.address, r))
        .collect();
    // Every member of every group (tens of thousands on a large tenant, most named in
    // several groups): gathered borrowed, sorted and deduplicated before any is copied.
    let mut principals: Vec<Cow<'_, str>> = Vec::new();
    for (address, g) in &config.groups {
        principals.extend(g.members.iter().map(|m| normalize::principal_cow(&m.value)));
        // Exchange keeps `Name` and alias unique: whoever holds them blocks a new or renamed
        // group. A group state records at this address with these names is new or renamed
        // only if it went or changed outside pamform: the refresh looks its names up then.
        let (name, alias) = (&g.name.value, g.effective_alias());
        let email = normalize::principal(&g.email.value);
        let known = recorded.get(address).and_then(|r| recorded_as(r, &email, name, &alias));
        // Two groups at one address (refused by the plan) both have their names read.
        match known.filter(|_| !req.groups.contains(&email)) {
            Some(known) => {
                req.recipient_names_if_changed.insert(email.clone(), known);
            }
            None => {
                if let Some(other) = req.recipient_names_if_changed.remove(&email) {
                    req.recipient_names.insert(other.name.trim().to_string());
                    req.recipient_names.insert(other.alias.trim().to_string());
                }
                req.recipient_names.insert(name.trim().to_string());
                req.recipient_names.insert(alias.trim().to_string());
            }
        }
        req.groups.insert(email);
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
    // A name wanted up front by one group is not looked up again for another.
    let asked = &req.recipient_names;
    req.recipient_names_if_changed
        .retain(|_, n| !(asked.contains(n.name.trim()) && asked.contains(n.alias.trim())));
    principals.sort_unstable();
    principals.dedup();
    // System accounts may be application ids, which the directory lookup does not know.
    req.principals =
        principals.into_iter().filter(|p| normalize::is_email_like(p)).map(Cow::into_owned).collect();
    req
}

/// The group `entry` records, when it is the group at `email` with exactly `name` and
/// `alias`.
fn recorded_as(entry: &ResourceState, email: &str, name: &str, alias: &str) -> Option<KnownGroup> {
    let (e, n, a) = attributes::recorded_group_names(&entry.attributes)?;
    (normalize::principal(e) == email && n == name && a == alias && !entry.id.is_empty())
        .then(|| KnownGroup { id: entry.id.clone(), name: n.to_string(), alias: a.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::test_support::load;

    fn recorded(state: &mut State, name: &str, id: &str, group_name: &str, email: &str, alias: &str) {
        state.upsert(ResourceState::new(
            Address::group(name),
            id.into(),
            serde_json::json!({
                "name": group_name, "email": email, "alias": alias,
                "members": [], "membership": "authoritative"
            }),
            vec![],
        ));
    }

    const CONFIG: &str = r#"
approver_group "kept" {
  name  = "Kept Approvers"
  email = "kept@contoso.onmicrosoft.com"
}
approver_group "renamed" {
  name  = "New Name"
  email = "renamed@contoso.onmicrosoft.com"
}
approver_group "realiased" {
  name  = "Realiased"
  email = "realiased@contoso.onmicrosoft.com"
  alias = "new-alias"
}
approver_group "moved_address" {
  name  = "Moved"
  email = "moved-new@contoso.onmicrosoft.com"
}
approver_group "new" {
  name  = "Brand New"
  email = "new@contoso.onmicrosoft.com"
}
"#;

    #[test]
    fn only_groups_state_records_unchanged_wait_for_the_refresh_to_look_up_their_names() {
        let config = load(CONFIG);
        let mut state = State::new("contoso");
        recorded(&mut state, "kept", "id-kept", "Kept Approvers", "Kept@contoso.onmicrosoft.com", "kept");
        recorded(
            &mut state,
            "renamed",
            "id-renamed",
            "Old Name",
            "renamed@contoso.onmicrosoft.com",
            "renamed",
        );
        recorded(&mut state, "realiased", "id-re", "Realiased", "realiased@contoso.onmicrosoft.com", "old");
        recorded(
            &mut state,
            "moved_address",
            "id-moved",
            "Moved",
            "moved-old@contoso.onmicrosoft.com",
            "moved",
        );
        let req = reads(&config, Some(&state));
        assert_eq!(
            req.recipient_names_if_changed.into_iter().collect::<Vec<_>>(),
            vec![(
                "kept@contoso.onmicrosoft.com".to_string(),
                KnownGroup { id: "id-kept".into(), name: "Kept Approvers".into(), alias: "kept".into() }
            )]
        );
        let up_front: Vec<&str> = req.recipient_names.iter().map(String::as_str).collect();
        assert_eq!(
            up_front,
            ["Brand New", "Moved", "New Name", "Realiased", "moved-new", "new", "new-alias", "renamed"]
        );
        // Without state every group is new: every name is looked up front.
        let req = reads(&config, None);
        assert!(req.recipient_names_if_changed.is_empty());
        assert!(req.recipient_names.contains("Kept Approvers") && req.recipient_names.contains("kept"));
    }
}
