//! Drift: what changed in the tenant outside of pamform since the last apply. The one place
//! that classifies drift: each difference (address, attribute, value in state, value in the
//! tenant) gets its severity and a message here, and the plan renderers, the Markdown report
//! and `pamform drift` all show these. Also lists unmanaged PAM objects. Reading never writes
//! state; a failed read is an error, never drift.

pub mod cache;
pub mod refresh;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::{Address, Approval, ResourceType, TenantSnapshot, normalize};
use crate::plan::ResourceDrift;
use crate::plan::attributes::{Attrs, GroupAttrs, PamAttrs, PolicyAttrs, live_policy, recorded_group_email};
use crate::state::State;

/// The version of the report format (`schemas/drift.schema.json`).
pub const FORMAT_VERSION: &str = "1";
/// Names listed in one message before the rest is counted.
const MAX_NAMES_IN_MESSAGE: usize = 10;

/// How much a difference matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// PAM disabled, or a policy removed.
    Critical,
    /// Approver group membership or system accounts widened, a policy's approver group
    /// changed or its approval weakened.
    High,
    /// Any other change.
    Medium,
    /// Unmanaged objects.
    Info,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Info => "info",
        }
    }
}

/// One attribute that differs between state and the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub address: Address,
    /// The attribute that differs; `"*"` when the whole object is gone from the tenant.
    pub attribute: String,
    /// As last applied (the whole attribute object for `*`).
    pub in_state: Value,
    /// As found in the tenant; null when the object is gone.
    pub in_tenant: Value,
    pub severity: Severity,
    pub message: String,
}

/// A PAM object in the tenant that no state knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    /// The resource type it would be managed as.
    #[serde(rename = "type", with = "type_name")]
    pub kind: ResourceType,
    pub id: String,
    pub description: String,
    /// Always [`Severity::Info`].
    pub severity: Severity,
}

impl Unmanaged {
    pub fn new(kind: ResourceType, id: impl Into<String>, description: impl Into<String>) -> Self {
        Unmanaged { kind, id: id.into(), description: description.into(), severity: Severity::Info }
    }

    /// Whether `name` (an `--ignore-unmanaged` value) names it: its id, or for an approver
    /// group also its address, case-insensitively.
    pub fn named_by(&self, name: &str, snapshot: &TenantSnapshot) -> bool {
        let name = normalize::principal(name);
        normalize::principal(&self.id) == name
            || (self.kind == ResourceType::ApproverGroup
                && snapshot.group(&name).is_some_and(|g| g.id.eq_ignore_ascii_case(&self.id)))
    }
}

/// A resource type as its name (`access_policy`).
mod type_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::model::ResourceType;

    pub(super) fn serialize<S: Serializer>(t: &ResourceType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ResourceType, D::Error> {
        let name = String::deserialize(d)?;
        ResourceType::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown resource type `{name}`")))
    }
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub info: usize,
}

impl Counts {
    pub fn of(severities: impl IntoIterator<Item = Severity>) -> Counts {
        let mut c = Counts::default();
        for s in severities {
            match s {
                Severity::Critical => c.critical += 1,
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Info => c.info += 1,
            }
        }
        c
    }

    /// Counts over differences and unmanaged objects.
    pub fn of_report(differences: &[Difference], unmanaged: &[Unmanaged]) -> Counts {
        Counts::of(differences.iter().map(|d| d.severity).chain(unmanaged.iter().map(|u| u.severity)))
    }

    pub fn get(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Info => self.info,
        }
    }

    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.info
    }
}

/// The drift report of `pamform drift` (`schemas/drift.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format_version: String,
    /// When the tenant was read, RFC 3339 in UTC.
    pub timestamp: String,
    pub tenant: String,
    /// No differences and no unmanaged objects.
    pub in_sync: bool,
    /// Most severe first, then by address and attribute.
    pub differences: Vec<Difference>,
    pub unmanaged: Vec<Unmanaged>,
    pub summary: Counts,
}

