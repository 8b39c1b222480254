//! Export: writes the tenant's current PAM setup as configuration — approver groups with
//! members, the PAM switch, every access policy referring to its group by reference — plus
//! `import` blocks for every object, so that an existing tenant comes under management with
//! a plan that shows only imports. Names are readable and stable, derived from group names
//! and tasks. The [`import`](mod@import) submodule finds the object an import id names.

pub mod import;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::config::format::format_source;
use crate::model::{
    Address, DirectoryObject, PolicyTarget, RemoteGroup, RemotePolicy, TenantSnapshot, normalize,
};
use crate::plan::PRIVILEGED_ACCESS_ID;

/// The tenant block to write.
#[derive(Debug, Clone, Default)]
pub struct TenantBlock {
    pub id: String,
    pub exchange_url: Option<String>,
    pub graph_url: Option<String>,
    pub login_url: Option<String>,
    pub emulator: Option<String>,
}

/// One file to write: name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub text: String,
}

/// One exported object: its address and the id its import block names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub address: Address,
    /// The id state records (group object id, policy Identity, `tenant`).
    pub remote_id: String,
    /// The id the import block gives (group email, policy Identity, tenant id).
    pub import_id: String,
}

/// What export produced.
#[derive(Debug, Clone)]
pub struct Export {
    pub files: Vec<File>,
    pub groups: usize,
    pub policies: usize,
    pub pam: bool,
    pub objects: Vec<Exported>,
    /// Things the user should know: the plan would reject the exported configuration until
    /// they are dealt with.
    pub warnings: Vec<String>,
}

/// The name of the file holding the tenant block.
pub const TENANT_FILE: &str = "main.pam.hcl";

/// Every file export may write, tenant block first.
pub const FILES: [&str; 5] = [
    TENANT_FILE,
    "approver_groups.pam.hcl",
    "privileged_access.pam.hcl",
    "access_policies.pam.hcl",
    "imports.pam.hcl",
];

