//! The reference graph: declares a node for every variable, local value and resource block
//! (reporting duplicates), collects each node's references as edges (reporting unknown names,
//! references and functions), and orders the nodes so that each comes after what it
//! references, reporting every cycle once.

use std::collections::{BTreeMap, HashMap, HashSet};

use hcl_edit::expr::Expression;

use super::{Declarations, Evaluator, LocalDef, Node};
use crate::config::functions::{FUNCTIONS, base_context};
use crate::config::refs::{self, Collected, ROOTS, Reference};
use crate::config::syntax::{BlockRef, did_you_mean, span_of};
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{FileId, ResourceType, Span};

/// Where a node is in the depth-first walk that orders the graph.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    OnStack,
    Done,
}

impl<'a, 'd> Evaluator<'a, 'd> {
    /// An evaluator with a node for every declaration; variables come with their values.
    pub(super) fn new(decls: &'d Declarations<'a>, diags: &mut Diagnostics) -> Self {
        let mut ev = Evaluator {
            decls,
            base: base_context(),
            locals: BTreeMap::new(),
            blocks: BTreeMap::new(),
            edges: BTreeMap::new(),
            node_refs: HashMap::new(),
            values: HashMap::new(),
            instance_keys: HashMap::new(),
            failed: HashSet::new(),
            degraded: HashSet::new(),
            calls_functions: HashMap::new(),
            referenced: HashSet::new(),
        };
        ev.declare_variables();
        ev.declare_locals(diags);
        ev.declare_blocks(diags);
        ev
    }

    /// Variables are evaluated already: a value, or a failure that was reported.
    fn declare_variables(&mut self) {
        for (name, v) in &self.decls.variables {
            match &v.value {
                Some(value) => {
                    self.values.insert(Node::Var(name.clone()), value.clone());
                }
                None => {
                    self.failed.insert(Node::Var(name.clone()));
                }
            }
        }
    }

    /// Every attribute of every `locals` block, reporting a name defined twice.
    fn declare_locals(&mut self, diags: &mut Diagnostics) {
        for block in &self.decls.locals_blocks {
            for attr in block.attributes() {
                let name = attr.key.as_str().to_string();
                if let Some(first) = self.locals.get(&name) {
                    diags.push(
                        Diagnostic::error(
                            codes::DUPLICATE_LOCAL,
                            format!("local value `{name}` is defined twice"),
                        )
                        .with_label(block.key_span(attr), "defined again here")
                        .with_extra_label(span_of(first.file, &first.attr.key), "first defined here")
                        .with_help("rename or remove one of them"),
                    );
                    continue;
                }
                self.locals.insert(name, LocalDef { file: block.file, attr });
            }
        }
    }

    /// Every resource block, reporting an address defined twice and a second
    /// `privileged_access` block.
    fn declare_blocks(&mut self, diags: &mut Diagnostics) {
        let mut pam_seen: Option<BlockRef<'a>> = None;
        for block in &self.decls.resources {
            let Some(kind) = ResourceType::from_name(block.kind()) else { continue };
            let node = Node::Resource(kind, block.label().unwrap_or_default().to_string());
            if kind == ResourceType::PrivilegedAccess {
                if let Some(first) = pam_seen {
                    diags.push(
                        Diagnostic::error(
                            codes::DUPLICATE_PRIVILEGED_ACCESS,
                            "more than one `privileged_access` block",
                        )
                        .with_label(block.header(), "second block")
                        .with_extra_label(first.header(), "first block")
                        .with_help("PAM is one switch per tenant: merge them into one block"),
                    );
                    continue;
                }
                pam_seen = Some(*block);
            } else if let Some(first) = self.blocks.get(&node) {
                diags.push(
                    Diagnostic::error(
                        codes::DUPLICATE_ADDRESS,
                        format!("`{}` is defined twice", node.describe()),
                    )
                    .with_label(block.header(), "defined again here")
                    .with_extra_label(first.header(), "first defined here")
                    .with_help("give each block a unique name"),
                );
                continue;
            }
            self.blocks.insert(node, *block);
        }
    }

