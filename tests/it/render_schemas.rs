//! The JSON Schemas in `schemas/`: each is a valid draft 2020-12 schema, and each accepts what
//! pamform really writes (a state file from `State::to_bytes`, a drift report) and rejects
//! what it must not.

use chrono::{TimeZone, Utc};
use pamform::drift::{self, Report, Unmanaged};
use pamform::model::{Address, ResourceType};
use pamform::state::{ResourceState, State};
use serde_json::{Value, json};

use crate::support::plans::*;

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema(name)).unwrap()
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path)).collect()
}

#[test]
fn schemas_are_valid_draft_2020_12_with_ids() {
    for name in [
        "plan.schema.json",
        "state.schema.json",
        "drift.schema.json",
        "validate.schema.json",
        "whoami.schema.json",
        "request.schema.json",
        "fleet-report.schema.json",
    ] {
        let s = schema(name);
        assert_eq!(s["$schema"], json!("https://json-schema.org/draft/2020-12/schema"), "{name}");
        assert_eq!(s["$id"], json!(format!("https://pamform.io/schemas/{name}")), "{name}");
        assert!(s["description"].is_string(), "{name}");
        // Closed at the root, or in every alternative the root allows.
        let closed = |v: &Value| v["additionalProperties"] == json!(false);
        let alternatives = s["oneOf"].as_array().map(|alts| {
            alts.iter().all(|a| {
                let name = a["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")).unwrap_or_default();
                closed(&s["$defs"][name])
            })
        });
        assert!(closed(&s) || alternatives == Some(true), "{name} is not closed");
        jsonschema::meta::validate(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

fn real_state() -> State {
    let mut s = State::new("contoso.onmicrosoft.com");
    s.serial = 7;
    for (address, id, attrs, deps) in [
        (
            Address::group("default"),
            "7c1e2d3f-0000-4000-8000-00000000000a",
            group("PAM Approvers", DEFAULT, &["carol@contoso.com"]),
            vec![],
        ),
        (
            Address::with_key(ResourceType::AccessPolicy, "mailbox_tasks", "Set-Mailbox"),
            "policy-set-mailbox",
            task_policy("Set-Mailbox", pamform::model::Approval::Manual, DEFAULT),
            vec![Address::group("default")],
        ),
        (
            Address::privileged_access(),
            "",
            pam(true, Some(DEFAULT), &["svc-pamform@contoso.com"]),
            vec![Address::group("default")],
        ),
    ] {
        s.upsert(ResourceState::new(address, id.into(), attrs.to_value(), deps));
    }
    s
}

#[test]
fn a_real_state_file_validates() {
    let bytes = real_state().to_bytes();
    let file: Value = serde_json::from_slice(&bytes).unwrap();
    let v = validator("state.schema.json");
    assert_eq!(errors(&v, &file), Vec::<String>::new(), "{file:#}");
    let keyed = file["resources"].as_array().unwrap().iter().find(|r| r["type"] == "access_policy").unwrap();
    assert_eq!(keyed["index_key"], json!("Set-Mailbox"), "the keyed resource carries its key");
    // An empty state, as written before the first apply, too.
    let empty: Value = serde_json::from_slice(&State::new("t").to_bytes()).unwrap();
    assert_eq!(errors(&v, &empty), Vec::<String>::new());
}

#[test]
fn the_state_schema_rejects_unknown_or_missing_fields() {
    let v = validator("state.schema.json");
    let good: Value = serde_json::from_slice(&real_state().to_bytes()).unwrap();
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("checksum");
    assert!(!v.is_valid(&bad));
    let mut bad = good.clone();
    bad["resources"][0]["token"] = json!("secret");
    assert!(!v.is_valid(&bad));
    let mut bad = good.clone();
    bad["format_version"] = json!(2);
    assert!(!v.is_valid(&bad));
    let mut bad = good;
    bad["resources"][0]["address"] = json!("group.x");
    assert!(!v.is_valid(&bad));
}

fn report() -> Value {
    let unmanaged = vec![Unmanaged::new(
        ResourceType::AccessPolicy,
        "policy-unknown",
        "gates Exchange\\Set-TransportRule",
    )];
    let at = Utc.with_ymd_and_hms(2026, 11, 28, 9, 45, 0).unwrap();
    let differences = drift::differences(&drift(), None);
    serde_json::to_value(Report::new("contoso.onmicrosoft.com", at, differences, unmanaged)).unwrap()
}

#[test]
fn a_drift_report_validates() {
    let r = report();
    let v = validator("drift.schema.json");
    assert_eq!(errors(&v, &r), Vec::<String>::new(), "{r:#}");
    assert_eq!(r["in_sync"], json!(false));
    assert_eq!(r["summary"], json!({"critical": 2, "high": 1, "medium": 0, "info": 1}));
    insta::assert_json_snapshot!("drift_report", r);
}

#[test]
fn an_empty_drift_report_is_in_sync() {
    let at = Utc.with_ymd_and_hms(2026, 11, 28, 9, 45, 0).unwrap();
    let r = serde_json::to_value(Report::new("t", at, vec![], vec![])).unwrap();
    assert_eq!(errors(&validator("drift.schema.json"), &r), Vec::<String>::new());
    assert_eq!(r["in_sync"], json!(true));
}

#[test]
fn the_drift_schema_rejects_bad_severities() {
    let v = validator("drift.schema.json");
    let mut bad = report();
    bad["differences"][0]["severity"] = json!("low");
    assert!(!v.is_valid(&bad));
    let mut bad = report();
    bad["unmanaged"][0]["severity"] = json!("high");
    assert!(!v.is_valid(&bad));
}

/// The plan schema embeds the drift report's schema (so that a plan carrying drift validates
/// with no other file); the embedded copy is the shipped drift schema, exactly.
#[test]
fn the_plan_schema_embeds_the_drift_schema_as_shipped() {
    assert_eq!(schema("plan.schema.json")["$defs"]["drift_report"], schema("drift.schema.json"));
}
