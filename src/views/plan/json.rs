//! The machine-readable plan: Terraform's JSON plan representation (format 1.2), so that
//! tools written for `terraform show -json` read it, with pamform's own facts under a
//! top-level `pamform` key. Its schema is `schemas/plan.schema.json`.
//!
//! Every Terraform field follows "JSON Output Format"
//! (<https://developer.hashicorp.com/terraform/internals/json-format>): `variables`,
//! `planned_values`, `resource_drift`, `resource_changes`, `prior_state` (a state
//! representation of the refreshed state, left out when it holds no resource, as Terraform
//! does) and `configuration` (a configuration representation: the `tenant` block is the
//! `pam` provider's configuration). Every pamform resource is a managed resource of that one
//! provider, with schema version 0. `terraform_version` names the Terraform release whose
//! output this follows ([`TERRAFORM_VERSION`]); pamform's own version is `pamform.version`.
//! Empty `variables` are left out, as Terraform does. One deliberate difference: a variable
//! declared `sensitive = true` has no entry in `variables` and no `default` in
//! `configuration` (Terraform writes both in clear); its uses stay marked in the
//! `*_sensitive` objects, and the `pamform` section shows them as `(sensitive value)`.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::facts::{self, SecurityFacts, set_delta};
use crate::config::Outline;
use crate::config::outline::{DeclaredResource, Expr};
use crate::model::Sensitivity;
use crate::model::{Address, ResourceType};
use crate::plan::attributes::Attrs;
use crate::plan::{Action, Plan, ResourceChange, ResourceDrift};
use crate::views::sensitive::{json_marks, redact_differences, scrub, secret_strings};

/// The version of Terraform's JSON plan format this output follows.
pub const FORMAT_VERSION: &str = "1.2";
/// The version of the `pamform` section; bumped on incompatible changes to it.
pub const PAMFORM_FORMAT_VERSION: &str = "1";
/// The provider every pamform resource is attributed to.
pub const PROVIDER_NAME: &str = "registry.pamform.io/pamform/pam";
/// The provider's local name: its key in `configuration.provider_config`.
pub const PROVIDER_KEY: &str = "pam";
/// `terraform_version`: the Terraform release whose `show -json` output pamform's follows
/// (format 1.2, as Terraform 1.9 writes it). Tools that read plans gate on this field:
/// terraform-compliance refuses a version it does not know as a Terraform release, as
/// pamform's own would be.
pub const TERRAFORM_VERSION: &str = "1.9.0";
/// The version of Terraform's state representation `prior_state` follows.
pub const STATE_FORMAT_VERSION: &str = "1.0";

/// Facts about a plan that are not in the [`Plan`] itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMeta {
    /// When the plan was made.
    pub timestamp: DateTime<Utc>,
    /// The pamform version that made it (`pamform.version` in the output).
    pub pamform_version: String,
    /// Whether planning failed part-way; an errored plan is neither applyable nor complete.
    pub errored: bool,
    /// Attributes marked in `before_sensitive`, `after_sensitive` and `sensitive_values`.
    pub sensitivity: Sensitivity,
    /// The configuration as written, for `configuration` and `variables`.
    pub outline: Outline,
    /// The addresses state recorded when the plan was made, for `prior_state`.
    pub in_state: BTreeSet<Address>,
}

impl PlanMeta {
    /// Metadata for a plan made now by this build of pamform.
    pub fn now() -> PlanMeta {
        PlanMeta::at(Utc::now())
    }

    /// Metadata for a plan made at `timestamp` by this build of pamform.
    pub fn at(timestamp: DateTime<Utc>) -> PlanMeta {
        PlanMeta {
            timestamp,
            pamform_version: env!("CARGO_PKG_VERSION").to_string(),
            errored: false,
            sensitivity: Sensitivity::default(),
            outline: Outline::default(),
            in_state: BTreeSet::new(),
        }
    }
}