impl Report {
    pub fn new(
        tenant: impl Into<String>,
        timestamp: chrono::DateTime<chrono::Utc>,
        differences: Vec<Difference>,
        unmanaged: Vec<Unmanaged>,
    ) -> Report {
        let summary = Counts::of_report(&differences, &unmanaged);
        Report {
            format_version: FORMAT_VERSION.to_string(),
            timestamp: timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            tenant: tenant.into(),
            in_sync: differences.is_empty() && unmanaged.is_empty(),
            differences,
            unmanaged,
            summary,
        }
    }
}

/// An attribute (or address) the user asked to leave out of the report (`--ignore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub address: Address,
    pub attribute: Option<String>,
}

impl std::str::FromStr for Ignore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // `ADDR` or `ADDR.ATTR`; the attribute never contains brackets or dots.
        if let Ok(address) = s.parse::<Address>() {
            return Ok(Ignore { address, attribute: None });
        }
        let (addr, attr) = s.rsplit_once('.').ok_or_else(|| format!("`{s}` is not ADDR or ADDR.ATTR"))?;
        let address = addr.parse::<Address>().map_err(|e| e.to_string())?;
        if attr.is_empty() || attr.contains(['[', ']', '"']) {
            return Err(format!("`{s}`: `{attr}` is not an attribute name; write ADDR or ADDR.ATTR"));
        }
        Ok(Ignore { address, attribute: Some(attr.to_string()) })
    }
}

impl Ignore {
    pub fn covers(&self, address: &Address, attribute: &str) -> bool {
        self.address.selects(address) && self.attribute.as_deref().is_none_or(|a| a == attribute)
    }
}

/// The differences of drifted resources, one per attribute, with severities, most severe
/// first (then by address and attribute). With the `snapshot` the drift was found in, a
/// policy that is gone but whose task is gated again by another policy is reported as
/// recreated (its id and changed values) instead of removed; without it (a saved plan), it
/// is reported as removed.
pub fn differences(drift: &[ResourceDrift], snapshot: Option<&TenantSnapshot>) -> Vec<Difference> {
    let mut out = Vec::new();
    for d in drift {
        match &d.after {
            None => gone(d, snapshot, &mut out),
            Some(now) => match (&d.before, now) {
                (Attrs::Group(b), Attrs::Group(n)) => group_diffs(&d.address, b, n, &d.changed, &mut out),
                (Attrs::Policy(b), Attrs::Policy(n)) => policy_diffs(&d.address, b, n, &d.changed, &mut out),
                (Attrs::Pam(b), Attrs::Pam(n)) => pam_diffs(&d.address, b, n, &d.changed, &mut out),
                (b, n) => out.push(diff(
                    &d.address,
                    "*",
                    b.to_value(),
                    n.to_value(),
                    Severity::Medium,
                    "the object changed its kind outside pamform".into(),
                )),
            },
        }
    }
    out.sort_by(|a, b| (a.severity, &a.address, &a.attribute).cmp(&(b.severity, &b.address, &b.attribute)));
    out
}

/// Builds the report from a refresh-only plan's drift, the state and the snapshot the plan
/// was made from. `ignores` are `--ignore` values and `ignore_unmanaged` the
/// `--ignore-unmanaged` ones (ids, or approver group addresses); `ignore_changes` lists, per
/// address, the attributes the configuration's `lifecycle.ignore_changes` names (`all` for
/// every one).
pub fn report(
    drift: &[ResourceDrift],
    state: &State,
    snapshot: &TenantSnapshot,
    ignores: &[Ignore],
    ignore_unmanaged: &[String],
    ignore_changes: &dyn Fn(&Address) -> Vec<String>,
    timestamp: chrono::DateTime<chrono::Utc>,
) -> Report {
    let mut differences = differences(drift, Some(snapshot));
    differences.retain(|d| {
        !ignores.iter().any(|i| i.covers(&d.address, &d.attribute))
            && !ignore_changes(&d.address).iter().any(|a| a == &d.attribute || a == "all")
    });
    let mut unmanaged = unmanaged(state, snapshot);
    unmanaged.retain(|u| !ignore_unmanaged.iter().any(|name| u.named_by(name, snapshot)));
    Report::new(state.tenant.clone(), timestamp, differences, unmanaged)
}

