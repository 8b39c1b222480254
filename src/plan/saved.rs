//! Saved plans (`plan --out FILE`): the planned actions together with what they were
//! planned against — the configuration's hash, the state's lineage and serial, and a
//! fingerprint of every tenant object the plan read — so that `apply FILE` applies exactly
//! what was reviewed, or refuses a stale plan and says what moved. A saved plan is not
//! trusted on its own: apply recomputes the plan from the same inputs and compares it with
//! [`plan_differences`], so a hand-edited file is refused without any key.
//!
//! Holds no secrets. A plan file is passed around (CI artifacts, review tools), so a plan
//! that involves a value of a `sensitive = true` variable is not saved at all
//! ([`sensitive_parts`]): the file would hold the value in clear, or a digest of it — in the
//! configuration hash, the tenant fingerprints or in place of the value — and a digest of a
//! guessable value (a name, a short code) gives the value away to anyone who tries the
//! guesses, with or without a key kept in the same file. Such a plan is reviewed with
//! `pamform plan` and applied with `pamform apply`, which plans again and asks first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::attributes::Attrs;
use super::{Plan, ResourceChange};
use crate::files::{sha256_hex, write_atomic};
use crate::model::{Sources, TenantSnapshot};
use crate::state::State;

pub const FORMAT: &str = "pamform-plan";
/// 2: the configuration hash names files relative to the configuration directory and hashes
/// variables as evaluated. 3: no sensitive value (version 2 files could hold them, in clear:
/// they are refused, to be planned again).
pub const VERSION: u32 = 3;

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
    #[error(
        "cannot save the plan to {path}: it involves sensitive values, and a plan file holds no secret, not even a digest of one; these come from variables declared `sensitive = true`:{}\nreview the plan with `pamform plan` and apply it with `pamform apply`, which plans again and asks before it changes anything",
        parts.iter().map(|p| format!("\n  - {p}")).collect::<String>()
    )]
    Sensitive { path: PathBuf, parts: Vec<String> },
}

/// What in a configuration makes a plan of it unsavable: each sensitive attribute
/// (`approver_group.a.name`), then each sensitive variable (`variable \`x\``), whose value is
/// part of the configuration hash even when no attribute uses it. Empty when the plan can be
/// saved.
pub fn sensitive_parts(
    sensitivity: &crate::model::Sensitivity,
    outline: &crate::config::Outline,
) -> Vec<String> {
    let attributes =
        sensitivity.0.iter().flat_map(|(address, names)| names.iter().map(move |n| format!("{address}.{n}")));
    let variables =
        outline.variables.iter().filter(|v| v.sensitive).map(|v| format!("variable `{}`", v.name));
    attributes.chain(variables).collect()
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
    /// Attributes `show` renders as `(sensitive value)`.
    #[serde(default, skip_serializing_if = "crate::model::Sensitivity::is_empty")]
    pub sensitive: crate::model::Sensitivity,
    /// The configuration as written, for `show --json` (holds no sensitive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline: Option<crate::config::Outline>,
    /// The addresses state recorded, for `show --json`'s `prior_state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_state: Option<std::collections::BTreeSet<crate::model::Address>>,
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
            sensitive: Default::default(),
            outline: None,
            in_state: None,
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
    format!("sha256:{}", sha256_hex(&serde_json::to_vec(body).expect("serialises")))
}

