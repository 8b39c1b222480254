//! The drift cache: a Graph `groups/delta` link and the approver groups (with members) it
//! applies to, kept beside the state in `.pamform/drift-cache.json` so that a repeated drift
//! check reads only what changed. It is a cache, never a source of truth: anything wrong with
//! it (missing, unreadable, another tenant, another endpoint, another format) means a full
//! read. It holds no secrets (a delta link grants nothing without a token) and is written
//! atomically as compact JSON, mode 0600, and only when its content changed.
//!
//! On disk every member is written once, in a directory ordered by object id, and each group
//! lists its members by their place in it: approver groups overlap, so this is a fraction of
//! writing each group's members whole, and reading a member back is an index, not a lookup.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{DirectoryObject, RemoteGroup};

/// The directory beside the state that holds pamform's caches.
pub const DIR: &str = ".pamform";
/// The cache file's name inside [`DIR`].
pub const FILE: &str = "drift-cache.json";
/// Bumped on incompatible changes; a cache of another version is ignored.
/// 2: members written once, groups list member ids.
/// 3: groups list members by their index in the directory.
pub const FORMAT_VERSION: u32 = 3;
/// How long a check that found nothing changed keeps the delta link it was given instead
/// of the new one, so that the cache file is not rewritten; well inside the seven days a
/// directory delta link lives ([`crate::wire::graph::DELTA_TOKEN_DAYS`]).
pub const KEEP_UNCHANGED_LINK_HOURS: i64 = 24;

/// What the last drift check read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftCache {
    pub format_version: u32,
    /// The tenant the link and groups belong to.
    pub tenant: String,
    /// The Graph base URL the link was made by; a link is never followed to another
    /// endpoint (an embedded emulator gets a new port on every run).
    pub graph_url: String,
    /// When `delta_link` was taken (RFC 3339): the groups are as they were then.
    pub updated: String,
    /// The `@odata.deltaLink` that returns the changes made after `groups` was taken.
    pub delta_link: String,
    /// Groups by lower-cased primary SMTP address, with their members.
    pub groups: BTreeMap<String, RemoteGroup>,
    /// Addresses looked up and not found: a group created later under one shows in the delta.
    pub absent: BTreeSet<String>,
}

impl DriftCache {
    /// Whether the cache knows the state of every group in `needed` (present or absent).
    pub fn covers<'a>(&self, needed: impl IntoIterator<Item = &'a String>) -> bool {
        needed.into_iter().all(|g| self.groups.contains_key(g) || self.absent.contains(g))
    }

    /// Whether its delta link is recent enough to be kept by a check that found no change
    /// (see [`KEEP_UNCHANGED_LINK_HOURS`]); an unreadable time is not.
    pub fn link_is_fresh(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        chrono::DateTime::parse_from_rfc3339(&self.updated).is_ok_and(|taken| {
            let age = now.signed_duration_since(taken);
            age >= chrono::Duration::zero() && age < chrono::Duration::hours(KEEP_UNCHANGED_LINK_HOURS)
        })
    }
}

/// The file's layout: [`DriftCache`] with each member once in `directory`, as it is read.
#[derive(Deserialize)]
struct Stored {
    format_version: u32,
    tenant: String,
    graph_url: String,
    updated: String,
    delta_link: String,
    /// Every member of every group, once, in object id order.
    directory: Vec<DirectoryObject>,
    groups: BTreeMap<String, StoredGroup>,
    absent: BTreeSet<String>,
}

/// A group as the file holds it: [`RemoteGroup`] with its members' indices in `directory`.
#[derive(Deserialize)]
struct StoredGroup {
    id: String,
    name: String,
    display_name: String,
    alias: String,
    email: String,
    #[serde(default)]
    description: Option<String>,
    security_enabled: bool,
    members: Vec<u32>,
}

/// [`Stored`] as it is written: borrowed from the cache, so that writing copies no member.
/// The same fields in the same order.
#[derive(Serialize)]
struct StoredRef<'a> {
    format_version: u32,
    tenant: &'a str,
    graph_url: &'a str,
    updated: &'a str,
    delta_link: &'a str,
    directory: Vec<&'a DirectoryObject>,
    groups: BTreeMap<&'a str, StoredGroupRef<'a>>,
    absent: &'a BTreeSet<String>,
}

/// [`StoredGroup`] as it is written.
#[derive(Serialize)]
struct StoredGroupRef<'a> {
    id: &'a str,
    name: &'a str,
    display_name: &'a str,
    alias: &'a str,
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    security_enabled: bool,
    members: Vec<u32>,
}

