//! The configuration as written, for the JSON plan's `configuration` and `variables`: each
//! resource block's expressions (a constant, or the references it makes, as Terraform
//! describes them), its `for_each` and `depends_on`, the `tenant` block (pamform's provider
//! configuration) and every declared variable with its description, default, sensitivity
//! and the value evaluation used. A sensitive variable keeps neither its value nor its
//! default here, so an outline (which a saved plan carries) holds no secret.

use std::collections::BTreeMap;

use hcl::eval::Evaluate;
use hcl_edit::expr::Expression;
use serde::{Deserialize, Serialize};

use super::functions::base_context;
use super::refs;
use super::syntax::{self, BlockRef};
use super::{CONFIG_SUFFIX, Diagnostics};
use crate::model::{Configuration, FileId, ResourceType};

/// The declarations of one configuration directory, in file and block order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outline {
    /// The `tenant` block's attributes.
    pub tenant: BTreeMap<String, Expr>,
    pub variables: Vec<DeclaredVariable>,
    pub resources: Vec<DeclaredResource>,
}

/// A `variable` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredVariable {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The default as written; never kept for a sensitive variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    #[serde(default)]
    pub sensitive: bool,
    /// The value evaluation used; never kept for a sensitive variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// A resource block (all instances of a `for_each` block together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredResource {
    /// `access_policy.move_request`, or `privileged_access` for the unlabelled block.
    pub address: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The label; empty for `privileged_access`.
    pub name: String,
    /// Every argument except the meta-arguments, by name.
    pub expressions: BTreeMap<String, Expr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<Expr>,
    /// The addresses `depends_on` names, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// An expression as the JSON plan describes one: its value when it references nothing and
/// evaluates alone, else the references it makes (Terraform lists `a.b.c["k"]` and `a.b.c`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Constant(serde_json::Value),
    References(Vec<String>),
    /// Neither: an expression that calls a function on nothing it can evaluate alone.
    Opaque,
}

/// The outline of a loaded configuration (one without errors: blocks that do not parse are
/// left out).
pub fn outline(config: &Configuration) -> Outline {
    let mut out = Outline::default();
    let sources = &config.sources;
    let files: Vec<FileId> = sources
        .files()
        .filter(|(_, f)| f.path.to_string_lossy().ends_with(CONFIG_SUFFIX))
        .map(|(id, _)| id)
        .collect();
    let bodies: Vec<(FileId, hcl_edit::structure::Body)> = syntax::parse_files(sources, &files)
        .into_iter()
        .zip(&files)
        .filter_map(|(parsed, &f)| parsed.ok().map(|b| (f, b)))
        .collect();
    // The configuration loaded without errors: what the block check would report is known.
    let mut ignored = Diagnostics::new();
    for (file, body) in &bodies {
        let text: &str = &sources.get(*file).text;
        for block in syntax::top_level_blocks(*file, body, &mut ignored) {
            match block.kind() {
                "tenant" => {
                    for attr in block.attributes() {
                        out.tenant.insert(attr.key.as_str().to_string(), expr(&attr.value, text));
                    }
                }
                "variable" => out.variables.push(variable(block, config)),
                kind if ResourceType::from_name(kind).is_some() => out.resources.push(resource(block, text)),
                _ => {}
            }
        }
    }
    out
}

fn variable(block: BlockRef<'_>, config: &Configuration) -> DeclaredVariable {
    let name = block.label().unwrap_or_default().to_string();
    let constant = |attr: &str| block.attribute(attr).and_then(|a| constant(&a.value));
    let sensitive = super::variables::is_sensitive(&block);
    DeclaredVariable {
        description: constant("description").and_then(|v| v.as_str().map(str::to_string)),
        default: constant("default").filter(|_| !sensitive),
        value: config.variables.get(&name).cloned().filter(|_| !sensitive),
        sensitive,
        name,
    }
}

fn resource(block: BlockRef<'_>, text: &str) -> DeclaredResource {
    let kind = block.kind().to_string();
    let name = block.label().unwrap_or_default().to_string();
    let mut expressions = BTreeMap::new();
    let mut for_each = None;
    let mut depends_on = Vec::new();
    for attr in block.attributes() {
        match attr.key.as_str() {
            "for_each" => for_each = Some(expr(&attr.value, text)),
            "depends_on" => depends_on = references(&attr.value, text),
            key => {
                expressions.insert(key.to_string(), expr(&attr.value, text));
            }
        }
    }
    let address = if name.is_empty() { kind.clone() } else { format!("{kind}.{name}") };
    DeclaredResource { address, kind, name, expressions, for_each, depends_on }
}

fn expr(e: &Expression, text: &str) -> Expr {
    let refs = references(e, text);
    if !refs.is_empty() {
        return Expr::References(refs);
    }
    constant(e).map_or(Expr::Opaque, Expr::Constant)
}

/// The value of an expression that references nothing, if it evaluates alone.
fn constant(e: &Expression) -> Option<serde_json::Value> {
    let e: hcl::Expression = e.clone().into();
    let v = e.evaluate(&base_context()).ok()?;
    serde_json::to_value(v).ok()
}

/// Every reference `e` makes, as written, each followed by its resource (or variable) when
/// it names an instance or an attribute of one, without repeats.
fn references(e: &Expression, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for r in refs::collect(e).refs {
        let written = text.get(r.range.clone()).unwrap_or_default().to_string();
        let whole = match &r.name {
            Some(name) => format!("{}.{name}", r.root),
            None => r.root.clone(),
        };
        let differs = written != whole;
        push(if written.is_empty() { whole.clone() } else { written });
        if differs {
            push(whole);
        }
    }
    out
}
