//! The refresh: one pass that reads the tenant's live PAM picture into a
//! [`model::TenantSnapshot`], issuing independent reads at once so the wall time approaches
//! the slowest chain (Exchange for the PAM setting and policies; Graph for groups, members
//! and principals; Exchange again for role contents and principals Graph cannot answer).

use std::collections::{BTreeMap, BTreeSet};

use super::client::Client;
use super::error::TenantError;
use super::exchange::{exchange_group, recipient_object};
use super::graph::remote_group;
use crate::model::snapshot::{NamedRecipient, RoleCatalog};
use crate::model::{self, PolicyTarget, normalize};
use crate::wire::exchange::{self as wx, cmdlet, param};

/// What a refresh should look at besides the PAM setting and the policies (always read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshRequest {
    /// Group addresses named by the configuration, the state and the policies.
    pub groups: BTreeSet<String>,
    /// UPNs or addresses the configuration names (members, system accounts).
    pub principals: BTreeSet<String>,
    /// Management roles whose cmdlets to list.
    pub roles: BTreeSet<String>,
    /// Role groups whose roles (and their cmdlets) to list.
    pub role_groups: BTreeSet<String>,
    /// Read every cmdlet, role and role group the tenant has (two requests, paged), so that
    /// the plan can check the names the configuration uses; `roles` and `role_groups` are
    /// then answered from it.
    pub catalog: bool,
    /// Names a new or renamed group would take (Exchange `Name`, display name, alias): the
    /// recipients that already hold any of them are read.
    pub recipient_names: BTreeSet<String>,
    /// Groups (keyed by lower-cased address) that state records with the names they are
    /// configured with: their names are read, as [`RefreshRequest::recipient_names`] are,
    /// only when the refresh does not find the recorded object at that address with those
    /// names, that is when the plan may create, replace or rename it. An unchanged group
    /// costs no name lookup.
    pub recipient_names_if_changed: BTreeMap<String, KnownGroup>,
}

/// A configured group as state records it: its object and the names it is meant to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownGroup {
    /// The object id state records (`ExternalDirectoryObjectId`).
    pub id: String,
    /// Exchange `Name` (shown as the display name).
    pub name: String,
    pub alias: String,
}

impl KnownGroup {
    /// Whether `live`, read at `email`, is this object with exactly these names and that
    /// primary address. Anything else (another object, other case or spacing, an object
    /// found at `email` through another of its addresses or its `Name`, whose new primary
    /// address the plan replaces) counts as changed: a lookup too many costs a request, one
    /// too few would let a plan take another recipient's name.
    fn is(&self, email: &str, live: &model::RemoteGroup) -> bool {
        live.id.eq_ignore_ascii_case(&self.id)
            && live.display_name == self.name
            && live.name == self.name
            && live.alias == self.alias
            && normalize::principal(&live.email) == normalize::principal(email)
    }
}

/// The names of the groups in `conditional` that `groups` (a refresh's group reads) lacks or
/// shows with other names, leaving out those already in `asked`.
fn names_of_changed_groups(
    conditional: &BTreeMap<String, KnownGroup>,
    groups: &BTreeMap<String, model::RemoteGroup>,
    asked: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (email, names) in conditional {
        if groups.get(&normalize::principal(email)).is_some_and(|live| names.is(email, live)) {
            continue;
        }
        for n in [&names.name, &names.alias] {
            let n = n.trim();
            if !n.is_empty() && !asked.contains(n) {
                out.insert(n.to_string());
            }
        }
    }
    out
}

/// The role contents a refresh read: roles of each role group, cmdlets of each role (both
/// keyed by lower-cased name), and the whole catalog when it was read.
type RoleContents = (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>, Option<RoleCatalog>);

/// Progress of a refresh, as it happens: what an observer (the CLI's spinner) shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshEvent {
    /// The first round: the PAM setting, the policies, the requested groups, principals,
    /// roles and role groups, all at once.
    Started,
    /// The second round: the groups and role groups only the policies and the PAM default
    /// name.
    PolicyTargets,
    /// The contents of roles found in the second round.
    RoleContents,
    /// The refresh ended, read or failed.
    Finished,
}

