//! Checks across resources, after evaluation: unique group emails, unique policy targets,
//! Microsoft's limit of 30 policies, `import` addresses that must exist, and `moved` blocks
//! as Terraform validates them (targets, types, still declared, ambiguous, cycles, chains).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::diagnostic::{Diagnostic, Diagnostics, codes};
use crate::model::normalize::principal;
use crate::model::{Address, Configuration, Moved, Span};
use crate::wire::exchange::MAX_POLICIES;

pub fn run(config: &Configuration, diags: &mut Diagnostics) {
    let groups = config.groups.iter().map(|(a, g)| (principal(&g.email.value), a, g.email.span));
    for_duplicates(groups, |address, span, first, first_span| {
        let email = &config.groups[address].email.value;
        diags.push(
            Diagnostic::error(
                codes::DUPLICATE_EMAIL,
                format!("`{address}` and `{first}` have the same email address `{email}`"),
            )
            .with_label(span, "used again here")
            .with_extra_label(first_span, "first used here")
            .with_help(
                "each approver group needs its own primary SMTP address (compared case-insensitively)",
            ),
        );
    });
    let policies = config.policies.iter().map(|(a, p)| (p.target.value.natural_key(), a, p.target.span));
    for_duplicates(policies, |address, span, first, first_span| {
        let target = &config.policies[address].target.value;
        diags.push(
            Diagnostic::error(
                codes::DUPLICATE_POLICY_TARGET,
                format!("`{address}` and `{first}` gate the same {target}"),
            )
            .with_label(span, "gated again here")
            .with_extra_label(first_span, "first gated here")
            .with_help("a tenant holds one policy per task, role or role group: remove one"),
        );
    });
    if config.policies.len() > MAX_POLICIES {
        // Point at the first policy beyond the limit, in source order.
        let mut spans: Vec<Span> = config.policies.values().map(|p| p.span).collect();
        spans.sort_by_key(|s| (s.file, s.start));
        spans.dedup();
        let span = spans.get(MAX_POLICIES.min(spans.len().saturating_sub(1))).copied().unwrap_or_default();
        diags.push(
            Diagnostic::error(
                codes::TOO_MANY_POLICIES,
                format!(
                    "the configuration has {} access policies; Exchange Online allows at most {MAX_POLICIES}",
                    config.policies.len()
                ),
            )
            .with_label(span, "beyond the limit")
            .with_help("gate a role or role group instead of many single tasks, or remove policies (for_each instances count one each)"),
        );
    }
    let exists =
        |a: &Address| config.contains(a) || (a.key.is_none() && config.addresses().any(|x| a.selects(x)));
    for import in &config.imports {
        if !exists(&import.to.value) {
            diags.push(unknown_address("import", &import.to.value, import.to.span));
        }
    }
    moves(config, &exists, diags);
}

/// Checks `moved` blocks as Terraform does: each moves to an address the configuration
/// defines (or to the `from` of another block, a chain), between addresses of one type,
/// away from an address no longer declared; no address is moved twice or moved into twice;
/// no chain comes back to where it started.
fn moves(config: &Configuration, exists: &dyn Fn(&Address) -> bool, diags: &mut Diagnostics) {
    each_move(config, exists, diags);
    duplicate_moves(config, diags);
    move_cycles(config, diags);
}

/// Each `moved` block on its own: not to itself, to an address that exists, within one
/// type, and from an address that is no longer declared.
fn each_move(config: &Configuration, exists: &dyn Fn(&Address) -> bool, diags: &mut Diagnostics) {
    let froms: HashSet<&Address> = config.moves.iter().map(|m| &m.from.value).collect();
    for moved in &config.moves {
        let (from, to) = (&moved.from.value, &moved.to.value);
        if from == to {
            diags.push(
                Diagnostic::error(codes::MOVED_CYCLE, format!("`moved` moves `{from}` to itself"))
                    .with_label(moved.to.span, "the same address")
                    .with_help("delete this moved block"),
            );
            continue;
        }
        if !exists(to) && !froms.contains(to) {
            diags.push(unknown_address("moved", to, moved.to.span));
        }
        if from.kind != to.kind {
            diags.push(
                Diagnostic::error(codes::INVALID_ADDRESS, "`moved` cannot change a resource's type")
                    .with_label(moved.to.span, "a different type")
                    .with_extra_label(moved.from.span, "moved from here")
                    .with_help("move only between addresses of the same type"),
            );
        }
        if exists(from) {
            let mut d = Diagnostic::error(
                codes::MOVED_STILL_DECLARED,
                format!("`moved` moves `{from}` to `{to}`, but `{from}` is still declared"),
            )
            .with_label(moved.from.span, "still in the configuration");
            if let Some(span) = config.block_span(from) {
                d = d.with_extra_label(span, "declared here");
            }
            diags.push(d.with_help(format!(
                "rename the block at `{from}` to `{to}` to move it, or delete this moved block to keep it where it is"
            )));
        }
    }
}

