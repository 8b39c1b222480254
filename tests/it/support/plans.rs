//! Plans built in code for the renderer tests: one per action kind, drift, and a very large
//! one.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use pamform::model::{Address, Approval, Membership, ResourceType};
use pamform::plan::attributes::{Attrs, GroupAttrs, PamAttrs, PolicyAttrs};
use pamform::plan::{Action, Plan, PlanMode, Reason, ResourceChange, ResourceDrift};
use pamform::views::plan::json::PlanMeta;

/// A schema from `schemas/`.
pub fn schema(name: &str) -> serde_json::Value {
    let path = format!("{}/schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The plan schema as any standard validator reads it: the drift report's schema it refers
/// to is embedded in it (`$defs/drift_report`, under its own `$id`), nothing else registered.
pub fn plan_validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema("plan.schema.json")).unwrap()
}

/// Fixed metadata so that snapshots do not move.
pub fn meta() -> PlanMeta {
    PlanMeta {
        timestamp: Utc.with_ymd_and_hms(2026, 11, 28, 9, 30, 0).unwrap(),
        pamform_version: "0.1.0".into(),
        errored: false,
        sensitivity: Default::default(),
        outline: Default::default(),
        in_state: Default::default(),
    }
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn group(name: &str, email: &str, members: &[&str]) -> Attrs {
    Attrs::Group(GroupAttrs {
        name: name.into(),
        email: email.into(),
        alias: email.split('@').next().unwrap_or_default().into(),
        description: String::new(),
        members: set(members),
        membership: Membership::Authoritative,
    })
}

pub fn task_policy(task: &str, approval: Approval, approver_group: &str) -> Attrs {
    Attrs::Policy(PolicyAttrs {
        task: Some(format!("Exchange\\{task}")),
        role: None,
        role_group: None,
        approval,
        approver_group: approver_group.into(),
    })
}

pub fn pam(enabled: bool, default_group: Option<&str>, system_accounts: &[&str]) -> Attrs {
    Attrs::Pam(PamAttrs {
        enabled,
        default_approver_group: default_group.map(str::to_string),
        system_accounts: set(system_accounts),
    })
}

/// A change with the fields every test sets; the rest start empty.
pub fn change(
    address: Address,
    action: Action,
    before: Option<Attrs>,
    after: Option<Attrs>,
) -> ResourceChange {
    let changed = match (&before, &after, action) {
        (Some(b), Some(a), Action::Update | Action::Replace) => {
            b.changed_attributes(a).into_iter().map(str::to_string).collect()
        }
        _ => vec![],
    };
    ResourceChange {
        address,
        action,
        before,
        after,
        changed,
        replace_paths: vec![],
        reasons: vec![],
        remote_id: None,
        importing: None,
        previous_address: None,
        dependencies: vec![],
    }
}

pub fn plan(changes: Vec<ResourceChange>) -> Plan {
    Plan { mode: PlanMode::Normal, targets: vec![], changes, drift: vec![] }
}

pub const MAILBOX: &str = "pam-mailbox@contoso.onmicrosoft.com";
pub const DEFAULT: &str = "pam-approvers@contoso.onmicrosoft.com";

/// `approver_group.mailbox` created.
pub fn create() -> ResourceChange {
    let mut c = change(
        Address::group("mailbox"),
        Action::Create,
        None,
        Some(group("PAM Mailbox Approvers", MAILBOX, &["alice@contoso.com", "bob@contoso.com"])),
    );
    c.dependencies = vec![];
    c
}

/// `approver_group.default` updated: one member added, one removed, two kept, new description.
pub fn update() -> ResourceChange {
    let before =
        group("PAM Approvers", DEFAULT, &["carol@contoso.com", "dave@contoso.com", "erin@contoso.com"]);
    let mut after =
        group("PAM Approvers", DEFAULT, &["carol@contoso.com", "dave@contoso.com", "mallory@contoso.com"]);
    if let Attrs::Group(g) = &mut after {
        g.description = "Approves everything else".into();
    }
    let mut c = change(Address::group("default"), Action::Update, Some(before), Some(after));
    c.remote_id = Some("7c1e2d3f-0000-4000-8000-00000000000a".into());
    c
}

/// `access_policy.mailbox_tasks["Set-Mailbox"]` replaced: approval manual -> auto.
pub fn replace() -> ResourceChange {
    let mut c = change(
        Address::with_key(ResourceType::AccessPolicy, "mailbox_tasks", "Set-Mailbox"),
        Action::Replace,
        Some(task_policy("Set-Mailbox", Approval::Manual, MAILBOX)),
        Some(task_policy("Set-Mailbox", Approval::Auto, MAILBOX)),
    );
    c.replace_paths = vec!["approval".into()];
    c.reasons = vec![Reason::ReplaceBecauseCannotUpdate];
    c.remote_id = Some("policy-set-mailbox".into());
    c.dependencies = vec![Address::group("mailbox")];
    c
}

/// `access_policy.journaling` destroyed: no longer in the configuration.
pub fn delete() -> ResourceChange {
    let mut c = change(
        Address::policy("journaling"),
        Action::Delete,
        Some(Attrs::Policy(PolicyAttrs {
            task: None,
            role: Some("Journaling".into()),
            role_group: None,
            approval: Approval::Auto,
            approver_group: DEFAULT.into(),
        })),
        None,
    );
    c.reasons = vec![Reason::DeleteBecauseNoResourceConfig];
    c.remote_id = Some("policy-journaling".into());
    c
}

/// `approver_group.helpdesk` imported by an import block, nothing to change.
pub fn import() -> ResourceChange {
    let g = group("Helpdesk Approvers", "helpdesk@contoso.onmicrosoft.com", &["frank@contoso.com"]);
    let mut c = change(Address::group("helpdesk"), Action::NoOp, Some(g.clone()), Some(g));
    c.reasons = vec![Reason::ImportBlock];
    c.importing = Some("helpdesk@contoso.onmicrosoft.com".into());
    c.remote_id = Some("5d0c1111-0000-4000-8000-00000000000b".into());
    c
}

/// `access_policy.move_request` renamed from `access_policy.moves` by a moved block.
pub fn moved() -> ResourceChange {
    let p = task_policy("New-MoveRequest", Approval::Manual, MAILBOX);
    let mut c = change(Address::policy("move_request"), Action::NoOp, Some(p.clone()), Some(p));
    c.reasons = vec![Reason::Moved];
    c.previous_address = Some(Address::policy("moves"));
    c.remote_id = Some("policy-move-request".into());
    c
}

/// `privileged_access` keeps PAM on with another default group and a new system account.
pub fn pam_update() -> ResourceChange {
    change(
        Address::privileged_access(),
        Action::Update,
        Some(pam(true, Some(DEFAULT), &["svc-pamform@contoso.com"])),
        Some(pam(true, Some(MAILBOX), &["svc-backup@contoso.com", "svc-pamform@contoso.com"])),
    )
}

/// `privileged_access` switched off.
pub fn pam_off() -> ResourceChange {
    change(
        Address::privileged_access(),
        Action::Update,
        Some(pam(true, Some(DEFAULT), &["svc-pamform@contoso.com"])),
        Some(pam(false, Some(DEFAULT), &["svc-pamform@contoso.com"])),
    )
}

/// Every change kind in one plan.
pub fn mixed() -> Plan {
    let mut changes = vec![create(), update(), replace(), delete(), import(), moved(), pam_update()];
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    plan(changes)
}

/// Changes found by the refresh: members added in the admin center, a policy removed, PAM off.
pub fn drift() -> Vec<ResourceDrift> {
    let before = group("PAM Approvers", DEFAULT, &["carol@contoso.com", "dave@contoso.com"]);
    let after =
        group("PAM Approvers", DEFAULT, &["carol@contoso.com", "dave@contoso.com", "eve@contoso.com"]);
    vec![
        ResourceDrift {
            address: Address::group("default"),
            remote_id: "7c1e2d3f-0000-4000-8000-00000000000a".into(),
            changed: before.changed_attributes(&after).into_iter().map(str::to_string).collect(),
            before,
            after: Some(after),
        },
        ResourceDrift {
            address: Address::policy("move_request"),
            remote_id: "policy-move-request".into(),
            before: task_policy("New-MoveRequest", Approval::Manual, MAILBOX),
            after: None,
            changed: vec![],
        },
        ResourceDrift {
            address: Address::privileged_access(),
            remote_id: String::new(),
            before: pam(true, Some(DEFAULT), &["svc-pamform@contoso.com"]),
            after: Some(pam(false, Some(DEFAULT), &["svc-pamform@contoso.com"])),
            changed: vec!["enabled".into()],
        },
    ]
}

/// A refresh-only plan of [`drift`].
pub fn drift_plan() -> Plan {
    Plan { mode: PlanMode::RefreshOnly, targets: vec![], changes: vec![], drift: drift() }
}

/// 30 replaced policies and a group with `members` member changes (half added, half removed).
pub fn huge(members: usize) -> Plan {
    let mut changes = Vec::new();
    for i in 0..30 {
        let mut c = change(
            Address::with_key(ResourceType::AccessPolicy, "tasks", format!("Task-{i:02}")),
            Action::Replace,
            Some(task_policy(&format!("Task-{i:02}"), Approval::Manual, MAILBOX)),
            Some(task_policy(&format!("Task-{i:02}"), Approval::Manual, DEFAULT)),
        );
        c.replace_paths = vec!["approver_group".into()];
        c.reasons = vec![Reason::ReplaceBecauseCannotUpdate];
        c.remote_id = Some(format!("policy-{i:02}"));
        changes.push(c);
    }
    let before: Vec<String> = (0..members / 2).map(|i| format!("old-member-{i:05}@contoso.com")).collect();
    let after: Vec<String> =
        (0..members - members / 2).map(|i| format!("new-member-{i:05}@contoso.com")).collect();
    let b: Vec<&str> = before.iter().map(String::as_str).collect();
    let a: Vec<&str> = after.iter().map(String::as_str).collect();
    let mut g = change(
        Address::group("everyone"),
        Action::Update,
        Some(group("Everyone", "everyone@contoso.onmicrosoft.com", &b)),
        Some(group("Everyone", "everyone@contoso.onmicrosoft.com", &a)),
    );
    g.remote_id = Some("group-everyone".into());
    changes.push(g);
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    plan(changes)
}

/// `access_policy.move` kept from `access_policy.move_request`, found by its task in state
/// under the old address (no `moved` block).
pub fn implied_move() -> ResourceChange {
    let p = task_policy("New-MoveRequest", Approval::Manual, MAILBOX);
    let mut c = change(Address::policy("move"), Action::NoOp, Some(p.clone()), Some(p));
    c.reasons = vec![Reason::ImpliedMove];
    c.previous_address = Some(Address::policy("move_request"));
    c.remote_id = Some("policy-move-request".into());
    c
}

/// `approver_group.mailbox_approvers` renamed by a moved block and given a member.
pub fn moved_and_updated() -> ResourceChange {
    let before = group("PAM Mailbox Approvers", MAILBOX, &["alice@contoso.com"]);
    let after = group("PAM Mailbox Approvers", MAILBOX, &["alice@contoso.com", "bob@contoso.com"]);
    let mut c = change(Address::group("mailbox_approvers"), Action::Update, Some(before), Some(after));
    c.reasons = vec![Reason::Moved];
    c.previous_address = Some(Address::group("mailbox"));
    c.remote_id = Some("group-mailbox".into());
    c
}

/// `approver_group.default`, unchanged: three approvers.
pub fn default_group_unchanged() -> ResourceChange {
    let g = group("PAM Approvers", DEFAULT, &["carol@contoso.com", "dave@contoso.com", "erin@contoso.com"]);
    let mut c = change(Address::group("default"), Action::NoOp, Some(g.clone()), Some(g));
    c.remote_id = Some("7c1e2d3f-0000-4000-8000-00000000000a".into());
    c
}

/// `access_policy.set_mailbox` replaced to name the wider default group instead of the
/// mailbox group.
pub fn to_wider_group() -> ResourceChange {
    let mut c = change(
        Address::policy("set_mailbox"),
        Action::Replace,
        Some(task_policy("Set-Mailbox", Approval::Manual, MAILBOX)),
        Some(task_policy("Set-Mailbox", Approval::Manual, DEFAULT)),
    );
    c.replace_paths = vec!["approver_group".into()];
    c.reasons = vec![Reason::ReplaceBecauseCannotUpdate];
    c.remote_id = Some("policy-set-mailbox".into());
    c
}

/// Every security fact at once: PAM off, a policy removed, one replaced manual -> auto, one
/// moved to a wider group, approvers added, system accounts widened, the default group
/// changed; and both kinds of move.
pub fn security() -> Plan {
    let mut pam = pam_update();
    if let Some(Attrs::Pam(p)) = &mut pam.after {
        p.enabled = true;
    }
    let mut changes = vec![
        replace(),
        delete(),
        to_wider_group(),
        moved_and_updated(),
        default_group_unchanged(),
        implied_move(),
        pam,
    ];
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    plan(changes)
}