/// Renders a plan as Terraform's JSON plan representation.
pub fn render(plan: &Plan, meta: &PlanMeta) -> Value {
    let s = &meta.sensitivity;
    let resource_changes: Vec<Value> = plan.changes.iter().map(|c| resource_change(c, s)).collect();
    let resource_drift: Vec<Value> = plan.drift.iter().map(|d| resource_drift(d, s)).collect();
    let planned: Vec<Value> = plan.changes.iter().filter_map(|c| planned_value(c, s)).collect();
    let mut out = Map::new();
    out.insert("format_version".into(), json!(FORMAT_VERSION));
    out.insert("terraform_version".into(), json!(TERRAFORM_VERSION));
    // Left out when empty, as Terraform does.
    let variables = variables(&meta.outline);
    if variables.as_object().is_some_and(|v| !v.is_empty()) {
        out.insert("variables".into(), variables);
    }
    out.insert("planned_values".into(), json!({ "root_module": { "resources": planned } }));
    out.insert("resource_drift".into(), Value::Array(resource_drift));
    out.insert("resource_changes".into(), Value::Array(resource_changes));
    if let Some(prior) = prior_state(plan, meta) {
        out.insert("prior_state".into(), prior);
    }
    out.insert("configuration".into(), configuration(&meta.outline));
    out.insert("timestamp".into(), json!(meta.timestamp.to_rfc3339_opts(SecondsFormat::Secs, true)));
    out.insert("applyable".into(), json!(plan.has_changes() && !meta.errored));
    out.insert("complete".into(), json!(plan.targets.is_empty() && !meta.errored));
    out.insert("errored".into(), json!(meta.errored));
    out.insert("pamform".into(), pamform_section(plan, meta));
    Value::Object(out)
}

/// `variables`: each variable's value as planned, `{"name": {"value": ...}}`; a sensitive
/// variable has no entry.
fn variables(outline: &Outline) -> Value {
    let mut m = Map::new();
    for v in &outline.variables {
        if let Some(value) = v.value.as_ref().filter(|_| !v.sensitive) {
            m.insert(v.name.clone(), json!({ "value": value }));
        }
    }
    Value::Object(m)
}

/// `prior_state`: the state after refresh, as a state representation. A resource is in it
/// when state records it and the tenant still has its object (a move is already applied, as
/// Terraform applies `moved` before refreshing); an object adopted or imported by this plan
/// is not. None when no resource is.
fn prior_state(plan: &Plan, meta: &PlanMeta) -> Option<Value> {
    let s = &meta.sensitivity;
    let recorded = |c: &&ResourceChange| {
        meta.in_state.contains(&c.address)
            || c.previous_address.as_ref().is_some_and(|a| meta.in_state.contains(a))
    };
    let resources: Vec<Value> = plan
        .changes
        .iter()
        .filter(recorded)
        .filter(|c| c.importing.is_none())
        .filter_map(|c| {
            let before = c.before.as_ref()?;
            let mut m = identity(&c.address);
            m.insert("schema_version".into(), json!(0));
            let values = values(c.address.kind, before, c.remote_id.as_deref());
            let marks = json_marks(&values, &c.address, s);
            m.insert("values".into(), values);
            m.insert("sensitive_values".into(), marks);
            if !c.dependencies.is_empty() {
                let deps: Vec<String> = c.dependencies.iter().map(ToString::to_string).collect();
                m.insert("depends_on".into(), json!(deps));
            }
            Some(Value::Object(m))
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    Some(json!({
        "format_version": STATE_FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "values": { "root_module": { "resources": resources } },
    }))
}

/// `configuration`: the `tenant` block as the `pam` provider's configuration, each resource
/// block (not instance) with its expressions, and the declared variables.
fn configuration(outline: &Outline) -> Value {
    let provider: Map<String, Value> =
        outline.tenant.iter().map(|(k, e)| (k.clone(), expression(e))).collect();
    let resources: Vec<Value> = outline.resources.iter().map(configured_resource).collect();
    let mut root = Map::new();
    root.insert("resources".into(), Value::Array(resources));
    if !outline.variables.is_empty() {
        let mut vars = Map::new();
        for v in &outline.variables {
            let mut d = Map::new();
            if let Some(default) = v.default.as_ref().filter(|_| !v.sensitive) {
                d.insert("default".into(), default.clone());
            }
            if let Some(text) = &v.description {
                d.insert("description".into(), json!(text));
            }
            if v.sensitive {
                d.insert("sensitive".into(), json!(true));
            }
            vars.insert(v.name.clone(), Value::Object(d));
        }
        root.insert("variables".into(), Value::Object(vars));
    }
    json!({
        "provider_config": {
            PROVIDER_KEY: { "name": PROVIDER_KEY, "full_name": PROVIDER_NAME, "expressions": provider },
        },
        "root_module": root,
    })
}

fn configured_resource(r: &DeclaredResource) -> Value {
    let expressions: Map<String, Value> =
        r.expressions.iter().map(|(k, e)| (k.clone(), expression(e))).collect();
    let mut m = Map::new();
    m.insert("address".into(), json!(r.address));
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(r.kind));
    m.insert("name".into(), json!(r.name));
    m.insert("provider_config_key".into(), json!(PROVIDER_KEY));
    m.insert("expressions".into(), Value::Object(expressions));
    m.insert("schema_version".into(), json!(0));
    if let Some(e) = &r.for_each {
        m.insert("for_each_expression".into(), expression(e));
    }
    if !r.depends_on.is_empty() {
        m.insert("depends_on".into(), json!(r.depends_on));
    }
    Value::Object(m)
}

/// An expression representation: `constant_value`, or `references`, or neither.
fn expression(e: &Expr) -> Value {
    match e {
        Expr::Constant(v) => json!({ "constant_value": v }),
        Expr::References(r) => json!({ "references": r }),
        Expr::Opaque => json!({}),
    }
}

/// `address`, `mode`, `type`, `name`, `index` and `provider_name` of a resource.
fn identity(address: &Address) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("address".into(), json!(address.to_string()));
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(address.kind.as_str()));
    m.insert("name".into(), json!(address.name));
    if let Some(key) = &address.key {
        m.insert("index".into(), json!(key));
    }
    m.insert("provider_name".into(), json!(PROVIDER_NAME));
    m
}