/// The reads of a refresh that need only the tenant (the PAM setting, the policies, the
/// catalog) and the sign-in, started by [`Client::prefetch`] before the rest of the refresh
/// is known (while the configuration loads), and taken over by
/// [`Client::refresh_prefetched`] of a client for the same tenant and credential: its
/// tokens, what it read and the warnings that came with it. Its connections stay its own
/// (on the runtime it was started on), but not its concurrency limits: the client that takes
/// it over is made with [`Prefetch::concurrency_limits`], so that the two never have more in
/// flight than one client would. Dropped unused, what it started is stopped.
#[derive(Debug)]
pub struct Prefetch {
    client: Client,
    sign_in: Option<tokio::task::JoinHandle<Result<(), TenantError>>>,
    pam_and_policies: Option<tokio::task::JoinHandle<Result<PamAndPolicies, TenantError>>>,
    catalog: Option<tokio::task::JoinHandle<Result<Option<RoleContents>, TenantError>>>,
}

type PamAndPolicies = (model::PamSetting, Vec<model::RemotePolicy>);

impl Drop for Prefetch {
    fn drop(&mut self) {
        if let Some(h) = &self.pam_and_policies {
            h.abort();
        }
        if let Some(h) = &self.catalog {
            h.abort();
        }
        if let Some(h) = &self.sign_in {
            h.abort();
        }
    }
}

impl Prefetch {
    /// The concurrency limits of the client it reads with, for the client that takes it over
    /// ([`super::ClientOptions::shared_limits`]).
    pub fn concurrency_limits(&self) -> super::ConcurrencyLimits {
        self.client.concurrency_limits()
    }
}

/// What a prefetched read found, or why it failed; `None` when it was not started or did not
/// finish (stopped): the refresh then reads it itself. A failed read is not sent again: it
/// has had its retries, and sending it again would double what a throttled tenant is sent.
async fn taken<T>(
    handle: Option<tokio::task::JoinHandle<Result<T, TenantError>>>,
) -> Option<Result<T, TenantError>> {
    handle?.await.ok()
}

/// Runs `read` for every name at once (the client's permits limit what is in flight) and
/// returns the answers by name.
async fn for_each<T, F, Fut>(
    client: &Client,
    names: impl IntoIterator<Item = String>,
    read: F,
) -> Result<Vec<(String, T)>, TenantError>
where
    T: Send + 'static,
    F: Fn(Client, String) -> Fut,
    Fut: std::future::Future<Output = Result<T, TenantError>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for name in names {
        let answer = read(client.clone(), name.clone());
        set.spawn(async move { (name, answer.await) });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (name, answer) =
            joined.map_err(|e| TenantError::Config(format!("a tenant read stopped: {e}")))?;
        out.push((name, answer?));
    }
    Ok(out)
}

fn keyed(items: &BTreeSet<String>) -> Vec<String> {
    let set: BTreeSet<String> =
        items.iter().map(|s| normalize::principal(s)).filter(|s| !s.is_empty()).collect();
    set.into_iter().collect()
}

impl Client {
    /// Reads the PAM setting, every policy, the requested groups plus every group a policy or
    /// the PAM default names (with members), the requested principals, and the contents of
    /// the requested roles and role groups (plus those the policies target).
    pub async fn refresh(&self, req: &RefreshRequest) -> Result<model::TenantSnapshot, TenantError> {
        self.refresh_observed(req, &|_| {}).await
    }

    /// [`Client::refresh`], telling `on_event` how far it got.
    pub async fn refresh_observed(
        &self,
        req: &RefreshRequest,
        on_event: &(dyn Fn(RefreshEvent) + Sync),
    ) -> Result<model::TenantSnapshot, TenantError> {
        self.refresh_prefetched(req, None, on_event).await
    }

