//! Meta-arguments of resource blocks: `lifecycle` (`prevent_destroy`, `ignore_changes`),
//! `depends_on`, and the dependencies an instance's references make, which order plan and
//! apply.

use std::collections::BTreeSet;

use hcl::eval::{Context, Evaluate};
use hcl_edit::expr::{Expression, TraversalOperator};

use super::expr::eval_expr;
use super::instances::Instance;
use super::{Evaluator, Node};
use crate::config::refs::Reference;
use crate::config::syntax::{BlockRef, GROUP_ATTRIBUTES, POLICY_ATTRIBUTES, did_you_mean};
use crate::config::values;
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{Address, Lifecycle, Meta, ResourceType, Spanned};

/// Reads a `lifecycle` block (literal values only, like Terraform).
pub(super) fn lifecycle(block: BlockRef<'_>, kind: ResourceType, diags: &mut Diagnostics) -> Lifecycle {
    let mut out = Lifecycle::default();
    for lc in block.blocks("lifecycle") {
        if let Some(attr) = lc.attribute("prevent_destroy") {
            let span = lc.expr_span(&attr.value);
            match eval_expr(&attr.value, &Context::new(), span)
                .and_then(|v| values::bool("prevent_destroy", &v, span))
            {
                Ok(b) => out.prevent_destroy = b.value,
                Err(d) => diags.push(d),
            }
        }
        if let Some(attr) = lc.attribute("ignore_changes") {
            ignore_changes(lc, &attr.value, kind, &mut out.ignore_changes, diags);
        }
    }
    out
}

/// Reads `ignore_changes = [NAME, ...]` or `ignore_changes = all` into `out`: names of
/// attributes that `kind` has.
fn ignore_changes(
    lc: BlockRef<'_>,
    value: &Expression,
    kind: ResourceType,
    out: &mut Vec<Spanned<String>>,
    diags: &mut Diagnostics,
) {
    let allowed: &[&str] =
        if kind == ResourceType::ApproverGroup { GROUP_ATTRIBUTES } else { POLICY_ATTRIBUTES };
    let items: Vec<&Expression> = match value {
        Expression::Array(a) => a.iter().collect(),
        Expression::Variable(v) if v.as_str() == "all" => vec![value],
        other => {
            diags.push(
                Diagnostic::error(codes::TYPE_MISMATCH, "`ignore_changes` must be a list of attribute names")
                    .with_label(lc.expr_span(other), "not a list")
                    .with_help("write `ignore_changes = [members]` or `ignore_changes = all`"),
            );
            return;
        }
    };
    for item in items {
        let span = lc.expr_span(item);
        let name = match item {
            Expression::Variable(v) => Some(v.as_str().to_string()),
            Expression::String(s) => Some(s.as_str().to_string()),
            _ => None,
        };
        match name {
            Some(n) if n == "all" || allowed.contains(&n.as_str()) => {
                out.push(Spanned::new(n, span));
            }
            Some(n) => {
                let help = match did_you_mean(&n, allowed.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("attributes are: {}", allowed.join(", ")),
                };
                diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_ATTRIBUTE,
                        format!("`ignore_changes` names `{n}`, which `{kind}` does not have"),
                    )
                    .with_label(span, "unknown attribute")
                    .with_help(help),
                );
            }
            None => diags.push(
                Diagnostic::error(codes::TYPE_MISMATCH, "`ignore_changes` lists attribute names")
                    .with_label(span, "not an attribute name")
                    .with_help("write the bare attribute name, e.g. `members`"),
            ),
        }
    }
}

impl Instance<'_, '_, '_, '_> {
    /// Dependencies of this instance: everything referenced, plus `depends_on`.
    pub(super) fn meta(
        &self,
        lifecycle: &Lifecycle,
        node: &Node,
        diags: &mut Diagnostics,
    ) -> Result<Meta, ()> {
        let mut dependencies = BTreeSet::new();
        for (_, r) in self.ev.node_refs.get(node).map(Vec::as_slice).unwrap_or_default() {
            dependencies.extend(self.ev.ref_addresses(r, self.ctx));
        }
        let depends_on = self.depends_on(diags)?;
        Ok(Meta { depends_on, lifecycle: lifecycle.clone(), dependencies, each_key: self.key.clone() })
    }