/// A resource's attribute object as Terraform shows it: every attribute present (null when
/// unset) and the remote `id` when known.
fn values(kind: ResourceType, attrs: &Attrs, id: Option<&str>) -> Value {
    let mut v = attrs.to_value();
    if let Some(o) = v.as_object_mut() {
        if kind == ResourceType::AccessPolicy {
            for k in ["task", "role", "role_group"] {
                o.entry(k).or_insert(Value::Null);
            }
        }
        if let Some(id) = id {
            o.insert("id".into(), json!(id));
        }
        o.sort_keys();
    }
    v
}

/// Whether a resource type has a remote id assigned by the tenant on creation.
fn has_remote_id(kind: ResourceType) -> bool {
    kind != ResourceType::PrivilegedAccess
}

fn resource_change(c: &ResourceChange, s: &Sensitivity) -> Value {
    let kind = c.address.kind;
    let id = c.remote_id.as_deref();
    let before = c.before.as_ref().map_or(Value::Null, |a| values(kind, a, id));
    let new_object = matches!(c.action, Action::Create | Action::Replace);
    let after = match (&c.after, c.action) {
        (None, _) | (_, Action::Delete) => Value::Null,
        (Some(a), _) if new_object => values(kind, a, None),
        (Some(a), _) => values(kind, a, id),
    };
    let after_unknown = if new_object && has_remote_id(kind) { json!({ "id": true }) } else { json!({}) };
    let (before_sensitive, after_sensitive) =
        (json_marks(&before, &c.address, s), json_marks(&after, &c.address, s));
    let mut change = Map::new();
    change.insert("actions".into(), json!(c.action.terraform_actions()));
    change.insert("before".into(), before);
    change.insert("after".into(), after);
    change.insert("after_unknown".into(), after_unknown);
    change.insert("before_sensitive".into(), before_sensitive);
    change.insert("after_sensitive".into(), after_sensitive);
    if !c.replace_paths.is_empty() {
        let paths: Vec<Value> = c.replace_paths.iter().map(|p| json!([p])).collect();
        change.insert("replace_paths".into(), Value::Array(paths));
    }
    if let Some(id) = &c.importing {
        change.insert("importing".into(), json!({ "id": id }));
    }
    let mut m = identity(&c.address);
    if let Some(prev) = &c.previous_address {
        m.insert("previous_address".into(), json!(prev.to_string()));
    }
    m.insert("change".into(), Value::Object(change));
    if let Some(reason) = c.reasons.iter().find_map(|r| r.terraform_reason()) {
        m.insert("action_reason".into(), json!(reason));
    }
    Value::Object(m)
}

