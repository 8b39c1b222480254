//! Finding references in expressions: `var.x`, `local.x`, `each.key`, `approver_group.x`,
//! `access_policy.x["k"]`, `privileged_access`. They build the dependency graph that orders
//! evaluation and apply; names bound by `for` expressions are not references.

use std::ops::Range;

use hcl_edit::Ident;
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ForExpr, FuncCall, TraversalOperator};
use hcl_edit::template::ForDirective;
use hcl_edit::visit::{self, Visit};

/// The roots a reference may start with.
pub const ROOTS: &[&str] = &["var", "local", "each", "approver_group", "access_policy", "privileged_access"];

/// One reference as written.
#[derive(Debug, Clone)]
pub struct Reference {
    pub root: String,
    /// The first attribute after the root (`x` in `var.x`), if any.
    pub name: Option<String>,
    /// The index right after the name (`["k"]` in `access_policy.x["k"]`), if any.
    pub index: Option<Expression>,
    /// Byte range of the root through the name (and index).
    pub range: Range<usize>,
}

/// Every reference in an expression, plus variables that are neither a known root nor bound
/// by an enclosing `for`.
#[derive(Debug, Default)]
pub struct Collected {
    pub refs: Vec<Reference>,
    pub unknown_roots: Vec<(String, Range<usize>)>,
    /// Every function call: the name and the byte range of the name.
    pub functions: Vec<(String, Range<usize>)>,
}

pub fn collect(expr: &Expression) -> Collected {
    let mut c = Collector { out: Collected::default(), bound: Vec::new() };
    c.visit_expr(expr);
    c.out
}

struct Collector {
    out: Collected,
    bound: Vec<String>,
}

impl Collector {
    fn root(&mut self, name: &str, range: Range<usize>) -> bool {
        if self.bound.iter().any(|b| b == name) {
            return false;
        }
        if ROOTS.contains(&name) {
            return true;
        }
        self.out.unknown_roots.push((name.to_string(), range));
        false
    }
}

impl Visit for Collector {
    fn visit_expr(&mut self, node: &Expression) {
        match node {
            Expression::Variable(v) => {
                let range = v.span().unwrap_or(0..0);
                if self.root(v.as_str(), range.clone()) {
                    self.out.refs.push(Reference { root: v.to_string(), name: None, index: None, range });
                }
            }
            Expression::Traversal(t) => {
                if let Expression::Variable(v) = &t.expr {
                    let start = v.span().unwrap_or(0..0);
                    if self.root(v.as_str(), start.clone()) {
                        let mut range = start.clone();
                        let mut name = None;
                        let mut index = None;
                        if let Some(op) = t.operators.first()
                            && let TraversalOperator::GetAttr(ident) = &**op
                        {
                            name = Some(ident.to_string());
                            range.end = op.span().map_or(range.end, |r| r.end);
                            if let Some(op2) = t.operators.get(1)
                                && let TraversalOperator::Index(e) = &**op2
                            {
                                index = Some(e.clone());
                                range.end = op2.span().map_or(range.end, |r| r.end);
                            }
                        }
                        self.out.refs.push(Reference { root: v.to_string(), name, index, range });
                    }
                } else {
                    self.visit_expr(&t.expr);
                }
                for op in &t.operators {
                    if let TraversalOperator::Index(e) = &**op {
                        self.visit_expr(e);
                    }
                }
            }
            other => visit::visit_expr(self, other),
        }
    }

    fn visit_func_call(&mut self, node: &FuncCall) {
        let name = node
            .name
            .namespace
            .iter()
            .map(|n| n.as_str())
            .chain([node.name.name.as_str()])
            .collect::<Vec<_>>()
            .join("::");
        self.out.functions.push((name, node.name.name.span().unwrap_or(0..0)));
        visit::visit_func_args(self, &node.args);
    }

    fn visit_for_expr(&mut self, node: &ForExpr) {
        self.visit_expr(&node.intro.collection_expr);
        let intro = &node.intro;
        self.bound_in(intro.key_var.as_deref(), &intro.value_var, |c| {
            if let Some(k) = &node.key_expr {
                c.visit_expr(k);
            }
            c.visit_expr(&node.value_expr);
            if let Some(cond) = &node.cond {
                c.visit_expr(&cond.expr);
            }
        });
    }

    fn visit_for_directive(&mut self, node: &ForDirective) {
        let f = &node.for_expr;
        self.visit_expr(&f.collection_expr);
        self.bound_in(f.key_var.as_deref(), &f.value_var, |c| c.visit_template(&f.template));
    }
}

impl Collector {
    /// Runs `f` with the names a `for` binds in scope.
    fn bound_in(&mut self, key: Option<&Ident>, value: &Ident, f: impl FnOnce(&mut Self)) {
        let n = self.bound.len();
        self.bound.extend(key.map(|k| k.to_string()));
        self.bound.push(value.to_string());
        f(self);
        self.bound.truncate(n);
    }
}