/// Builds the configuration files that reproduce `snapshot`, formatted as `pamform fmt`
/// would. Without `tenant`, no tenant block is written (the directory has one already).
pub fn export(snapshot: &TenantSnapshot, tenant: Option<&TenantBlock>, tenant_id: &str) -> Export {
    let groups = approver_groups(snapshot);
    let group_names = unique_names(
        groups.iter().map(|g| slug(if g.display_name.is_empty() { &g.alias } else { &g.display_name })),
    );
    let by_email: BTreeMap<String, &str> =
        groups.iter().zip(&group_names).map(|(g, n)| (normalize::principal(&g.email), n.as_str())).collect();
    let group_ref = |email: &str| match by_email.get(&normalize::principal(email)) {
        Some(name) => format!("approver_group.{name}"),
        None => quote(email),
    };
    let mut objects = Vec::new();
    let mut warnings = Vec::new();

    let mut main = String::new();
    if let Some(tenant) = tenant {
        let _ = writeln!(main, "# Exported by pamform from tenant {}.", tenant.id);
        main.push_str("tenant {\n");
        let mut rows = vec![("id", quote(&tenant.id))];
        for (k, v) in [
            ("exchange_url", &tenant.exchange_url),
            ("graph_url", &tenant.graph_url),
            ("login_url", &tenant.login_url),
            ("emulator", &tenant.emulator),
        ] {
            if let Some(v) = v {
                rows.push((k, quote(v)));
            }
        }
        write_rows(&mut main, &rows);
        main.push_str("}\n");
    }

    let mut groups_text = String::new();
    let mut imports = String::new();
    for (g, name) in groups.iter().zip(&group_names) {
        if !groups_text.is_empty() {
            groups_text.push('\n');
        }
        let _ = writeln!(groups_text, "approver_group \"{name}\" {{");
        let mut rows = vec![("name", quote(&g.display_name)), ("email", quote(&g.email))];
        let default_alias = g.email.split('@').next().unwrap_or_default();
        if !g.alias.eq_ignore_ascii_case(default_alias) {
            rows.push(("alias", quote(&g.alias)));
        }
        if let Some(d) = g.description.as_deref().filter(|d| !d.is_empty()) {
            rows.push(("description", quote(d)));
        }
        rows.push(("members", list(&member_names(&g.members))));
        write_rows(&mut groups_text, &rows);
        groups_text.push_str("}\n");
        let address = Address::group(name.as_str());
        import(&mut imports, &address, &g.email);
        if g.members.is_empty() {
            warnings.push(format!(
                "{address} ({}) has no members: the plan rejects empty approver groups; add at least one member",
                g.email
            ));
        }
        objects.push(Exported { address, remote_id: g.id.clone(), import_id: g.email.clone() });
    }
    for email in missing_groups(snapshot) {
        warnings.push(format!(
            "PAM names the group {email}, which is not in the tenant; the exported configuration refers to it by address"
        ));
    }

    let pam = &snapshot.pam;
    let mut pam_text = String::from("privileged_access {\n");
    let mut rows = vec![("enabled", pam.enabled.to_string())];
    if let Some(g) = &pam.default_approver_group {
        rows.push(("default_approver_group", group_ref(g)));
    }
    let accounts: BTreeSet<String> = pam.system_accounts.iter().map(|s| normalize::principal(s)).collect();
    if !accounts.is_empty() {
        rows.push(("system_accounts", list(&accounts.into_iter().collect::<Vec<_>>())));
    }
    write_rows(&mut pam_text, &rows);
    pam_text.push_str("}\n");
    let address = Address::privileged_access();
    import(&mut imports, &address, tenant_id);
    objects.push(Exported {
        address,
        remote_id: PRIVILEGED_ACCESS_ID.to_string(),
        import_id: tenant_id.to_string(),
    });

    let mut policies_text = String::new();
    let policies = sorted_policies(snapshot);
    let policy_names = unique_names(policies.iter().map(|p| policy_slug(&p.target)));
    for (p, name) in policies.iter().zip(&policy_names) {
        if !policies_text.is_empty() {
            policies_text.push('\n');
        }
        let _ = writeln!(policies_text, "access_policy \"{name}\" {{");
        let target = match &p.target {
            PolicyTarget::Task(_) => ("task", quote(&p.target.display_value())),
            PolicyTarget::Role(r) => ("role", quote(r)),
            PolicyTarget::RoleGroup(g) => ("role_group", quote(g)),
        };
        let rows = vec![
            target,
            ("approval", quote(p.approval.as_str())),
            ("approver_group", group_ref(&p.approver_group)),
        ];
        write_rows(&mut policies_text, &rows);
        policies_text.push_str("}\n");
        let address = Address::policy(name.as_str());
        import(&mut imports, &address, &p.id);
        if p.approver_group.trim().is_empty() {
            warnings.push(format!(
                "{address} ({}) has no approver group in the tenant; the configuration needs one: set approver_group before planning",
                p.target.display_value()
            ));
        }
        objects.push(Exported { address, remote_id: p.id.clone(), import_id: p.id.clone() });
    }

    let mut files = Vec::new();
    for (name, text) in FILES.into_iter().zip([main, groups_text, pam_text, policies_text, imports]) {
        if !text.is_empty() {
            // The builder writes valid HCL; should formatting ever fail, the text as built is
            // still valid and only less tidy.
            let text = format_source(&text).unwrap_or(text);
            files.push(File { name: name.into(), text });
        }
    }
    Export { files, groups: groups.len(), policies: policies.len(), pam: pam.enabled, objects, warnings }
}

/// Policies in a stable order: by target, then id.
fn sorted_policies(snapshot: &TenantSnapshot) -> Vec<&RemotePolicy> {
    let mut policies: Vec<&RemotePolicy> = snapshot.policies.iter().collect();
    policies.sort_by(|a, b| (a.target.natural_key(), &a.id).cmp(&(b.target.natural_key(), &b.id)));
    policies
}