    /// Starts, on the runtime of `rt`, the reads of a refresh that need only the tenant: the
    /// PAM setting and the policies, the catalog when `catalog` (a refresh with
    /// [`RefreshRequest::catalog`] uses it), and the sign-in to both services.
    pub fn prefetch(&self, rt: &tokio::runtime::Handle, catalog: bool) -> Prefetch {
        let client = self.clone();
        let pam_and_policies = rt.spawn(async move {
            let (pam, policies) = tokio::join!(client.get_pam_setting(), client.get_remote_policies());
            Ok((pam?, policies?))
        });
        let client = self.clone();
        let catalog = catalog.then(|| rt.spawn(async move { client.read_catalog().await }));
        let client = self.clone();
        // A failed sign-in to Exchange ends the refresh that takes this over (every refresh
        // reads Exchange); one to Graph is tried again by that refresh when it reads Graph.
        let sign_in = rt.spawn(async move {
            let (exchange, _) =
                tokio::join!(client.token(super::Resource::Exchange), client.token(super::Resource::Graph));
            exchange.map(|_| ())
        });
        Prefetch {
            client: self.clone(),
            sign_in: Some(sign_in),
            pam_and_policies: Some(pam_and_policies),
            catalog,
        }
    }

    /// [`Client::refresh_observed`], taking over what `prefetch` (started by this client)
    /// has read or is reading.
    pub async fn refresh_prefetched(
        &self,
        req: &RefreshRequest,
        prefetch: Option<Prefetch>,
        on_event: &(dyn Fn(RefreshEvent) + Sync),
    ) -> Result<model::TenantSnapshot, TenantError> {
        on_event(RefreshEvent::Started);
        let snapshot = self.read_snapshot(req, prefetch, on_event).await;
        on_event(RefreshEvent::Finished);
        snapshot
    }