/// Only the version, read first so that a file of another layout is told apart from a
/// broken one (the rest of the file is skipped, not built).
#[derive(Deserialize)]
struct Version {
    #[serde(default)]
    format_version: u64,
}

impl<'a> StoredRef<'a> {
    fn of(cache: &'a DriftCache) -> StoredRef<'a> {
        // Every member once (the first of the same id), in id order, with its index.
        let mut by_id: BTreeMap<&str, (u32, &DirectoryObject)> = BTreeMap::new();
        for m in cache.groups.values().flat_map(|g| &g.members) {
            by_id.entry(m.id.as_str()).or_insert((0, m));
        }
        for (i, (index, _)) in by_id.values_mut().enumerate() {
            *index = u32::try_from(i).expect("fewer than 2^32 directory objects");
        }
        let groups = cache
            .groups
            .iter()
            .map(|(email, g)| {
                let members = g.members.iter().map(|m| by_id[m.id.as_str()].0).collect();
                let stored = StoredGroupRef {
                    id: &g.id,
                    name: &g.name,
                    display_name: &g.display_name,
                    alias: &g.alias,
                    email: &g.email,
                    description: g.description.as_deref(),
                    security_enabled: g.security_enabled,
                    members,
                };
                (email.as_str(), stored)
            })
            .collect();
        StoredRef {
            format_version: cache.format_version,
            tenant: &cache.tenant,
            graph_url: &cache.graph_url,
            updated: &cache.updated,
            delta_link: &cache.delta_link,
            directory: by_id.into_values().map(|(_, m)| m).collect(),
            groups,
            absent: &cache.absent,
        }
    }
}

impl Stored {
    /// The cache; `None` when a group names an index the directory lacks. A member is
    /// copied into each group it belongs to but the last, which takes it.
    fn into_cache(self) -> Option<DriftCache> {
        let Stored { format_version, tenant, graph_url, updated, delta_link, directory, groups, absent } =
            self;
        let mut uses = vec![0u32; directory.len()];
        for i in groups.values().flat_map(|g| &g.members) {
            *uses.get_mut(*i as usize)? += 1;
        }
        let mut directory: Vec<Option<DirectoryObject>> = directory.into_iter().map(Some).collect();
        let groups = groups
            .into_iter()
            .map(|(email, g)| {
                let members = g
                    .members
                    .iter()
                    .map(|&i| {
                        let i = i as usize;
                        uses[i] -= 1;
                        if uses[i] == 0 { directory[i].take() } else { directory[i].clone() }
                    })
                    .collect::<Option<Vec<_>>>()?;
                let group = RemoteGroup {
                    id: g.id,
                    name: g.name,
                    display_name: g.display_name,
                    alias: g.alias,
                    email: g.email,
                    description: g.description,
                    security_enabled: g.security_enabled,
                    members,
                };
                Some((email, group))
            })
            .collect::<Option<BTreeMap<_, _>>>()?;
        Some(DriftCache { format_version, tenant, graph_url, updated, delta_link, groups, absent })
    }
}

/// Where a configuration directory's cache lives.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(DIR).join(FILE)
}

/// Why a cache was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("no drift cache yet")]
    Missing,
    #[error("the drift cache cannot be read ({0})")]
    Unreadable(String),
    #[error("the drift cache has format {0}, not {FORMAT_VERSION}")]
    OtherVersion(u32),
    #[error("the drift cache belongs to tenant {0}")]
    OtherTenant(String),
    #[error("the drift cache was made through another Graph endpoint ({0})")]
    OtherEndpoint(String),
}

