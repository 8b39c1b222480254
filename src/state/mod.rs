//! The state file: what pamform applied, with remote ids, so that the next plan knows which
//! tenant objects it manages. Deterministic JSON, checksummed, written atomically with the
//! previous version kept as `.backup`, mode 0600. The [`lock`] submodule keeps two writers
//! apart. [`storage`] is the one interface commands use, implemented by the local file here
//! and by an Azure Blob in [`blob`] (the `backend "azurerm"` block).

pub mod blob;
pub mod lock;
pub mod storage;

pub use storage::{StateLock, Storage, Version};

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::files::{Sha256Writer, sha256_hex, write_atomic};
use crate::model::{Address, ResourceType};

pub const STATE_FILE: &str = "pamform.state.json";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write state file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "state file {path} is not valid JSON ({source}); it was left untouched: restore it from {path}.backup or fix it by hand"
    )]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error(
        "state file {path} fails its checksum: it was changed by hand or damaged; it was left untouched: restore it from {path}.backup"
    )]
    Checksum { path: PathBuf },
    #[error(
        "state file {path} has format version {found}, this pamform reads version {FORMAT_VERSION}: upgrade pamform"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("state file {path} lists {address} twice; it was left untouched: restore it from {path}.backup")]
    Duplicate { path: PathBuf, address: Address },
    #[error(
        "state file {path} records remote id {id} under both {first} and {second}; it was left untouched: restore it from {path}.backup, or run `pamform state rm` on the address that should not own it"
    )]
    SharedId { path: PathBuf, id: String, first: Box<Address>, second: Box<Address> },
    #[error(
        "state file {path} belongs to tenant {found}, but the configuration's tenant block names {configured}; point -C at the directory of {configured}'s configuration, or move {path} away to start over with an empty state"
    )]
    OtherTenant { path: PathBuf, found: String, configured: String },
    #[error("no resource {0} in state; run `pamform state list` to see what is there")]
    NotFound(Address),
    #[error("no version {id} of the state {name}; run `pamform state versions` to see what is kept")]
    NoVersion { name: String, id: String },
    /// The remote state could not be read or written; nothing was changed by the failed call.
    #[error("state {name}: {message}")]
    Remote { name: String, message: String },
    /// The remote state reads, but not as a state (not JSON, a failed checksum); it was left
    /// untouched, and `state restore` may replace it.
    #[error("state {name}: {message}")]
    Damaged { name: String, message: String },
    /// A conditional write was refused: the stored state is not the one this command read.
    #[error(
        "state {name} changed since this command read it ({found}); nothing was written, so no one's state was lost: run the command again to plan against the current state"
    )]
    Conflict { name: String, found: String },
}

/// The state of one configuration directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Bumped on every write.
    pub serial: u64,
    /// Fixed when the state is first created; a saved plan must match it.
    pub lineage: String,
    /// The tenant id the resources live in.
    pub tenant: String,
    /// Ordered by address.
    pub resources: Vec<ResourceState>,
}

/// One managed resource as last applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    pub address: Address,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_key: Option<String>,
    /// The remote id: group ExternalDirectoryObjectId, policy Identity, or the tenant for
    /// `privileged_access`.
    pub id: String,
    /// Attributes as last applied (see [`crate::plan::attributes`]).
    pub attributes: Value,
    #[serde(default)]
    pub dependencies: Vec<Address>,
}

impl ResourceState {
    pub fn new(address: Address, id: String, attributes: Value, dependencies: Vec<Address>) -> Self {
        ResourceState {
            kind: address.kind.as_str().to_string(),
            name: address.name.clone(),
            index_key: address.key.clone(),
            address,
            id,
            attributes,
            dependencies,
        }
    }

    pub fn resource_type(&self) -> ResourceType {
        self.address.kind
    }
}

impl State {
    pub fn new(tenant: impl Into<String>) -> Self {
        State {
            format_version: FORMAT_VERSION,
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            tenant: tenant.into(),
            resources: Vec::new(),
        }
    }

    pub fn get(&self, address: &Address) -> Option<&ResourceState> {
        self.resources.iter().find(|r| &r.address == address)
    }