    async fn read_snapshot(
        &self,
        req: &RefreshRequest,
        prefetch: Option<Prefetch>,
        on_event: &(dyn Fn(RefreshEvent) + Sync),
    ) -> Result<model::TenantSnapshot, TenantError> {
        let requested_groups = keyed(&req.groups);
        let (early_pam_and_policies, early_catalog, early_client) = match prefetch {
            // Its tokens are this client's (no second sign-in); a catalog this refresh does
            // not use is stopped with `p`.
            Some(mut p) => {
                if let Some(sign_in) = p.sign_in.take()
                    && let Ok(Err(e)) = sign_in.await
                {
                    return Err(e);
                }
                for resource in [super::Resource::Exchange, super::Resource::Graph] {
                    if let Some((token, valid_for)) = p.client.current_token(resource).await {
                        self.prime_token(resource, token, valid_for).await;
                    }
                }
                let catalog = if req.catalog { p.catalog.take() } else { None };
                (p.pam_and_policies.take(), catalog, Some(p.client.clone()))
            }
            None => (None, None, None),
        };

        let pam_and_policies = async {
            if let Some(read) = taken(early_pam_and_policies).await {
                return read;
            }
            let (pam, policies) = tokio::join!(self.get_pam_setting(), self.get_remote_policies());
            Ok::<_, TenantError>((pam?, policies?))
        };
        // Principals are answered by the members the group reads return (a configuration
        // names mostly members it already has); only names no group read knows (members
        // about to be added, members of groups not created yet, system accounts) are asked
        // of Graph, a few per request, and names Graph does not know of Exchange.
        let principal_names = keyed(&req.principals);
        // Names of groups meant to be unchanged are looked up once the group reads show that
        // one is gone or renamed (rare: one more round trip then), beside the principals.
        let groups_and_principals = async {
            let groups = self.read_groups(&requested_groups).await?;
            let more_names =
                names_of_changed_groups(&req.recipient_names_if_changed, &groups, &req.recipient_names);
            let (principals, more_holders) = tokio::join!(
                self.read_principals(&principal_names, &groups),
                self.read_name_holders(&more_names)
            );
            Ok::<_, TenantError>((groups, principals?, more_holders?))
        };
        // Role groups, then the requested roles with the roles they contain: one chain that
        // starts first, so its second step does not wait for unrelated reads.
        // With the catalog, one read of each answers for every role and role group.
        let roles_chain = async {
            if req.catalog {
                let catalog = match taken(early_catalog).await {
                    Some(read) => read?,
                    None => self.read_catalog().await?,
                };
                if let Some(contents) = catalog {
                    return Ok(contents);
                }
            }
            let role_groups = self.read_role_groups(&req.role_groups).await?;
            let mut roles: BTreeSet<String> = req.roles.clone();
            roles.extend(role_groups.values().flatten().cloned());
            let cmdlets = self.read_roles(&roles).await?;
            Ok::<RoleContents, TenantError>((role_groups, cmdlets, None))
        };
        let names = self.read_name_holders(&req.recipient_names);

        let (roles, first, groups_and_principals, name_holders) =
            tokio::join!(roles_chain, pam_and_policies, groups_and_principals, names);
        let (pam, policies) = first?;
        let (mut groups, principals, more_holders) = groups_and_principals?;
        let (mut role_group_roles, mut role_cmdlets, catalog) = roles?;
        let mut name_holders = name_holders?;
        for (key, holder) in more_holders {
            name_holders.entry(key).or_insert(holder);
        }
        on_event(RefreshEvent::PolicyTargets);
        if let Some(early) = early_client
            && let Ok(mut warnings) = self.inner.warnings.lock()
        {
            warnings.extend(early.take_warnings());
        }

        // Groups and role groups only the tenant names: a second, usually small, round.
        let mut extra_groups: BTreeSet<String> =
            policies.iter().map(|p| normalize::principal(&p.approver_group)).collect();
        extra_groups.extend(pam.default_approver_group.as_deref().map(normalize::principal));
        extra_groups.retain(|g| !g.is_empty() && !requested_groups.contains(g));
        let extra_role_groups: BTreeSet<String> = policies
            .iter()
            .filter_map(|p| match &p.target {
                PolicyTarget::RoleGroup(g) => Some(g.clone()),
                _ => None,
            })
            .filter(|g| catalog.is_none() && !role_group_roles.contains_key(&normalize::principal(g)))
            .collect();
        let extra_groups: Vec<String> = extra_groups.into_iter().collect();
        let (more_groups, more_role_groups) =
            tokio::join!(self.read_groups(&extra_groups), self.read_role_groups(&extra_role_groups));
        groups.extend(more_groups?);
        role_group_roles.extend(more_role_groups?);

        let mut roles: BTreeSet<String> = role_group_roles.values().flatten().cloned().collect();
        roles.extend(policies.iter().filter_map(|p| match &p.target {
            PolicyTarget::Role(r) => Some(r.clone()),
            _ => None,
        }));
        roles.retain(|r| catalog.is_none() && !role_cmdlets.contains_key(&normalize::principal(r)));
        if !roles.is_empty() {
            on_event(RefreshEvent::RoleContents);
            role_cmdlets.extend(self.read_roles(&roles).await?);
        }

        Ok(model::TenantSnapshot {
            pam,
            policies,
            groups,
            principals,
            role_cmdlets,
            role_group_roles,
            identity: Some(self.identity().to_string()),
            catalog,
            name_holders: name_holders.into_values().collect(),
        })
    }

