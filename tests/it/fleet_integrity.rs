//! Fleet reports that cannot be mixed up: the real binary against one emulator hosting
//! several tenants on 127.0.0.1. Each report records the configuration it ran (a digest), its
//! selection, the tenants that selection takes and its shard; `fleet report merge` refuses
//! shards of different configurations or selections, a shard relabelled as another, shards
//! whose tenants do not add up, an earlier report format, one tenant under two names in two
//! shards, and shards checked with different ignores. `fleet drift --ignore` and
//! `--ignore-unmanaged` act as in `pamform drift`, in every tenant, warning once.

use pamform::emulator::tenancy;
use pamform::fleet::Shard;
use pamform::wire::exchange::cmdlet;
use serde_json::{Value, json};

use crate::support::APP_SECRET;
use crate::support::cli::{Run, Workspace};
use crate::support::fleet::{
    Approvers, Fleet, Naming, all, fits_the_schema, named_tenants_with, report, statuses,
};
use crate::support::plans::schema;

/// Tenants `t1`..`tn` by their generated domains, tagged `odd` or `even`, for the baseline of
/// [`Approvers::FirstUser`].
fn numbered(n: usize) -> String {
    let tenants: Vec<(String, usize)> = (1..=n).map(|i| (format!("t{i}"), i)).collect();
    named_tenants_with(&tenants, TAGGED)
}

/// Each tenant tagged `odd` or `even` by its position.
const TAGGED: Naming = Naming { tag_by_position: true, by_guid: &[] };

fn read(ws: &Workspace, file: &str) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(ws.file(file)).unwrap()).unwrap();
    fits_the_schema(&v);
    v
}