    /// Inserts or replaces a resource, keeping address order.
    pub fn upsert(&mut self, resource: ResourceState) {
        match self.resources.binary_search_by(|r| r.address.cmp(&resource.address)) {
            Ok(i) => self.resources[i] = resource,
            Err(i) => self.resources.insert(i, resource),
        }
    }

    pub fn remove(&mut self, address: &Address) -> Option<ResourceState> {
        let i = self.resources.iter().position(|r| &r.address == address)?;
        Some(self.resources.remove(i))
    }

    /// Renames a resource (a `moved` block); returns false when `from` is absent.
    pub fn rename(&mut self, from: &Address, to: &Address) -> bool {
        let Some(mut r) = self.remove(from) else { return false };
        r.address = to.clone();
        r.kind = to.kind.as_str().to_string();
        r.name = to.name.clone();
        r.index_key = to.key.clone();
        self.upsert(r);
        true
    }

    /// The file's bytes: pretty JSON with a checksum over everything else.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = serde_json::to_value(self).expect("state serialises");
        let checksum = checksum_of(&body);
        body.as_object_mut().expect("state is an object").insert("checksum".into(), Value::String(checksum));
        let mut out = serde_json::to_vec_pretty(&body).expect("state serialises");
        out.push(b'\n');
        out
    }

    /// Parses and verifies a state file's bytes: a first pass digests the compact form of
    /// everything but the checksum as it streams by (no tree of the file is built), the
    /// second reads the state. A file that pass cannot judge as the tree would (not JSON, no
    /// object, a member written twice, the checksum not among the last two members) or that
    /// fails it is judged by `State::from_tree`, so every file is accepted or refused, with
    /// the same error, as the tree judges it.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<State, StateError> {
        let Ok(head) = Head::read(bytes) else { return State::from_tree(path, bytes) };
        let found_version = head.format_version.as_ref().and_then(Value::as_u64).unwrap_or(0) as u32;
        let verified = head.plain
            && found_version == FORMAT_VERSION
            && matches!((&head.claimed, &head.checksum), (Some(Value::String(c)), Some(sum)) if c == sum);
        if !verified {
            return State::from_tree(path, bytes);
        }
        // A state that does not read (a field twice, a wrong type) is refused as the tree
        // refuses it.
        let Ok(state) = serde_json::from_slice::<State>(bytes) else { return State::from_tree(path, bytes) };
        state.validate(path)?;
        Ok(state)
    }

    /// Parses and verifies a state file's bytes through a tree of the file: `checksum` is
    /// taken out of the object (its map's remove moves the last member into its place) and
    /// the rest, a member written twice kept once, is digested.
    fn from_tree(path: &Path, bytes: &[u8]) -> Result<State, StateError> {
        let mut body: Value = serde_json::from_slice(bytes)
            .map_err(|source| StateError::Corrupt { path: path.into(), source })?;
        let claimed = body.as_object_mut().and_then(|o| o.remove("checksum"));
        let found_version = body.get("format_version").and_then(Value::as_u64).unwrap_or(0) as u32;
        if found_version != FORMAT_VERSION {
            return Err(StateError::Version { path: path.into(), found: found_version });
        }
        match claimed {
            Some(Value::String(c)) if c == checksum_of(&body) => {}
            _ => return Err(StateError::Checksum { path: path.into() }),
        }
        let state: State = serde_json::from_value(body)
            .map_err(|source| StateError::Corrupt { path: path.into(), source })?;
        state.validate(path)?;
        Ok(state)
    }

    /// Checks the state as a whole: every address once, and every remote id owned by one
    /// address only (the tenant-wide `privileged_access` id aside).
    pub fn validate(&self, path: &Path) -> Result<(), StateError> {
        let mut addresses = std::collections::HashSet::new();
        let mut owners: std::collections::HashMap<String, &Address> = std::collections::HashMap::new();
        for r in &self.resources {
            if !addresses.insert(&r.address) {
                return Err(StateError::Duplicate { path: path.into(), address: r.address.clone() });
            }
            if r.address.kind == ResourceType::PrivilegedAccess || r.id.is_empty() {
                continue;
            }
            let key = format!("{}:{}", r.address.kind.as_str(), r.id.to_ascii_lowercase());
            if let Some(first) = owners.insert(key, &r.address) {
                return Err(StateError::SharedId {
                    path: path.into(),
                    id: r.id.clone(),
                    first: Box::new(first.clone()),
                    second: Box::new(r.address.clone()),
                });
            }
        }
        Ok(())
    }

    /// Refuses a state recorded for another tenant than `configured` (a tenant id or domain,
    /// compared without case).
    pub fn check_tenant(&self, path: &Path, configured: &str) -> Result<(), StateError> {
        if self.tenant.trim().eq_ignore_ascii_case(configured.trim()) {
            return Ok(());
        }
        Err(StateError::OtherTenant {
            path: path.into(),
            found: self.tenant.clone(),
            configured: configured.to_string(),
        })
    }
}

