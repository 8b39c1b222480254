//! Checks across resources, after evaluation: unique group emails, unique policy targets,
//! Microsoft's limit of 30 policies, and `import`/`moved` addresses that must exist.

use std::collections::HashMap;

use super::MAX_POLICIES;
use super::codes;
use super::diagnostic::{Diagnostic, Diagnostics};
use crate::model::normalize::principal;
use crate::model::{Address, Configuration, Span};

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
    for moved in &config.moves {
        if !exists(&moved.to.value) {
            diags.push(unknown_address("moved", &moved.to.value, moved.to.span));
        }
        if moved.from.value.kind != moved.to.value.kind {
            diags.push(
                Diagnostic::error(codes::INVALID_ADDRESS, "`moved` cannot change a resource's type")
                    .with_label(moved.to.span, "a different type")
                    .with_extra_label(moved.from.span, "moved from here")
                    .with_help("move only between addresses of the same type"),
            );
        }
    }
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
