//! Instances of resource blocks: a block is one instance, or one per element of its
//! `for_each` (a map, or a set of strings, never a list), each evaluated with `each.key` and
//! `each.value` in its context. References to a block with `for_each` see an object of its
//! instances by key.

use hcl::Value;
use hcl::eval::Context;
use hcl_edit::expr::{Expression, TraversalOperator};

use super::expr::eval_expr;
use super::meta::lifecycle;
use super::{Evaluator, Node};
use crate::config::syntax::{BlockRef, span_of};
use crate::config::values::{VarType, type_name};
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{Configuration, FileId, Lifecycle, ResourceType, Span};

/// One instance of a resource block being built.
pub(super) struct Instance<'e, 'a, 'd, 'c> {
    pub(super) ev: &'e Evaluator<'a, 'd>,
    pub(super) block: BlockRef<'a>,
    pub(super) ctx: &'e Context<'c>,
    pub(super) key: Option<String>,
    /// The block depends on a failed value: skip attributes that use it.
    pub(super) degraded: bool,
}

/// The instances of a block with `for_each`: (key, `each.value`) in order.
type EachInstances = Vec<(String, Value)>;

impl Instance<'_, '_, '_, '_> {
    /// Builds each instance of a block with `for_each` (this being the block without a key),
    /// with `each` in its context: the object of the built instances by key, every key, and
    /// whether all were built.
    fn build_each(
        &self,
        list: EachInstances,
        kind: ResourceType,
        name: &str,
        lifecycle: &Lifecycle,
        config: &mut Configuration,
        diags: &mut Diagnostics,
    ) -> (hcl::Map<String, Value>, Vec<String>, bool) {
        let mut objects = hcl::Map::new();
        let mut keys = Vec::with_capacity(list.len());
        let mut built_all = true;
        for (key, each_value) in list {
            let mut each = hcl::Map::new();
            each.insert("key".to_string(), Value::String(key.clone()));
            each.insert("value".to_string(), each_value);
            let mut ctx = self.ctx.clone();
            ctx.declare_var("each", Value::Object(each));
            let inst = Instance {
                ev: self.ev,
                block: self.block,
                ctx: &ctx,
                key: Some(key.clone()),
                degraded: self.degraded,
            };
            match inst.build(config, kind, name, Some(&key), lifecycle, diags) {
                Some(obj) => {
                    objects.insert(key.clone(), Value::Object(obj));
                }
                None => built_all = false,
            }
            keys.push(key);
        }
        (objects, keys, built_all)
    }
}

impl Evaluator<'_, '_> {
    /// Builds every instance of a resource block into `config` and records the value
    /// references to the block evaluate to; false when any instance failed.
    pub(super) fn eval_resource(
        &mut self,
        node: &Node,
        config: &mut Configuration,
        diags: &mut Diagnostics,
    ) -> bool {
        let Some(block) = self.blocks.get(node).copied() else { return false };
        let Node::Resource(kind, name) = node else { return false };
        let ctx = self.context_for(node);
        let before = diags.error_count();
        let Ok(instances) = self.for_each(node, block, &ctx, diags) else { return false };
        let lifecycle = lifecycle(block, *kind, diags);
        let single =
            Instance { ev: self, block, ctx: &ctx, key: None, degraded: self.degraded.contains(node) };
        let (value, keys, built_all) = match instances {
            None => match single.build(config, *kind, name, None, &lifecycle, diags) {
                Some(obj) => (Some(Value::Object(obj)), None, true),
                None => (None, None, false),
            },
            Some(list) => {
                let (objects, keys, built_all) =
                    single.build_each(list, *kind, name, &lifecycle, config, diags);
                (Some(Value::Object(objects)), Some(keys), built_all)
            }
        };
        if let Some(value) = value {
            self.values.insert(node.clone(), value);
        }
        self.instance_keys.insert(node.clone(), keys);
        built_all && diags.error_count() == before
    }

    /// The block's `for_each`: `None` for a single instance, or its instances; `Err` when it
    /// failed (reported) or uses a value that failed.
    fn for_each(
        &self,
        node: &Node,
        block: BlockRef<'_>,
        ctx: &Context,
        diags: &mut Diagnostics,
    ) -> Result<Option<EachInstances>, ()> {
        let Some(attr) = block.attribute("for_each") else { return Ok(None) };
        if self.degraded.contains(node) && self.touches_failed(&attr.value, true) {
            return Err(());
        }
        match for_each_instances(&attr.value, ctx, block.file, self.is_set_or_map(&attr.value, 0)) {
            Ok(i) if super::sensitivity::keys_reveal_secret(self.decls, &attr.value, &i) => {
                diags.push(sensitive_for_each(span_of(block.file, &attr.value)));
                Err(())
            }
            Ok(i) => Ok(Some(i)),
            Err(d) => {
                diags.push(d);
                Err(())
            }
        }
    }