fn write(ws: &Workspace, file: &str, v: &Value) {
    std::fs::write(ws.file(file), serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// `fleet plan --shard I/N --report FILE` with `extra` arguments; the report's file name.
fn shard(ws: &Workspace, i: u32, n: u32, extra: &[&str]) -> String {
    let file = format!("shard-{i}.json");
    let shard = format!("{i}/{n}");
    let mut args = vec!["fleet", "plan", "-q", "--shard", &shard, "--report", &file];
    args.extend(extra);
    let run = ws.run(&args);
    assert_eq!(run.code, 0, "{}", run.all());
    file
}

fn merge(ws: &Workspace, files: &[&str]) -> Run {
    let mut args = vec!["fleet", "report", "merge", "--json"];
    args.extend(files);
    ws.run(&args)
}

/// The merge is refused: exit 1, no report, and stderr says each of `says`.
fn refused(ws: &Workspace, files: &[&str], says: &[&str]) {
    let run = merge(ws, files);
    assert_eq!(run.code, 1, "the merge of {files:?} was not refused: {}", run.all());
    assert!(run.stdout.is_empty(), "a refused merge prints no report: {}", run.stdout);
    for s in says {
        assert!(run.stderr.contains(s), "stderr does not say `{s}`: {}", run.stderr);
    }
}

#[test]
fn a_report_records_the_configuration_selection_tenant_count_and_shard_and_merges_check_them() {
    let fleet = Fleet::start(5);
    let ws = fleet.workspace(Approvers::FirstUser, &numbered(5));
    let (one, two) = (shard(&ws, 1, 2, &[]), shard(&ws, 2, 2, &[]));
    let r1 = read(&ws, &one);
    assert_eq!(r1["format_version"], "2");
    assert_eq!(r1["selected_tenants"], 5);
    assert_eq!(r1["shards"], json!([{"index": 1, "count": 2}]));
    let digest = r1["configuration_digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(read(&ws, &two)["configuration_digest"], digest.as_str(), "one configuration, one digest");
    // The whole fleet's report records the same.
    let whole = ws.run(&["fleet", "plan", "-q", "--report", "whole.json"]);
    assert_eq!(whole.code, 0, "{}", whole.all());
    let whole = read(&ws, "whole.json");
    assert_eq!(
        (whole["configuration_digest"].as_str(), &whole["selected_tenants"]),
        (Some(&*digest), &json!(5))
    );
    assert_eq!(whole["shards"], json!([]));

    // The merged report carries the same fields, and passes the same checks again.
    let run = ws.run(&["fleet", "report", "merge", "-q", "--report", "merged.json", &one, &two]);
    assert_eq!(run.code, 0, "{}", run.all());
    let merged = read(&ws, "merged.json");
    assert_eq!(merged["configuration_digest"], digest.as_str());
    assert_eq!(merged["selected_tenants"], 5);
    assert_eq!(merged["tenants"], whole["tenants"]);
    let again = merge(&ws, &["merged.json"]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(serde_json::from_str::<Value>(&again.stdout).unwrap()["tenants"], whole["tenants"]);
    // A shard already in a merged report is not merged into it again.
    refused(&ws, &["merged.json", &one], &["shard 1/2 is given twice", "merged.json", &one]);
}

#[test]
fn shards_of_different_configurations_are_refused() {
    let fleet = Fleet::start(5);
    let ws = fleet.workspace(Approvers::FirstUser, &numbered(5));
    let one = shard(&ws, 1, 2, &[]);
    // The configuration changed between the shards' runs (a commit landed in between).
    let main = std::fs::read_to_string(ws.file("main.pam.hcl")).unwrap();
    ws.write("main.pam.hcl", &main.replace("Set-Mailbox\"", "Set-Mailbox\"\n  # reviewed"));
    let two = shard(&ws, 2, 2, &[]);
    refused(&ws, &[&one, &two], &["shard-2.json and shard-1.json ran different configurations", "*.pam.hcl"]);
    ws.write("main.pam.hcl", &main);
    let two = shard(&ws, 2, 2, &[]);
    assert_eq!(merge(&ws, &[&one, &two]).code, 0, "the same files again: the same digest");

    // A value file, or the fleet file's values (names and ids unchanged), count as well.
    ws.write("team.pamvars.hcl", "# no values yet\n");
    let two = shard(&ws, 2, 2, &[]);
    refused(&ws, &[&one, &two], &["ran different configurations"]);
    std::fs::remove_file(ws.file("team.pamvars.hcl")).unwrap();
    let hcl = std::fs::read_to_string(ws.file("fleet.hcl")).unwrap();
    ws.write("fleet.hcl", &hcl.replacen("tags = [\"odd\"]", "tags = [\"odd\", \"eu\"]", 1));
    let two = shard(&ws, 2, 2, &[]);
    refused(&ws, &[&one, &two], &["ran different configurations"]);
}

#[test]
fn shards_of_different_selections_or_tenant_counts_are_refused() {
    let fleet = Fleet::start(5);
    let ws = fleet.workspace(Approvers::FirstUser, &numbered(5));
    let one = shard(&ws, 1, 2, &["--tag", "odd"]);
    let two = shard(&ws, 2, 2, &[]);
    refused(
        &ws,
        &[&two, &one],
        &["shard-1.json is not a shard of the same run as shard-2.json", "--tag odd"],
    );
    // The same selection, written in another case, is the same.
    let two = shard(&ws, 2, 2, &["--tag", "ODD"]);
    let run = merge(&ws, &[&one, &two]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(serde_json::from_str::<Value>(&run.stdout).unwrap()["selected_tenants"], 3);

    // A report claiming another count of tenants for the same selection.
    let mut edited = read(&ws, &two);
    edited["selected_tenants"] = json!(2);
    write(&ws, "edited.json", &edited);
    refused(&ws, &[&one, "edited.json"], &["edited.json", "tenant count over the fleet is 2, not 3"]);
}

#[test]
fn a_relabelled_shard_and_shards_that_do_not_add_up_are_refused() {
    let fleet = Fleet::start(6);
    let ws = fleet.workspace(Approvers::FirstUser, &numbered(6));
    let files: Vec<String> = (1..=3).map(|i| shard(&ws, i, 3, &[])).collect();
    let reports: Vec<Value> = files.iter().map(|f| read(&ws, f)).collect();
    let full = reports.iter().position(|r| !r["tenants"].as_array().unwrap().is_empty()).unwrap();

    // A report with tenants relabelled as another shard.
    let mut relabelled = reports[full].clone();
    let other = (full as u32 + 1) % 3 + 1;
    relabelled["shards"] = json!([{"index": other, "count": 3}]);
    write(&ws, "relabelled.json", &relabelled);
    let name = relabelled["tenants"][0]["name"].as_str().unwrap().to_string();
    refused(
        &ws,
        &["relabelled.json"],
        &[
            &format!("relabelled.json lists tenant `{name}`"),
            &format!("hashes to shard {}/3", Shard::of(&name, 3)),
        ],
    );

    // Every shard given, one tenant line removed: they no longer add up to the fleet.
    let mut short = reports[full].clone();
    short["tenants"].as_array_mut().unwrap().pop();
    write(&ws, "short.json", &short);
    let mut given: Vec<&str> = files.iter().map(String::as_str).collect();
    given[full] = "short.json";
    refused(&ws, &given, &["do not add up", "list 5 tenants", "takes 6"]);

    // A shard missing is named in the report, which exits 1.
    let missing = (full + 1) % 3;
    let partial: Vec<&str> =
        files.iter().enumerate().filter(|(i, _)| *i != missing).map(|(_, f)| f.as_str()).collect();
    let run = merge(&ws, &partial);
    assert_eq!(run.code, 1, "{}", run.all());
    let v = report(&run);
    assert_eq!(v["missing_shards"], json!([{"index": missing + 1, "count": 3}]));
}

#[test]
fn a_report_of_the_earlier_format_is_refused_by_its_version() {
    let fleet = Fleet::start(2);
    let ws = fleet.workspace(Approvers::FirstUser, &numbered(2));
    let one = shard(&ws, 1, 1, &[]);
    let mut old = read(&ws, &one);
    old["format_version"] = json!("1");
    let fields = old.as_object_mut().unwrap();
    fields.remove("configuration_digest");
    fields.remove("selected_tenants");
    write(&ws, "old.json", &old);
    let validator = jsonschema::draft202012::new(&schema("fleet-report.schema.json")).unwrap();
    assert!(!validator.is_valid(&old), "the schema refuses a report of format 1");
    refused(&ws, &["old.json"], &["old.json is a fleet report of format 1", "run its shard again"]);
    let run = merge(&ws, &["old.json"]);
    assert!(!run.stderr.contains("missing field"), "a version, not a parse error: {}", run.stderr);
}

#[test]
fn one_tenant_under_two_names_in_two_shards_is_refused() {
    let fleet = Fleet::start(2);
    // Tenant 1 by its domain and by its GUID, under names that fall in different shards, so
    // that no one process signs in to both.
    let by_domain = "by-domain".to_string();
    let by_guid =
        (1..).map(|i| format!("by-guid-{i}")).find(|n| Shard::of(n, 2) != Shard::of(&by_domain, 2)).unwrap();
    let guid = tenancy::generated_tenant_id(1);
    let tenants = [(by_domain.as_str(), 1), (by_guid.as_str(), 1), ("t2", 2)];
    let hcl = named_tenants_with(&tenants, Naming { by_guid: &[by_guid.as_str()], ..TAGGED });
    assert_eq!(hcl.matches(&format!("id = \"{guid}\"")).count(), 1, "{hcl}");
    let ws = fleet.workspace(Approvers::FirstUser, &hcl);
    let files: Vec<String> = (1..=2).map(|i| shard(&ws, i, 2, &[])).collect();
    let mut lines = Vec::new();
    for f in &files {
        let r = read(&ws, f);
        lines.extend(r["tenants"].as_array().unwrap().clone());
    }
    for l in &lines {
        let n = if l["name"] == "t2" { 2 } else { 1 };
        assert_eq!(l["signed_in_tenant_id"], tenancy::generated_tenant_id(n).as_str(), "{l:#}");
    }
    let file_of = |name: &str| &files[Shard::of(name, 2) as usize - 1];
    let run = merge(&ws, &[&files[0], &files[1]]);
    assert_eq!(run.code, 1, "{}", run.all());
    let (first, second) =
        if Shard::of(&by_domain, 2) == 1 { (&by_domain, &by_guid) } else { (&by_guid, &by_domain) };
    let says = format!(
        "`{first}` ({}) and `{second}` ({}) signed in to the same tenant {guid}",
        file_of(first),
        file_of(second)
    );
    assert!(run.stderr.contains(&says), "{says}\n{}", run.stderr);
    assert!(!run.all().contains(APP_SECRET));
}

/// `fleet drift` with `args`; its exit code, JSON report (checked against the schema) and
/// stderr.
fn fleet_drift(ws: &Workspace, args: &[&str]) -> (i32, Value, String) {
    let mut drift = vec!["fleet", "drift", "--json"];
    drift.extend(args);
    let run = ws.run(&drift);
    (run.code, report(&run), run.stderr)
}

/// `t1`, `t2` and `t3` with these statuses, as [`statuses`] lists them.
fn three(s: [&str; 3]) -> Vec<(String, String)> {
    (1..=3).map(|i| (format!("t{i}"), s[i - 1].to_string())).collect()
}

#[test]
fn fleet_drift_ignores_as_pamform_drift_does_in_every_tenant_and_warns_once() {
    let fleet = Fleet::start(3);
    let ws = fleet.workspace(Approvers::FirstUser, &numbered(3));
    let run = ws.run(&["fleet", "apply", "--auto-approve", "-q"]);
    assert_eq!(run.code, 0, "{}", run.all());
    // Out of band: an approver added in t1 (a difference), a policy made in t2 (unmanaged).
    let d1 = tenancy::generated_tenant_domain(1);
    fleet.invoke(
        1,
        cmdlet::ADD_GROUP_MEMBER,
        json!({"Identity": format!("pam-approvers@{d1}"), "Member": format!("user005@{d1}")}),
    );
    let d2 = tenancy::generated_tenant_domain(2);
    let task = "Exchange\\New-TransportRule";
    fleet.invoke(
        2,
        cmdlet::NEW_POLICY,
        json!({"Task": task, "ApprovalType": "Manual", "ApproverGroup": format!("pam-approvers@{d2}")}),
    );
    let policy = fleet
        .invoke(2, cmdlet::GET_POLICY, json!({}))
        .into_iter()
        .find(|p| p["Task"] == task)
        .and_then(|p| p["Identity"].as_str().map(str::to_string))
        .expect("the policy made out of band");
    let (code, v, _) = fleet_drift(&ws, &[]);
    assert_eq!((code, statuses(&v)), (2, three(["drift", "drift", "in_sync"])));
    assert_eq!(v["tenants"][1]["drift"]["unmanaged"], 1, "{v:#}");

    // Left out as `pamform drift` leaves them out: an attribute, an address, an id in any case.
    let upper = policy.to_uppercase();
    let (code, v, stderr) =
        fleet_drift(&ws, &["--ignore", "approver_group.main.members", "--ignore-unmanaged", &upper]);
    assert_eq!((code, statuses(&v)), (0, all(3, "in_sync")), "{v:#}");
    assert!(!stderr.contains("warning"), "each names something in some tenant: {stderr}");
    assert_eq!(v["ignore"], json!(["approver_group.main.members"]));
    assert_eq!(v["ignore_unmanaged"], json!([upper]));
    let (code, v, _) = fleet_drift(&ws, &["--ignore", "approver_group.main"]);
    assert_eq!((code, statuses(&v)), (2, three(["in_sync", "drift", "in_sync"])));
    let (code, _, _) = fleet_drift(&ws, &["--ignore", "approver_group.main.name"]);
    assert_eq!(code, 2, "another attribute leaves the members' difference in");

    // A value that names nothing in any tenant is warned about once, not once per tenant.
    let (code, _, stderr) = fleet_drift(
        &ws,
        &[
            "--ignore",
            "access_policy.nope",
            "--ignore-unmanaged",
            "no-such-policy",
            "--ignore",
            "approver_group.main",
        ],
    );
    assert_eq!(code, 2);
    assert_eq!(
        stderr.matches("warning: --ignore access_policy.nope names no resource").count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("warning: --ignore-unmanaged no-such-policy names no unmanaged").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("warning").count(), 2, "{stderr}");
    let bad = ws.run(&["fleet", "drift", "--ignore", "nonsense"]);
    assert_eq!(bad.code, 1, "{}", bad.all());
    assert!(bad.stderr.contains("nonsense"), "{}", bad.stderr);

    // Shards checked with different ignores are not one run.
    let files: Vec<String> = (1..=2)
        .map(|i| {
            let file = format!("drift-{i}.json");
            let shard = format!("{i}/2");
            let mut args = vec!["fleet", "drift", "-q", "--shard", &shard, "--report", &file];
            if i == 2 {
                args.extend(["--ignore-unmanaged", &policy]);
            }
            let run = ws.run(&args);
            assert!(run.code == 0 || run.code == 2, "{}", run.all());
            file
        })
        .collect();
    refused(
        &ws,
        &[&files[0], &files[1]],
        &[
            "drift-2.json is not a shard of the same run as drift-1.json: it was checked with --ignore-unmanaged",
        ],
    );
}
