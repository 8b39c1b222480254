//! Evaluation: orders variables, locals and blocks by their references (reporting unknown
//! references and cycles), evaluates each with hcl-rs in a context holding exactly what it
//! references, expands `for_each`, and builds the desired model with a span on every value.
//!
//! The jobs live in their own files: [`graph`] declares the nodes and orders them by their
//! references, [`expr`] evaluates expressions and locals, [`instances`] expands `for_each`,
//! [`attributes`] reads one instance's typed attributes, [`meta`] its meta-arguments
//! (`depends_on`, `lifecycle`, dependencies), [`build`] turns each instance into its model
//! object, [`tenant`] and [`imports`] read the blocks outside the graph, and [`sensitivity`]
//! marks the attributes that come from sensitive variables.

mod attributes;
mod build;
mod expr;
mod graph;
mod imports;
mod instances;
mod meta;
mod sensitivity;

pub use sensitivity::sensitive_texts;
mod tenant;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use hcl::Value;
use hcl::eval::Context;
use hcl_edit::structure::Attribute;

use super::refs::Reference;
use super::syntax::BlockRef;
use crate::diagnostic::Diagnostics;
use crate::model::{Configuration, FileId, ResourceType, Span};

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
    tenant::build_tenant(decls, dir, &ev, config, diags);
    imports::build_imports_and_moves(decls, &ev, config, diags);
    config.sensitive = sensitivity::sensitivity(decls, config);
}

/// The evaluation of one configuration: the graph of its variables, locals and resource
/// blocks, and the values found so far.
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
    /// Nodes some expression references: only their values are ever read.
    referenced: HashSet<Node>,
}

impl Evaluator<'_, '_> {
    /// Evaluates every node in dependency order, skipping what depends on a failure.
    fn run(&mut self, config: &mut Configuration, diags: &mut Diagnostics) {
        self.collect_edges(diags);
        self.referenced = self.node_refs.values().flatten().filter_map(|(_, r)| Self::ref_node(r)).collect();
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
}
