//! The drift check's read of the tenant. The PAM setting and the policies are always read
//! from Exchange (it has no delta). Approver groups come from the drift cache brought up to
//! date with one Graph `groups/delta` call: membership changes are applied from
//! `members@delta`, new members (ids only) are resolved with `id in (...)` user filters in
//! one `$batch`, and only groups whose own properties changed, or that the cache does not
//! know, are read again. Without a usable cache, or when the delta link fails in any way (expired or
//! invalid token, 410 Gone, an endpoint that no longer answers), everything is read: a cache
//! never turns into an error. A full read first asks Graph for a delta link from now on
//! (`$deltatoken=latest`, one request, no groups) and then reads the groups with the plan's
//! batched reads, so no change can fall between the two: one made between the link and the
//! reads is in the cache already and comes again through the link, and applying it twice
//! changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use crate::drift::cache::{self, DriftCache, Unusable};
use crate::model::{self, PamSetting, RemotePolicy, TenantSnapshot, normalize};
use crate::tenant::{Client, RefreshEvent, RefreshRequest, TenantError};
use crate::wire::graph as wg;

/// How the groups were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadKind {
    /// Everything was read; says why the cache was not used.
    Full(String),
    /// The cache was brought up to date through the delta link.
    Delta {
        /// Group changes the delta reported for groups the check looks at.
        changed_groups: usize,
        /// Groups read again in full (properties changed, or not in the cache).
        reread_groups: usize,
    },
}

/// What a drift read returns: the snapshot to diff and the cache to keep for next time.
#[derive(Debug, Clone)]
pub struct DriftRead {
    pub snapshot: TenantSnapshot,
    /// The cache to write, encoded; `None` when it would be exactly the cache that was
    /// loaded, so there is nothing to write. Either way the groups moved into `snapshot`,
    /// not copied.
    pub cache: Option<cache::Encoded>,
    pub kind: ReadKind,
}

/// Reads the tenant for a drift check, through `cached` when it can be used. A full read
/// tells `on_event` how its refresh goes.
pub async fn read(
    client: &Client,
    req: &RefreshRequest,
    cached: Result<DriftCache, Unusable>,
    on_event: &(dyn Fn(RefreshEvent) + Sync),
) -> Result<DriftRead, TenantError> {
    match cached {
        Ok(c) => match delta(client, req, c).await {
            Ok(read) => Ok(read),
            Err(Failed::Cache(why)) => full(client, req, why, on_event).await,
            Err(Failed::Tenant(e)) => Err(e),
        },
        Err(why) => full(client, req, why.to_string(), on_event).await,
    }
}

/// Why a read through the cache failed: the cache could not be used (read everything
/// instead), or the tenant failed (an error).
enum Failed {
    Cache(String),
    Tenant(TenantError),
}

impl From<TenantError> for Failed {
    fn from(e: TenantError) -> Self {
        Failed::Tenant(e)
    }
}

/// Groups the check needs: those the configuration and state name, those the policies and
/// the PAM default name.
fn needed_groups(req: &RefreshRequest, pam: &PamSetting, policies: &[RemotePolicy]) -> BTreeSet<String> {
    req.groups
        .iter()
        .map(String::as_str)
        .chain(policies.iter().map(|p| p.approver_group.as_str()))
        .chain(pam.default_approver_group.as_deref())
        .map(normalize::principal)
        .filter(|g| !g.is_empty())
        .collect()
}