    /// Every role entry and every role group, in two requests; `None` when pamform may not
    /// read them (its role lacks the cmdlets, or PAM gates them), and the plan then checks
    /// no names.
    async fn read_catalog(&self) -> Result<Option<RoleContents>, TenantError> {
        let entries = wx::InvokeCommandRequest::new(cmdlet::GET_ROLE_ENTRY)
            .param(param::IDENTITY, wx::ALL_ROLE_ENTRIES);
        let groups =
            wx::InvokeCommandRequest::new(cmdlet::GET_ROLE_GROUP).param(param::RESULT_SIZE, param::UNLIMITED);
        let (entries, groups) =
            tokio::join!(self.invoke_as::<wx::RoleEntry>(&entries), self.invoke_as::<wx::RoleGroup>(&groups));
        let (entries, groups) = match (entries, groups) {
            (Ok(e), Ok(g)) => (e, g),
            (Err(e), _) | (_, Err(e)) if not_allowed(&e) => return Ok(None),
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        Ok(Some(catalog_of(entries, groups)))
    }

    /// Recipients whose `Name`, display name or alias is one of `names`, a few names per
    /// filtered `Get-Recipient`, keyed by object id (by lower-cased name when it has none).
    async fn read_name_holders(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, NamedRecipient>, TenantError> {
        let names: Vec<String> =
            names.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
        let filters: Vec<String> = names.chunks(wx::NAMES_PER_FILTER).map(wx::opath::any_name).collect();
        let answers = for_each(self, filters, |client, filter| async move {
            client
                .invoke_as::<wx::RecipientName>(
                    &wx::InvokeCommandRequest::new(cmdlet::GET_RECIPIENT)
                        .param(param::FILTER, filter)
                        .param(param::RESULT_SIZE, param::UNLIMITED),
                )
                .await
        })
        .await?;
        let mut out: BTreeMap<String, NamedRecipient> = BTreeMap::new();
        for r in answers.into_iter().flat_map(|(_, found)| found) {
            let key = if r.external_directory_object_id.is_empty() {
                r.name.to_lowercase()
            } else {
                r.external_directory_object_id.clone()
            };
            out.entry(key).or_insert_with(|| NamedRecipient {
                id: r.external_directory_object_id,
                alias: r.alias.unwrap_or_default(),
                display_name: r.display_name,
                name: r.name,
                email: r.primary_smtp_address.filter(|m| !m.is_empty()),
            });
        }
        Ok(out)
    }

    /// Groups by address (lower-cased keys), with their members; absent when not found.
    pub async fn read_groups(
        &self,
        emails: &[String],
    ) -> Result<BTreeMap<String, model::RemoteGroup>, TenantError> {
        if emails.is_empty() {
            return Ok(BTreeMap::new());
        }
        let found = self.find_groups_by_mail(emails).await?;
        let missing: Vec<String> =
            found.iter().filter(|(_, g)| g.is_none()).map(|(m, _)| m.clone()).collect();
        let found: Vec<(String, crate::wire::graph::Group)> =
            found.into_iter().filter_map(|(mail, g)| g.map(|g| (mail, g))).collect();
        let ids: Vec<String> = found.iter().map(|(_, g)| g.id.clone()).collect();
        let (members, recent) =
            tokio::join!(self.group_members(&ids), self.read_groups_from_exchange(missing));
        let mut members = members?;
        let mut out: BTreeMap<String, model::RemoteGroup> = found
            .into_iter()
            .map(|(mail, g)| {
                let m = members.remove(&g.id).unwrap_or_default();
                (mail, remote_group(g, m))
            })
            .collect();
        out.extend(recent?);
        Ok(out)
    }

    /// Groups Graph does not show, asked of Exchange: a group created moments ago reaches
    /// Graph only after replication, and a plan must not create it twice.
    async fn read_groups_from_exchange(
        &self,
        emails: Vec<String>,
    ) -> Result<BTreeMap<String, model::RemoteGroup>, TenantError> {
        let found = for_each(self, emails, |client, mail| async move {
            let Some(group) = client.get_group(&mail).await? else {
                return Ok(None);
            };
            let members = client.get_group_members(&group.primary_smtp_address).await?;
            Ok(Some(exchange_group(group, members)))
        })
        .await?;
        Ok(found.into_iter().filter_map(|(mail, g)| g.map(|g| (mail, g))).collect())
    }

    /// The principals: each name (lower-cased) as a member of `groups` when one answers to
    /// it (by id, UPN or mail), else as Graph finds it as a user, else as Exchange
    /// `Get-Recipient` finds it (guests by their external address, groups, contacts).
    async fn read_principals(
        &self,
        names: &[String],
        groups: &BTreeMap<String, model::RemoteGroup>,
    ) -> Result<BTreeMap<String, Option<model::DirectoryObject>>, TenantError> {
        let mut found = principals_among_members(names, groups);
        let unknown: Vec<String> =
            found.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.clone()).collect();
        if unknown.is_empty() {
            return Ok(found);
        }
        for (name, user) in self.get_users(&unknown).await? {
            if let (Some(slot), Some(user)) = (found.get_mut(&name), user) {
                slot.get_or_insert(user);
            }
        }
        let unknown: Vec<String> =
            found.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.clone()).collect();
        let recipients =
            for_each(self, unknown, |client, name| async move { client.get_recipient(&name).await }).await?;
        found.extend(recipients.into_iter().map(|(name, r)| (name, r.map(recipient_object))));
        Ok(found)
    }

