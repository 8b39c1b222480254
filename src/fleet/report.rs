//! The fleet report: one line per tenant (in sync, changes with their counts, drift with its
//! highest severity, applied, or the error that stopped it), the totals, and which part of
//! the fleet it covers (configuration digest, selection, the tenants it takes and shard).
//! `schemas/fleet-report.schema.json` describes its JSON; [`parse`] reads one back and
//! [`merge`] combines the reports of the shards of one run, refusing reports that are not.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::file::Fleet;
use super::shard::Shard;
use crate::drift::Severity;

/// The version of the report format (`schemas/fleet-report.schema.json`). 2 added the
/// configuration digest, the selected tenant count and each tenant's signed-in tenant id,
/// which merges check: a report of format 1 cannot be checked and is refused.
pub const FORMAT_VERSION: &str = "2";

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
    /// The tenant GUID the sign-in reached (the access token's `tid`), never a secret: two
    /// names of one tenant in different shards are found by it. Absent when the tenant failed
    /// before it signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_tenant_id: Option<String>,
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

    /// The tenants and tags as a run matches them: case-insensitive, in any order, each once.
    fn normalized(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect();
        (lower(&self.tenants), lower(&self.tags))
    }

    /// `--tenant a --tag eu`, or `the whole fleet`.
    fn describe(&self) -> String {
        if self.is_all() {
            return "the whole fleet".into();
        }
        let flags: Vec<String> = self
            .tenants
            .iter()
            .map(|t| format!("--tenant {t}"))
            .chain(self.tags.iter().map(|t| format!("--tag {t}")))
            .collect();
        flags.join(" ")
    }
}

/// Which part of the fleet a run covers, and what it ran: what every report of it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// [`crate::fleet::digest::configuration`] of the configuration the run read.
    pub configuration_digest: String,
    pub selection: Selection,
    /// Tenants the selection takes from the whole fleet, before `--shard`.
    pub selected_tenants: usize,
    pub shard: Option<Shard>,
    /// Drift: the `--ignore` values (`ADDR` or `ADDR.ATTR`) and `--ignore-unmanaged` ids.
    pub ignore: Vec<String>,
    pub ignore_unmanaged: Vec<String>,
}

/// A run over (part of) a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetReport {
    pub format_version: String,
    pub operation: Operation,
    /// Digest of the fleet's tenant names and ids: reports of one fleet carry the same.
    pub fleet_digest: String,
    /// Digest of the configuration files, value files and fleet file the run read: the
    /// shards of one run carry the same.
    pub configuration_digest: String,
    pub selection: Selection,
    /// Tenants the selection takes from the whole fleet (all shards together).
    pub selected_tenants: usize,
    /// Drift: what `--ignore` left out of every tenant's check (`ADDR` or `ADDR.ATTR`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Drift: the unmanaged objects `--ignore-unmanaged` left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_unmanaged: Vec<String>,
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
        scope: &Scope,
        mut tenants: Vec<TenantReport>,
    ) -> FleetReport {
        tenants.sort_by(|a, b| a.name.cmp(&b.name));
        FleetReport {
            format_version: FORMAT_VERSION.to_string(),
            operation,
            fleet_digest: digest(fleet),
            configuration_digest: scope.configuration_digest.clone(),
            selection: scope.selection.clone(),
            selected_tenants: scope.selected_tenants,
            ignore: scope.ignore.clone(),
            ignore_unmanaged: scope.ignore_unmanaged.clone(),
            shards: scope.shard.into_iter().collect(),
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
    Unreadable(String),
    #[error("{0}")]
    Mismatch(String),
    #[error("{0}")]
    Overlap(String),
}

/// Reads the report `name` (for messages) from its JSON text. A report of another format
/// version is refused by its version before its fields are read, so that a report of an
/// earlier pamform is said to be one, not a parse error.
pub fn parse(name: &str, text: &str) -> Result<FleetReport, MergeError> {
    let not_a_report = |e: &dyn std::fmt::Display| {
        MergeError::Unreadable(format!("{name} is not a fleet report (written by --report): {e}"))
    };
    // A report saved by an editor or a shell that marks UTF-8 with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| not_a_report(&e))?;
    match value.get("format_version").and_then(|v| v.as_str()) {
        Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(MergeError::Unreadable(format!(
                "{name} is a fleet report of format {other}, and this pamform merges format {FORMAT_VERSION}, which records what a merge checks (the configuration digest, the selected tenants, each tenant's signed-in tenant id); run its shard again with this pamform"
            )));
        }
        None => return Err(not_a_report(&"it has no format_version")),
    }
    serde_json::from_value(value).map_err(|e| not_a_report(&e))
}