/// The cache of `client`'s tenant as of now: `groups` and `absent`, and the link for the
/// changes after them.
fn fresh(
    client: &Client,
    delta_link: String,
    groups: BTreeMap<String, crate::model::RemoteGroup>,
    absent: BTreeSet<String>,
) -> DriftCache {
    DriftCache {
        format_version: cache::FORMAT_VERSION,
        tenant: client.tenant().to_string(),
        graph_url: client.endpoints().graph.clone(),
        updated: now(),
        delta_link,
        groups,
        absent,
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads everything: a delta link from now on first (it returns every change made after
/// this point; paging through a whole delta round instead costs a request per few hundred
/// members, one after another), then the refresh the plan uses, without role contents
/// (drift does not need them).
async fn full(
    client: &Client,
    req: &RefreshRequest,
    why: String,
    on_event: &(dyn Fn(RefreshEvent) + Sync),
) -> Result<DriftRead, TenantError> {
    let delta_link = client.groups_delta_latest(wg::DRIFT_DELTA_SELECT).await?;
    let req = RefreshRequest {
        roles: BTreeSet::new(),
        role_groups: BTreeSet::new(),
        catalog: false,
        recipient_names: BTreeSet::new(),
        recipient_names_if_changed: Default::default(),
        ..req.clone()
    };
    let mut snapshot = client.refresh_observed(&req, on_event).await?;
    let absent = needed_groups(&req, &snapshot.pam, &snapshot.policies)
        .into_iter()
        .filter(|g| !snapshot.groups.contains_key(g))
        .collect();
    // The groups go into the cache, which is encoded, and come back into the snapshot.
    let cache = fresh(client, delta_link, std::mem::take(&mut snapshot.groups), absent);
    let encoded = cache.encode();
    snapshot.groups = cache.groups;
    Ok(DriftRead { snapshot, cache: Some(encoded), kind: ReadKind::Full(why) })
}

/// Whether a delta entry says a property of the group changed (a property Graph left out
/// of the entry is taken as unchanged).
fn properties_changed(e: &wg::DeltaGroup, g: &model::RemoteGroup) -> bool {
    let differs = |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n != old);
    differs(&e.display_name, &g.display_name)
        || e.mail.as_deref().is_some_and(|m| normalize::principal(m) != normalize::principal(&g.email))
        || differs(&e.mail_nickname, &g.alias)
        || e.description.as_deref().is_some_and(|d| Some(d) != g.description.as_deref())
}

async fn delta(client: &Client, req: &RefreshRequest, cache: DriftCache) -> Result<DriftRead, Failed> {
    let exchange = async { tokio::join!(client.get_pam_setting(), client.get_remote_policies()) };
    let graph = client.groups_delta_entries(Some(&cache.delta_link), wg::DRIFT_DELTA_SELECT);
    let ((pam, policies), entries) = tokio::join!(exchange, graph);
    let (pam, policies) = (pam?, policies?);
    let (entries, delta_link) = entries.map_err(|e| {
        Failed::Cache(match e {
            TenantError::DeltaExpired => "the delta link has expired".to_string(),
            e => format!("the delta link could not be used ({e})"),
        })
    })?;
    let needed = needed_groups(req, &pam, &policies);

    let fresh_link = cache.link_is_fresh(chrono::Utc::now());
    let DriftCache { mut groups, mut absent, .. } = cache;
    // Whether the groups or the absent addresses changed: when not, a recent link is kept
    // (it still returns every change after it) and the cache file is left as it is.
    let mut changed = false;
    let by_id: BTreeMap<String, String> =
        groups.iter().map(|(email, g)| (g.id.to_lowercase(), email.clone())).collect();
    // Groups the cache does not know are read in full.
    let mut reread: BTreeSet<String> =
        needed.iter().filter(|g| !groups.contains_key(*g) && !absent.contains(*g)).cloned().collect();
    let mut joined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut changed_groups = 0;
    for e in entries {
        let Some(email) = by_id.get(&e.id.to_lowercase()) else {
            // A group the cache does not hold: it matters only if the check needs it.
            if e.removed.is_none()
                && let Some(mail) = e.mail.as_deref().map(normalize::principal)
                && needed.contains(&mail)
            {
                changed_groups += 1;
                reread.insert(mail);
            }
            continue;
        };
        if needed.contains(email) {
            changed_groups += 1;
        }
        if e.removed.is_some() {
            groups.remove(email);
            absent.insert(email.clone());
            changed = true;
            continue;
        }
        let Some(g) = groups.get_mut(email) else { continue };
        if properties_changed(&e, g) {
            reread.insert(email.clone());
            if let Some(mail) = e.mail.as_deref().map(normalize::principal) {
                reread.insert(mail);
            }
            continue;
        }
        for m in e.members_delta.unwrap_or_default() {
            if m.removed.is_some() {
                let before = g.members.len();
                g.members.retain(|x| !x.id.eq_ignore_ascii_case(&m.id));
                changed |= g.members.len() != before;
            } else if !g.members.iter().any(|x| x.id.eq_ignore_ascii_case(&m.id)) {
                joined.entry(email.clone()).or_default().push(m.id);
                changed = true;
            }
        }
    }

    // New members arrive as ids: resolve just those, in one $batch round.
    joined.retain(|email, _| !reread.contains(email));
    let ids: Vec<String> =
        joined.values().flatten().cloned().collect::<BTreeSet<String>>().into_iter().collect();
    if !ids.is_empty() {
        let users = client.get_users(&ids).await?;
        for (email, members) in joined {
            let Some(g) = groups.get_mut(&email) else { continue };
            for id in members {
                match users.get(&id) {
                    Some(Some(user)) => g.members.push(user.clone()),
                    // Not a user (a nested group, a contact): read the group in full.
                    _ => {
                        reread.insert(email.clone());
                    }
                }
            }
        }
    }

    let reread_groups = reread.len();
    changed |= !reread.is_empty();
    if !reread.is_empty() {
        let list: Vec<String> = reread.into_iter().collect();
        let mut found = client.read_groups(&list).await?;
        for email in list {
            match found.remove(&email) {
                Some(g) => {
                    absent.remove(&email);
                    groups.insert(email, g);
                }
                None => {
                    groups.remove(&email);
                    absent.insert(email);
                }
            }
        }
    }
    for g in groups.values_mut() {
        g.members.sort_by(|a, b| a.id.cmp(&b.id));
        g.members.dedup_by(|a, b| a.id.eq_ignore_ascii_case(&b.id));
    }

    let cache_unchanged = !changed && fresh_link;
    // A cache left as it is on disk is not written; one that changed is encoded now. Either
    // way the groups the check needs then move into the snapshot (tens of thousands of
    // members are not copied).
    let encoded = (!cache_unchanged).then(|| {
        let cache = fresh(client, delta_link, std::mem::take(&mut groups), absent);
        let encoded = cache.encode();
        groups = cache.groups;
        encoded
    });
    let snapshot_groups: BTreeMap<String, model::RemoteGroup> =
        groups.into_iter().filter(|(email, _)| needed.contains(email)).collect();
    let principals = principals_from_members(req, &snapshot_groups);
    let snapshot = TenantSnapshot {
        pam,
        policies,
        groups: snapshot_groups,
        principals,
        role_cmdlets: BTreeMap::new(),
        role_group_roles: BTreeMap::new(),
        identity: Some(client.identity().to_string()),
        ..TenantSnapshot::default()
    };
    Ok(DriftRead { snapshot, cache: encoded, kind: ReadKind::Delta { changed_groups, reread_groups } })
}

/// The requested principals that are members of a group, as the full refresh finds them.
/// Others are left out: a name that is no group's member cannot name one in the diff.
fn principals_from_members(
    req: &RefreshRequest,
    groups: &BTreeMap<String, model::RemoteGroup>,
) -> BTreeMap<String, Option<model::DirectoryObject>> {
    // Hashed, one lookup per name: this runs over every member of every group (tens of
    // thousands).
    // foldhash, not the default SipHash: the keys are the configuration's own names, not
    // input chosen to collide, and hashing is most of this loop's cost.
    let mut found: foldhash::HashMap<String, Option<&model::DirectoryObject>> =
        req.principals.iter().map(|n| (normalize::principal(n), None)).collect();
    // One pass over the members, the first member a name answers to winning.
    for m in groups.values().flat_map(|g| &g.members) {
        // A mail equal to the UPN (the usual case) answers to the same name.
        let mail = m.mail.as_deref().filter(|mail| m.upn.as_deref() != Some(*mail));
        for name in [m.upn.as_deref(), mail].into_iter().flatten() {
            if let Some(slot @ None) = found.get_mut(normalize::principal_cow(name).as_ref()) {
                *slot = Some(m);
            }
        }
    }
    found.into_iter().filter_map(|(k, m)| m.map(|m| (k, Some(m.clone())))).collect()
}
