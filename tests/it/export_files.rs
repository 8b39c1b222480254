//! The export builder on a fixed tenant picture: the files it writes (a reviewed snapshot),
//! that they are formatted, load without errors or warnings, import every object once, and
//! do not depend on the order the tenant lists things in.

use std::collections::BTreeSet;

use pamform::config::{self, VarInputs, format::format_source};
use pamform::export::{self, TenantBlock};
use pamform::model::{
    Approval, DirectoryObject, ObjectKind, PamSetting, PolicyTarget, RemoteGroup, RemotePolicy,
    TenantSnapshot,
};

use crate::support::{APP_ID, DOMAIN};

fn user(name: &str) -> DirectoryObject {
    DirectoryObject {
        id: format!("id-{name}"),
        kind: ObjectKind::User,
        upn: Some(format!("{name}@{DOMAIN}")),
        mail: Some(format!("{name}@{DOMAIN}")),
        display_name: Some(name.to_string()),
        has_mailbox: true,
        is_guest: false,
    }
}

fn group(
    display: &str,
    email: &str,
    alias: &str,
    description: Option<&str>,
    members: &[&str],
) -> RemoteGroup {
    RemoteGroup {
        id: format!("gid-{alias}"),
        name: display.to_string(),
        display_name: display.to_string(),
        alias: alias.to_string(),
        email: email.to_string(),
        description: description.map(str::to_string),
        security_enabled: true,
        members: members.iter().map(|m| user(m)).collect(),
    }
}

fn policy(id: &str, target: PolicyTarget, approval: Approval, group: &str) -> RemotePolicy {
    RemotePolicy { id: id.to_string(), target, approval, approver_group: group.to_string() }
}

fn snapshot() -> TenantSnapshot {
    let mut s = TenantSnapshot::default();
    for g in [
        group("PAM Approvers", &format!("pam-approvers@{DOMAIN}"), "pam-approvers", None, &["carol", "dave"]),
        group(
            "Ops",
            &format!("ops@{DOMAIN}"),
            "operations",
            Some("Approves \"ops\" work, ${not} a template"),
            &["Erin", "alice"],
        ),
        group("OPS", &format!("ops2@{DOMAIN}"), "ops2", None, &["bob"]),
        // Named by no policy: not exported.
        group("Unused", &format!("unused@{DOMAIN}"), "unused", None, &["bob"]),
    ] {
        s.groups.insert(g.email.to_lowercase(), g);
    }
    s.policies = vec![
        policy("3", PolicyTarget::Task("New-MoveRequest".into()), Approval::Manual, &format!("OPS@{DOMAIN}")),
        policy("1", PolicyTarget::Role("Journaling".into()), Approval::Auto, &format!("ops2@{DOMAIN}")),
        policy(
            "2",
            PolicyTarget::RoleGroup("Organization Management".into()),
            Approval::Manual,
            &format!("pam-approvers@{DOMAIN}"),
        ),
        policy("4", PolicyTarget::Task("Set-Mailbox".into()), Approval::Manual, &format!("ops@{DOMAIN}")),
    ];
    s.pam = PamSetting {
        enabled: true,
        default_approver_group: Some(format!("PAM-Approvers@{DOMAIN}")),
        system_accounts: vec![format!("SVC-pamform@{DOMAIN}"), APP_ID.into()],
    };
    s
}

fn tenant() -> TenantBlock {
    TenantBlock { id: DOMAIN.into(), emulator: Some("../data/tenant.json".into()), ..TenantBlock::default() }
}

fn joined(e: &export::Export) -> String {
    e.files.iter().map(|f| format!("## {}\n{}", f.name, f.text)).collect::<Vec<_>>().join("\n")
}

#[test]
fn export_writes_readable_configuration() {
    let e = export::export(&snapshot(), Some(&tenant()), DOMAIN);
    assert_eq!((e.groups, e.policies, e.pam), (3, 4, true));
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    insta::assert_snapshot!(joined(&e));
}

#[test]
fn exported_files_are_formatted_and_load_clean() {
    let e = export::export(&snapshot(), Some(&tenant()), DOMAIN);
    let dir = tempfile::tempdir().unwrap();
    for f in &e.files {
        assert_eq!(format_source(&f.text).unwrap(), f.text, "{} is formatted", f.name);
        std::fs::write(dir.path().join(&f.name), &f.text).unwrap();
    }
    let loaded = config::load(dir.path(), &VarInputs::default()).unwrap_or_else(|err| {
        panic!("{}", config::render_plain(&err.diagnostics, &err.sources));
    });
    assert!(loaded.warnings.is_empty(), "{}", config::render_plain(&loaded.warnings, loaded.sources()));
    let c = &loaded.configuration;
    let configured: BTreeSet<String> = c.addresses().map(ToString::to_string).collect();
    let exported: BTreeSet<String> = e.objects.iter().map(|o| o.address.to_string()).collect();
    let imported: BTreeSet<String> = c.imports.iter().map(|i| i.to.value.to_string()).collect();
    assert_eq!(configured, exported);
    assert_eq!(imported, exported);
    assert_eq!(c.imports.len(), e.objects.len(), "one import block per object");
}

#[test]
fn names_do_not_depend_on_the_tenants_order() {
    let a = export::export(&snapshot(), Some(&tenant()), DOMAIN);
    let mut s = snapshot();
    s.policies.reverse();
    let b = export::export(&s, Some(&tenant()), DOMAIN);
    assert_eq!(joined(&a), joined(&b));
}

#[test]
fn without_a_tenant_block_only_resources_are_written() {
    let e = export::export(&snapshot(), None, DOMAIN);
    assert!(e.files.iter().all(|f| f.name != export::TENANT_FILE && !f.text.contains("tenant {")));
}

#[test]
fn problems_the_plan_would_reject_are_warned_about() {
    let mut s = snapshot();
    s.groups.get_mut(&format!("ops2@{DOMAIN}")).unwrap().members.clear();
    s.policies.push(policy(
        "5",
        PolicyTarget::Task("Search-Mailbox".into()),
        Approval::Manual,
        &format!("gone@{DOMAIN}"),
    ));
    s.pam.enabled = false;
    let e = export::export(&s, None, DOMAIN);
    assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
    assert!(e.warnings[0].contains("has no members"), "{}", e.warnings[0]);
    assert!(e.warnings[1].contains("gone@contoso.onmicrosoft.com"), "{}", e.warnings[1]);
    let text = joined(&e);
    assert!(text.contains("enabled                = false"), "{text}");
    assert!(text.contains(&format!("approver_group = \"gone@{DOMAIN}\"")), "{text}");
}