fn diff(
    address: &Address,
    attribute: &str,
    in_state: Value,
    in_tenant: Value,
    severity: Severity,
    message: String,
) -> Difference {
    Difference {
        address: address.clone(),
        attribute: attribute.to_string(),
        in_state,
        in_tenant,
        severity,
        message,
    }
}

/// A resource in state whose object is no longer in the tenant.
fn gone(d: &ResourceDrift, snapshot: Option<&TenantSnapshot>, out: &mut Vec<Difference>) {
    let a = &d.address;
    let whole = d.before.to_value();
    match &d.before {
        Attrs::Policy(p) => {
            let target = target_label(p);
            // Deleted, or deleted and recreated with another id (and maybe other values).
            let recreated = p.target().and_then(|t| snapshot.and_then(|s| s.policy_by_target(&t).cloned()));
            let Some(r) = recreated else {
                out.push(diff(
                    a,
                    "*",
                    whole,
                    Value::Null,
                    Severity::Critical,
                    format!("the policy was removed from the tenant: {target} is not gated"),
                ));
                return;
            };
            out.push(diff(
                a,
                "id",
                json!(d.remote_id),
                json!(r.id),
                Severity::Medium,
                format!("the policy for {target} was removed and recreated outside pamform"),
            ));
            let live = live_policy(&r);
            let changed: Vec<String> = Attrs::Policy(p.clone())
                .changed_attributes(&Attrs::Policy(live.clone()))
                .into_iter()
                .map(String::from)
                .collect();
            policy_diffs(a, p, &live, &changed, out);
        }
        Attrs::Group(g) => out.push(diff(
            a,
            "*",
            whole,
            Value::Null,
            Severity::Medium,
            format!(
                "the approver group {} was deleted from the tenant; its policies cannot be approved",
                g.email
            ),
        )),
        Attrs::Pam(_) => out.push(diff(
            a,
            "*",
            whole,
            Value::Null,
            Severity::Critical,
            "privileged access settings are gone from the tenant".into(),
        )),
    }
}

fn target_label(p: &PolicyAttrs) -> String {
    p.target().map(|t| t.display_value()).unwrap_or_default()
}

fn field(attrs: Attrs, name: &str) -> Value {
    attrs.to_value().get(name).cloned().unwrap_or(Value::Null)
}

/// `a, b and 3 more`.
fn names(items: &[&String]) -> String {
    let mut s = items.iter().take(MAX_NAMES_IN_MESSAGE).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    if items.len() > MAX_NAMES_IN_MESSAGE {
        s.push_str(&format!(" and {} more", items.len() - MAX_NAMES_IN_MESSAGE));
    }
    s
}

/// The message and severity of a set that changed: widening is high, narrowing medium.
fn set_change(what: &str, before: &BTreeSet<String>, after: &BTreeSet<String>) -> (Severity, String) {
    let added: Vec<&String> = after.difference(before).collect();
    let removed: Vec<&String> = before.difference(after).collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("{} added", names(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("{} removed", names(&removed)));
    }
    let (severity, verb) =
        if added.is_empty() { (Severity::Medium, "narrowed") } else { (Severity::High, "widened") };
    (severity, format!("{what} {verb} outside pamform: {}", parts.join("; ")))
}

fn group_diffs(a: &Address, b: &GroupAttrs, n: &GroupAttrs, changed: &[String], out: &mut Vec<Difference>) {
    for attr in changed {
        let (severity, message) = match attr.as_str() {
            "members" => set_change("approver group membership", &b.members, &n.members),
            other => (
                Severity::Medium,
                format!("{other} of the approver group {} changed outside pamform", b.email),
            ),
        };
        let (bv, nv) = (field(Attrs::Group(b.clone()), attr), field(Attrs::Group(n.clone()), attr));
        out.push(diff(a, attr, bv, nv, severity, message));
    }
}

