//! Saved plans (`plan --out FILE`): the planned actions together with what they were
//! planned against — the configuration's hash, the state's lineage and serial, and a
//! fingerprint of every tenant object the plan read — so that `apply FILE` applies exactly
//! what was reviewed, or refuses a stale plan and says what moved. Holds no secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Plan;
use crate::model::{Sources, TenantSnapshot};
use crate::state::{State, hex, write_atomic};

pub const FORMAT: &str = "pamform-plan";
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read plan file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write plan file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is not a pamform plan file, or it is truncated or damaged ({detail}); create it again with `pamform plan --out`"
    )]
    Malformed { path: PathBuf, detail: String },
    #[error(
        "plan file {path} fails its checksum: it was modified after `pamform plan` wrote it; create it again with `pamform plan --out`"
    )]
    Tampered { path: PathBuf },
    #[error(
        "plan file {path} has version {found}; this pamform reads version {VERSION}: plan again with this version"
    )]
    Version { path: PathBuf, found: u32 },
}

/// The state a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRef {
    pub lineage: String,
    pub serial: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    pub pamform_version: String,
    pub created: String,
    pub tenant: String,
    /// SHA-256 over the configuration files and variable values.
    pub configuration_hash: String,
    /// None when there was no state yet.
    pub state: Option<StateRef>,
    /// Object key -> SHA-256 of the object as read.
    pub fingerprints: BTreeMap<String, String>,
    pub plan: Plan,
}

/// What moved since a plan was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    ConfigurationChanged,
    StateChanged { planned: Option<StateRef>, now: Option<StateRef> },
    ObjectChanged(String),
    ObjectAppeared(String),
    ObjectGone(String),
}

impl std::fmt::Display for Staleness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |s: &Option<StateRef>| match s {
            Some(s) => format!("serial {} of lineage {}", s.serial, s.lineage),
            None => "no state".to_string(),
        };
        match self {
            Staleness::ConfigurationChanged => {
                f.write_str("the configuration changed since the plan was made")
            }
            Staleness::StateChanged { planned, now } => {
                write!(f, "the state changed: planned against {}, now {}", show(planned), show(now))
            }
            Staleness::ObjectChanged(k) => write!(f, "{} changed in the tenant", describe(k)),
            Staleness::ObjectAppeared(k) => write!(f, "{} appeared in the tenant", describe(k)),
            Staleness::ObjectGone(k) => write!(f, "{} disappeared from the tenant", describe(k)),
        }
    }
}

fn describe(key: &str) -> String {
    match key.split_once(':') {
        Some(("group", email)) => format!("group {email}"),
        Some(("policy", id)) => format!("access policy {id}"),
        Some(("principal", name)) => format!("directory object {name}"),
        _ if key == "pam" => "the PAM setting".to_string(),
        _ if key == "policies" => "the list of access policies".to_string(),
        _ => key.to_string(),
    }
}

