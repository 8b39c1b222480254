//! The tenant's live data: a seed in loaded form (ids filled in, member references resolved
//! to object ids, secrets replaced by their hashes), and the loading rules that make it from
//! a hand-written seed. The cmdlets change it, the store keeps it and writes it to the data
//! file in the seed format.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

use super::seed::{Seed, SeedError, SeedRole, SeedRoleGroup, secret_hash};
use crate::model::normalize;
use crate::wire::exchange::{MAX_POLICIES, recipient_type, task};

/// A loaded seed: only [`TenantData::load`] makes one, so every user and group has its ids
/// and every group member is an object id. It reads and writes as the [`Seed`] it wraps,
/// and serializes as that seed (the data-file format).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub(crate) struct TenantData(Seed);

impl Deref for TenantData {
    type Target = Seed;

    fn deref(&self) -> &Seed {
        &self.0
    }
}

impl DerefMut for TenantData {
    fn deref_mut(&mut self) -> &mut Seed {
        &mut self.0
    }
}

type Checked = Result<(), SeedError>;

fn invalid(message: String) -> Checked {
    Err(SeedError::Invalid(message))
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl TenantData {
    /// Checks a seed (or data file) and brings it into loaded form.
    pub fn load(mut seed: Seed) -> Result<TenantData, SeedError> {
        if seed.tenant.domain.trim().is_empty() || seed.tenant.id.trim().is_empty() {
            invalid("the seed's tenant needs a domain and an id".into())?;
        }
        load_users(&mut seed)?;
        hash_secrets(&mut seed);
        load_groups(&mut seed)?;
        check_approver_groups(&seed)?;
        resolve_members(&mut seed)?;
        load_policies(&mut seed)?;
        for f in &mut seed.foreign_requests {
            if f.identity.is_empty() {
                f.identity = new_id();
            }
        }
        merge_catalogue(&mut seed);
        check_role_groups(&seed)?;
        Ok(TenantData(seed))
    }
}

/// Fills in user ids and mailbox addresses; refuses bad and repeated principal names.
fn load_users(seed: &mut Seed) -> Checked {
    let mut seen = HashSet::new();
    for u in &mut seed.users {
        if !normalize::is_email_like(&u.user_principal_name) {
            return invalid(format!("user '{}' has no valid user_principal_name", u.user_principal_name));
        }
        if u.id.is_empty() {
            u.id = new_id();
        }
        if u.mail.is_none() && u.mailbox {
            u.mail = Some(u.user_principal_name.clone());
        }
        if !seen.insert(normalize::principal(&u.user_principal_name)) || !seen.insert(u.id.to_lowercase()) {
            return invalid(format!("user '{}' appears twice", u.user_principal_name));
        }
    }
    Ok(())
}

/// Replaces client secrets in clear by their hashes, so the data file never holds them.
fn hash_secrets(seed: &mut Seed) {
    for a in &mut seed.apps {
        if let Some(secret) = a.secret.take() {
            a.secret_sha256 = Some(secret_hash(&secret));
        }
    }
}

/// Fills in group ids; refuses bad addresses and an id, guid or address used twice.
fn load_groups(seed: &mut Seed) -> Checked {
    for g in &mut seed.groups {
        if g.id.is_empty() {
            g.id = new_id();
        }
        if g.guid.is_empty() {
            g.guid = new_id();
        }
        if !normalize::is_email_like(&g.primary_smtp_address) {
            return invalid(format!("group '{}' has no valid primary_smtp_address", g.name));
        }
    }
    let mut group_keys = HashSet::new();
    for g in &seed.groups {
        for (what, key) in [
            ("id", g.id.to_lowercase()),
            ("guid", g.guid.to_lowercase()),
            ("primary_smtp_address", normalize::principal(&g.primary_smtp_address)),
        ] {
            if !group_keys.insert(format!("{what}:{key}")) {
                return invalid(format!(
                    "group '{}' has the {what} '{key}' of another group; give each group its own",
                    g.name
                ));
            }
        }
    }
    Ok(())
}

/// Every approver group a policy or the PAM switch names is a group of the seed.
fn check_approver_groups(seed: &Seed) -> Checked {
    let group_emails: HashSet<String> =
        seed.groups.iter().map(|g| normalize::principal(&g.primary_smtp_address)).collect();
    for p in &seed.policies {
        if !p.approver_group.trim().is_empty()
            && !group_emails.contains(&normalize::principal(&p.approver_group))
        {
            return invalid(format!(
                "policy for '{}' names approver group '{}', which is not in the seed; add the group or fix the address",
                p.task, p.approver_group
            ));
        }
    }
    if let Some(admin) = seed.pam.admin_group.as_deref().filter(|a| !a.trim().is_empty())
        && !group_emails.contains(&normalize::principal(admin))
    {
        return invalid(format!(
            "pam.admin_group '{admin}' is not a group in the seed; add the group or fix the address"
        ));
    }
    Ok(())
}

/// Turns the members of every group (users and groups by id, UPN or address) into object
/// ids; refuses unknown members and users without a mailbox.
fn resolve_members(seed: &mut Seed) -> Checked {
    // Index the keys once, so that loading a large directory stays linear. The first object
    // with a key wins.
    let mut users_by_key: HashMap<String, usize> = HashMap::new();
    for (i, u) in seed.users.iter().enumerate() {
        for key in [Some(u.id.as_str()), Some(u.user_principal_name.as_str()), u.mail.as_deref()]
            .into_iter()
            .flatten()
        {
            users_by_key.entry(normalize::principal(key)).or_insert(i);
        }
    }
    let mut groups_by_key: HashMap<String, String> = HashMap::new();
    for g in &seed.groups {
        for key in [&g.id, &g.primary_smtp_address] {
            groups_by_key.entry(normalize::principal(key)).or_insert_with(|| g.id.clone());
        }
    }
    for group in &mut seed.groups {
        let mut resolved = BTreeSet::new();
        for m in &group.members {
            let key = normalize::principal(m);
            let id = match users_by_key.get(&key).map(|i| &seed.users[*i]) {
                Some(u) if recipient_type::is_mail_enabled(u.recipient_type()) => u.id.clone(),
                Some(u) => {
                    return invalid(format!(
                        "group '{}' lists '{}', who has no mailbox and cannot be a member",
                        group.name, u.user_principal_name
                    ));
                }
                None => match groups_by_key.get(&key) {
                    Some(id) => id.clone(),
                    None => {
                        return invalid(format!(
                            "group '{}' lists member '{m}', who is not in the seed",
                            group.name
                        ));
                    }
                },
            };
            resolved.insert(id);
        }
        group.members = resolved;
    }
    Ok(())
}

/// Fills in policy ids and applies the service's own rules for policies: a known target,
/// one policy per target, at most [`MAX_POLICIES`] of them.
fn load_policies(seed: &mut Seed) -> Checked {
    let mut identities = HashSet::new();
    for p in &mut seed.policies {
        if p.identity.is_empty() {
            p.identity = new_id();
        }
        if !identities.insert(p.identity.to_lowercase()) {
            return invalid(format!("policy identity '{}' appears twice", p.identity));
        }
    }
    let mut targets = HashSet::new();
    for p in &seed.policies {
        let Some(target) = task::decode(&p.task) else {
            return invalid(format!(
                "policy task '{}' is none of `Exchange\\Verb-Noun`, `Role:NAME`, `RoleGroup:NAME`",
                p.task
            ));
        };
        if !targets.insert(target.natural_key()) {
            return invalid(format!("two policies for '{}': the service keeps one per task", p.task));
        }
    }
    if seed.policies.len() > MAX_POLICIES {
        return invalid(format!(
            "{} policies: the service allows at most {MAX_POLICIES}",
            seed.policies.len()
        ));
    }
    Ok(())
}

/// Exchange Online's management roles with their cmdlets and its built-in role groups with
/// their roles, as data with its provenance (`catalogue/exchange_online.json`).
const CATALOGUE_JSON: &str = include_str!("catalogue/exchange_online.json");

#[derive(Deserialize)]
struct Catalogue {
    roles: Vec<SeedRole>,
    role_groups: Vec<CatalogueGroup>,
}

#[derive(Deserialize)]
struct CatalogueGroup {
    name: String,
    roles: Vec<String>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    CATALOGUE.get_or_init(|| {
        serde_json::from_str(CATALOGUE_JSON)
            .unwrap_or(Catalogue { roles: Vec::new(), role_groups: Vec::new() })
    })
}

/// Every tenant has the real catalogue: its roles and built-in role groups come first; a seed
/// adds cmdlets to a role of the same name, gives members (and, when it lists any, other
/// roles) to a built-in role group, and may add roles and role groups of its own.
fn merge_catalogue(seed: &mut Seed) {
    let cat = catalogue();
    let mut roles: Vec<SeedRole> = cat.roles.clone();
    for own in seed.roles.drain(..) {
        match roles.iter_mut().find(|r| r.name.eq_ignore_ascii_case(&own.name)) {
            Some(r) => {
                for c in own.cmdlets {
                    if !r.cmdlets.iter().any(|x| x.eq_ignore_ascii_case(&c)) {
                        r.cmdlets.push(c);
                    }
                }
            }
            None => roles.push(own),
        }
    }
    let mut groups: Vec<SeedRoleGroup> = cat
        .role_groups
        .iter()
        .map(|g| SeedRoleGroup { name: g.name.clone(), roles: g.roles.clone(), members: Vec::new() })
        .collect();
    for own in seed.role_groups.drain(..) {
        match groups.iter_mut().find(|g| g.name.eq_ignore_ascii_case(&own.name)) {
            Some(g) => {
                if !own.roles.is_empty() {
                    g.roles = own.roles;
                }
                g.members = own.members;
            }
            None => groups.push(own),
        }
    }
    seed.roles = roles;
    seed.role_groups = groups;
}

/// Every role a role group names is a role of the seed.
fn check_role_groups(seed: &Seed) -> Checked {
    for rg in &seed.role_groups {
        if let Some(r) = rg.roles.iter().find(|r| !seed.roles.iter().any(|x| &x.name == *r)) {
            return invalid(format!("role group '{}' names unknown role '{r}'", rg.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::seed::{DEFAULT_SEED_JSON, SeedGroup, SeedPolicy};

    #[test]
    fn default_seed_loads_and_hides_the_secret() {
        let raw = Seed::default_seed().unwrap();
        assert!(raw.app_secret().is_some());
        let data = TenantData::load(raw).unwrap();
        assert_eq!(data.tenant.domain, "contoso.onmicrosoft.com");
        assert!(data.apps.iter().all(|a| a.secret.is_none() && a.secret_sha256.is_some()));
        let grace = data.users.iter().find(|u| u.alias() == "grace").unwrap();
        assert_eq!(grace.recipient_type(), recipient_type::USER);
        let oscar = data.users.iter().find(|u| u.guest).unwrap();
        assert_eq!(oscar.recipient_type(), recipient_type::GUEST_MAIL_USER);
    }

    #[test]
    fn the_catalogue_is_exchange_onlines() {
        let data = TenantData::load(Seed::default_seed().unwrap()).unwrap();
        let role = |n: &str| data.roles.iter().find(|r| r.name == n).unwrap();
        assert!(data.roles.len() >= 40 && data.role_groups.len() >= 11, "{}", data.roles.len());
        let cmdlets: BTreeSet<&str> =
            data.roles.iter().flat_map(|r| r.cmdlets.iter().map(String::as_str)).collect();
        assert!(cmdlets.len() > 600, "{}", cmdlets.len());
        assert!(role("Role Management").cmdlets.iter().any(|c| c == "Set-RoleGroup"));
        assert!(role("Mail Recipients").cmdlets.iter().any(|c| c == "New-InboxRule"));
        let om = data.role_groups.iter().find(|g| g.name == "Organization Management").unwrap();
        assert!(om.members.iter().any(|m| m.starts_with("admin@")) && om.roles.len() > 30);
        // A seed's own role extends the catalogue's role of that name; loading twice (the data
        // file) changes nothing.
        let mut raw = Seed::default_seed().unwrap();
        raw.roles.push(SeedRole { name: "Journaling".into(), cmdlets: vec!["Test-Journal".into()] });
        let once = TenantData::load(raw).unwrap();
        assert!(
            once.roles
                .iter()
                .any(|r| r.name == "Journaling" && r.cmdlets.iter().any(|c| c == "Test-Journal"))
        );
        let twice = TenantData::load((*once).clone()).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn serializes_as_the_seed_it_wraps() {
        let data = TenantData::load(Seed::default_seed().unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&data).unwrap(), serde_json::to_value(&*data).unwrap());
    }

    fn group(name: &str, email: &str) -> SeedGroup {
        SeedGroup {
            id: String::new(),
            guid: String::new(),
            name: name.into(),
            display_name: None,
            alias: None,
            primary_smtp_address: email.into(),
            description: None,
            r#type: "Security".into(),
            members: BTreeSet::new(),
            managed_by: Vec::new(),
        }
    }

    fn refused(seed: Seed) -> String {
        match TenantData::load(seed) {
            Err(SeedError::Invalid(m)) => m,
            other => panic!("expected an invalid seed, got {other:?}"),
        }
    }

    #[test]
    fn duplicates_and_dangling_approver_groups_are_refused() {
        let base: Seed = serde_json::from_str(DEFAULT_SEED_JSON).unwrap();
        let mut twice = base.clone();
        twice.groups.push(group("a", "same@contoso.onmicrosoft.com"));
        twice.groups.push(group("b", "SAME@contoso.onmicrosoft.com"));
        assert!(refused(twice).contains("primary_smtp_address"));

        let mut ids = base.clone();
        let mut a = group("a", "a@contoso.onmicrosoft.com");
        a.id = "11111111-1111-1111-1111-111111111111".into();
        let mut b = group("b", "b@contoso.onmicrosoft.com");
        b.id = a.id.clone();
        ids.groups.extend([a, b]);
        assert!(refused(ids).contains("id"));

        let policy = |identity: &str, group: &str| SeedPolicy {
            identity: identity.into(),
            task: "Exchange\\Set-Mailbox".into(),
            approval_type: "Manual".into(),
            approver_group: group.into(),
            created: None,
        };
        let mut dangling = base.clone();
        dangling.policies.push(policy("", "nobody@contoso.onmicrosoft.com"));
        assert!(refused(dangling).contains("nobody@contoso.onmicrosoft.com"));

        let mut pam = base.clone();
        pam.pam.admin_group = Some("ghosts@contoso.onmicrosoft.com".into());
        assert!(refused(pam).contains("ghosts@contoso.onmicrosoft.com"));

        let mut same = base.clone();
        same.groups.push(group("a", "a@contoso.onmicrosoft.com"));
        same.policies.push(policy("p1", "a@contoso.onmicrosoft.com"));
        same.policies.push(policy("P1", "a@contoso.onmicrosoft.com"));
        assert!(refused(same).contains("twice"));
    }

    #[test]
    fn members_without_mailbox_are_refused() {
        let mut raw: Seed = serde_json::from_str(DEFAULT_SEED_JSON).unwrap();
        let mut g = group("g", "g@contoso.onmicrosoft.com");
        g.members = ["grace@contoso.onmicrosoft.com".to_string()].into();
        raw.groups.push(g);
        assert!(matches!(TenantData::load(raw), Err(SeedError::Invalid(_))));
    }
}