    /// Roles of each role group (lower-cased names); unknown groups are absent.
    async fn read_role_groups(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<String>>, TenantError> {
        let answers = for_each(self, names.iter().cloned(), |client, name| async move {
            client.get_role_groups(Some(&name)).await
        })
        .await?;
        let mut out = BTreeMap::new();
        for g in answers.into_iter().flat_map(|(_, groups)| groups) {
            let mut roles = g.roles;
            roles.sort();
            out.insert(normalize::principal(&g.name), roles);
        }
        Ok(out)
    }

    /// Cmdlets of each role (lower-cased role names).
    async fn read_roles(
        &self,
        names: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<String>>, TenantError> {
        let unique: BTreeSet<String> =
            names.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
        let answers =
            for_each(self, unique, |client, name| async move { client.get_role_entries(&name).await })
                .await?;
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, entries) in answers {
            let mut cmdlets: Vec<String> = entries.into_iter().map(|e| e.name).collect();
            cmdlets.sort();
            cmdlets.dedup();
            out.insert(normalize::principal(&name), cmdlets);
        }
        Ok(out)
    }
}

/// Whether a read failed because pamform may not run the cmdlet (RBAC or PAM said no).
fn not_allowed(e: &TenantError) -> bool {
    matches!(e.exchange_class(), Some(c) if c == wx::class::ACCESS_DENIED || c == wx::class::ELEVATION_REQUIRED)
}

/// Each name (lower-cased) with the first member of `groups` that answers to it by id, UPN
/// or mail; `None` for names no member answers to.
fn principals_among_members(
    names: &[String],
    groups: &BTreeMap<String, model::RemoteGroup>,
) -> BTreeMap<String, Option<model::DirectoryObject>> {
    let mut found: BTreeMap<String, Option<model::DirectoryObject>> =
        names.iter().map(|name| (name.clone(), None)).collect();
    for member in groups.values().flat_map(|g| &g.members) {
        for name in [Some(&member.id), member.upn.as_ref(), member.mail.as_ref()].into_iter().flatten() {
            if let Some(slot) = found.get_mut(normalize::principal_cow(name).as_ref()) {
                slot.get_or_insert_with(|| member.clone());
            }
        }
    }
    found
}

/// The catalog and the role contents from every role entry and role group.
fn catalog_of(entries: Vec<wx::RoleEntry>, groups: Vec<wx::RoleGroup>) -> RoleContents {
    let mut catalog = RoleCatalog::default();
    let mut role_cmdlets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in entries {
        catalog.cmdlets.insert(e.name.clone());
        catalog.roles.insert(e.role.clone());
        role_cmdlets.entry(normalize::principal(&e.role)).or_default().push(e.name);
    }
    for cmdlets in role_cmdlets.values_mut() {
        cmdlets.sort();
        cmdlets.dedup();
    }
    let mut role_group_roles = BTreeMap::new();
    for g in groups {
        catalog.role_groups.insert(g.name.clone());
        let mut roles = g.roles;
        roles.sort();
        role_group_roles.insert(normalize::principal(&g.name), roles);
    }
    (role_group_roles, role_cmdlets, Some(catalog))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_answer_for_principals_by_id_upn_or_mail() {
        let member = |id: &str, upn: &str, mail: Option<&str>| model::DirectoryObject {
            id: id.into(),
            kind: model::ObjectKind::User,
            upn: Some(upn.into()),
            mail: mail.map(String::from),
            display_name: None,
            has_mailbox: mail.is_some(),
            is_guest: false,
        };
        let group = model::RemoteGroup {
            members: vec![
                member("AAAA-1", "Alice@Contoso.com", None),
                member("bbbb-2", "bob@contoso.com", Some("Robert@Fabrikam.com")),
            ],
            id: "g".into(),
            name: "G".into(),
            display_name: "G".into(),
            alias: "g".into(),
            email: "g@contoso.com".into(),
            description: None,
            security_enabled: true,
        };
        let groups = BTreeMap::from([("g@contoso.com".to_string(), group)]);
        let names: Vec<String> = ["aaaa-1", "alice@contoso.com", "robert@fabrikam.com", "carol@contoso.com"]
            .map(String::from)
            .into();
        let found = principals_among_members(&names, &groups);
        assert_eq!(found["aaaa-1"].as_ref().map(|m| m.id.as_str()), Some("AAAA-1"));
        assert_eq!(found["alice@contoso.com"].as_ref().map(|m| m.id.as_str()), Some("AAAA-1"));
        assert_eq!(found["robert@fabrikam.com"].as_ref().map(|m| m.id.as_str()), Some("bbbb-2"));
        assert_eq!(found["carol@contoso.com"], None);
    }

    #[test]
    fn the_catalog_keys_roles_without_case() {
        let entry = |role: &str, name: &str| wx::RoleEntry { name: name.into(), role: role.into() };
        let (groups, roles, catalog) = catalog_of(
            vec![entry("Move Mailboxes", "New-MoveRequest"), entry("Move Mailboxes", "Get-MoveRequest")],
            vec![wx::RoleGroup { name: "Recipient Management".into(), roles: vec!["Move Mailboxes".into()] }],
        );
        let catalog = catalog.unwrap();
        assert_eq!(roles["move mailboxes"], vec!["Get-MoveRequest", "New-MoveRequest"]);
        assert_eq!(groups["recipient management"], vec!["Move Mailboxes"]);
        assert_eq!(RoleCatalog::find(&catalog.cmdlets, "new-moverequest"), Some("New-MoveRequest"));
        assert!(
            catalog.roles.contains("Move Mailboxes") && catalog.role_groups.contains("Recipient Management")
        );
    }
}

#[cfg(test)]
mod name_lookup_tests {
    use super::*;