fn policy_diffs(
    a: &Address,
    b: &PolicyAttrs,
    n: &PolicyAttrs,
    changed: &[String],
    out: &mut Vec<Difference>,
) {
    let target = target_label(b);
    for attr in changed {
        let (severity, message) = match attr.as_str() {
            "approver_group" => (
                Severity::High,
                format!(
                    "requests for {target} are now approved by {} instead of {}",
                    n.approver_group, b.approver_group
                ),
            ),
            "approval" if n.approval == Approval::Auto => {
                (Severity::High, format!("{target} no longer needs an approver: approval is now auto"))
            }
            other => {
                (Severity::Medium, format!("{other} of the policy for {target} changed outside pamform"))
            }
        };
        let (bv, nv) = (field(Attrs::Policy(b.clone()), attr), field(Attrs::Policy(n.clone()), attr));
        out.push(diff(a, attr, bv, nv, severity, message));
    }
}

fn pam_diffs(a: &Address, b: &PamAttrs, n: &PamAttrs, changed: &[String], out: &mut Vec<Difference>) {
    for attr in changed {
        let (severity, message) = match attr.as_str() {
            "enabled" if !n.enabled => (
                Severity::Critical,
                "privileged access was switched off in the tenant: no task is gated".into(),
            ),
            "enabled" => (Severity::Medium, "privileged access was switched on outside pamform".into()),
            "default_approver_group" => (
                Severity::High,
                format!(
                    "the default approver group changed outside pamform: {} -> {}",
                    b.default_approver_group.as_deref().unwrap_or("none"),
                    n.default_approver_group.as_deref().unwrap_or("none")
                ),
            ),
            "system_accounts" => {
                set_change("system accounts (exempt from approval)", &b.system_accounts, &n.system_accounts)
            }
            other => (Severity::Medium, format!("{other} changed outside pamform")),
        };
        let (bv, nv) = (field(Attrs::Pam(b.clone()), attr), field(Attrs::Pam(n.clone()), attr));
        out.push(diff(a, attr, bv, nv, severity, message));
    }
}

/// Policies, and the approver groups PAM uses, that no state knows.
pub fn unmanaged(state: &State, snapshot: &TenantSnapshot) -> Vec<Unmanaged> {
    let managed_ids: BTreeSet<String> = state.resources.iter().map(|r| r.id.to_lowercase()).collect();
    let of_kind = |kind: ResourceType| state.resources.iter().filter(move |r| r.address.kind == kind);
    let managed_targets: BTreeSet<String> = of_kind(ResourceType::AccessPolicy)
        .filter_map(|r| Attrs::from_value(r.address.kind, &r.attributes))
        .filter_map(|a| a.as_policy().and_then(PolicyAttrs::target))
        .map(|t| t.natural_key())
        .collect();
    let managed_groups: BTreeSet<String> = of_kind(ResourceType::ApproverGroup)
        .filter_map(|r| recorded_group_email(&r.attributes))
        .map(normalize::principal)
        .collect();
    let mut out = Vec::new();
    for p in &snapshot.policies {
        // A policy recreated outside pamform is reported as a difference, not as unmanaged.
        if managed_ids.contains(&p.id.to_lowercase()) || managed_targets.contains(&p.target.natural_key()) {
            continue;
        }
        out.push(Unmanaged::new(
            ResourceType::AccessPolicy,
            p.id.clone(),
            format!(
                "gates {} ({} approval by {})",
                p.target.display_value(),
                p.approval.as_str(),
                p.approver_group
            ),
        ));
    }
    let mut groups: BTreeSet<String> =
        snapshot.policies.iter().map(|p| normalize::principal(&p.approver_group)).collect();
    if snapshot.pam.enabled
        && let Some(g) = &snapshot.pam.default_approver_group
    {
        groups.insert(normalize::principal(g));
    }
    for email in groups {
        if email.is_empty() || managed_groups.contains(&email) {
            continue;
        }
        let (id, members) =
            snapshot.group(&email).map(|g| (g.id.clone(), g.members.len())).unwrap_or_default();
        out.push(Unmanaged::new(
            ResourceType::ApproverGroup,
            if id.is_empty() { email.clone() } else { id },
            format!("{email} ({members} members) approves PAM requests but is not managed"),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