fn digest_of<T: Serialize>(v: &T) -> String {
    sha256_hex(&serde_json::to_vec(v).expect("serialises"))
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

/// SHA-256 over the configuration: each file's name relative to the configuration directory
/// (so `-C dir`, `-C ./dir/` and an absolute path agree) with its text, in name order, and
/// each declared variable's value as evaluation used it.
pub fn configuration_hash(sources: &Sources, variables: &[(String, String)]) -> String {
    let mut files: Vec<(String, &str)> = sources
        .files()
        .map(|(_, f)| {
            let name = f.path.file_name().unwrap_or(f.path.as_os_str());
            (name.to_string_lossy().into_owned(), &*f.text)
        })
        .collect();
    files.sort();
    let mut variables: Vec<&(String, String)> = variables.iter().collect();
    variables.sort();
    // Each part length-prefixed, so that no two different inputs give the same bytes.
    let mut bytes = Vec::new();
    for (name, text) in files {
        push_part(&mut bytes, name.as_bytes());
        push_part(&mut bytes, text.as_bytes());
    }
    bytes.push(0xff);
    for (k, v) in variables {
        push_part(&mut bytes, k.as_bytes());
        push_part(&mut bytes, v.as_bytes());
    }
    format!("sha256:{}", sha256_hex(&bytes))
}

fn push_part(bytes: &mut Vec<u8>, part: &[u8]) {
    bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
    bytes.extend_from_slice(part);
}

/// The message that refuses a stale plan: what is wrong, the first few reasons, and what to
/// do next.
pub fn refusal(headline: &str, reasons: &[String]) -> String {
    let mut msg = format!("stale plan: {headline}\n");
    for r in reasons.iter().take(MAX_NAMED_DIFFERENCES) {
        msg.push_str(&format!("  - {r}\n"));
    }
    if reasons.len() > MAX_NAMED_DIFFERENCES {
        msg.push_str(&format!("  - and {} more\n", reasons.len() - MAX_NAMED_DIFFERENCES));
    }
    msg.push_str("run `pamform plan --out` again and review the new plan");
    msg
}

/// How many differences a refusal names before it counts the rest.
pub const MAX_NAMED_DIFFERENCES: usize = 5;

/// Where a saved plan and the plan recomputed from the same inputs disagree, in words; empty
/// when they are identical. Every part of a change counts: action, values on both sides,
/// remote id, import, previous address, reasons and dependencies; drift too.
pub fn plan_differences(saved: &Plan, fresh: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if saved.mode != fresh.mode {
        out.push(format!("the mode: saved {:?}, now {:?}", saved.mode, fresh.mode));
    }
    if saved.targets != fresh.targets {
        out.push("the --target addresses".to_string());
    }
    let by_address = |p: &'_ Plan| -> BTreeMap<String, usize> {
        p.changes.iter().enumerate().map(|(i, c)| (c.address.to_string(), i)).collect()
    };
    let (s_index, f_index) = (by_address(saved), by_address(fresh));
    let addresses: BTreeSet<&String> = s_index.keys().chain(f_index.keys()).collect();
    for a in addresses {
        match (s_index.get(a), f_index.get(a)) {
            (Some(&i), None) if saved.changes[i].is_actionable() => out.push(format!(
                "{a}: the saved plan will {} it, the configuration does not have it",
                action_word(saved.changes[i].action)
            )),
            (None, Some(&i)) if fresh.changes[i].is_actionable() => out.push(format!(
                "{a}: the configuration plans to {} it, the saved plan does not",
                action_word(fresh.changes[i].action)
            )),
            (Some(&i), Some(&j)) => change_differences(a, &saved.changes[i], &fresh.changes[j], &mut out),
            _ => {}
        }
    }
    let s_drift: BTreeMap<String, &super::ResourceDrift> =
        saved.drift.iter().map(|d| (d.address.to_string(), d)).collect();
    let f_drift: BTreeMap<String, &super::ResourceDrift> =
        fresh.drift.iter().map(|d| (d.address.to_string(), d)).collect();
    let addresses: BTreeSet<&String> = s_drift.keys().chain(f_drift.keys()).collect();
    for a in addresses {
        if s_drift.get(a) != f_drift.get(a) {
            out.push(format!("{a}: the changes found outside pamform differ"));
        }
    }
    out
}

fn action_word(action: super::Action) -> &'static str {
    match action {
        super::Action::NoOp => "keep",
        super::Action::Create => "create",
        super::Action::Update => "update",
        super::Action::Replace => "replace",
        super::Action::Delete => "destroy",
    }
}

