//! Sensitivity: which attributes of the built resources take their value from a variable
//! declared `sensitive = true` (the rule [`crate::model::Sensitivity`] documents), found
//! from the references in the source, to a fixed point through locals and other blocks.

use std::collections::{BTreeMap, BTreeSet};

use hcl_edit::expr::Expression;

use super::Declarations;
use crate::config::refs::{self, Reference};
use crate::config::syntax::BlockRef;
use crate::model::{Configuration, ResourceType, Sensitivity};

/// The attributes of each block (by type and name) that are sensitive.
type BlockAttributes = BTreeMap<(ResourceType, String), BTreeSet<String>>;

/// Marks, for every built resource, the attributes that come from a sensitive variable.
pub(super) fn sensitivity(decls: &Declarations<'_>, config: &Configuration) -> Sensitivity {
    let mut out = Sensitivity::default();
    let vars = sensitive_variables(decls);
    if vars.is_empty() {
        return out;
    }
    let names = SensitiveNames { locals: sensitive_locals(decls, &vars), vars };
    let blocks = sensitive_attributes(decls, &names);
    for address in config.addresses() {
        if let Some(attrs) = blocks.get(&(address.kind, address.name.clone())) {
            for a in attrs {
                out.mark(address, a);
            }
        }
    }
    out
}

/// The texts a diagnostic must not show: every string and number inside the value of
/// a sensitive variable, and the text given for one in `raw` (`--var`, `PAMFORM_VAR_*`: shown
/// when it does not parse), longest first. Texts shorter than four characters are left out:
/// replacing them would garble every message, and they are too short to be secret.
pub fn sensitive_texts<'r>(
    decls: &Declarations<'_>,
    raw: impl IntoIterator<Item = &'r (String, String)>,
) -> Vec<String> {
    fn leaves(v: &hcl::Value, out: &mut Vec<String>) {
        match v {
            hcl::Value::String(s) => out.push(s.clone()),
            hcl::Value::Number(n) => out.push(n.to_string()),
            hcl::Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
            hcl::Value::Object(map) => map.values().for_each(|i| leaves(i, out)),
            hcl::Value::Bool(_) | hcl::Value::Null => {}
        }
    }
    let vars = sensitive_variables(decls);
    let mut out: Vec<String> =
        raw.into_iter().filter(|(name, _)| vars.contains(name.as_str())).map(|(_, v)| v.clone()).collect();
    for name in vars {
        if let Some(v) = decls.variables.get(name).and_then(|d| d.value.as_ref()) {
            leaves(v, &mut out);
        }
    }
    out.retain(|t| t.trim().chars().count() >= 4);
    out.sort_by_key(|t| std::cmp::Reverse(t.len()));
    out.dedup();
    out
}

/// Whether the instance keys of a `for_each` (`expr`, evaluated to `instances`) would show
/// a sensitive value: the keys of a set that references a sensitive variable or local are its
/// elements, and any key holding the text of a sensitive value (its elements, map keys
/// included; compared case-insensitively) shows it. A map with literal keys and sensitive
/// values is fine: only `each.value` is sensitive.
pub(super) fn keys_reveal_secret(
    decls: &Declarations<'_>,
    expr: &Expression,
    instances: &[(String, hcl::Value)],
) -> bool {
    fn texts(v: &hcl::Value, out: &mut Vec<String>) {
        match v {
            hcl::Value::String(s) => out.push(s.to_lowercase()),
            hcl::Value::Number(n) => out.push(n.to_string()),
            hcl::Value::Array(items) => items.iter().for_each(|i| texts(i, out)),
            hcl::Value::Object(map) => map.iter().for_each(|(k, i)| {
                out.push(k.to_lowercase());
                texts(i, out);
            }),
            hcl::Value::Bool(_) | hcl::Value::Null => {}
        }
    }
    let vars = sensitive_variables(decls);
    if vars.is_empty() || instances.is_empty() {
        return false;
    }
    let names = SensitiveNames { locals: sensitive_locals(decls, &vars), vars };
    let is_set = instances.iter().all(|(k, v)| v.as_str() == Some(k.as_str()));
    if is_set && names.reached_by(expr) {
        return true;
    }
    let mut secrets = Vec::new();
    for name in &names.vars {
        if let Some(v) = decls.variables.get(*name).and_then(|d| d.value.as_ref()) {
            texts(v, &mut secrets);
        }
    }
    secrets.retain(|t| t.trim().chars().count() >= 4);
    instances.iter().any(|(k, _)| {
        let k = k.to_lowercase();
        secrets.iter().any(|t| k.contains(t.as_str()))
    })
}