/// Loads the cache for `tenant` read through the Graph base URL `graph_url`.
pub fn load(dir: &Path, tenant: &str, graph_url: &str) -> Result<DriftCache, Unusable> {
    let bytes = match std::fs::read(path(dir)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
        Err(e) => return Err(Unusable::Unreadable(e.to_string())),
    };
    // Read in one pass; only a file that does not read is read again for its version, to
    // tell a cache of another layout from a broken one.
    let other_version = |version: u64| Unusable::OtherVersion(u32::try_from(version).unwrap_or(0));
    let stored: Stored = match serde_json::from_slice(&bytes) {
        Ok(stored) => stored,
        Err(e) => {
            return Err(match serde_json::from_slice::<Version>(&bytes) {
                Ok(v) if v.format_version != u64::from(FORMAT_VERSION) => other_version(v.format_version),
                _ => Unusable::Unreadable(e.to_string()),
            });
        }
    };
    drop(bytes);
    if stored.format_version != FORMAT_VERSION {
        return Err(other_version(u64::from(stored.format_version)));
    }
    let cache = stored
        .into_cache()
        .ok_or_else(|| Unusable::Unreadable("a group names a member the cache does not hold".to_string()))?;
    if !cache.tenant.eq_ignore_ascii_case(tenant) {
        return Err(Unusable::OtherTenant(cache.tenant));
    }
    if !same_origin(&cache.graph_url, graph_url) || !same_origin(&cache.delta_link, graph_url) {
        return Err(Unusable::OtherEndpoint(cache.graph_url));
    }
    Ok(cache)
}

/// Whether two URLs have the same scheme, host and port (unparsable: never).
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

/// A cache as its file holds it, ready to be written by [`save`]. A read encodes the cache
/// it keeps at once, so that its groups then move into the snapshot instead of being
/// copied (tens of thousands of members).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(Vec<u8>);

impl DriftCache {
    /// The file's content for this cache.
    pub fn encode(&self) -> Encoded {
        let mut bytes =
            serde_json::to_vec(&StoredRef::of(self)).expect("a cache of strings and numbers always encodes");
        bytes.push(b'\n');
        Encoded(bytes)
    }
}