fn change_differences(a: &str, saved: &ResourceChange, fresh: &ResourceChange, out: &mut Vec<String>) {
    if saved.action != fresh.action {
        out.push(format!(
            "{a}: the saved plan will {} it, the configuration gives {}",
            action_word(saved.action),
            action_word(fresh.action)
        ));
    }
    for (side, s, f) in [("before", &saved.before, &fresh.before), ("after", &saved.after, &fresh.after)] {
        let (s, f) = (s.as_ref().map(Attrs::to_value), f.as_ref().map(Attrs::to_value));
        if s == f {
            continue;
        }
        let when = if side == "before" { "in the tenant" } else { "after apply" };
        let names: BTreeSet<&String> =
            [&s, &f].into_iter().flatten().filter_map(Value::as_object).flat_map(|o| o.keys()).collect();
        let mut named = false;
        for k in names {
            let (sv, fv) = (s.as_ref().and_then(|v| v.get(k)), f.as_ref().and_then(|v| v.get(k)));
            if sv == fv {
                continue;
            }
            named = true;
            out.push(format!("{a}: `{k}` {when} differs{}", value_difference(sv, fv)));
        }
        if !named {
            out.push(format!("{a}: the values {when} differ"));
        }
    }
    let scalar = |what: &str, s: String, f: String, out: &mut Vec<String>| {
        if s != f {
            out.push(format!("{a}: the {what} differs (saved {s}, now {f})"));
        }
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    scalar("remote id", opt(&saved.remote_id), opt(&fresh.remote_id), out);
    scalar("imported id", opt(&saved.importing), opt(&fresh.importing), out);
    let prev = |v: &Option<crate::model::Address>| v.as_ref().map_or("none".into(), ToString::to_string);
    scalar("previous address", prev(&saved.previous_address), prev(&fresh.previous_address), out);
    if saved.reasons != fresh.reasons {
        out.push(format!("{a}: the reasons for the change differ"));
    }
    if saved.changed != fresh.changed || saved.replace_paths != fresh.replace_paths {
        out.push(format!("{a}: the attributes that change differ"));
    }
    if saved.dependencies != fresh.dependencies {
        out.push(format!("{a}: the dependencies differ"));
    }
}

/// What the saved side has that the recomputed one lacks, and the reverse.
fn value_difference(saved: Option<&Value>, fresh: Option<&Value>) -> String {
    let items = |v: Option<&Value>| -> Option<BTreeSet<String>> {
        v.and_then(Value::as_array).map(|a| a.iter().map(show).collect())
    };
    match (items(saved), items(fresh)) {
        (Some(s), Some(f)) => {
            let mut parts = Vec::new();
            let extra: Vec<String> = s.difference(&f).cloned().collect();
            let missing: Vec<String> = f.difference(&s).cloned().collect();
            if !extra.is_empty() {
                parts.push(format!("the saved plan adds {}", extra.join(", ")));
            }
            if !missing.is_empty() {
                parts.push(format!("the configuration gives {}", missing.join(", ")));
            }
            format!(": {}", parts.join("; "))
        }
        _ => format!(
            " (saved {}, now {})",
            saved.map(show).unwrap_or_else(|| "null".into()),
            fresh.map(show).unwrap_or_else(|| "null".into())
        ),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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
    fn the_hash_depends_on_file_names_not_on_how_the_directory_was_typed() {
        let sources = |dir: &str| {
            let mut s = Sources::new();
            s.add(format!("{dir}main.pam.hcl"), "a");
            s.add(format!("{dir}b.pam.hcl"), "b");
            s
        };
        let vars = vec![("x".to_string(), "\"1\"".to_string())];
        let h = configuration_hash(&sources(""), &vars);
        for dir in ["dir/", "/abs/dir/", "../other/dir/"] {
            assert_eq!(configuration_hash(&sources(dir), &vars), h, "{dir}");
        }
        let mut renamed = Sources::new();
        renamed.add("main.pam.hcl", "a");
        renamed.add("c.pam.hcl", "b");
        assert_ne!(configuration_hash(&renamed, &vars), h, "a file name is part of the configuration");
        assert_ne!(configuration_hash(&sources(""), &[]), h, "so are variable values");
        // Boundaries are unambiguous: moving text between name and content changes the hash.
        let mut a = Sources::new();
        a.add("ab", "c");
        let mut b = Sources::new();
        b.add("a", "bc");
        assert_ne!(configuration_hash(&a, &[]), configuration_hash(&b, &[]));
    }

    #[test]
    fn plan_differences_name_every_edited_part() {
        use crate::model::Address;
        use crate::plan::attributes::PolicyAttrs;
        use crate::plan::{Action, Reason};
        let attrs = |group: &str| {
            Attrs::Policy(PolicyAttrs {
                task: Some("Exchange\\Set-Mailbox".into()),
                role: None,
                role_group: None,
                approval: Approval::Manual,
                approver_group: group.into(),
            })
        };
        let change = ResourceChange {
            address: Address::policy("p"),
            action: Action::NoOp,
            before: Some(attrs("g@x.io")),
            after: Some(attrs("g@x.io")),
            changed: vec![],
            replace_paths: vec![],
            reasons: vec![],
            remote_id: Some("p1".into()),
            importing: None,
            previous_address: None,
            dependencies: vec![],
        };
        let plan = |c: ResourceChange| Plan {
            mode: PlanMode::Normal,
            targets: vec![],
            changes: vec![c],
            drift: vec![],
        };
        let fresh = plan(change.clone());
        assert!(plan_differences(&fresh, &fresh).is_empty());

        let mut edited = change.clone();
        edited.action = Action::Replace;
        edited.after = Some(attrs("h@x.io"));
        edited.remote_id = Some("p2".into());
        edited.importing = Some("p2".into());
        edited.previous_address = Some(Address::policy("q"));
        edited.reasons = vec![Reason::Moved];
        let d = plan_differences(&plan(edited), &fresh);
        let all = d.join("\n");
        for part in [
            "access_policy.p: the saved plan will replace it, the configuration gives keep",
            "`approver_group` after apply differs (saved h@x.io, now g@x.io)",
            "the remote id differs (saved p2, now p1)",
            "the imported id differs (saved p2, now none)",
            "the previous address differs (saved access_policy.q, now none)",
            "the reasons for the change differ",
        ] {
            assert!(all.contains(part), "missing `{part}` in\n{all}");
        }

        let mut extra = change.clone();
        extra.address = Address::policy("extra");
        extra.action = Action::Delete;
        let mut saved = fresh.clone();
        saved.changes.push(extra);
        assert_eq!(
            plan_differences(&saved, &fresh),
            vec!["access_policy.extra: the saved plan will destroy it, the configuration does not have it"]
        );
        let many: Vec<String> = (0..8).map(|i| i.to_string()).collect();
        let msg = refusal("x", &many);
        assert!(msg.starts_with("stale plan: x\n  - 0\n"));
        assert!(msg.contains("  - and 3 more\n"), "{msg}");
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
