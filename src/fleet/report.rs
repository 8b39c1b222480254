//! The fleet report: one line per tenant (in sync, changes with their counts, drift with its
//! highest severity, applied, or the error that stopped it), the totals, and which part of
//! the fleet it covers (selection and shard). `schemas/fleet-report.schema.json` describes
//! its JSON; [`merge`] combines the reports of the shards of one run.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::file::Fleet;
use super::shard::Shard;
use crate::drift::Severity;

/// The version of the report format (`schemas/fleet-report.schema.json`).
pub const FORMAT_VERSION: &str = "1";

/// What ran over the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Plan,
    Drift,
    Apply,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Plan => "plan",
            Operation::Drift => "drift",
            Operation::Apply => "apply",
        }
    }
}

/// Where one tenant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InSync,
    Changes,
    Drift,
    Applied,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InSync => "in sync",
            Status::Changes => "changes",
            Status::Drift => "drift",
            Status::Applied => "applied",
            Status::Error => "error",
        }
    }
}

/// Changes a plan makes (or an apply made), counted as `plan` counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub import: usize,
    #[serde(rename = "move")]
    pub moved: usize,
}

impl ChangeCounts {
    pub fn total(&self) -> usize {
        self.add + self.change + self.destroy + self.import + self.moved
    }
}

/// What a drift check found, by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftCounts {
    pub differences: usize,
    pub unmanaged: usize,
    /// The most serious finding; `None` in sync.
    pub highest_severity: Option<Severity>,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub info: usize,
    /// Resources the configuration would still change (not drift: not yet applied).
    pub pending_changes: usize,
}

/// One tenant's line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantReport {
    pub name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The tenants of each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub tenants: usize,
    pub in_sync: usize,
    pub changes: usize,
    pub drift: usize,
    pub applied: usize,
    pub error: usize,
}

impl Totals {
    pub fn of(tenants: &[TenantReport]) -> Totals {
        let mut t = Totals { tenants: tenants.len(), ..Totals::default() };
        for r in tenants {
            match r.status {
                Status::InSync => t.in_sync += 1,
                Status::Changes => t.changes += 1,
                Status::Drift => t.drift += 1,
                Status::Applied => t.applied += 1,
                Status::Error => t.error += 1,
            }
        }
        t
    }
}

/// Which tenants a run was asked for (`--tenant`, `--tag`), as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    #[serde(default)]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Selection {
    pub fn is_all(&self) -> bool {
        self.tenants.is_empty() && self.tags.is_empty()
    }
}

/// A run over (part of) a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReport {
    pub format_version: String,
    pub operation: Operation,
    /// Digest of the fleet's tenant names and ids: reports of one fleet carry the same.
    pub fleet_digest: String,
    pub selection: Selection,
    /// The shards this report covers (one for a shard's run, all of them once merged; empty
    /// without sharding).
    #[serde(default)]
    pub shards: Vec<Shard>,
    /// Shards a merge did not get (their tenants are not in the report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_shards: Vec<Shard>,
    pub timestamp: String,
    pub totals: Totals,
    /// By tenant name.
    pub tenants: Vec<TenantReport>,
}

impl FleetReport {
    pub fn new(
        operation: Operation,
        fleet: &Fleet,
        selection: Selection,
        shard: Option<Shard>,
        mut tenants: Vec<TenantReport>,
    ) -> FleetReport {
        tenants.sort_by(|a, b| a.name.cmp(&b.name));
        FleetReport {
            format_version: FORMAT_VERSION.to_string(),
            operation,
            fleet_digest: digest(fleet),
            selection,
            shards: shard.into_iter().collect(),
            missing_shards: Vec::new(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            totals: Totals::of(&tenants),
            tenants,
        }
    }

    /// A report is whole unless a merge missed shards.
    pub fn failed(&self) -> bool {
        self.totals.error > 0 || !self.missing_shards.is_empty()
    }

    /// Differs from the configuration somewhere: changes to make or drift found.
    pub fn differs(&self) -> bool {
        self.totals.changes > 0 || self.totals.drift > 0
    }
}

/// Digest of the whole fleet (every tenant's name and id, in name order), not of a selection.
pub fn digest(fleet: &Fleet) -> String {
    let mut lines: Vec<String> = fleet
        .tenants
        .iter()
        .map(|t| format!("{}={}", t.name.to_ascii_lowercase(), t.id.to_ascii_lowercase()))
        .collect();
    lines.sort();
    let hex = crate::files::sha256_hex(lines.join("\n").as_bytes());
    format!("sha256:{}", &hex[..16])
}

/// Why shard reports cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("nothing to merge: name the shard reports")]
    Empty,
    #[error("{0}")]
    Mismatch(String),
    #[error("{0}")]
    Overlap(String),
}