fn resource_drift(d: &ResourceDrift, s: &Sensitivity) -> Value {
    let kind = d.address.kind;
    let id = (!d.remote_id.is_empty()).then_some(d.remote_id.as_str());
    let before = values(kind, &d.before, id);
    let (actions, after) = match &d.after {
        Some(now) => (json!(["update"]), values(kind, now, id)),
        None => (json!(["delete"]), Value::Null),
    };
    let (before_sensitive, after_sensitive) =
        (json_marks(&before, &d.address, s), json_marks(&after, &d.address, s));
    let mut m = identity(&d.address);
    m.insert(
        "change".into(),
        json!({
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {},
            "before_sensitive": before_sensitive,
            "after_sensitive": after_sensitive,
        }),
    );
    Value::Object(m)
}

/// A `planned_values` entry: the resource as it will be after apply.
fn planned_value(c: &ResourceChange, s: &Sensitivity) -> Option<Value> {
    if c.action == Action::Delete {
        return None;
    }
    let after = c.after.as_ref()?;
    let id = if matches!(c.action, Action::Create | Action::Replace) { None } else { c.remote_id.as_deref() };
    let mut m = identity(&c.address);
    m.insert("schema_version".into(), json!(0));
    let values = values(c.address.kind, after, id);
    let marks = json_marks(&values, &c.address, s);
    m.insert("values".into(), values);
    m.insert("sensitive_values".into(), marks);
    Some(Value::Object(m))
}

/// pamform's own view: mode, targets, counts, reasons in its words, member changes and the
/// security facts a reviewer must see. Unlike the Terraform fields, it shows the values of
/// sensitive attributes as `(sensitive value)` (counts kept), as the text plan and the drift
/// report do: it is pamform's to define, and tools that read it have no marks to go by.
fn pamform_section(plan: &Plan, meta: &PlanMeta) -> Value {
    let secrets = secret_strings(plan, &meta.sensitivity);
    let scrub_all = |v: Vec<String>| -> Vec<String> { v.iter().map(|x| scrub(x, &secrets)).collect() };
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            let reasons: Vec<Value> =
                c.reasons.iter().map(|r| json!({ "code": r, "message": facts::reason_message(r) })).collect();
            let mut m = Map::new();
            m.insert("address".into(), json!(c.address.to_string()));
            m.insert("action".into(), json!(c.action));
            m.insert("changed".into(), json!(c.changed));
            m.insert("reasons".into(), Value::Array(reasons));
            if let Some(id) = &c.remote_id {
                m.insert("remote_id".into(), json!(id));
            }
            let delta = set_delta(c.before.as_ref(), c.after.as_ref());
            if !delta.is_empty() {
                let name = if c.address.kind == ResourceType::PrivilegedAccess {
                    "system_accounts"
                } else {
                    "members"
                };
                m.insert(
                    name.into(),
                    json!({
                        "added": scrub_all(delta.added),
                        "removed": scrub_all(delta.removed),
                        "unchanged": delta.unchanged,
                    }),
                );
            }
            m.insert("dependencies".into(), json!(c.dependencies));
            Value::Object(m)
        })
        .collect();
    let targets: Vec<String> = plan.targets.iter().map(ToString::to_string).collect();
    let mut drift = crate::drift::differences(&plan.drift, None);
    redact_differences(&mut drift, &meta.sensitivity);
    json!({
        "format_version": PAMFORM_FORMAT_VERSION,
        "version": meta.pamform_version,
        "mode": plan.mode,
        "targets": targets,
        "has_changes": plan.has_changes(),
        "summary": plan.summary(),
        "changes": changes,
        "security": SecurityFacts::of_redacted(plan, &meta.sensitivity),
        "drift": drift,
    })
}