    /// The blocks `depends_on` lists.
    fn depends_on(&self, diags: &mut Diagnostics) -> Result<Vec<Spanned<Address>>, ()> {
        let mut depends_on = Vec::new();
        let Some(attr) = self.block.attribute("depends_on") else { return Ok(depends_on) };
        let Expression::Array(items) = &attr.value else {
            diags.push(
                Diagnostic::error(codes::TYPE_MISMATCH, "`depends_on` must be a list of references")
                    .with_label(self.block.expr_span(&attr.value), "not a list")
                    .with_help("write `depends_on = [approver_group.NAME]`"),
            );
            return Err(());
        };
        for item in items.iter() {
            let span = self.block.expr_span(item);
            match address_of(item).filter(|a| a.kind != ResourceType::PrivilegedAccess || a.key.is_none()) {
                Some(a) if matches!(item, Expression::Traversal(_) | Expression::Variable(_)) => {
                    depends_on.push(Spanned::new(a, span));
                }
                _ => diags.push(
                    Diagnostic::error(codes::INVALID_ADDRESS, "`depends_on` lists references to blocks")
                        .with_label(span, "not a block reference")
                        .with_help("write `approver_group.NAME` or `access_policy.NAME`"),
                ),
            }
        }
        Ok(depends_on)
    }
}

impl Evaluator<'_, '_> {
    /// Addresses a reference selects (one instance, or every instance of a block).
    fn ref_addresses(&self, r: &Reference, ctx: &Context) -> Vec<Address> {
        let (kind, name) = match (r.root.as_str(), &r.name) {
            ("privileged_access", _) => return vec![Address::privileged_access()],
            (root, Some(n)) => match ResourceType::from_name(root) {
                Some(k) => (k, n.clone()),
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        let node = Node::Resource(kind, name.clone());
        match self.instance_keys.get(&node) {
            Some(Some(keys)) => {
                let key = r
                    .index
                    .as_ref()
                    .and_then(|e| hcl::Expression::from(e.clone()).evaluate(ctx).ok())
                    .and_then(|v| values::as_string(&v));
                match key {
                    Some(k) if keys.contains(&k) => vec![Address::with_key(kind, name, k)],
                    _ => keys.iter().map(|k| Address::with_key(kind, name.clone(), k.clone())).collect(),
                }
            }
            _ => vec![Address::new(kind, name)],
        }
    }
}

/// An address written as a reference (`access_policy.x["k"]`) or a string.
pub(super) fn address_of(expr: &Expression) -> Option<Address> {
    let (root, ops): (&str, &[hcl_edit::Decorated<TraversalOperator>]) = match expr {
        Expression::String(s) => return s.as_str().parse().ok(),
        Expression::Variable(v) => (v.as_str(), &[]),
        Expression::Traversal(t) => match &t.expr {
            Expression::Variable(v) => (v.as_str(), t.operators.as_slice()),
            _ => return None,
        },
        _ => return None,
    };
    let kind = ResourceType::from_name(root)?;
    let ops: Vec<&TraversalOperator> = ops.iter().map(|o| &**o).collect();
    match (kind, ops.as_slice()) {
        (ResourceType::PrivilegedAccess, []) => Some(Address::privileged_access()),
        (ResourceType::PrivilegedAccess, _) => None,
        (_, [TraversalOperator::GetAttr(name)]) => Some(Address::new(kind, name.as_str())),
        (_, [TraversalOperator::GetAttr(name), TraversalOperator::Index(Expression::String(key))]) => {
            Some(Address::with_key(kind, name.as_str(), key.as_str()))
        }
        _ => None,
    }
}
