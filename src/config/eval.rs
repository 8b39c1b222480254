//! Evaluation: orders variables, locals and blocks by their references (reporting unknown
//! references and cycles), evaluates each with hcl-rs in a context holding exactly what it
//! references, expands `for_each`, and builds the desired model with a span on every value.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use hcl::Value;
use hcl::eval::{Context, Evaluate};
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::structure::Attribute;

use super::functions::{self, FUNCTIONS, base_context};
use super::refs::{self, ROOTS, Reference};
use super::syntax::{BlockRef, GROUP_ATTRIBUTES, POLICY_ATTRIBUTES, did_you_mean, span_of};
use super::values::{self, VarType, type_name};
use crate::diagnostic::{Diagnostic, Diagnostics, codes};
use crate::model::normalize::{is_email_like, is_task_shaped, task_cmdlet};
use crate::model::{
    AccessPolicy, Address, Approval, ApproverGroup, Configuration, FileId, GroupRef, Import, Lifecycle,
    Membership, Meta, Moved, PolicyTarget, PrivilegedAccess, ResourceType, Span, Spanned, Tenant,
};

/// A node of the evaluation graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Var(String),
    Local(String),
    Resource(ResourceType, String),
}

impl Node {
    fn describe(&self) -> String {
        match self {
            Node::Var(n) => format!("var.{n}"),
            Node::Local(n) => format!("local.{n}"),
            Node::Resource(ResourceType::PrivilegedAccess, _) => "privileged_access".into(),
            Node::Resource(k, n) => format!("{k}.{n}"),
        }
    }
}

/// A local value's definition.
struct LocalDef<'a> {
    file: FileId,
    attr: &'a Attribute,
}

/// One declared variable with its resolved value.
pub struct VariableDef<'a> {
    pub block: BlockRef<'a>,
    pub value: Option<Value>,
}

/// Everything the evaluator needs, gathered from the blocks of all files.
pub struct Declarations<'a> {
    pub variables: BTreeMap<String, VariableDef<'a>>,
    pub locals_blocks: Vec<BlockRef<'a>>,
    pub resources: Vec<BlockRef<'a>>,
    pub tenants: Vec<BlockRef<'a>>,
    pub imports: Vec<BlockRef<'a>>,
    pub moves: Vec<BlockRef<'a>>,
    /// Every file parsed; checks for things that might sit in a broken file are skipped otherwise.
    pub complete: bool,
    /// The first configuration file and its first line: where a missing block is reported.
    pub first_line: Option<Span>,
}

/// Evaluates the declarations into `config` (whose sources are already set).
pub fn evaluate(decls: &Declarations<'_>, dir: &Path, config: &mut Configuration, diags: &mut Diagnostics) {
    let mut ev = Evaluator::new(decls, diags);
    ev.run(config, diags);
    build_tenant(decls, dir, &ev, config, diags);
    build_imports_and_moves(decls, &ev, config, diags);
    config.sensitive = sensitivity(decls, config);
}