/// Group addresses PAM names that the snapshot does not hold.
fn missing_groups(snapshot: &TenantSnapshot) -> BTreeSet<String> {
    pam_group_emails(snapshot).into_iter().filter(|e| snapshot.group(e).is_none()).collect()
}

/// The addresses of every group PAM uses: policy approver groups and the default group.
fn pam_group_emails(snapshot: &TenantSnapshot) -> BTreeSet<String> {
    let mut emails: BTreeSet<String> =
        snapshot.policies.iter().map(|p| normalize::principal(&p.approver_group)).collect();
    if let Some(g) = &snapshot.pam.default_approver_group {
        emails.insert(normalize::principal(g));
    }
    emails.retain(|e| !e.is_empty());
    emails
}

/// Every group PAM uses: policy approver groups and the default approver group, by email.
fn approver_groups(snapshot: &TenantSnapshot) -> Vec<&RemoteGroup> {
    let mut groups: Vec<&RemoteGroup> =
        pam_group_emails(snapshot).iter().filter_map(|e| snapshot.group(e)).collect();
    groups.sort_by_cached_key(|g| (g.display_name.to_lowercase(), normalize::principal(&g.email)));
    groups
}

fn member_names(members: &[DirectoryObject]) -> Vec<String> {
    let names: BTreeSet<String> = members
        .iter()
        .map(|m| normalize::principal(m.upn.as_deref().or(m.mail.as_deref()).unwrap_or(&m.id)))
        .collect();
    names.into_iter().collect()
}

fn import(out: &mut String, to: &Address, id: &str) {
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "import {{\n  to = {to}\n  id = {}\n}}", quote(id));
}

/// `name = value` rows with `=` aligned, two-space indent.
fn write_rows(out: &mut String, rows: &[(&str, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:width$} = {v}");
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for i in items {
        let _ = writeln!(s, "    {},", quote(i));
    }
    s.push_str("  ]");
    s
}

/// An HCL string literal: JSON escaping plus `${` and `%{` escaped as template syntax.
pub fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("string").replace("${", "$${").replace("%{", "%%{")
}

/// A readable identifier: `PAM Mailbox Approvers` -> `pam_mailbox_approvers`,
/// `New-MoveRequest` -> `new_move_request`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let out = out.trim_matches('_').to_string();
    match out.chars().next() {
        None => "unnamed".into(),
        Some(c) if c.is_ascii_digit() => format!("_{out}"),
        _ => out,
    }
}

fn policy_slug(t: &PolicyTarget) -> String {
    match t {
        PolicyTarget::Task(c) => slug(c),
        PolicyTarget::Role(r) => format!("role_{}", slug(r)),
        PolicyTarget::RoleGroup(g) => format!("role_group_{}", slug(g)),
    }
}

/// Makes names unique in order of appearance: `x`, `x_2`, `x_3`.
fn unique_names(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    names
        .map(|n| {
            let count = seen.entry(n.clone()).or_insert(0);
            *count += 1;
            if *count == 1 { n } else { format!("{n}_{count}") }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_readable_identifiers() {
        assert_eq!(slug("PAM Mailbox Approvers"), "pam_mailbox_approvers");
        assert_eq!(slug("New-MoveRequest"), "new_move_request");
        assert_eq!(slug("Organization Management"), "organization_management");
        assert_eq!(slug("  "), "unnamed");
        assert_eq!(slug("2nd line"), "_2nd_line");
        assert!(crate::model::address::is_identifier(&slug("Ünïcode — names!")));
    }

    #[test]
    fn names_are_unique() {
        assert_eq!(
            unique_names(["a", "b", "a", "a"].into_iter().map(String::from)),
            vec!["a", "b", "a_2", "a_3"]
        );
    }

    #[test]
    fn quotes_escape_templates() {
        assert_eq!(quote("a${b}\"c"), "\"a$${b}\\\"c\"");
    }
}