/// The report's shards, `1/3, 2/3`.
fn shard_list(shards: &[Shard]) -> String {
    shards.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Combines the reports of the shards of one run into one: same operation, fleet,
/// configuration, selection (and the tenants it takes) and shard count; each shard once,
/// each tenant once and in the shard it hashes to, each signed-in tenant under one name, and
/// the shards' tenants adding up to the selection's. Missing shards are listed. The merged
/// report records the same, so it can be merged (checked) again.
pub fn merge(reports: Vec<(String, FleetReport)>) -> Result<FleetReport, MergeError> {
    let Some((first_name, first)) = reports.first().cloned() else { return Err(MergeError::Empty) };
    let mut shards: BTreeMap<Shard, String> = BTreeMap::new();
    let mut tenants: Vec<TenantReport> = Vec::new();
    // Lower-cased tenant name to the report it is in; signed-in tenant id to the tenant's
    // name and report.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut reached: BTreeMap<String, (String, String)> = BTreeMap::new();
    let count = first.shards.first().map(|s| s.count);
    for (name, r) in &reports {
        let differs = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            MergeError::Mismatch(format!(
                "{name} is not a shard of the same run as {first_name}: its {what} is {b}, not {a}"
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
        if r.configuration_digest != first.configuration_digest {
            return Err(MergeError::Mismatch(format!(
                "{name} and {first_name} ran different configurations (configuration digest {} and {}): a *.pam.hcl, value file or fleet file differs; run every shard from the same files",
                r.configuration_digest, first.configuration_digest
            )));
        }
        if r.selection.normalized() != first.selection.normalized() {
            return Err(differs("selection", &first.selection.describe(), &r.selection.describe()));
        }
        if r.selected_tenants != first.selected_tenants {
            return Err(differs(
                "selection's tenant count over the fleet",
                &first.selected_tenants,
                &r.selected_tenants,
            ));
        }
        let ignored = |r: &FleetReport| {
            let set = |v: &[String], lower: bool| -> BTreeSet<String> {
                v.iter().map(|s| if lower { s.to_ascii_lowercase() } else { s.clone() }).collect()
            };
            (set(&r.ignore, false), set(&r.ignore_unmanaged, true))
        };
        if ignored(r) != ignored(&first) {
            let flags = |r: &FleetReport| {
                let all: Vec<String> = r
                    .ignore
                    .iter()
                    .map(|i| format!("--ignore {i}"))
                    .chain(r.ignore_unmanaged.iter().map(|i| format!("--ignore-unmanaged {i}")))
                    .collect();
                if all.is_empty() { "no --ignore or --ignore-unmanaged".to_string() } else { all.join(" ") }
            };
            return Err(MergeError::Mismatch(format!(
                "{name} is not a shard of the same run as {first_name}: it was checked with {}, not {}",
                flags(r),
                flags(&first)
            )));
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
            if let Some(other) = shards.insert(*s, name.clone()) {
                return Err(MergeError::Overlap(format!(
                    "shard {s} is given twice (in {other}, again in {name})"
                )));
            }
        }
        for t in &r.tenants {
            if !r.shards.iter().any(|s| s.contains(&t.name)) {
                let count = r.shards[0].count;
                return Err(MergeError::Mismatch(format!(
                    "{name} lists tenant `{}`, which is not of its shard {} (it hashes to shard {}/{count}): the report was relabelled as another shard, edited or made by another split",
                    t.name,
                    shard_list(&r.shards),
                    Shard::of(&t.name, count)
                )));
            }
            if let Some(other) = seen.insert(t.name.to_ascii_lowercase(), name.clone()) {
                return Err(MergeError::Overlap(format!(
                    "tenant `{}` is in both {other} and {name}",
                    t.name
                )));
            }
            if let Some(id) = &t.signed_in_tenant_id {
                let key = id.trim().to_ascii_lowercase();
                if let Some((other, other_file)) = reached.insert(key, (t.name.clone(), name.clone())) {
                    return Err(MergeError::Overlap(format!(
                        "`{other}` ({other_file}) and `{}` ({name}) signed in to the same tenant {id}: list each tenant once in the fleet file, or their states fight over its objects",
                        t.name
                    )));
                }
            }
            tenants.push(t.clone());
        }
    }
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    let count = count.unwrap_or(1);
    let missing: Vec<Shard> =
        (1..=count).map(|index| Shard { index, count }).filter(|s| !shards.contains_key(s)).collect();
    // Every shard of the selection together holds each of its tenants once; with shards
    // missing, no more than that.
    let whole = missing.is_empty();
    if (whole && tenants.len() != first.selected_tenants) || tenants.len() > first.selected_tenants {
        let files: Vec<&str> = reports.iter().map(|(n, _)| n.as_str()).collect();
        return Err(MergeError::Mismatch(format!(
            "the shards' tenants do not add up to the selection's: {} list {} tenant{}, and {} ({}) takes {} from the fleet; a tenant line was removed or added",
            files.join(", "),
            tenants.len(),
            if tenants.len() == 1 { "" } else { "s" },
            first.selection.describe(),
            first_name,
            first.selected_tenants
        )));
    }
    Ok(FleetReport {
        shards: shards.into_keys().collect(),
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
            signed_in_tenant_id: Some(format!("{name}-guid")),
        }
    }

    fn scope(f: &Fleet, shard: Option<Shard>) -> Scope {
        Scope {
            configuration_digest: "sha256:c0ffee".into(),
            selection: Selection::default(),
            selected_tenants: f.tenants.len(),
            shard,
            ignore: vec![],
            ignore_unmanaged: vec![],
        }
    }

    fn shard_report(f: &Fleet, index: u32, count: u32) -> FleetReport {
        let s = Shard { index, count };
        let lines =
            f.tenants.iter().filter(|t| s.contains(&t.name)).map(|t| line(&t.name, Status::InSync)).collect();
        FleetReport::new(Operation::Drift, f, &scope(f, Some(s)), lines)
    }

    fn parts(f: &Fleet, count: u32) -> Vec<(String, FleetReport)> {
        (1..=count).map(|i| (format!("shard{i}.json"), shard_report(f, i, count))).collect()
    }

    fn refusal(reports: Vec<(String, FleetReport)>) -> String {
        merge(reports).expect_err("refused").to_string()
    }

    #[test]
    fn merges_shards_into_the_whole() {
        let f = fleet(&["a", "b", "c", "d", "e", "f", "g"]);
        let parts: Vec<_> = (1..=3).map(|i| (format!("shard{i}.json"), shard_report(&f, i, 3))).collect();
        let merged = merge(parts.clone()).unwrap();
        assert_eq!(merged.tenants.len(), 7);
        assert!(merged.missing_shards.is_empty() && merged.shards.len() == 3);
        assert_eq!((merged.selected_tenants, &merged.configuration_digest[..]), (7, "sha256:c0ffee"));
        // The merged report records what was checked, so it passes the same checks again.
        assert_eq!(merge(vec![("merged.json".into(), merged.clone())]).unwrap().tenants, merged.tenants);
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
        let unsharded = FleetReport::new(Operation::Drift, &f, &scope(&f, None), vec![]);
        let e = merge(vec![("x.json".into(), one), ("all.json".into(), unsharded)]).unwrap_err();
        assert!(e.to_string().contains("without --shard"), "{e}");
    }

    #[test]
    fn refuses_shards_of_another_configuration_or_selection() {
        let f = fleet(&["a", "b", "c", "d", "e"]);
        let mut p = parts(&f, 2);
        p[1].1.configuration_digest = "sha256:beef".into();
        let e = refusal(p);
        assert!(
            e.contains("shard2.json and shard1.json ran different configurations")
                && e.contains("sha256:beef")
                && e.contains("sha256:c0ffee"),
            "{e}"
        );

        let mut p = parts(&f, 2);
        p[1].1.selection.tags = vec!["eu".into()];
        let e = refusal(p);
        assert!(e.contains("shard2.json") && e.contains("selection is --tag eu, not the whole fleet"), "{e}");

        // The same selection written otherwise is the same selection.
        let mut p = parts(&f, 2);
        p[0].1.selection.tags = vec!["EU".into(), "prod".into()];
        p[1].1.selection.tags = vec!["prod".into(), "eu".into()];
        assert!(merge(p).is_ok());

        let mut p = parts(&f, 2);
        p[1].1.ignore_unmanaged = vec!["Policy-1".into()];
        let e = refusal(p.clone());
        assert!(
            e.contains("shard2.json")
                && e.contains(
                    "checked with --ignore-unmanaged Policy-1, not no --ignore or --ignore-unmanaged"
                ),
            "{e}"
        );
        p[0].1.ignore_unmanaged = vec!["policy-1".into()];
        assert!(merge(p).is_ok(), "ids are compared without case");

        let mut p = parts(&f, 2);
        p[1].1.selected_tenants = 4;
        let e = refusal(p);
        assert!(e.contains("shard2.json") && e.contains("tenant count over the fleet is 4, not 5"), "{e}");
    }

    #[test]
    fn refuses_a_relabelled_shard_and_tenants_that_do_not_add_up() {
        let f = fleet(&["a", "b", "c", "d", "e", "f", "g"]);
        // Shard 1's report relabelled as shard 2 (and shard 2's as 1).
        let mut p = parts(&f, 2);
        let (one, two) = (p[0].1.shards.clone(), p[1].1.shards.clone());
        p[0].1.shards = two;
        p[1].1.shards = one;
        let e = refusal(p);
        assert!(e.contains("shard1.json lists tenant") && e.contains("not of its shard 2/2"), "{e}");
        assert!(e.contains("hashes to shard 1/2"), "{e}");

        // A line removed from a shard: every shard is there, a tenant is not.
        let mut p = parts(&f, 2);
        p[1].1.tenants.pop().expect("shard 2 has tenants");
        let e = refusal(p.clone());
        assert!(
            e.contains("do not add up")
                && e.contains("shard1.json, shard2.json")
                && e.contains("list 6 tenants"),
            "{e}"
        );
        assert!(e.contains("takes 7"), "{e}");
        // More lines than the selection takes (a line added to every shard's count alike).
        let mut more = parts(&f, 2);
        for (_, r) in &mut more {
            r.selected_tenants = 6;
        }
        assert!(refusal(more).contains("list 7 tenants"));
        // With a shard missing, fewer tenants are expected, and named as missing.
        let partial = merge(p[..1].to_vec()).unwrap();
        assert_eq!(partial.missing_shards, vec![Shard { index: 2, count: 2 }]);
    }

    #[test]
    fn a_report_of_another_format_is_said_to_be_one() {
        let f = fleet(&["a"]);
        let mut v = serde_json::to_value(shard_report(&f, 1, 1)).unwrap();
        assert!(parse("now.json", &v.to_string()).is_ok());
        v["format_version"] = "1".into();
        let e = parse("old.json", &v.to_string()).unwrap_err().to_string();
        assert!(
            e.contains("old.json is a fleet report of format 1") && e.contains("run its shard again"),
            "{e}"
        );
        let e = parse("x.json", "{}").unwrap_err().to_string();
        assert!(e.contains("x.json is not a fleet report"), "{e}");
        let e = parse("y.json", "not json").unwrap_err().to_string();
        assert!(e.contains("y.json is not a fleet report"), "{e}");
    }

    #[test]
    fn refuses_one_tenant_under_two_names_in_two_shards() {
        let f = fleet(&["a", "b", "c", "d", "e"]);
        let mut p = parts(&f, 2);
        let first = p[0].1.tenants[0].name.clone();
        let other = p[1].1.tenants.last_mut().expect("shard 2 has tenants");
        other.signed_in_tenant_id = Some(format!("{}-GUID ", first));
        let second = other.name.clone();
        let e = refusal(p);
        assert!(
            e.contains(&format!(
                "`{first}` (shard1.json) and `{second}` (shard2.json) signed in to the same tenant"
            )),
            "{e}"
        );
        // A tenant that never signed in is not compared.
        let mut p = parts(&f, 2);
        for (_, r) in &mut p {
            for t in &mut r.tenants {
                t.signed_in_tenant_id = None;
            }
        }
        assert!(merge(p).is_ok());
    }
}