/// Which attributes of the built resources take their value from a sensitive variable (the
/// rule [`crate::model::Sensitivity`] documents).
fn sensitivity(decls: &Declarations<'_>, config: &Configuration) -> crate::model::Sensitivity {
    let sensitive_vars: BTreeSet<&str> = decls
        .variables
        .iter()
        .filter(|(_, v)| {
            v.block
                .attribute("sensitive")
                .is_some_and(|a| matches!(&a.value, Expression::Bool(b) if *b.value()))
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let mut out = crate::model::Sensitivity::default();
    if sensitive_vars.is_empty() {
        return out;
    }
    let locals: BTreeMap<&str, &Expression> =
        decls.locals_blocks.iter().flat_map(|b| b.attributes()).map(|a| (a.key.as_str(), &a.value)).collect();
    // Locals that reach a sensitive variable, to a fixed point (cycles are reported elsewhere).
    let mut sensitive_locals: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = sensitive_locals.len();
        for (name, expr) in &locals {
            let hit = refs::collect(expr).refs.iter().any(|r| match (r.root.as_str(), r.name.as_deref()) {
                ("var", Some(n)) => sensitive_vars.contains(n),
                ("local", Some(n)) => sensitive_locals.contains(n),
                _ => false,
            });
            if hit {
                sensitive_locals.insert(name);
            }
        }
        if sensitive_locals.len() == before {
            break;
        }
    }
    // Sensitive attributes per block, to a fixed point over references between blocks.
    let mut blocks: BTreeMap<(ResourceType, String), BTreeSet<String>> = BTreeMap::new();
    loop {
        let mut grew = false;
        for block in &decls.resources {
            let Some(kind) = ResourceType::from_name(block.kind()) else { continue };
            let name = block.label().unwrap_or_default().to_string();
            let each = block.attribute("for_each").is_some_and(|a| {
                refs::collect(&a.value).refs.iter().any(|r| match (r.root.as_str(), r.name.as_deref()) {
                    ("var", Some(n)) => sensitive_vars.contains(n),
                    ("local", Some(n)) => sensitive_locals.contains(n),
                    _ => false,
                })
            });
            for attr in block.attributes() {
                let attr_name = attr.key.as_str();
                if matches!(attr_name, "for_each" | "depends_on") {
                    continue;
                }
                let hit = refs::collect(&attr.value).refs.iter().any(|r| {
                    match (r.root.as_str(), r.name.as_deref()) {
                        ("var", Some(n)) => sensitive_vars.contains(n),
                        ("local", Some(n)) => sensitive_locals.contains(n),
                        ("each", _) => each,
                        ("privileged_access", _) => blocks
                            .get(&(ResourceType::PrivilegedAccess, String::new()))
                            .is_some_and(|s| !s.is_empty()),
                        // A group reference stands for the group's email address.
                        ("approver_group", Some(n)) => blocks
                            .get(&(ResourceType::ApproverGroup, n.to_string()))
                            .is_some_and(|s| s.contains("email")),
                        (root, Some(n)) => ResourceType::from_name(root)
                            .is_some_and(|k| blocks.get(&(k, n.to_string())).is_some_and(|s| !s.is_empty())),
                        _ => false,
                    }
                });
                if hit && blocks.entry((kind, name.clone())).or_default().insert(attr_name.to_string()) {
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    for address in config.addresses() {
        if let Some(attrs) = blocks.get(&(address.kind, address.name.clone())) {
            for a in attrs {
                out.mark(address, a);
            }
        }
    }
    out
}

struct Evaluator<'a, 'd> {
    decls: &'d Declarations<'a>,
    base: Context<'static>,
    locals: BTreeMap<String, LocalDef<'a>>,
    blocks: BTreeMap<Node, BlockRef<'a>>,
    /// Outgoing edges with the span of the reference that makes them.
    edges: BTreeMap<Node, Vec<(Node, Span)>>,
    /// The references of each node, collected once.
    node_refs: HashMap<Node, Vec<(FileId, Reference)>>,
    /// Evaluated values: variables, locals, and resource blocks as seen by references.
    values: HashMap<Node, Value>,
    /// Instance keys of resource blocks with `for_each`, once evaluated.
    instance_keys: HashMap<Node, Option<Vec<String>>>,
    /// Nodes that failed; whatever depends on them is skipped without further noise.
    failed: HashSet<Node>,
    /// Resource blocks that depend on a failed node.
    degraded: HashSet<Node>,
    /// The functions each node's expressions call (a node's context declares just those).
    calls_functions: HashMap<Node, BTreeSet<String>>,
}

impl<'a, 'd> Evaluator<'a, 'd> {
    fn new(decls: &'d Declarations<'a>, diags: &mut Diagnostics) -> Self {
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
        };
        for (name, v) in &decls.variables {
            match &v.value {
                Some(value) => {
                    ev.values.insert(Node::Var(name.clone()), value.clone());
                }
                None => {
                    ev.failed.insert(Node::Var(name.clone()));
                }
            }
        }
        for block in &decls.locals_blocks {
            for attr in block.attributes() {
                let name = attr.key.as_str().to_string();
                if let Some(first) = ev.locals.get(&name) {
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
                ev.locals.insert(name, LocalDef { file: block.file, attr });
            }
        }
        let mut pam_seen: Option<BlockRef<'a>> = None;
        for block in &decls.resources {
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
            } else if let Some(first) = ev.blocks.get(&node) {
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
            ev.blocks.insert(node, *block);
        }
        ev
    }

    fn run(&mut self, config: &mut Configuration, diags: &mut Diagnostics) {
        self.collect_edges(diags);
        let order = self.order(diags);
        for node in order {
            if self.failed.contains(&node) {
                continue;
            }
            if self.edges.get(&node).is_some_and(|e| e.iter().any(|(d, _)| self.failed.contains(d))) {
                // A block still reports its own independent problems; only the attributes
                // that use a failed value are skipped (their cause is reported already).
                if !matches!(node, Node::Resource(..)) {
                    self.failed.insert(node);
                    continue;
                }
                self.degraded.insert(node.clone());
            }
            let ok = match &node {
                Node::Var(_) => true,
                Node::Local(name) => self.eval_local(name, diags),
                Node::Resource(..) => self.eval_resource(&node, config, diags),
            };
            if !ok {
                self.failed.insert(node);
            }
        }
    }

    /// Collects references of every local and resource, reporting unknown ones.
    fn collect_edges(&mut self, diags: &mut Diagnostics) {
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
                for (name, range) in collected.unknown_roots {
                    let mut d = Diagnostic::error(codes::UNKNOWN_REFERENCE, format!("unknown name `{name}`"))
                        .with_label(Span::new(file, range), "not defined");
                    d = match did_you_mean(&name, ROOTS.iter().copied()) {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => d.with_help(
                            "references start with var., local., each., approver_group., access_policy. or privileged_access",
                        ),
                    };
                    diags.push(d);
                    self.broken(&node);
                }
                if !collected.functions.is_empty() {
                    let called = self.calls_functions.entry(node.clone()).or_default();
                    called.extend(collected.functions.iter().map(|(name, _)| name.clone()));
                }
                for (name, range) in collected.functions {
                    if !FUNCTIONS.contains(&name.as_str()) {
                        let mut d =
                            Diagnostic::error(codes::UNKNOWN_FUNCTION, format!("unknown function `{name}`"))
                                .with_label(Span::new(file, range), "not a function of the language");
                        d = match did_you_mean(&name, FUNCTIONS.iter().copied()) {
                            Some(c) => d.with_help(format!("did you mean `{c}`?")),
                            None => d.with_help(format!("functions are: {}", FUNCTIONS.join(", "))),
                        };
                        diags.push(d);
                        self.broken(&node);
                    }
                }
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

    /// The node a reference names, `None` for `each`, or an error (without label).
    fn resolve(&self, r: &Reference, has_each: bool) -> Result<Option<Node>, Diagnostic> {
        let unknown = |what: &str, name: &str, candidates: Vec<String>, help: &str| {
            let d = Diagnostic::error(
                codes::UNKNOWN_REFERENCE,
                format!("reference to undeclared {what} `{name}`"),
            );
            match did_you_mean(name, candidates.iter().map(String::as_str)) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help(help.to_string()),
            }
        };
        let name = r.name.clone();
        match r.root.as_str() {
            "var" => {
                let Some(name) = name else {
                    return Err(missing_name("var"));
                };
                if self.decls.variables.contains_key(&name) {
                    Ok(Some(Node::Var(name)))
                } else {
                    Err(unknown(
                        "variable",
                        &name,
                        self.decls.variables.keys().cloned().collect(),
                        "declare it with a `variable` block",
                    ))
                }
            }
            "local" => {
                let Some(name) = name else {
                    return Err(missing_name("local"));
                };
                if self.locals.contains_key(&name) {
                    Ok(Some(Node::Local(name)))
                } else {
                    Err(unknown(
                        "local value",
                        &name,
                        self.locals.keys().cloned().collect(),
                        "define it in a `locals` block",
                    ))
                }
            }
            "each" => {
                if !has_each {
                    return Err(Diagnostic::error(
                        codes::UNKNOWN_REFERENCE,
                        "`each` is only available in blocks with `for_each`",
                    )
                    .with_help("add `for_each = ...` to this block, or remove the reference"));
                }
                match name.as_deref() {
                    Some("key" | "value") => Ok(None),
                    _ => {
                        Err(Diagnostic::error(codes::UNKNOWN_REFERENCE, "`each` has only `key` and `value`")
                            .with_help("write `each.key` or `each.value`"))
                    }
                }
            }
            "privileged_access" => {
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
            root => {
                let kind = ResourceType::from_name(root).unwrap_or(ResourceType::ApproverGroup);
                let Some(name) = name else {
                    return Err(missing_name(root));
                };
                let node = Node::Resource(kind, name.clone());
                if self.blocks.contains_key(&node) {
                    Ok(Some(node))
                } else {
                    let names = self
                        .blocks
                        .keys()
                        .filter_map(|n| match n {
                            Node::Resource(k, n) if *k == kind => Some(n.clone()),
                            _ => None,
                        })
                        .collect();
                    Err(unknown(root, &name, names, &format!("declare it with a `{root}` block")))
                }
            }
        }
    }

    /// A dependency order of all nodes; reports each cycle once and marks its nodes failed.
    fn order(&mut self, diags: &mut Diagnostics) -> Vec<Node> {
        let mut nodes: Vec<Node> = self.decls.variables.keys().map(|n| Node::Var(n.clone())).collect();
        nodes.extend(self.edges.keys().cloned());
        let mut state: HashMap<Node, u8> = HashMap::new(); // 1 = on stack, 2 = done
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
        state: &mut HashMap<Node, u8>,
        stack: &mut Vec<(Node, Span)>,
        out: &mut Vec<Node>,
        diags: &mut Diagnostics,
    ) {
        match state.get(&node) {
            Some(2) => return,
            Some(_) => {
                // A back edge: the cycle is the stack from `node` on, closed by `via`.
                let start = stack.iter().position(|(n, _)| *n == node).unwrap_or(0);
                let members: Vec<(Node, Span)> = stack[start..].to_vec();
                let path: Vec<String> =
                    members.iter().map(|(n, _)| n.describe()).chain([node.describe()]).collect();
                let mut d = Diagnostic::error(
                    codes::REFERENCE_CYCLE,
                    format!("reference cycle: {}", path.join(" -> ")),
                );
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
                return;
            }
            None => {}
        }
        state.insert(node.clone(), 1);
        if let Some(via) = via {
            stack.push((node.clone(), via));
        } else {
            stack.push((node.clone(), Span::default()));
        }
        let edges = self.edges.get(&node).cloned().unwrap_or_default();
        for (target, span) in edges {
            self.visit(target, Some(span), state, stack, out, diags);
        }
        stack.pop();
        state.insert(node.clone(), 2);
        out.push(node);
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
    fn ref_node(r: &Reference) -> Option<Node> {
        match (r.root.as_str(), &r.name) {
            ("var", Some(n)) => Some(Node::Var(n.clone())),
            ("local", Some(n)) => Some(Node::Local(n.clone())),
            ("privileged_access", _) => Some(Node::Resource(ResourceType::PrivilegedAccess, String::new())),
            (root, Some(n)) => ResourceType::from_name(root).map(|k| Node::Resource(k, n.clone())),
            _ => None,
        }
    }

    /// Whether an expression uses a value that failed to evaluate.
    /// Whether an expression uses a value that failed to evaluate, or a reference, name or
    /// function that does not exist (all reported already).
    fn touches_failed(&self, expr: &Expression, has_each: bool) -> bool {
        let c = refs::collect(expr);
        !c.unknown_roots.is_empty()
            || c.functions.iter().any(|(f, _)| !FUNCTIONS.contains(&f.as_str()))
            || c.refs.iter().any(|r| match self.resolve(r, has_each) {
                Ok(Some(n)) => self.failed.contains(&n),
                Ok(None) => false,
                Err(_) => true,
            })
    }

    /// A context with the values `node`'s references need.
    fn context_for(&self, node: &Node) -> Context<'static> {
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

    fn eval_local(&mut self, name: &str, diags: &mut Diagnostics) -> bool {
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

    fn eval_resource(&mut self, node: &Node, config: &mut Configuration, diags: &mut Diagnostics) -> bool {
        let Some(block) = self.blocks.get(node).copied() else { return false };
        let Node::Resource(kind, name) = node else { return false };
        let ctx = self.context_for(node);
        let before = diags.error_count();
        // for_each: None for a single instance, or the (key, value) of each instance.
        let instances: Option<Vec<(String, Value)>> = match block.attribute("for_each") {
            None => None,
            Some(attr) if self.degraded.contains(node) && self.touches_failed(&attr.value, true) => {
                return false;
            }
            Some(attr) => {
                match for_each_instances(&attr.value, &ctx, block.file, self.is_set_or_map(&attr.value, 0)) {
                    Ok(i) => Some(i),
                    Err(d) => {
                        diags.push(d);
                        return false;
                    }
                }
            }
        };
        let lifecycle = lifecycle(block, *kind, diags);
        let mut value = hcl::Map::new();
        let mut keys = None;
        let mut built_all = true;
        match instances {
            None => {
                let inst = Instance {
                    ev: self,
                    block,
                    ctx: &ctx,
                    key: None,
                    degraded: self.degraded.contains(node),
                };
                match inst.build(config, *kind, name, None, &lifecycle, diags) {
                    Some(obj) => {
                        self.values.insert(node.clone(), Value::Object(obj));
                    }
                    None => built_all = false,
                }
            }
            Some(list) => {
                let mut ks = Vec::with_capacity(list.len());
                for (key, each_value) in list {
                    let mut each = hcl::Map::new();
                    each.insert("key".to_string(), Value::String(key.clone()));
                    each.insert("value".to_string(), each_value);
                    let mut ictx = ctx.clone();
                    ictx.declare_var("each", Value::Object(each));
                    let inst = Instance {
                        ev: self,
                        block,
                        ctx: &ictx,
                        key: Some(key.clone()),
                        degraded: self.degraded.contains(node),
                    };
                    match inst.build(config, *kind, name, Some(&key), &lifecycle, diags) {
                        Some(obj) => {
                            value.insert(key.clone(), Value::Object(obj));
                        }
                        None => built_all = false,
                    }
                    ks.push(key);
                }
                keys = Some(ks);
                self.values.insert(node.clone(), Value::Object(value));
            }
        }
        self.instance_keys.insert(node.clone(), keys);
        built_all && diags.error_count() == before
    }

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

fn missing_name(root: &str) -> Diagnostic {
    Diagnostic::error(codes::UNKNOWN_REFERENCE, format!("`{root}` needs a name"))
        .with_help(format!("write `{root}.NAME`"))
}

/// Evaluates one expression; errors point at the whole expression.
fn eval_expr(expr: &Expression, ctx: &Context, span: Span) -> Result<Value, Diagnostic> {
    let result = match expr {
        // Strings and templates skip hcl-rs's expression tree, which keeps a template as text
        // and parses it again on every evaluation.
        Expression::String(s) => Ok(Value::String(s.value().clone())),
        Expression::StringTemplate(t) => eval_template(t, ctx),
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

/// Terraform rejects a list in `for_each`: instance keys would depend on the order of its
/// elements, so reordering it would move objects between addresses.
fn list_in_for_each(span: Span) -> Diagnostic {
    Diagnostic::error(codes::FOR_EACH_TYPE, "`for_each` takes a map or a set of strings, not a list")
        .with_label(span, "this is a list")
        .with_help("wrap it in `toset(...)`: instances are then keyed by value, whatever the order")
}

impl Evaluator<'_, '_> {
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
                    "var" => self.decls.variables.get(name.as_str()).is_some_and(|v| {
                        v.block
                            .attribute("type")
                            .and_then(|a| VarType::parse(&a.value))
                            .is_some_and(|t| matches!(t, VarType::Set | VarType::Map))
                            || matches!(v.value, Some(Value::Object(_)))
                    }),
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
}

/// The instances a `for_each` value asks for: map keys with their values, or set elements.
fn for_each_instances(
    expr: &Expression,
    ctx: &Context,
    file: FileId,
    set_or_map: bool,
) -> Result<Vec<(String, Value)>, Diagnostic> {
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
            let mut out: Vec<(String, Value)> = Vec::with_capacity(items.len());
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

/// Reads a `lifecycle` block (literal values only, like Terraform).
fn lifecycle(block: BlockRef<'_>, kind: ResourceType, diags: &mut Diagnostics) -> Lifecycle {
    let mut out = Lifecycle::default();
    let allowed: &[&str] =
        if kind == ResourceType::ApproverGroup { GROUP_ATTRIBUTES } else { POLICY_ATTRIBUTES };
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
            let items: Vec<&Expression> = match &attr.value {
                Expression::Array(a) => a.iter().collect(),
                Expression::Variable(v) if v.as_str() == "all" => vec![&attr.value],
                other => {
                    diags.push(
                        Diagnostic::error(
                            codes::TYPE_MISMATCH,
                            "`ignore_changes` must be a list of attribute names",
                        )
                        .with_label(lc.expr_span(other), "not a list")
                        .with_help("write `ignore_changes = [members]` or `ignore_changes = all`"),
                    );
                    continue;
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
                        out.ignore_changes.push(Spanned::new(n, span));
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
    }
    out
}

/// One instance of a resource block being built.
struct Instance<'e, 'a, 'd, 'c> {
    ev: &'e Evaluator<'a, 'd>,
    block: BlockRef<'a>,
    ctx: &'e Context<'c>,
    key: Option<String>,
    /// The block depends on a failed value: skip attributes that use it.
    degraded: bool,
}

/// An attribute's evaluated value with its expression, `None` when absent or null.
type Evaluated<'a> = Option<(Value, Span, &'a Expression)>;

impl<'a> Instance<'_, 'a, '_, '_> {
    fn get(&self, name: &str, diags: &mut Diagnostics) -> Result<Evaluated<'a>, ()> {
        let Some(attr) = self.block.attribute(name) else { return Ok(None) };
        let span = self.block.expr_span(&attr.value);
        if self.degraded && self.ev.touches_failed(&attr.value, self.block.attribute("for_each").is_some()) {
            return Err(());
        }
        match eval_expr(&attr.value, self.ctx, span) {
            Ok(Value::Null) => Ok(None),
            Ok(v) => Ok(Some((v, span, &attr.value))),
            Err(d) => {
                diags.push(d);
                Err(())
            }
        }
    }

    fn string(&self, name: &str, diags: &mut Diagnostics) -> Result<Option<Spanned<String>>, ()> {
        match self.get(name, diags)? {
            None => Ok(None),
            Some((v, span, _)) => values::string(name, &v, span).map(Some).map_err(|d| diags.push(d)),
        }
    }

    fn required_string(&self, name: &str, diags: &mut Diagnostics) -> Result<Spanned<String>, ()> {
        match self.string(name, diags)? {
            Some(s) => Ok(s),
            None => {
                // Absent attributes are reported by the schema check; this is an explicit null.
                if let Some(attr) = self.block.attribute(name) {
                    diags.push(
                        Diagnostic::error(codes::MISSING_ATTRIBUTE, format!("`{name}` must not be null"))
                            .with_label(self.block.expr_span(&attr.value), "null")
                            .with_help(format!("give `{name}` a value")),
                    );
                }
                Err(())
            }
        }
    }

    fn list(&self, name: &str, diags: &mut Diagnostics) -> Result<Vec<Spanned<String>>, ()> {
        match self.get(name, diags)? {
            None => Ok(Vec::new()),
            Some((v, _, expr)) => {
                values::string_list(name, &v, expr, self.block.file).map_err(|d| diags.push(d))
            }
        }
    }

    /// A group where one is expected: a reference to an `approver_group` block (instance), or
    /// an email address.
    fn group_ref(&self, name: &str, diags: &mut Diagnostics) -> Result<Option<Spanned<GroupRef>>, ()> {
        let Some(attr) = self.block.attribute(name) else { return Ok(None) };
        let span = self.block.expr_span(&attr.value);
        if let Some((group, index)) = group_traversal(&attr.value) {
            let node = Node::Resource(ResourceType::ApproverGroup, group.clone());
            let keys = self.ev.instance_keys.get(&node);
            let address = match (keys, index) {
                (Some(None), None) => Address::group(group),
                (Some(Some(keys)), Some(index)) => {
                    let key = eval_expr(index, self.ctx, span).map_err(|d| diags.push(d))?;
                    let key = values::as_string(&key).unwrap_or_default();
                    if !keys.contains(&key) {
                        diags.push(
                            Diagnostic::error(
                                codes::UNKNOWN_REFERENCE,
                                format!("`approver_group.{group}` has no instance `{key}`"),
                            )
                            .with_label(span, "no such instance")
                            .with_help(format!("instances are: {}", keys.join(", "))),
                        );
                        return Err(());
                    }
                    Address::with_key(ResourceType::ApproverGroup, group, key)
                }
                (Some(Some(_)), None) => {
                    diags.push(
                        Diagnostic::error(
                            codes::TYPE_MISMATCH,
                            format!("`approver_group.{group}` uses `for_each`: pick one instance"),
                        )
                        .with_label(span, "a collection of groups")
                        .with_help(format!(
                            "write `approver_group.{group}[\"KEY\"]` or `approver_group.{group}[each.key]`"
                        )),
                    );
                    return Err(());
                }
                (Some(None), Some(_)) => {
                    diags.push(
                        Diagnostic::error(
                            codes::TYPE_MISMATCH,
                            format!("`approver_group.{group}` has no `for_each`, so it takes no key"),
                        )
                        .with_label(span, "remove the key")
                        .with_help(format!("write `approver_group.{group}`")),
                    );
                    return Err(());
                }
                // The group failed to evaluate: already reported.
                (None, _) => return Err(()),
            };
            return Ok(Some(Spanned::new(GroupRef::Resource(address), span)));
        }
        let Some((v, span, _)) = self.get(name, diags)? else { return Ok(None) };
        let email = values::string(name, &v, span).map_err(|d| {
            diags.push(d.with_help(format!("write `{name} = approver_group.NAME` or an email address")))
        })?;
        if !is_email_like(&email.value) {
            diags.push(invalid_email(name, &email.value, span));
            return Err(());
        }
        Ok(Some(Spanned::new(GroupRef::Email(email.value), span)))
    }

    /// Dependencies of this instance: everything referenced, plus `depends_on`.
    fn meta(&self, lifecycle: &Lifecycle, node: &Node, diags: &mut Diagnostics) -> Result<Meta, ()> {
        let mut dependencies = BTreeSet::new();
        for (_, r) in self.ev.node_refs.get(node).map(Vec::as_slice).unwrap_or_default() {
            dependencies.extend(self.ev.ref_addresses(r, self.ctx));
        }
        let mut depends_on = Vec::new();
        if let Some(attr) = self.block.attribute("depends_on") {
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
                match address_of(item).filter(|a| a.kind != ResourceType::PrivilegedAccess || a.key.is_none())
                {
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
        }
        Ok(Meta { depends_on, lifecycle: lifecycle.clone(), dependencies, each_key: self.key.clone() })
    }

    /// Builds the model object of this instance, inserts it into `config`, and returns the
    /// value references to it evaluate to.
    fn build(
        &self,
        config: &mut Configuration,
        kind: ResourceType,
        name: &str,
        key: Option<&String>,
        lifecycle: &Lifecycle,
        diags: &mut Diagnostics,
    ) -> Option<hcl::Map<String, Value>> {
        let address = match key {
            Some(k) => Address::with_key(kind, name, k.clone()),
            None if kind == ResourceType::PrivilegedAccess => Address::privileged_access(),
            None => Address::new(kind, name),
        };
        let node = Node::Resource(kind, name.to_string());
        let span = self.block.header();
        let meta = self.meta(lifecycle, &node, diags);
        let mut obj = hcl::Map::new();
        let s = |v: &str| Value::String(v.to_string());
        match kind {
            ResourceType::ApproverGroup => {
                let display = self.required_string("name", diags);
                let email = self.required_string("email", diags);
                let alias = self.string("alias", diags);
                let description = self.string("description", diags);
                let members = self.list("members", diags);
                let membership = self.string("membership", diags).and_then(|m| match m {
                    None => Ok(Membership::Authoritative),
                    Some(m) => match m.value.as_str() {
                        "authoritative" => Ok(Membership::Authoritative),
                        "additive" => Ok(Membership::Additive),
                        other => {
                            diags.push(invalid_choice(
                                "membership",
                                other,
                                &["authoritative", "additive"],
                                m.span,
                            ));
                            Err(())
                        }
                    },
                });
                if let Ok(e) = &email
                    && !is_email_like(&e.value)
                {
                    diags.push(invalid_email("email", &e.value, e.span));
                }
                if let Ok(members) = &members {
                    for m in members.iter().filter(|m| !is_email_like(&m.value)) {
                        diags.push(invalid_email("members", &m.value, m.span));
                    }
                }
                let (
                    Ok(display),
                    Ok(email),
                    Ok(alias),
                    Ok(description),
                    Ok(members),
                    Ok(membership),
                    Ok(meta),
                ) = (display, email, alias, description, members, membership, meta)
                else {
                    return None;
                };
                let group = ApproverGroup {
                    address: address.clone(),
                    span,
                    name: display,
                    email,
                    alias,
                    description,
                    members,
                    membership,
                    meta,
                };
                obj.insert("name".into(), s(&group.name.value));
                obj.insert("email".into(), s(&group.email.value));
                obj.insert("alias".into(), s(&group.effective_alias()));
                obj.insert(
                    "description".into(),
                    group.description.as_ref().map_or(Value::Null, |d| s(&d.value)),
                );
                obj.insert(
                    "members".into(),
                    Value::Array(group.members.iter().map(|m| s(&m.value)).collect()),
                );
                obj.insert("membership".into(), s(group.membership.as_str()));
                config.groups.insert(address, group);
            }
            ResourceType::AccessPolicy => {
                let mut targets = Vec::new();
                let mut target_failed = false;
                for attr in ["task", "role", "role_group"] {
                    match self.string(attr, diags) {
                        Ok(Some(v)) => targets.push((attr, v)),
                        Ok(None) => {}
                        Err(()) => target_failed = true,
                    }
                }
                let approval = self.string("approval", diags).and_then(|a| match a {
                    None => Ok(Spanned::new(Approval::Manual, span)),
                    Some(a) => match a.value.as_str() {
                        "manual" => Ok(Spanned::new(Approval::Manual, a.span)),
                        "auto" => Ok(Spanned::new(Approval::Auto, a.span)),
                        other => {
                            diags.push(invalid_choice("approval", other, &["manual", "auto"], a.span));
                            Err(())
                        }
                    },
                });
                let group = self.group_ref("approver_group", diags);
                let target = if target_failed {
                    None
                } else {
                    match targets.as_slice() {
                        [] => {
                            diags.push(
                                Diagnostic::error(
                                    codes::POLICY_TARGET,
                                    "an access policy needs one of `task`, `role` or `role_group`",
                                )
                                .with_label(span, "no target")
                                .with_help("add `task = \"Exchange\\\\Verb-Noun\"`, `role = \"...\"` or `role_group = \"...\"`"),
                            );
                            None
                        }
                        [(attr, v)] => policy_target(attr, v, diags),
                        [(first, f), (second, sv), ..] => {
                            diags.push(
                                Diagnostic::error(
                                    codes::POLICY_TARGET,
                                    format!("an access policy gates one thing: `{first}` and `{second}` are both set"),
                                )
                                .with_label(sv.span, format!("`{second}` set here"))
                                .with_extra_label(f.span, format!("`{first}` set here"))
                                .with_help("keep exactly one of `task`, `role` and `role_group`; write one policy per target"),
                            );
                            None
                        }
                    }
                };
                let (Some(target), Ok(approval), Ok(Some(group)), Ok(meta)) = (target, approval, group, meta)
                else {
                    return None;
                };
                obj.insert("task".into(), Value::Null);
                obj.insert("role".into(), Value::Null);
                obj.insert("role_group".into(), Value::Null);
                obj.insert(target.value.attribute().into(), s(&target.value.display_value()));
                obj.insert("approval".into(), s(approval.value.as_str()));
                let group_email = match &group.value {
                    GroupRef::Email(e) => Some(e.clone()),
                    GroupRef::Resource(a) => config.groups.get(a).map(|g| g.email.value.clone()),
                };
                obj.insert("approver_group".into(), group_email.as_deref().map_or(Value::Null, s));
                config.policies.insert(
                    address.clone(),
                    AccessPolicy { address, span, target, approval, approver_group: group, meta },
                );
            }
            ResourceType::PrivilegedAccess => {
                let enabled = self.get("enabled", diags).and_then(|v| match v {
                    Some((v, span, _)) => values::bool("enabled", &v, span).map_err(|d| diags.push(d)),
                    None => Err(()),
                });
                let default = self.group_ref("default_approver_group", diags);
                let accounts = self.list("system_accounts", diags);
                if let Ok(accounts) = &accounts {
                    for a in accounts {
                        if !is_email_like(&a.value) && uuid::Uuid::parse_str(&a.value).is_err() {
                            diags.push(
                                invalid_email("system_accounts", &a.value, a.span)
                                    .with_help("list a UPN such as `svc-pamform@contoso.onmicrosoft.com`, or an application (client) id GUID"),
                            );
                        }
                    }
                }
                if let (Ok(enabled), Ok(None)) = (&enabled, &default)
                    && enabled.value
                {
                    diags.push(
                        Diagnostic::error(
                            codes::MISSING_DEFAULT_APPROVER,
                            "privileged access is enabled without a default approver group",
                        )
                        .with_label(enabled.span, "enabled here")
                        .with_help(
                            "add `default_approver_group = approver_group.NAME`; Exchange requires one",
                        ),
                    );
                    return None;
                }
                let (Ok(enabled), Ok(default), Ok(accounts), Ok(meta)) = (enabled, default, accounts, meta)
                else {
                    return None;
                };
                obj.insert("enabled".into(), Value::Bool(enabled.value));
                obj.insert(
                    "system_accounts".into(),
                    Value::Array(accounts.iter().map(|a| s(&a.value)).collect()),
                );
                config.privileged_access = Some(PrivilegedAccess {
                    address,
                    span,
                    enabled,
                    default_approver_group: default,
                    system_accounts: accounts,
                    meta,
                });
            }
        }
        Some(obj)
    }
}

fn policy_target(attr: &str, v: &Spanned<String>, diags: &mut Diagnostics) -> Option<Spanned<PolicyTarget>> {
    let target = match attr {
        "task" => {
            if !is_task_shaped(&v.value) {
                diags.push(
                    Diagnostic::error(
                        codes::TASK_FORMAT,
                        format!("`{}` is not a task: tasks are written `Exchange\\Verb-Noun`", v.value),
                    )
                    .with_label(v.span, "not shaped `Exchange\\Verb-Noun`")
                    .with_help("write e.g. `task = \"Exchange\\\\New-MoveRequest\"` (a backslash is `\\\\` inside quotes)"),
                );
                return None;
            }
            PolicyTarget::Task(task_cmdlet(&v.value).to_string())
        }
        _ if v.value.trim().is_empty() => {
            diags.push(
                Diagnostic::error(codes::INVALID_VALUE, format!("`{attr}` must not be empty"))
                    .with_label(v.span, "empty")
                    .with_help(format!("name the Exchange {}", attr.replace('_', " "))),
            );
            return None;
        }
        "role" => PolicyTarget::Role(v.value.clone()),
        _ => PolicyTarget::RoleGroup(v.value.clone()),
    };
    Some(Spanned::new(target, v.span))
}

fn invalid_email(attr: &str, value: &str, span: Span) -> Diagnostic {
    Diagnostic::error(codes::INVALID_EMAIL, format!("`{value}` in `{attr}` is not an email address or UPN"))
        .with_label(span, "malformed address")
        .with_help("write a full address such as `alice@contoso.onmicrosoft.com`")
}

fn invalid_choice(attr: &str, value: &str, choices: &[&str], span: Span) -> Diagnostic {
    let help = match did_you_mean(value, choices.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("use one of: {}", choices.join(", ")),
    };
    Diagnostic::error(codes::INVALID_VALUE, format!("`{attr}` cannot be `{value}`"))
        .with_label(span, "not allowed")
        .with_help(help)
}

/// `approver_group.NAME` or `approver_group.NAME[KEY]`, with nothing after.
fn group_traversal(expr: &Expression) -> Option<(String, Option<&Expression>)> {
    let Expression::Traversal(t) = expr else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    if root.as_str() != "approver_group" {
        return None;
    }
    match t.operators.iter().map(|o| &**o).collect::<Vec<_>>().as_slice() {
        [TraversalOperator::GetAttr(name)] => Some((name.to_string(), None)),
        [TraversalOperator::GetAttr(name), TraversalOperator::Index(i)] => Some((name.to_string(), Some(i))),
        _ => None,
    }
}

/// An address written as a reference (`access_policy.x["k"]`) or a string.
fn address_of(expr: &Expression) -> Option<Address> {
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

fn build_tenant(
    decls: &Declarations<'_>,
    dir: &Path,
    ev: &Evaluator<'_, '_>,
    config: &mut Configuration,
    diags: &mut Diagnostics,
) {
    if let Some(extra) = decls.tenants.get(1) {
        diags.push(
            Diagnostic::error(codes::DUPLICATE_TENANT, "more than one `tenant` block")
                .with_label(extra.header(), "second block")
                .with_extra_label(decls.tenants[0].header(), "first block")
                .with_help("a configuration manages one tenant: keep one `tenant` block"),
        );
    }
    let Some(block) = decls.tenants.first().copied() else {
        if !decls.complete {
            // A file failed to parse: its tenant block may be the missing one.
            return;
        }
        let mut d = Diagnostic::error(codes::MISSING_TENANT, "the configuration has no `tenant` block")
            .with_help("add `tenant { id = \"contoso.onmicrosoft.com\" }` to this file (or to a file of its own, such as tenant.pam.hcl, beside it)");
        if let Some(b) = decls.resources.first() {
            d = d.with_label(b.header(), "this configuration names no tenant");
        } else if let Some(span) = decls.first_line {
            d = d.with_label(span, "a tenant block would go in this file");
        }
        diags.push(d);
        return;
    };
    let ctx = ev.base.clone();
    let get = |name: &str, diags: &mut Diagnostics| -> Option<Spanned<String>> {
        let attr = block.attribute(name)?;
        let span = block.expr_span(&attr.value);
        let ctx = context_with(ev, &attr.value, &ctx);
        match eval_expr(&attr.value, &ctx, span) {
            Ok(Value::Null) => None,
            Ok(v) => values::string(name, &v, span).map_err(|d| diags.push(d)).ok(),
            Err(d) => {
                diags.push(d);
                None
            }
        }
    };
    let Some(id) = get("id", diags) else { return };
    let url = |name: &str, diags: &mut Diagnostics| {
        let value = get(name, diags)?;
        match url::Url::parse(&value.value) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => Some(value),
            _ => {
                diags.push(
                    Diagnostic::error(codes::INVALID_VALUE, format!("`{name}` must be an http(s) URL"))
                        .with_label(value.span, "not a URL")
                        .with_help(
                            "write e.g. `https://graph.microsoft.com`, or leave it out for the public cloud",
                        ),
                );
                None
            }
        }
    };
    let exchange_url = url("exchange_url", diags);
    let graph_url = url("graph_url", diags);
    let login_url = url("login_url", diags);
    let emulator = get("emulator", diags).map(|e| e.map(|p| dir.join(p)));
    config.tenant = Some(Tenant { span: block.header(), id, exchange_url, graph_url, login_url, emulator });
}

/// A context for an expression outside the graph (tenant, import ids): variables and locals.
fn context_with(ev: &Evaluator<'_, '_>, expr: &Expression, base: &Context<'static>) -> Context<'static> {
    let mut ctx = base.clone();
    let mut vars = hcl::Map::new();
    let mut locals = hcl::Map::new();
    for r in refs::collect(expr).refs {
        let Some(name) = r.name else { continue };
        match r.root.as_str() {
            "var" => {
                if let Some(v) = ev.values.get(&Node::Var(name.clone())) {
                    vars.insert(name, v.clone());
                }
            }
            "local" => {
                if let Some(v) = ev.values.get(&Node::Local(name.clone())) {
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

fn block_address(block: BlockRef<'_>, attr: &str, diags: &mut Diagnostics) -> Option<Spanned<Address>> {
    let a = block.attribute(attr)?;
    let span = block.expr_span(&a.value);
    match address_of(&a.value) {
        Some(address) => Some(Spanned::new(address, span)),
        None => {
            diags.push(
                Diagnostic::error(codes::INVALID_ADDRESS, format!("`{attr}` must be a resource address"))
                    .with_label(span, "not an address")
                    .with_help("write e.g. `approver_group.NAME` or `access_policy.NAME[\"KEY\"]`"),
            );
            None
        }
    }
}

fn build_imports_and_moves(
    decls: &Declarations<'_>,
    ev: &Evaluator<'_, '_>,
    config: &mut Configuration,
    diags: &mut Diagnostics,
) {
    for block in &decls.imports {
        let to = block_address(*block, "to", diags);
        let id = block.attribute("id").and_then(|attr| {
            let span = block.expr_span(&attr.value);
            let ctx = context_with(ev, &attr.value, &ev.base);
            match eval_expr(&attr.value, &ctx, span) {
                Ok(v) => values::string("id", &v, span).map_err(|d| diags.push(d)).ok(),
                Err(d) => {
                    diags.push(d);
                    None
                }
            }
        });
        if let (Some(to), Some(id)) = (to, id) {
            config.imports.push(Import { span: block.header(), to, id });
        }
    }
    for block in &decls.moves {
        let from = block_address(*block, "from", diags);
        let to = block_address(*block, "to", diags);
        if let (Some(from), Some(to)) = (from, to) {
            config.moves.push(Moved { span: block.header(), from, to });
        }
    }
}
