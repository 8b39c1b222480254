//! Import lookup: finds the tenant object an import id names for a configured address (an
//! `import` block or `pamform import`), and checks that it is the object the block describes:
//! same kind, same email or target, and managed by no other address. Pure: it reads a
//! snapshot and the state.

use crate::model::{Address, Configuration, ResourceType, TenantSnapshot, normalize};
use crate::plan::PRIVILEGED_ACCESS_ID;
use crate::state::State;
use crate::wire::exchange::task;

/// Why an object cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{0} is not in the configuration; add its block first, then import into it")]
    NotConfigured(Address),
    #[error(
        "{0} is already managed (it is in state); to import another object into it, run `pamform state rm {0}` first"
    )]
    AlreadyManaged(Address),
    #[error("no {kind} with id `{id}` in the tenant; {hint}")]
    NotFound { kind: ResourceType, id: String, hint: &'static str },
    /// The id names an object of another kind.
    #[error("{0}")]
    WrongKind(String),
    /// The id names an object of the right kind, but not the one the block describes.
    #[error("{0}")]
    Differs(String),
    /// Another address already manages the object: one remote object, one address.
    #[error(
        "`{id}` is already managed by {owner}; to manage it as {address} instead, add a `moved` block from {owner} to {address}, or run `pamform state rm {owner}` first"
    )]
    OwnedElsewhere { id: String, owner: Box<Address>, address: Box<Address> },
}

impl ImportError {
    fn wrong_kind(id: &str, what: String, expected: &str, actual: ResourceType) -> Self {
        ImportError::WrongKind(format!(
            "`{id}` is {what}, not {expected}; import it into an {actual} block instead"
        ))
    }

    /// The group `id` names has another email than the block at `address`.
    pub fn email_differs(id: &str, found: &str, address: &Address, configured: &str) -> Self {
        ImportError::Differs(format!(
            "`{id}` is the group {found}, but {address} is configured with email {configured}; import the group with that address, or change the block's email"
        ))
    }

    fn target_differs(id: &str, found: String, address: &Address, configured: String) -> Self {
        ImportError::Differs(format!(
            "`{id}` is the policy for {found}, but {address} is configured for {configured}; import the policy for that target, or change the block"
        ))
    }
}

fn hint(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::ApproverGroup => "give the group's email address or its object id",
        ResourceType::AccessPolicy => {
            "give the policy's Identity (a GUID), its task (Exchange\\Cmdlet), role or role group"
        }
        ResourceType::PrivilegedAccess => "give the tenant id",
    }
}

/// The remote id (as state records it) of the object `id` names, for `address`'s kind.
pub fn find(
    address: &Address,
    id: &str,
    config: &Configuration,
    snapshot: &TenantSnapshot,
) -> Result<String, ImportError> {
    let id = id.trim();
    match address.kind {
        ResourceType::PrivilegedAccess => Ok(PRIVILEGED_ACCESS_ID.to_string()),
        ResourceType::ApproverGroup => {
            let found = snapshot
                .groups
                .values()
                .find(|g| g.id.eq_ignore_ascii_case(id) || g.email.eq_ignore_ascii_case(id));
            let Some(g) = found else {
                if let Some(p) = find_policy(id, None, snapshot) {
                    return Err(ImportError::wrong_kind(
                        id,
                        format!("an access policy ({})", p.target.display_value()),
                        "an approver group",
                        ResourceType::AccessPolicy,
                    ));
                }
                return Err(not_found(address.kind, id));
            };
            if let Some(configured) = config.groups.get(address)
                && normalize::principal(&configured.email.value) != normalize::principal(&g.email)
            {
                return Err(ImportError::email_differs(id, &g.email, address, &configured.email.value));
            }
            Ok(g.id.clone())
        }
        ResourceType::AccessPolicy => {
            let configured = config.policies.get(address).map(|p| &p.target.value);
            let Some(p) = find_policy(id, configured.map(|t| t.attribute()), snapshot) else {
                if let Some(g) = snapshot
                    .groups
                    .values()
                    .find(|g| g.id.eq_ignore_ascii_case(id) || g.email.eq_ignore_ascii_case(id))
                {
                    return Err(ImportError::wrong_kind(
                        id,
                        format!("an approver group ({})", g.email),
                        "an access policy",
                        ResourceType::ApproverGroup,
                    ));
                }
                return Err(not_found(address.kind, id));
            };
            if let Some(t) = configured
                && t.natural_key() != p.target.natural_key()
            {
                return Err(ImportError::target_differs(id, p.target.to_string(), address, t.to_string()));
            }
            Ok(p.id.clone())
        }
    }
}