    /// Collects references of every local and resource, reporting unknown ones.
    pub(super) fn collect_edges(&mut self, diags: &mut Diagnostics) {
        let mut work: Vec<(Node, FileId, Vec<&'a Expression>, bool)> = Vec::new();
        for (name, def) in &self.locals {
            work.push((Node::Local(name.clone()), def.file, vec![&def.attr.value], false));
        }
        for (node, block) in &self.blocks {
            let exprs: Vec<&'a Expression> = block.attributes().map(|a| &a.value).collect();
            work.push((node.clone(), block.file, exprs, block.attribute("for_each").is_some()));
        }
        for (node, file, exprs, has_each) in work {
            let mut edges = Vec::new();
            let mut node_refs = Vec::new();
            for expr in exprs {
                let collected = refs::collect(expr);
                self.check_names(&node, file, &collected, diags);
                for r in collected.refs {
                    let span = Span::new(file, r.range.clone());
                    match self.resolve(&r, has_each) {
                        Ok(Some(target)) => edges.push((target, span)),
                        Ok(None) => {}
                        Err(d) => {
                            diags.push(d.with_label(span, "unknown reference"));
                            self.broken(&node);
                        }
                    }
                    node_refs.push((file, r));
                }
            }
            self.edges.insert(node.clone(), edges);
            self.node_refs.insert(node, node_refs);
        }
    }

    /// Reports the unknown names and functions of one expression of `node`, and records the
    /// functions it calls.
    fn check_names(&mut self, node: &Node, file: FileId, collected: &Collected, diags: &mut Diagnostics) {
        for (name, range) in &collected.unknown_roots {
            let mut d = Diagnostic::error(codes::UNKNOWN_REFERENCE, format!("unknown name `{name}`"))
                .with_label(Span::new(file, range.clone()), "not defined");
            d = match did_you_mean(name, ROOTS.iter().copied()) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help(
                    "references start with var., local., each., approver_group., access_policy. or privileged_access",
                ),
            };
            diags.push(d);
            self.broken(node);
        }
        if !collected.functions.is_empty() {
            let called = self.calls_functions.entry(node.clone()).or_default();
            called.extend(collected.functions.iter().map(|(name, _)| name.clone()));
        }
        for (name, range) in &collected.functions {
            if !FUNCTIONS.contains(&name.as_str()) {
                let mut d = Diagnostic::error(codes::UNKNOWN_FUNCTION, format!("unknown function `{name}`"))
                    .with_label(Span::new(file, range.clone()), "not a function of the language");
                d = match did_you_mean(name, FUNCTIONS.iter().copied()) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!("functions are: {}", FUNCTIONS.join(", "))),
                };
                diags.push(d);
                self.broken(node);
            }
        }
    }

    /// The node a reference names, `None` for `each`, or an error (without label).
    pub(super) fn resolve(&self, r: &Reference, has_each: bool) -> Result<Option<Node>, Diagnostic> {
        let name = r.name.clone();
        match r.root.as_str() {
            "var" => self.resolve_variable(name),
            "local" => self.resolve_local(name),
            "each" => resolve_each(name.as_deref(), has_each),
            "privileged_access" => self.resolve_privileged_access(),
            root => self.resolve_block(root, name),
        }
    }

    fn resolve_variable(&self, name: Option<String>) -> Result<Option<Node>, Diagnostic> {
        let Some(name) = name else {
            return Err(missing_name("var"));
        };
        if self.decls.variables.contains_key(&name) {
            Ok(Some(Node::Var(name)))
        } else {
            Err(undeclared(
                "variable",
                &name,
                self.decls.variables.keys().map(String::as_str),
                "declare it with a `variable` block",
            ))
        }
    }

    fn resolve_local(&self, name: Option<String>) -> Result<Option<Node>, Diagnostic> {
        let Some(name) = name else {
            return Err(missing_name("local"));
        };
        if self.locals.contains_key(&name) {
            Ok(Some(Node::Local(name)))
        } else {
            Err(undeclared(
                "local value",
                &name,
                self.locals.keys().map(String::as_str),
                "define it in a `locals` block",
            ))
        }
    }

    fn resolve_privileged_access(&self) -> Result<Option<Node>, Diagnostic> {
        let node = Node::Resource(ResourceType::PrivilegedAccess, String::new());
        if self.blocks.contains_key(&node) {
            Ok(Some(node))
        } else {
            Err(Diagnostic::error(
                codes::UNKNOWN_REFERENCE,
                "reference to `privileged_access`, which is not configured",
            )
            .with_help("add a `privileged_access` block or remove the reference"))
        }
    }

    /// `approver_group.NAME` or `access_policy.NAME`.
    fn resolve_block(&self, root: &str, name: Option<String>) -> Result<Option<Node>, Diagnostic> {
        let kind = ResourceType::from_name(root).unwrap_or(ResourceType::ApproverGroup);
        let Some(name) = name else {
            return Err(missing_name(root));
        };
        let node = Node::Resource(kind, name.clone());
        if self.blocks.contains_key(&node) {
            return Ok(Some(node));
        }
        let names = self.blocks.keys().filter_map(|n| match n {
            Node::Resource(k, n) if *k == kind => Some(n.as_str()),
            _ => None,
        });
        Err(undeclared(root, &name, names, &format!("declare it with a `{root}` block")))
    }

    /// A dependency order of all nodes; reports each cycle once and marks its nodes failed.
    pub(super) fn order(&mut self, diags: &mut Diagnostics) -> Vec<Node> {
        let mut nodes: Vec<Node> = self.decls.variables.keys().map(|n| Node::Var(n.clone())).collect();
        nodes.extend(self.edges.keys().cloned());
        let mut state: HashMap<Node, Visit> = HashMap::new();
        let mut out = Vec::with_capacity(nodes.len());
        let mut stack: Vec<(Node, Span)> = Vec::new();
        for node in nodes {
            self.visit(node, None, &mut state, &mut stack, &mut out, diags);
        }
        out
    }

    fn visit(
        &mut self,
        node: Node,
        via: Option<Span>,
        state: &mut HashMap<Node, Visit>,
        stack: &mut Vec<(Node, Span)>,
        out: &mut Vec<Node>,
        diags: &mut Diagnostics,
    ) {
        match state.get(&node) {
            Some(Visit::Done) => return,
            Some(Visit::OnStack) => {
                self.report_cycle(&node, via, stack, diags);
                return;
            }
            None => {}
        }
        state.insert(node.clone(), Visit::OnStack);
        stack.push((node.clone(), via.unwrap_or_default()));
        let edges = self.edges.get(&node).cloned().unwrap_or_default();
        for (target, span) in edges {
            self.visit(target, Some(span), state, stack, out, diags);
        }
        stack.pop();
        state.insert(node.clone(), Visit::Done);
        out.push(node);
    }

    /// A back edge to `node`: the cycle is the stack from `node` on, closed by `via`. Reports
    /// it and marks its members failed.
    fn report_cycle(
        &mut self,
        node: &Node,
        via: Option<Span>,
        stack: &[(Node, Span)],
        diags: &mut Diagnostics,
    ) {
        let start = stack.iter().position(|(n, _)| n == node).unwrap_or(0);
        let members: Vec<(Node, Span)> = stack[start..].to_vec();
        let path: Vec<String> = members.iter().map(|(n, _)| n.describe()).chain([node.describe()]).collect();
        let mut d =
            Diagnostic::error(codes::REFERENCE_CYCLE, format!("reference cycle: {}", path.join(" -> ")));
        // Each member's label sits on the reference it makes to the next one.
        for (i, (n, _)) in members.iter().enumerate() {
            let span = members.get(i + 1).map(|(_, s)| *s).or(via);
            if let Some(span) = span {
                d = d.with_label(span, format!("{} refers to {} here", n.describe(), path[i + 1]));
            }
        }
        diags.push(d.with_help("break the cycle: one of these must not depend on the others"));
        for (n, _) in members {
            self.failed.insert(n);
        }
    }

    /// A node with a reported problem in its references: a local fails as a whole; a block
    /// still evaluates the attributes that do not use the broken reference.
    fn broken(&mut self, node: &Node) {
        if matches!(node, Node::Resource(..)) {
            self.degraded.insert(node.clone());
        } else {
            self.failed.insert(node.clone());
        }
    }

    /// The node a (resolved) reference points at.
    pub(super) fn ref_node(r: &Reference) -> Option<Node> {
        match (r.root.as_str(), &r.name) {
            ("var", Some(n)) => Some(Node::Var(n.clone())),
            ("local", Some(n)) => Some(Node::Local(n.clone())),
            ("privileged_access", _) => Some(Node::Resource(ResourceType::PrivilegedAccess, String::new())),
            (root, Some(n)) => ResourceType::from_name(root).map(|k| Node::Resource(k, n.clone())),
            _ => None,
        }
    }

    /// Whether an expression uses a value that failed to evaluate, or a reference, name or
    /// function that does not exist (all reported already).
    pub(super) fn touches_failed(&self, expr: &Expression, has_each: bool) -> bool {
        let c = refs::collect(expr);
        !c.unknown_roots.is_empty()
            || c.functions.iter().any(|(f, _)| !FUNCTIONS.contains(&f.as_str()))
            || c.refs.iter().any(|r| match self.resolve(r, has_each) {
                Ok(Some(n)) => self.failed.contains(&n),
                Ok(None) => false,
                Err(_) => true,
            })
    }
}