impl StateError {
    /// Whether the stored state itself is damaged (unreadable, a failed checksum, an address
    /// or id twice), rather than out of reach: what `state restore` and `state push --force`
    /// may replace.
    pub fn is_damaged(&self) -> bool {
        matches!(
            self,
            StateError::Damaged { .. }
                | StateError::Corrupt { .. }
                | StateError::Checksum { .. }
                | StateError::Duplicate { .. }
                | StateError::SharedId { .. }
        )
    }
}

fn checksum_of(body: &Value) -> String {
    let bytes = serde_json::to_vec(body).expect("value serialises");
    format!("sha256:{}", sha256_hex(&bytes))
}

/// Bytes handed to the digest at once while a state file is checked.
const DIGEST_BUFFER: usize = 64 * 1024;

/// What a state file says about itself: its format version, the checksum it claims and the
/// checksum of the rest, which is [`checksum_of`] the file's object without `checksum`
/// (written last by [`State::to_bytes`]), its members in the file's order.
struct Head {
    format_version: Option<Value>,
    claimed: Option<Value>,
    /// `None` when the file is JSON but not an object.
    checksum: Option<String>,
    /// Whether `checksum` is the digest the tree gives: an object, each top-level member
    /// once, `checksum` among the last two (taking it out of the tree then moves no member).
    plain: bool,
}

impl Head {
    fn read(bytes: &[u8]) -> Result<Head, serde_json::Error> {
        if !bytes.trim_ascii_start().starts_with(b"{") {
            // Not an object: no version, no checksum (or not JSON at all).
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes)?;
            return Ok(Head { format_version: None, claimed: None, checksum: None, plain: false });
        }
        let mut digest = Sha256Writer::default();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let (format_version, claimed, plain) = {
            // The serializer writes a few bytes at a time; the digest takes them in blocks.
            let mut buffered = std::io::BufWriter::with_capacity(DIGEST_BUFFER, &mut digest);
            let mut ser = serde_json::Serializer::new(&mut buffered);
            let head = serde::Deserializer::deserialize_map(&mut de, Digesting { out: &mut ser })?;
            std::io::Write::flush(&mut buffered).map_err(serde_json::Error::io)?;
            head
        };
        de.end()?;
        Ok(Head { format_version, claimed, checksum: Some(format!("sha256:{}", digest.hex())), plain })
    }
}

/// Reads the top-level object, writing each member but `checksum` to `out` in compact form
/// as it streams by (serde-transcode), and keeps the version and the claimed checksum.
struct Digesting<'a, W: std::io::Write> {
    out: &'a mut serde_json::Serializer<W>,
}

impl<'de, W: std::io::Write> serde::de::Visitor<'de> for Digesting<'_, W> {
    /// The version, the claimed checksum, and whether the object is plain (see [`Head`]).
    type Value = (Option<Value>, Option<Value>, bool);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a state object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::ser::{SerializeMap, Serializer};
        let failed = <A::Error as serde::de::Error>::custom;
        let mut out = self.out.serialize_map(None).map_err(failed)?;
        let (mut version, mut claimed) = (None, None);
        // Top-level names (a handful), and where `checksum` was met among them.
        let mut names: Vec<String> = Vec::new();
        let mut checksum_at = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "checksum" => {
                    checksum_at.push(names.len());
                    claimed = Some(map.next_value::<Value>()?);
                }
                "format_version" => {
                    let v: Value = map.next_value()?;
                    out.serialize_entry(&key, &v).map_err(failed)?;
                    version = Some(v);
                }
                _ => {
                    out.serialize_key(&key).map_err(failed)?;
                    map.next_value_seed(Member { out: &mut out })?;
                }
            }
            names.push(key);
        }
        SerializeMap::end(out).map_err(failed)?;
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort();
        let once = sorted.windows(2).all(|w| w[0] != w[1]);
        let plain = once && matches!(checksum_at[..], [at] if at + 2 >= names.len());
        Ok((version, claimed, plain))
    }
}