/// Combines the reports of the shards of one run into one: same operation, fleet, selection
/// and shard count; each shard once and each tenant once. Missing shards are listed.
pub fn merge(reports: Vec<(String, FleetReport)>) -> Result<FleetReport, MergeError> {
    let Some((first_name, first)) = reports.first().cloned() else { return Err(MergeError::Empty) };
    let mut shards: BTreeSet<Shard> = BTreeSet::new();
    let mut tenants: Vec<TenantReport> = Vec::new();
    let mut seen: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    let count = first.shards.first().map(|s| s.count);
    for (name, r) in &reports {
        let differs = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            MergeError::Mismatch(format!(
                "{name} is not a shard of the same run as {first_name}: its {what} is {b:?}, not {a:?}"
            ))
        };
        if r.format_version != first.format_version {
            return Err(differs("format version", &first.format_version, &r.format_version));
        }
        if r.operation != first.operation {
            return Err(differs("operation", &first.operation.as_str(), &r.operation.as_str()));
        }
        if r.fleet_digest != first.fleet_digest {
            return Err(differs("fleet (tenant names and ids)", &first.fleet_digest, &r.fleet_digest));
        }
        if r.selection != first.selection {
            return Err(differs("selection", &first.selection, &r.selection));
        }
        if r.shards.is_empty() {
            return Err(MergeError::Mismatch(format!(
                "{name} is not a shard's report (it was made without --shard); merge the reports of `--shard I/N` runs"
            )));
        }
        if !r.missing_shards.is_empty() {
            return Err(MergeError::Mismatch(format!(
                "{name} is itself a partial merge; merge the shard reports"
            )));
        }
        for s in &r.shards {
            if s.count == 0 || s.index == 0 || s.index > s.count {
                return Err(MergeError::Mismatch(format!(
                    "{name} claims shard {s}, which no --shard I/N run makes: it was edited or is not a fleet report"
                )));
            }
            if Some(s.count) != count {
                return Err(MergeError::Mismatch(format!(
                    "{name} is shard {s}, but {first_name} is of {} shards: all reports must come from one --shard I/N split",
                    count.unwrap_or(0)
                )));
            }
            if !shards.insert(*s) {
                return Err(MergeError::Overlap(format!("shard {s} is given twice (again in {name})")));
            }
        }
        for t in &r.tenants {
            if !r.shards.iter().any(|s| s.contains(&t.name)) {
                return Err(MergeError::Mismatch(format!(
                    "{name} lists tenant `{}`, which is not of its shard {}: it was edited or made by another split",
                    t.name,
                    r.shards.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                )));
            }
            if let Some(other) = seen.insert(t.name.to_ascii_lowercase(), name.clone()) {
                return Err(MergeError::Overlap(format!(
                    "tenant `{}` is in both {other} and {name}",
                    t.name
                )));
            }
            tenants.push(t.clone());
        }
    }
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    let count = count.unwrap_or(1);
    let missing = (1..=count).map(|index| Shard { index, count }).filter(|s| !shards.contains(s)).collect();
    Ok(FleetReport {
        shards: shards.into_iter().collect(),
        missing_shards: missing,
        timestamp: reports.iter().map(|(_, r)| r.timestamp.clone()).max().unwrap_or_default(),
        totals: Totals::of(&tenants),
        tenants,
        ..first
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::file::FleetTenant;

    fn fleet(names: &[&str]) -> Fleet {
        Fleet {
            path: "fleet.hcl".into(),
            tenants: names
                .iter()
                .map(|n| FleetTenant {
                    name: n.to_string(),
                    id: format!("{n}.onmicrosoft.com"),
                    display_name: None,
                    tags: vec![],
                    vars: vec![],
                    credentials: None,
                })
                .collect(),
        }
    }

    fn line(name: &str, status: Status) -> TenantReport {
        TenantReport {
            name: name.into(),
            id: format!("{name}.onmicrosoft.com"),
            display_name: None,
            tags: vec![],
            status,
            changes: None,
            drift: None,
            error: None,
        }
    }

    fn shard_report(f: &Fleet, index: u32, count: u32) -> FleetReport {
        let s = Shard { index, count };
        let lines =
            f.tenants.iter().filter(|t| s.contains(&t.name)).map(|t| line(&t.name, Status::InSync)).collect();
        FleetReport::new(Operation::Drift, f, Selection::default(), Some(s), lines)
    }

    #[test]
    fn merges_shards_into_the_whole() {
        let f = fleet(&["a", "b", "c", "d", "e", "f", "g"]);
        let parts: Vec<_> = (1..=3).map(|i| (format!("shard{i}.json"), shard_report(&f, i, 3))).collect();
        let merged = merge(parts.clone()).unwrap();
        assert_eq!(merged.tenants.len(), 7);
        assert!(merged.missing_shards.is_empty() && merged.shards.len() == 3);
        let partial = merge(parts[..2].to_vec()).unwrap();
        assert_eq!(partial.missing_shards, vec![Shard { index: 3, count: 3 }]);
        assert!(partial.failed());
    }

    #[test]
    fn refuses_overlaps_and_mismatches() {
        let f = fleet(&["a", "b", "c"]);
        let one = shard_report(&f, 1, 2);
        let twice = merge(vec![("x.json".into(), one.clone()), ("y.json".into(), one.clone())]).unwrap_err();
        assert!(
            matches!(twice, MergeError::Overlap(ref m) if m.contains("shard 1/2 is given twice")),
            "{twice}"
        );
        let other_split = shard_report(&f, 2, 3);
        let e = merge(vec![("x.json".into(), one.clone()), ("y.json".into(), other_split)]).unwrap_err();
        assert!(e.to_string().contains("one --shard I/N split"), "{e}");
        let other_fleet = shard_report(&fleet(&["a", "z"]), 2, 2);
        let e = merge(vec![("x.json".into(), one.clone()), ("y.json".into(), other_fleet)]).unwrap_err();
        assert!(e.to_string().contains("fleet"), "{e}");
        let unsharded = FleetReport::new(Operation::Drift, &f, Selection::default(), None, vec![]);
        let e = merge(vec![("x.json".into(), one), ("all.json".into(), unsharded)]).unwrap_err();
        assert!(e.to_string().contains("without --shard"), "{e}");
    }
}