/// `each.key` or `each.value`, inside a block with `for_each`.
fn resolve_each(name: Option<&str>, has_each: bool) -> Result<Option<Node>, Diagnostic> {
    if !has_each {
        return Err(Diagnostic::error(
            codes::UNKNOWN_REFERENCE,
            "`each` is only available in blocks with `for_each`",
        )
        .with_help("add `for_each = ...` to this block, or remove the reference"));
    }
    match name {
        Some("key" | "value") => Ok(None),
        _ => Err(Diagnostic::error(codes::UNKNOWN_REFERENCE, "`each` has only `key` and `value`")
            .with_help("write `each.key` or `each.value`")),
    }
}

/// A reference to a name nobody declared, with the closest declared name as a hint.
fn undeclared<'n>(
    what: &str,
    name: &str,
    candidates: impl Iterator<Item = &'n str>,
    help: &str,
) -> Diagnostic {
    let d = Diagnostic::error(codes::UNKNOWN_REFERENCE, format!("reference to undeclared {what} `{name}`"));
    match did_you_mean(name, candidates) {
        Some(c) => d.with_help(format!("did you mean `{c}`?")),
        None => d.with_help(help.to_string()),
    }
}

fn missing_name(root: &str) -> Diagnostic {
    Diagnostic::error(codes::UNKNOWN_REFERENCE, format!("`{root}` needs a name"))
        .with_help(format!("write `{root}.NAME`"))
}