/// The variables and locals whose values are sensitive.
struct SensitiveNames<'a> {
    vars: BTreeSet<&'a str>,
    locals: BTreeSet<&'a str>,
}

impl SensitiveNames<'_> {
    /// Whether a reference names a sensitive variable or local.
    fn names(&self, r: &Reference) -> bool {
        match (r.root.as_str(), r.name.as_deref()) {
            ("var", Some(n)) => self.vars.contains(n),
            ("local", Some(n)) => self.locals.contains(n),
            _ => false,
        }
    }

    /// Whether an expression references a sensitive variable or local.
    fn reached_by(&self, expr: &Expression) -> bool {
        refs::collect(expr).refs.iter().any(|r| self.names(r))
    }
}

/// Variables declared with `sensitive = true` (or with a `sensitive` that is not a bool).
fn sensitive_variables<'a>(decls: &'a Declarations<'_>) -> BTreeSet<&'a str> {
    decls
        .variables
        .iter()
        .filter(|(_, v)| crate::config::variables::is_sensitive(&v.block))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Locals that reach a sensitive variable, to a fixed point (cycles are reported elsewhere).
fn sensitive_locals<'a>(decls: &'a Declarations<'_>, vars: &BTreeSet<&'a str>) -> BTreeSet<&'a str> {
    let locals: BTreeMap<&str, &Expression> =
        decls.locals_blocks.iter().flat_map(|b| b.attributes()).map(|a| (a.key.as_str(), &a.value)).collect();
    let mut names = SensitiveNames { vars: vars.clone(), locals: BTreeSet::new() };
    loop {
        let before = names.locals.len();
        for (name, expr) in &locals {
            if names.reached_by(expr) {
                names.locals.insert(*name);
            }
        }
        if names.locals.len() == before {
            return names.locals;
        }
    }
}

/// Sensitive attributes per block, to a fixed point over references between blocks.
fn sensitive_attributes(decls: &Declarations<'_>, names: &SensitiveNames<'_>) -> BlockAttributes {
    let mut blocks = BlockAttributes::new();
    loop {
        let mut grew = false;
        for block in &decls.resources {
            grew |= mark_block(*block, names, &mut blocks);
        }
        if !grew {
            return blocks;
        }
    }
}

/// Marks the sensitive attributes of one block; whether any was new.
fn mark_block(block: BlockRef<'_>, names: &SensitiveNames<'_>, blocks: &mut BlockAttributes) -> bool {
    let Some(kind) = ResourceType::from_name(block.kind()) else { return false };
    let name = block.label().unwrap_or_default().to_string();
    let each = block.attribute("for_each").is_some_and(|a| names.reached_by(&a.value));
    let mut grew = false;
    for attr in block.attributes() {
        let attr_name = attr.key.as_str();
        if matches!(attr_name, "for_each" | "depends_on") {
            continue;
        }
        let hit =
            refs::collect(&attr.value).refs.iter().any(|r| reference_is_sensitive(r, names, each, blocks));
        if hit && blocks.entry((kind, name.clone())).or_default().insert(attr_name.to_string()) {
            grew = true;
        }
    }
    grew
}

/// Whether a reference in a block's attribute carries a sensitive value, given what is
/// known to be sensitive so far.
fn reference_is_sensitive(
    r: &Reference,
    names: &SensitiveNames<'_>,
    each: bool,
    blocks: &BlockAttributes,
) -> bool {
    match (r.root.as_str(), r.name.as_deref()) {
        ("var" | "local", _) => names.names(r),
        ("each", _) => each,
        ("privileged_access", _) => {
            blocks.get(&(ResourceType::PrivilegedAccess, String::new())).is_some_and(|s| !s.is_empty())
        }
        // A group reference stands for the group's email address.
        ("approver_group", Some(n)) => {
            blocks.get(&(ResourceType::ApproverGroup, n.to_string())).is_some_and(|s| s.contains("email"))
        }
        (root, Some(n)) => ResourceType::from_name(root)
            .is_some_and(|k| blocks.get(&(k, n.to_string())).is_some_and(|s| !s.is_empty())),
        _ => false,
    }
}