/// Two `moved` blocks from one address, or into one address.
fn duplicate_moves(config: &Configuration, diags: &mut Diagnostics) {
    let by_from = config.moves.iter().map(|m| (m.from.value.to_string(), &m.from.value, m.from.span));
    for_duplicates(by_from, |address, span, _, first_span| {
        diags.push(
            Diagnostic::error(codes::AMBIGUOUS_MOVE, format!("`{address}` is moved by two `moved` blocks"))
                .with_label(span, "moved again here")
                .with_extra_label(first_span, "first moved here")
                .with_help("an object moves to one address only: delete one of these moved blocks"),
        );
    });
    let by_to = config.moves.iter().map(|m| (m.to.value.to_string(), &m.to.value, m.to.span));
    for_duplicates(by_to, |address, span, _, first_span| {
        diags.push(
            Diagnostic::error(
                codes::AMBIGUOUS_MOVE,
                format!("two `moved` blocks move objects into `{address}`"),
            )
            .with_label(span, "moved into again here")
            .with_extra_label(first_span, "first moved into here")
            .with_help("only one object can live at an address: delete one of these moved blocks"),
        );
    });
}

/// Cycles: a chain of moves that returns to its start, reported once at its first block.
fn move_cycles(config: &Configuration, diags: &mut Diagnostics) {
    let next: HashMap<&Address, &Address> =
        config.moves.iter().rev().map(|m| (&m.from.value, &m.to.value)).collect();
    let mut reported: HashSet<&Address> = HashSet::new();
    for moved in &config.moves {
        let start = &moved.from.value;
        if start == &moved.to.value || reported.contains(start) {
            continue;
        }
        let mut path = vec![start];
        let mut at = next[start];
        while let Some(n) = next.get(at) {
            if at == start || path.contains(&at) {
                break;
            }
            path.push(at);
            at = n;
        }
        if at != start {
            continue;
        }
        reported.extend(path.iter().copied());
        let chain: Vec<String> = path.iter().chain([&start]).map(|a| format!("`{a}`")).collect();
        diags.push(
            Diagnostic::error(
                codes::MOVED_CYCLE,
                format!("`moved` blocks form a cycle: {}", chain.join(" -> ")),
            )
            .with_label(moved.span, "the cycle starts here")
            .with_help("each object moves forward once: delete the moved block that leads back"),
        );
    }
}

/// Where the object at each `moved` block's `from` ends up, following chains as Terraform
/// does (`a -> b` and `b -> c` take the object at `a` to `c`). A cycle stops where it would
/// repeat (validation rejects cycles); the first block wins where two share a `from`.
pub fn move_destinations(moves: &[Moved]) -> BTreeMap<Address, Address> {
    let next: HashMap<&Address, &Address> =
        moves.iter().rev().map(|m| (&m.from.value, &m.to.value)).collect();
    let mut out = BTreeMap::new();
    for from in next.keys() {
        let mut seen: HashSet<&Address> = HashSet::from([*from]);
        let mut at = next[from];
        while let Some(n) = next.get(at) {
            if !seen.insert(at) {
                break;
            }
            at = n;
        }
        out.insert((*from).clone(), at.clone());
    }
    out
}

/// Calls `report(address, span, first_address, first_span)` for every item whose key an
/// earlier item had already.
fn for_duplicates<'a>(
    items: impl Iterator<Item = (String, &'a Address, Span)>,
    mut report: impl FnMut(&'a Address, Span, &'a Address, Span),
) {
    let mut seen: HashMap<String, (&Address, Span)> = HashMap::new();
    for (key, address, span) in items {
        match seen.get(&key) {
            Some((first, first_span)) => report(address, span, first, *first_span),
            None => {
                seen.insert(key, (address, span));
            }
        }
    }
}

fn unknown_address(block: &str, address: &Address, span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::UNKNOWN_ADDRESS,
        format!("`{block}` names `{address}`, which the configuration does not define"),
    )
    .with_label(span, "no such resource")
    .with_help(format!("add the `{}` block, or fix the address", address.block()))
}
