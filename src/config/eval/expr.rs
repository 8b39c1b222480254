//! Expression evaluation: the context each expression sees (exactly the values and functions
//! it references), evaluation of one expression with errors that point at it, quoted
//! templates with Terraform's rule for interpolations, and local values.

use std::collections::BTreeMap;

use hcl::Value;
use hcl::eval::{Context, Evaluate};
use hcl_edit::expr::Expression;

use super::{Evaluator, Node};
use crate::config::functions;
use crate::config::refs::{self, ROOTS};
use crate::config::syntax::span_of;
use crate::config::values::type_name;
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::Span;

impl Evaluator<'_, '_> {
    /// A context with the values `node`'s references need.
    pub(super) fn context_for(&self, node: &Node) -> Context<'static> {
        let mut ctx = match self.calls_functions.get(node) {
            Some(names) => functions::context_calling(names.iter().map(String::as_str)),
            None => Context::new(),
        };
        let mut objects: BTreeMap<&str, hcl::Map<String, Value>> = BTreeMap::new();
        for (_, r) in self.node_refs.get(node).map(Vec::as_slice).unwrap_or_default() {
            let Some(target) = Self::ref_node(r) else { continue };
            let Some(value) = self.values.get(&target) else { continue };
            if r.root == "privileged_access" {
                ctx.declare_var("privileged_access", value.clone());
            } else if let Some(name) = &r.name {
                objects
                    .entry(ROOTS.iter().find(|x| **x == r.root).copied().unwrap_or("var"))
                    .or_default()
                    .insert(name.clone(), value.clone());
            }
        }
        for (root, obj) in objects {
            ctx.declare_var(root, Value::Object(obj));
        }
        ctx
    }

    /// A context for an expression outside the graph (tenant, import ids): the base
    /// functions, and the variables and locals the expression references.
    pub(super) fn context_with(&self, expr: &Expression, base: &Context<'static>) -> Context<'static> {
        let mut ctx = base.clone();
        let mut vars = hcl::Map::new();
        let mut locals = hcl::Map::new();
        for r in refs::collect(expr).refs {
            let Some(name) = r.name else { continue };
            match r.root.as_str() {
                "var" => {
                    if let Some(v) = self.values.get(&Node::Var(name.clone())) {
                        vars.insert(name, v.clone());
                    }
                }
                "local" => {
                    if let Some(v) = self.values.get(&Node::Local(name.clone())) {
                        locals.insert(name, v.clone());
                    }
                }
                _ => {}
            }
        }
        ctx.declare_var("var", Value::Object(vars));
        ctx.declare_var("local", Value::Object(locals));
        ctx
    }

    /// Evaluates a local value; false when it failed (reported).
    pub(super) fn eval_local(&mut self, name: &str, diags: &mut Diagnostics) -> bool {
        let Some(def) = self.locals.get(name) else { return false };
        let ctx = self.context_for(&Node::Local(name.to_string()));
        match eval_expr(&def.attr.value, &ctx, span_of(def.file, &def.attr.value)) {
            Ok(v) => {
                self.values.insert(Node::Local(name.to_string()), v);
                true
            }
            Err(d) => {
                diags.push(d);
                false
            }
        }
    }
}

/// Evaluates one expression; errors point at the whole expression.
pub(super) fn eval_expr(expr: &Expression, ctx: &Context, span: Span) -> Result<Value, Diagnostic> {
    let result = match expr {
        // Strings and templates skip hcl-rs's expression tree, which keeps a template as text
        // and parses it again on every evaluation.
        Expression::String(s) => Ok(Value::String(s.value().clone())),
        Expression::StringTemplate(t) => eval_template(t, ctx),
        // A list of string literals (a group's members: thousands of them) is its value as
        // written; converting it to hcl-rs's tree first would copy every element twice.
        Expression::Array(items) => match literal_strings(items) {
            Some(v) => Ok(v),
            None => hcl::Expression::from(expr.clone()).evaluate(ctx),
        },
        _ => hcl::Expression::from(expr.clone()).evaluate(ctx),
    };
    result.map_err(|e| {
        let message = match e.kind() {
            hcl::eval::ErrorKind::FuncCall(name, msg) => format!("`{name}` failed: {msg}"),
            hcl::eval::ErrorKind::NoSuchKey(key) => format!("no such key `{key}`"),
            hcl::eval::ErrorKind::Unexpected(v, expected) => {
                format!("expected {expected}, got {}", type_name(v))
            }
            other => other.to_string(),
        };
        Diagnostic::error(codes::EVALUATION, format!("cannot evaluate this expression: {message}"))
            .with_label(span, "evaluation failed here")
            .with_help("check the types of the values this expression combines")
    })
}

/// The value of a list whose elements are all string literals; `None` for any other list.
fn literal_strings(items: &hcl_edit::expr::Array) -> Option<Value> {
    items
        .iter()
        .map(|e| match e {
            Expression::String(s) => Some(Value::String(s.value().clone())),
            _ => None,
        })
        .collect::<Option<Vec<Value>>>()
        .map(Value::Array)
}

/// A quoted template that is an attribute's whole value, with HCL's unwrapping of a lone
/// interpolation (`"${x}"` is `x`, of whatever type). Its interpolations take strings,
/// numbers and bools, as in Terraform; hcl-rs would write a list, a map or `null` into the
/// text. Templates with directives or strip markers, and templates nested in other
/// expressions, are left to hcl-rs and keep its rule.
fn eval_template(t: &hcl_edit::template::StringTemplate, ctx: &Context) -> hcl::eval::EvalResult<Value> {
    use hcl::template::{Element, Strip};
    let template = hcl::Template::from(hcl_edit::template::Template::clone(t));
    let elements = template.elements();
    if let [Element::Interpolation(i)] = elements {
        return i.expr.evaluate(ctx);
    }
    let plain = elements.iter().all(|e| match e {
        Element::Literal(_) => true,
        Element::Interpolation(i) => matches!(i.strip, Strip::None),
        Element::Directive(_) => false,
    });
    if !plain {
        return template.evaluate(ctx).map(Value::String);
    }
    let mut out = String::new();
    for e in elements {
        match e {
            Element::Literal(text) => out.push_str(text),
            Element::Interpolation(i) => match i.expr.evaluate(ctx)? {
                Value::String(s) => out.push_str(&s),
                v @ (Value::Number(_) | Value::Bool(_)) => out.push_str(&v.to_string()),
                v => {
                    return Err(hcl::eval::ErrorKind::Unexpected(v, "a string, number or bool").into());
                }
            },
            // Not reached: a template with directives went to hcl-rs above.
            Element::Directive(_) => return template.evaluate(ctx).map(Value::String),
        }
    }
    Ok(Value::String(out))
}