    fn live(id: &str, display_name: &str, alias: &str) -> model::RemoteGroup {
        model::RemoteGroup {
            id: id.into(),
            name: display_name.into(),
            display_name: display_name.into(),
            alias: alias.into(),
            email: "g@x.io".into(),
            description: None,
            security_enabled: true,
            members: vec![],
        }
    }

    fn lookups(found: Option<model::RemoteGroup>, asked: &[&str]) -> Vec<String> {
        let known = KnownGroup { id: "id-g".into(), name: "G Approvers".into(), alias: "g".into() };
        let conditional = BTreeMap::from([("g@x.io".to_string(), known)]);
        let groups: BTreeMap<String, model::RemoteGroup> =
            found.into_iter().map(|g| ("g@x.io".to_string(), g)).collect();
        let asked: BTreeSet<String> = asked.iter().map(|s| s.to_string()).collect();
        names_of_changed_groups(&conditional, &groups, &asked).into_iter().collect()
    }

    #[test]
    fn a_group_found_as_recorded_needs_no_name_lookup() {
        assert!(lookups(Some(live("ID-G", "G Approvers", "g")), &[]).is_empty());
    }

    #[test]
    fn a_group_gone_renamed_realiased_or_recreated_has_its_names_looked_up() {
        let both = ["G Approvers".to_string(), "g".to_string()];
        assert_eq!(lookups(None, &[]), both);
        assert_eq!(lookups(Some(live("id-g", "Other", "g")), &[]), both);
        assert_eq!(lookups(Some(live("id-g", "g approvers", "g")), &[]), both);
        assert_eq!(lookups(Some(live("id-g", "G Approvers", "other")), &[]), both);
        assert_eq!(lookups(Some(live("id-new", "G Approvers", "g")), &[]), both);
        // Found at its address through another of its addresses or its `Name`: the plan
        // replaces it at the configured address.
        let moved = model::RemoteGroup { email: "g-moved@x.io".into(), ..live("id-g", "G Approvers", "g") };
        assert_eq!(lookups(Some(moved), &[]), both);
        let exchange_name = model::RemoteGroup { name: "g@x.io".into(), ..live("id-g", "G Approvers", "g") };
        assert_eq!(lookups(Some(exchange_name), &[]), both);
        // A name already looked up front is not asked twice.
        assert_eq!(lookups(None, &["g"]), ["G Approvers".to_string()]);
    }
}