/// Writes the cache atomically (temporary file, fsync, rename), mode 0600, unless the file
/// already holds exactly this content. Returns whether it wrote.
pub fn save(dir: &Path, cache: &Encoded) -> std::io::Result<bool> {
    let file = path(dir);
    let bytes = &cache.0;
    if std::fs::read(&file).is_ok_and(|old| &old == bytes) {
        return Ok(false);
    }
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    crate::files::write_atomic(&file, bytes)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = "https://graph.microsoft.com";

    fn cache() -> DriftCache {
        DriftCache {
            format_version: FORMAT_VERSION,
            tenant: "contoso.onmicrosoft.com".into(),
            graph_url: GRAPH.into(),
            updated: "2026-11-28T12:00:00Z".into(),
            delta_link: "https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=abc".into(),
            groups: BTreeMap::new(),
            absent: ["gone@contoso.com".to_string()].into(),
        }
    }

    #[test]
    fn round_trips_and_refuses_other_tenants_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "contoso.onmicrosoft.com", GRAPH), Err(Unusable::Missing));
        save(dir.path(), &cache().encode()).unwrap();
        assert_eq!(load(dir.path(), "CONTOSO.onmicrosoft.com", GRAPH), Ok(cache()));
        assert!(matches!(load(dir.path(), "fabrikam.onmicrosoft.com", GRAPH), Err(Unusable::OtherTenant(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut old = cache();
        old.format_version = 0;
        save(dir.path(), &old.encode()).unwrap();
        assert_eq!(load(dir.path(), "contoso.onmicrosoft.com", GRAPH), Err(Unusable::OtherVersion(0)));
        std::fs::write(path(dir.path()), b"{").unwrap();
        assert!(matches!(load(dir.path(), "contoso.onmicrosoft.com", GRAPH), Err(Unusable::Unreadable(_))));
    }

    #[test]
    fn a_cache_of_another_endpoint_is_not_used_and_the_file_is_compact() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache();
        c.graph_url = "http://127.0.0.1:41000".into();
        c.delta_link = "http://127.0.0.1:41000/v1.0/groups/delta?$deltatoken=abc".into();
        save(dir.path(), &c.encode()).unwrap();
        assert_eq!(load(dir.path(), "contoso.onmicrosoft.com", "http://127.0.0.1:41000/"), Ok(c.clone()));
        assert!(matches!(
            load(dir.path(), "contoso.onmicrosoft.com", "http://127.0.0.1:41001"),
            Err(Unusable::OtherEndpoint(_))
        ));
        // A link that leads elsewhere than the recorded endpoint is not followed either.
        c.delta_link = "http://127.0.0.1:9/v1.0/groups/delta".into();
        save(dir.path(), &c.encode()).unwrap();
        assert!(matches!(
            load(dir.path(), "contoso.onmicrosoft.com", "http://127.0.0.1:41000"),
            Err(Unusable::OtherEndpoint(_))
        ));
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        // A cache written before the endpoint was recorded is not used.
        let old = text.replace("\"graph_url\":\"http://127.0.0.1:41000\",", "");
        assert!(!old.contains("graph_url"));
        std::fs::write(path(dir.path()), old).unwrap();
        assert!(load(dir.path(), "contoso.onmicrosoft.com", "http://127.0.0.1:41000").is_err());
    }

    fn member(id: &str) -> DirectoryObject {
        DirectoryObject {
            id: id.into(),
            kind: crate::model::ObjectKind::User,
            upn: Some(format!("{id}@contoso.com")),
            mail: None,
            display_name: Some(id.to_uppercase()),
            has_mailbox: true,
            is_guest: false,
        }
    }

    fn group(id: &str, members: &[&str]) -> RemoteGroup {
        RemoteGroup {
            id: id.into(),
            name: id.into(),
            display_name: id.into(),
            alias: id.into(),
            email: format!("{id}@contoso.com"),
            description: Some("approves".into()),
            security_enabled: true,
            members: members.iter().map(|m| member(m)).collect(),
        }
    }

    #[test]
    fn members_are_written_once_and_groups_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = cache();
        c.groups.insert("a@contoso.com".into(), group("a", &["u1", "u2"]));
        c.groups.insert("b@contoso.com".into(), group("b", &["u2", "u3"]));
        assert!(save(dir.path(), &c.encode()).unwrap());
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(text.matches("\"U2\"").count(), 1, "{text}");
        assert_eq!(load(dir.path(), "contoso.onmicrosoft.com", GRAPH), Ok(c.clone()));
        // The same content is not written again; a change is.
        let written = std::fs::metadata(path(dir.path())).unwrap().modified().unwrap();
        assert!(!save(dir.path(), &c.encode()).unwrap());
        assert_eq!(std::fs::metadata(path(dir.path())).unwrap().modified().unwrap(), written);
        c.absent.insert("new@contoso.com".into());
        assert!(save(dir.path(), &c.encode()).unwrap());
        // A group naming a member the directory lacks makes the file unusable.
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(text.contains("\"members\":[1,2]"), "{text}");
        let broken = text.replace("\"members\":[1,2]", "\"members\":[9]");
        std::fs::write(path(dir.path()), broken).unwrap();
        assert!(matches!(load(dir.path(), "contoso.onmicrosoft.com", GRAPH), Err(Unusable::Unreadable(_))));
    }

    #[test]
    fn caches_of_earlier_formats_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        let v1 = r#"{"format_version":1,"tenant":"contoso.onmicrosoft.com","graph_url":"https://graph.microsoft.com","updated":"","delta_link":"https://graph.microsoft.com/v1.0/groups/delta","groups":{},"absent":[]}"#;
        std::fs::write(path(dir.path()), v1).unwrap();
        assert_eq!(load(dir.path(), "contoso.onmicrosoft.com", GRAPH), Err(Unusable::OtherVersion(1)));
        // The second format listed members by id.
        let v2 = r#"{"format_version":2,"tenant":"contoso.onmicrosoft.com","graph_url":"https://graph.microsoft.com","updated":"","delta_link":"https://graph.microsoft.com/v1.0/groups/delta","directory":{},"groups":{"a@contoso.com":{"id":"a","name":"a","display_name":"a","alias":"a","email":"a@contoso.com","security_enabled":true,"members":["u1"]}},"absent":[]}"#;
        std::fs::write(path(dir.path()), v2).unwrap();
        assert_eq!(load(dir.path(), "contoso.onmicrosoft.com", GRAPH), Err(Unusable::OtherVersion(2)));
    }

    #[test]
    fn an_unchanged_check_keeps_a_recent_link_only() {
        let c = cache();
        let taken = chrono::DateTime::parse_from_rfc3339(&c.updated).unwrap().with_timezone(&chrono::Utc);
        assert!(c.link_is_fresh(taken + chrono::Duration::hours(1)));
        assert!(!c.link_is_fresh(taken + chrono::Duration::hours(KEEP_UNCHANGED_LINK_HOURS)));
        assert!(!c.link_is_fresh(taken - chrono::Duration::hours(1)));
        assert!(!DriftCache { updated: "yesterday".into(), ..cache() }.link_is_fresh(taken));
    }

    #[test]
    fn covers_present_and_absent_groups() {
        let c = cache();
        assert!(c.covers(&["gone@contoso.com".to_string()]));
        assert!(!c.covers(&["other@contoso.com".to_string()]));
    }
}