/// Fails when another state address than `address` already records the remote id `found`
/// (as [`find`] returns it): a remote object belongs to one address.
pub fn check_owner(state: &State, address: &Address, id: &str, found: &str) -> Result<(), ImportError> {
    if address.kind == ResourceType::PrivilegedAccess {
        return Ok(());
    }
    match state.resources.iter().find(|r| &r.address != address && r.id.eq_ignore_ascii_case(found)) {
        Some(r) => Err(ImportError::OwnedElsewhere {
            id: id.trim().to_string(),
            owner: Box::new(r.address.clone()),
            address: Box::new(address.clone()),
        }),
        None => Ok(()),
    }
}

fn not_found(kind: ResourceType, id: &str) -> ImportError {
    ImportError::NotFound { kind, id: id.to_string(), hint: hint(kind) }
}

/// A policy by Identity, by task (`Exchange\Cmdlet`), by `Role:`/`RoleGroup:` form, or by a
/// bare role or role group name (preferring `attribute`'s kind when both exist).
fn find_policy<'a>(
    id: &str,
    attribute: Option<&str>,
    snapshot: &'a TenantSnapshot,
) -> Option<&'a crate::model::RemotePolicy> {
    if let Some(p) = snapshot.policy_by_id(id) {
        return Some(p);
    }
    if let Some(t) = task::decode(id) {
        return snapshot.policy_by_target(&t);
    }
    let named: Vec<&crate::model::RemotePolicy> = snapshot
        .policies
        .iter()
        .filter(|p| !matches!(p.target, crate::model::PolicyTarget::Task(_)))
        .filter(|p| p.target.name().eq_ignore_ascii_case(id))
        .collect();
    named.iter().find(|p| Some(p.target.attribute()) == attribute).or(named.first()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Approval, PolicyTarget, RemoteGroup, RemotePolicy};

    fn snapshot() -> TenantSnapshot {
        let mut s = TenantSnapshot::default();
        s.groups.insert(
            "g@x.io".into(),
            RemoteGroup {
                id: "gid".into(),
                name: "G".into(),
                display_name: "G".into(),
                alias: "g".into(),
                email: "G@x.io".into(),
                description: None,
                security_enabled: true,
                members: vec![],
            },
        );
        for (id, target) in [
            ("p1", PolicyTarget::Task("Set-Mailbox".into())),
            ("p2", PolicyTarget::Role("Journaling".into())),
            ("p3", PolicyTarget::RoleGroup("Journaling".into())),
        ] {
            s.policies.push(RemotePolicy {
                id: id.into(),
                target,
                approval: Approval::Manual,
                approver_group: "g@x.io".into(),
            });
        }
        s
    }

    fn any(address: &Address, id: &str) -> Result<String, ImportError> {
        find(address, id, &Configuration::default(), &snapshot())
    }

    #[test]
    fn groups_are_found_by_email_or_id() {
        assert_eq!(any(&Address::group("a"), "g@X.io").unwrap(), "gid");
        assert_eq!(any(&Address::group("a"), "GID").unwrap(), "gid");
        assert!(matches!(any(&Address::group("a"), "h@x.io"), Err(ImportError::NotFound { .. })));
    }

    #[test]
    fn policies_are_found_by_id_task_role_or_role_group() {
        let a = Address::policy("a");
        assert_eq!(any(&a, "P1").unwrap(), "p1");
        assert_eq!(any(&a, "exchange\\set-mailbox").unwrap(), "p1");
        assert_eq!(any(&a, "Role:Journaling").unwrap(), "p2");
        assert_eq!(any(&a, "RoleGroup:journaling").unwrap(), "p3");
        assert_eq!(any(&a, "Journaling").unwrap(), "p2");
    }

    #[test]
    fn what_is_not_found_says_what_to_give() {
        let err = any(&Address::group("a"), "h@x.io").unwrap_err().to_string();
        assert!(err.contains("give the group's email address or its object id"), "{err}");
        let err = any(&Address::policy("a"), "Exchange\\Set-User").unwrap_err().to_string();
        assert!(err.contains("give the policy's Identity"), "{err}");
    }

    /// A bare name that is both a role and a role group picks the kind the block declares.
    #[test]
    fn a_bare_name_prefers_the_kind_the_block_declares() {
        let s = snapshot();
        assert_eq!(find_policy("journaling", Some("role_group"), &s).unwrap().id, "p3");
        assert_eq!(find_policy("journaling", Some("role"), &s).unwrap().id, "p2");
    }

    /// Importing a group into a block configured with another email is refused: the block
    /// would otherwise manage (and converge) the wrong group.
    #[test]
    fn a_group_with_another_email_is_not_imported() {
        let dir = tempfile::tempdir().unwrap();
        let text = "tenant {\n  id = \"x.io\"\n}\napprover_group \"a\" {\n  name = \"A\"\n  email = \"a@x.io\"\n  members = [\"m@x.io\"]\n}\napprover_group \"b\" {\n  name = \"G\"\n  email = \"g@X.io\"\n  members = [\"m@x.io\"]\n}\n";
        std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
        let config =
            crate::config::load(dir.path(), &crate::config::VarInputs::default()).unwrap().configuration;
        let err = find(&Address::group("a"), "gid", &config, &snapshot()).unwrap_err();
        assert!(matches!(err, ImportError::Differs(_)), "{err}");
        assert!(err.to_string().contains("configured with email a@x.io"), "{err}");
        assert_eq!(find(&Address::group("b"), "gid", &config, &snapshot()).unwrap(), "gid");
    }

    #[test]
    fn the_wrong_kind_is_named() {
        let err = any(&Address::group("a"), "p1").unwrap_err();
        assert!(err.to_string().contains("import it into an access_policy block"), "{err}");
        let err = any(&Address::policy("a"), "g@x.io").unwrap_err();
        assert!(err.to_string().contains("is an approver group (G@x.io), not an access policy"), "{err}");
    }

    #[test]
    fn an_id_another_address_manages_is_refused_with_its_owner() {
        let mut state = State::new("contoso");
        let owner = Address::policy("old");
        state.upsert(crate::state::ResourceState::new(
            owner.clone(),
            "P1".into(),
            serde_json::json!({}),
            vec![],
        ));
        let err = check_owner(&state, &Address::policy("new"), "Exchange\\Set-Mailbox", "p1").unwrap_err();
        assert_eq!(
            err,
            ImportError::OwnedElsewhere {
                id: "Exchange\\Set-Mailbox".into(),
                owner: Box::new(owner.clone()),
                address: Box::new(Address::policy("new"))
            }
        );
        let text = err.to_string();
        assert!(text.contains("managed by access_policy.old"), "{text}");
        assert!(
            text.contains("`moved` block") && text.contains("pamform state rm access_policy.old"),
            "{text}"
        );
        assert!(check_owner(&state, &owner, "p1", "p1").is_ok());
        assert!(check_owner(&state, &Address::policy("new"), "p2", "p2").is_ok());
    }

    #[test]
    fn privileged_access_takes_any_id() {
        assert_eq!(any(&Address::privileged_access(), "contoso").unwrap(), PRIVILEGED_ACCESS_ID);
    }
}