/// One member's value, written to the digest as it is read.
struct Member<'a, M> {
    out: &'a mut M,
}

impl<'de, M: serde::ser::SerializeMap> serde::de::DeserializeSeed<'de> for Member<'_, M> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.out
            .serialize_value(&serde_transcode::Transcoder::new(d))
            .map_err(<D::Error as serde::de::Error>::custom)
    }
}

/// The state file of a directory, with atomic, backed-up writes.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
}

impl StateStore {
    pub fn new(dir: &Path) -> Self {
        StateStore { path: dir.join(STATE_FILE) }
    }

    pub fn at(path: PathBuf) -> Self {
        StateStore { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory of the state file, where its lock lives.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    /// Reads the state of `tenant`: `None` when there is no state file yet; an error when
    /// the file belongs to another tenant.
    pub fn load_for(&self, tenant: &str) -> Result<Option<State>, StateError> {
        let state = self.load()?;
        if let Some(s) = &state {
            s.check_tenant(&self.path, tenant)?;
        }
        Ok(state)
    }

    /// Reads the state; `None` when there is no state file yet.
    pub fn load(&self) -> Result<Option<State>, StateError> {
        match fs::read(&self.path) {
            Ok(bytes) => State::from_bytes(&self.path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Read { path: self.path.clone(), source }),
        }
    }

    /// Bumps the serial and writes the state atomically: the previous file becomes
    /// `.backup`, the new one is written to a temporary file, flushed to disk and renamed
    /// over the old one, so a crash at any instant leaves a readable file.
    pub fn save(&self, state: &mut State) -> Result<(), StateError> {
        state.serial += 1;
        let bytes = state.to_bytes();
        let err = |source| StateError::Write { path: self.path.clone(), source };
        if self.path.exists() {
            write_atomic(&self.backup_path(), &fs::read(&self.path).map_err(err)?).map_err(err)?;
        }
        write_atomic(&self.path, &bytes).map_err(err)
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> State {
        let mut s = State::new("contoso.onmicrosoft.com");
        s.upsert(ResourceState::new(
            Address::policy("b"),
            "guid-b".into(),
            json!({"task": "Exchange\\Set-Mailbox"}),
            vec![Address::group("g")],
        ));
        s.upsert(ResourceState::new(
            Address::group("g"),
            "guid-g".into(),
            json!({"email": "g@x.io"}),
            vec![],
        ));
        s
    }

    #[test]
    fn resources_stay_ordered_and_round_trip() {
        let s = sample();
        assert_eq!(s.resources[0].address, Address::group("g"));
        let bytes = s.to_bytes();
        let back = State::from_bytes(Path::new("s.json"), &bytes).unwrap();
        assert_eq!(back, s);
        // Deterministic: the same state gives the same bytes.
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn the_streamed_checksum_is_the_checksum_of_the_object_without_it() {
        let mut state = sample();
        state.tenant = "contoso \"été\" \\ \u{1F600}\t".into();
        let bytes = state.to_bytes();
        let mut body: Value = serde_json::from_slice(&bytes).unwrap();
        let claimed = body.as_object_mut().unwrap().remove("checksum").unwrap();
        let head = Head::read(&bytes).unwrap();
        assert_eq!(head.checksum.as_deref(), Some(checksum_of(&body).as_str()));
        assert_eq!(head.claimed, Some(claimed));
        assert!(head.plain, "a file pamform writes is judged without a tree");
        assert_eq!(State::from_bytes(Path::new("s.json"), &bytes).unwrap(), state);
        // JSON that is no object has no version; what is no JSON is corrupt.
        let err = State::from_bytes(Path::new("s.json"), b" [1, 2]").unwrap_err();
        assert!(matches!(err, StateError::Version { found: 0, .. }), "{err}");
        let err = State::from_bytes(Path::new("s.json"), b"{\"format_version\": 1,").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        // A checksum that is not a string, or none, fails.
        let text = String::from_utf8(bytes).unwrap();
        let at = text.find("\"sha256:").unwrap();
        let no_string = format!("{}1}}\n", &text[..at]);
        let err = State::from_bytes(Path::new("s.json"), no_string.as_bytes()).unwrap_err();
        assert!(matches!(err, StateError::Checksum { .. }), "{err}");
    }

    #[test]
    fn hand_edits_fail_the_checksum() {
        let bytes = String::from_utf8(sample().to_bytes()).unwrap().replace("guid-g", "guid-h");
        let err = State::from_bytes(Path::new("s.json"), bytes.as_bytes()).unwrap_err();
        assert!(matches!(err, StateError::Checksum { .. }), "{err}");
    }

    #[test]
    fn truncated_files_are_corrupt() {
        let bytes = sample().to_bytes();
        let err = State::from_bytes(Path::new("s.json"), &bytes[..bytes.len() / 2]).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }));
    }

    #[test]
    fn save_keeps_a_backup_and_bumps_serial() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        assert!(store.load().unwrap().is_none());
        let mut s = sample();
        store.save(&mut s).unwrap();
        assert_eq!(s.serial, 1);
        s.remove(&Address::group("g"));
        store.save(&mut s).unwrap();
        let backup =
            State::from_bytes(&store.backup_path(), &fs::read(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 1);
        assert_eq!(store.load().unwrap().unwrap().serial, 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn duplicates_anywhere_are_refused() {
        let mut s = sample();
        // g, b, then g again: not adjacent.
        let g = s.resources[0].clone();
        s.resources.push(g);
        let err = State::from_bytes(Path::new("s.json"), &s.to_bytes()).unwrap_err();
        assert!(
            matches!(&err, StateError::Duplicate { address, .. } if *address == Address::group("g")),
            "{err}"
        );
    }

    #[test]
    fn one_remote_id_under_two_addresses_is_refused() {
        let mut s = sample();
        s.upsert(ResourceState::new(Address::group("h"), "GUID-G".into(), json!({}), vec![]));
        let err = State::from_bytes(Path::new("s.json"), &s.to_bytes()).unwrap_err();
        assert!(matches!(err, StateError::SharedId { .. }), "{err}");
        assert!(err.to_string().contains("approver_group.g") && err.to_string().contains("approver_group.h"));
    }

    /// Creates interrupted in parallel leave several pending entries (no id yet) and the
    /// tenant-wide privileged_access entry: none of them is an id shared by two addresses.
    #[test]
    fn pending_entries_and_privileged_access_share_no_id() {
        let mut s = sample();
        for name in ["p1", "p2"] {
            s.upsert(ResourceState::new(Address::policy(name), String::new(), json!({}), vec![]));
        }
        s.upsert(ResourceState::new(Address::privileged_access(), "tenant".into(), json!({}), vec![]));
        let loaded = State::from_bytes(Path::new("s.json"), &s.to_bytes()).unwrap();
        assert_eq!(loaded.resources.len(), 5);
    }

    /// Only a missing file means "no state yet": a state file that cannot be read is an error,
    /// never a reason to plan every object anew.
    #[test]
    fn an_unreadable_state_file_is_an_error_not_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        assert!(store.load().unwrap().is_none());
        fs::create_dir(dir.path().join(STATE_FILE)).unwrap();
        let err = store.load().unwrap_err();
        assert!(matches!(err, StateError::Read { .. }), "{err}");
    }

    #[test]
    fn state_of_another_tenant_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        store.save(&mut sample()).unwrap();
        assert!(store.load_for("CONTOSO.onmicrosoft.com").unwrap().is_some());
        let err = store.load_for("fabrikam.onmicrosoft.com").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StateError::OtherTenant { .. }));
        assert!(
            text.contains("contoso.onmicrosoft.com") && text.contains("fabrikam.onmicrosoft.com"),
            "{text}"
        );
        assert!(text.contains("-C") && text.contains("move"), "{text}");
    }

    #[test]
    fn rename_moves_a_resource() {
        let mut s = sample();
        assert!(s.rename(&Address::group("g"), &Address::group("h")));
        assert!(s.get(&Address::group("h")).is_some());
        assert!(!s.rename(&Address::group("g"), &Address::group("h")));
    }
}