impl SavedPlan {
    pub fn new(
        plan: Plan,
        tenant: &str,
        configuration_hash: String,
        state: Option<&State>,
        snapshot: &TenantSnapshot,
    ) -> Self {
        SavedPlan {
            format: FORMAT.to_string(),
            version: VERSION,
            pamform_version: env!("CARGO_PKG_VERSION").to_string(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            tenant: tenant.to_string(),
            configuration_hash,
            state: state.map(|s| StateRef { lineage: s.lineage.clone(), serial: s.serial }),
            fingerprints: fingerprints(snapshot),
            plan,
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let mut body = serde_json::to_value(self).expect("plan serialises");
        let sum = checksum(&body);
        body.as_object_mut().expect("object").insert("checksum".into(), Value::String(sum));
        let bytes = serde_json::to_vec(&body).expect("plan serialises");
        write_atomic(path, &bytes).map_err(|source| SavedPlanError::Write { path: path.into(), source })
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let bytes =
            std::fs::read(path).map_err(|source| SavedPlanError::Read { path: path.into(), source })?;
        let malformed = |detail: String| SavedPlanError::Malformed { path: path.into(), detail };
        let mut body: Value = serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
        if body.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(malformed("no pamform-plan header".into()));
        }
        let version = body.get("version").and_then(Value::as_u64).unwrap_or(0) as u32;
        if version != VERSION {
            return Err(SavedPlanError::Version { path: path.into(), found: version });
        }
        let claimed = body.as_object_mut().and_then(|o| o.remove("checksum"));
        if claimed.as_ref().and_then(Value::as_str) != Some(checksum(&body).as_str()) {
            return Err(SavedPlanError::Tampered { path: path.into() });
        }
        serde_json::from_value(body).map_err(|e| malformed(e.to_string()))
    }

    /// Everything that moved since the plan was made; empty when it can be applied.
    pub fn staleness(
        &self,
        configuration_hash: &str,
        state: Option<&State>,
        snapshot: &TenantSnapshot,
    ) -> Vec<Staleness> {
        let mut out = Vec::new();
        if configuration_hash != self.configuration_hash {
            out.push(Staleness::ConfigurationChanged);
        }
        let now = state.map(|s| StateRef { lineage: s.lineage.clone(), serial: s.serial });
        if now != self.state {
            out.push(Staleness::StateChanged { planned: self.state.clone(), now });
        }
        let current = fingerprints(snapshot);
        for (k, v) in &self.fingerprints {
            match current.get(k) {
                None => out.push(Staleness::ObjectGone(k.clone())),
                Some(c) if c != v => out.push(Staleness::ObjectChanged(k.clone())),
                _ => {}
            }
        }
        for k in current.keys() {
            if !self.fingerprints.contains_key(k) {
                out.push(Staleness::ObjectAppeared(k.clone()));
            }
        }
        out
    }
}

fn checksum(body: &Value) -> String {
    format!("sha256:{}", hex(&Sha256::digest(serde_json::to_vec(body).expect("serialises"))))
}

fn digest_of<T: Serialize>(v: &T) -> String {
    hex(&Sha256::digest(serde_json::to_vec(v).expect("serialises")))
}

/// A fingerprint of every object in a snapshot, keyed so that changes can be named.
pub fn fingerprints(snapshot: &TenantSnapshot) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert("pam".to_string(), digest_of(&snapshot.pam));
    let ids: Vec<&str> = snapshot.policies.iter().map(|p| p.id.as_str()).collect();
    out.insert("policies".to_string(), digest_of(&ids));
    for p in &snapshot.policies {
        out.insert(format!("policy:{}", p.id), digest_of(p));
    }
    for (email, g) in &snapshot.groups {
        let mut members: Vec<&str> = g.members.iter().map(|m| m.id.as_str()).collect();
        members.sort_unstable();
        out.insert(
            format!("group:{email}"),
            digest_of(&(&g.id, &g.name, &g.display_name, &g.alias, &g.description, members)),
        );
    }
    for (name, obj) in &snapshot.principals {
        out.insert(format!("principal:{name}"), digest_of(obj));
    }
    out
}

/// SHA-256 over configuration files (path and text, in order) and variable inputs.
pub fn configuration_hash(sources: &Sources, variables: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (_, f) in sources.files() {
        h.update(f.path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(f.text.as_bytes());
        h.update([0]);
    }
    for (k, v) in variables {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    format!("sha256:{}", hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Approval, PolicyTarget, RemotePolicy};
    use crate::plan::PlanMode;

    fn snapshot() -> TenantSnapshot {
        let mut s = TenantSnapshot::default();
        s.policies.push(RemotePolicy {
            id: "p1".into(),
            target: PolicyTarget::Task("Set-Mailbox".into()),
            approval: Approval::Manual,
            approver_group: "g@x.io".into(),
        });
        s
    }

    fn saved() -> SavedPlan {
        let plan = Plan { mode: PlanMode::Normal, targets: vec![], changes: vec![], drift: vec![] };
        SavedPlan::new(plan, "t", "sha256:abc".into(), None, &snapshot())
    }

    #[test]
    fn round_trips_and_detects_tampering_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.bin");
        let p = saved();
        p.write(&path).unwrap();
        assert_eq!(SavedPlan::read(&path).unwrap(), p);

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"tenant\":\"t\""));
        std::fs::write(&path, text.replace("\"tenant\":\"t\"", "\"tenant\":\"u\"")).unwrap();
        assert!(matches!(SavedPlan::read(&path), Err(SavedPlanError::Tampered { .. })));

        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(matches!(SavedPlan::read(&path), Err(SavedPlanError::Malformed { .. })));
    }

    #[test]
    fn names_what_moved() {
        let p = saved();
        assert!(p.staleness("sha256:abc", None, &snapshot()).is_empty());
        let mut changed = snapshot();
        changed.policies[0].approver_group = "h@x.io".into();
        assert_eq!(
            p.staleness("sha256:def", None, &changed),
            vec![Staleness::ConfigurationChanged, Staleness::ObjectChanged("policy:p1".into())]
        );
        let state = State::new("t");
        assert!(matches!(
            p.staleness("sha256:abc", Some(&state), &snapshot())[0],
            Staleness::StateChanged { .. }
        ));
    }
}
