//! The drift cache: a Graph `groups/delta` link and the approver groups (with members) it
//! applies to, kept beside the state in `.pamform/drift-cache.json` so that a repeated drift
//! check reads only what changed. It is a cache, never a source of truth: anything wrong with
//! it (missing, unreadable, another tenant, another endpoint, another format) means a full
//! read. It holds no secrets (a delta link grants nothing without a token) and is written
//! atomically as compact JSON, mode 0600.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::RemoteGroup;

/// The directory beside the state that holds pamform's caches.
pub const DIR: &str = ".pamform";
/// The cache file's name inside [`DIR`].
pub const FILE: &str = "drift-cache.json";
/// Bumped on incompatible changes; a cache of another version is ignored.
pub const FORMAT_VERSION: u32 = 1;

/// What the last drift check read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCache {
    pub format_version: u32,
    /// The tenant the link and groups belong to.
    pub tenant: String,
    /// The Graph base URL the link was made by; a link is never followed to another
    /// endpoint (an embedded emulator gets a new port on every run).
    #[serde(default)]
    pub graph_url: String,
    /// When the groups were last brought up to date (RFC 3339).
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
    let version: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Unusable::Unreadable(e.to_string()))?;
    let found = version.get("format_version").and_then(serde_json::Value::as_u64).unwrap_or(0);
    if found != u64::from(FORMAT_VERSION) {
        return Err(Unusable::OtherVersion(u32::try_from(found).unwrap_or(0)));
    }
    let cache: DriftCache =
        serde_json::from_value(version).map_err(|e| Unusable::Unreadable(e.to_string()))?;
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

/// Writes the cache atomically (temporary file, fsync, rename), mode 0600.
pub fn save(dir: &Path, cache: &DriftCache) -> std::io::Result<()> {
    let file = path(dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut bytes = serde_json::to_vec(cache).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    crate::files::write_atomic(&file, &bytes)
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
        save(dir.path(), &cache()).unwrap();
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
        save(dir.path(), &old).unwrap();
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
        save(dir.path(), &c).unwrap();
        assert_eq!(load(dir.path(), "contoso.onmicrosoft.com", "http://127.0.0.1:41000/"), Ok(c.clone()));
        assert!(matches!(
            load(dir.path(), "contoso.onmicrosoft.com", "http://127.0.0.1:41001"),
            Err(Unusable::OtherEndpoint(_))
        ));
        // A link that leads elsewhere than the recorded endpoint is not followed either.
        c.delta_link = "http://127.0.0.1:9/v1.0/groups/delta".into();
        save(dir.path(), &c).unwrap();
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

    #[test]
    fn covers_present_and_absent_groups() {
        let c = cache();
        assert!(c.covers(&["gone@contoso.com".to_string()]));
        assert!(!c.covers(&["other@contoso.com".to_string()]));
    }
}