    /// Whether `expr` is a set or a map in Terraform's type system, as far as the expression
    /// tells: `toset(...)`, a variable typed `set(string)` or `map(string)`, a local defined
    /// so, a conditional whose branches both are, an object or `{for ...}`. A list literal,
    /// `[for ...]`, a splat, a list-typed variable or a function that returns a list is not.
    fn is_set_or_map(&self, expr: &Expression, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        match expr {
            Expression::Parenthesis(p) => self.is_set_or_map(p.inner(), depth + 1),
            Expression::Object(_) => true,
            Expression::ForExpr(f) => f.key_expr.is_some(),
            Expression::FuncCall(call) => {
                call.name.namespace.is_empty()
                    && matches!(call.name.name.as_str(), "toset" | "tomap" | "merge" | "zipmap")
            }
            Expression::Conditional(c) => {
                self.is_set_or_map(&c.true_expr, depth + 1) && self.is_set_or_map(&c.false_expr, depth + 1)
            }
            Expression::Traversal(t) => {
                let Expression::Variable(root) = &t.expr else { return false };
                let [op] = t.operators.as_slice() else { return false };
                let TraversalOperator::GetAttr(name) = &**op else { return false };
                match root.as_str() {
                    "var" => self.is_set_or_map_variable(name.as_str()),
                    "local" => self
                        .locals
                        .get(name.as_str())
                        .is_some_and(|l| self.is_set_or_map(&l.attr.value, depth + 1)),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// A variable typed `set(...)` or `map(...)`, or whose value is an object.
    fn is_set_or_map_variable(&self, name: &str) -> bool {
        self.decls.variables.get(name).is_some_and(|v| {
            v.block
                .attribute("type")
                .and_then(|a| VarType::parse(&a.value))
                .is_some_and(|t| matches!(t, VarType::Set | VarType::Map))
                || matches!(v.value, Some(Value::Object(_)))
        })
    }
}

/// Terraform rejects a sensitive value in `for_each`: instance keys are part of addresses,
/// which every output shows (plans, state, the JSON plan), so they cannot be hidden.
fn sensitive_for_each(span: Span) -> Diagnostic {
    Diagnostic::error(codes::FOR_EACH_TYPE, "`for_each` keys would show a sensitive value")
        .with_label(span, "instance keys taken from a sensitive variable")
        .with_help(
            "instance keys are part of every address pamform prints: key instances by values that are not secret, \
             for example a map with literal keys whose values are sensitive",
        )
}

/// Terraform rejects a list in `for_each`: instance keys would depend on the order of its
/// elements, so reordering it would move objects between addresses.
fn list_in_for_each(span: Span) -> Diagnostic {
    Diagnostic::error(codes::FOR_EACH_TYPE, "`for_each` takes a map or a set of strings, not a list")
        .with_label(span, "this is a list")
        .with_help("wrap it in `toset(...)`: instances are then keyed by value, whatever the order")
}

/// The instances a `for_each` value asks for: map keys with their values, or set elements.
fn for_each_instances(
    expr: &Expression,
    ctx: &Context,
    file: FileId,
    set_or_map: bool,
) -> Result<EachInstances, Diagnostic> {
    let span = span_of(file, expr);
    let bad = |got: &Value| {
        Diagnostic::error(
            codes::FOR_EACH_TYPE,
            format!("`for_each` must be a map or a set of strings, not {}", type_name(got)),
        )
        .with_label(span, format!("this is {}", type_name(got)))
        .with_help("use a map, or `toset([...])` over a list of strings")
    };
    match eval_expr(expr, ctx, span)? {
        Value::Object(map) => Ok(map.into_iter().collect()),
        Value::Array(_) if !set_or_map => Err(list_in_for_each(span)),
        Value::Array(items) => {
            let mut out: EachInstances = Vec::with_capacity(items.len());
            for item in &items {
                let Value::String(s) = item else { return Err(bad(item)) };
                if out.iter().any(|(k, _)| k == s) {
                    return Err(Diagnostic::error(
                        codes::FOR_EACH_TYPE,
                        format!("`for_each` has `{s}` twice"),
                    )
                    .with_label(span, "duplicate element")
                    .with_help("wrap the list in `toset(...)` to drop duplicates"));
                }
                out.push((s.clone(), item.clone()));
            }
            Ok(out)
        }
        other => Err(bad(&other)),
    }
}
