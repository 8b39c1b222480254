//! Plan-time checks against the tenant, each pointing at the configuration: unknown members,
//! members without a mailbox, guest approvers, approver groups that would be empty, the
//! 30-policy limit counting unmanaged policies, approver groups that do not exist, and
//! self-lockout (a policy gating a cmdlet pamform itself runs while its own identity is not
//! a system account).

use std::collections::BTreeSet;

use crate::config::{Diagnostic, Diagnostics};
use crate::model::{Configuration, GroupRef, PolicyTarget, TenantSnapshot, normalize};
use crate::plan::Plan;
use crate::plan::attributes::Attrs;
use crate::state::State;
use crate::wire::exchange::{MAX_POLICIES, cmdlet};

/// The cmdlets pamform runs to refresh and apply; gating any of them locks pamform out.
pub const CMDLETS_PAMFORM_RUNS: &[&str] = &[
    cmdlet::GET_ORGANIZATION_CONFIG,
    cmdlet::ENABLE_ELEVATED_ACCESS_CONTROL,
    cmdlet::DISABLE_ELEVATED_ACCESS_CONTROL,
    cmdlet::GET_POLICY,
    cmdlet::NEW_POLICY,
    cmdlet::REMOVE_POLICY,
    cmdlet::NEW_GROUP,
    cmdlet::SET_GROUP,
    cmdlet::REMOVE_GROUP,
    cmdlet::GET_GROUP,
    cmdlet::GET_GROUP_MEMBER,
    cmdlet::ADD_GROUP_MEMBER,
    cmdlet::REMOVE_GROUP_MEMBER,
    cmdlet::UPDATE_GROUP_MEMBER,
    cmdlet::GET_RECIPIENT,
    cmdlet::GET_USER,
    cmdlet::GET_ROLE_ENTRY,
    cmdlet::GET_ROLE_GROUP,
];

pub mod code {
    pub const UNKNOWN_MEMBER: &str = "pamform::unknown_member";
    pub const MEMBER_WITHOUT_MAILBOX: &str = "pamform::member_without_mailbox";
    pub const GUEST_APPROVER: &str = "pamform::guest_approver";
    pub const EMPTY_APPROVER_GROUP: &str = "pamform::empty_approver_group";
    pub const TOO_MANY_POLICIES: &str = "pamform::too_many_policies";
    pub const SELF_LOCKOUT: &str = "pamform::self_lockout";
    pub const UNKNOWN_APPROVER_GROUP: &str = "pamform::unknown_approver_group";
    pub const UNKNOWN_SYSTEM_ACCOUNT: &str = "pamform::unknown_system_account";
    pub const DEFAULT_GROUP_REPLACED: &str = "pamform::default_group_replaced";
}

/// Runs every check; errors and warnings together.
pub fn check(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    state: Option<&State>,
    plan: &Plan,
) -> Diagnostics {
    let mut out = Diagnostics::new();
    members(config, snapshot, &mut out);
    empty_groups(config, plan, &mut out);
    group_refs(config, snapshot, &mut out);
    policy_limit(config, snapshot, state, &mut out);
    self_lockout(config, snapshot, &mut out);
    default_group_replaced(config, plan, &mut out);
    out.sort();
    out
}

fn members(config: &Configuration, snapshot: &TenantSnapshot, out: &mut Diagnostics) {
    for g in config.groups.values() {
        for m in &g.members {
            match snapshot.principals.get(&normalize::principal(&m.value)) {
                Some(None) => out.push(
                    Diagnostic::error(code::UNKNOWN_MEMBER, format!("no user or recipient `{}` in the tenant", m.value))
                        .with_label(m.span, "not found in the directory")
                        .with_help("check the spelling, or create the user (with a mailbox) first"),
                ),
                Some(Some(obj)) if !obj.has_mailbox => out.push(
                    Diagnostic::error(
                        code::MEMBER_WITHOUT_MAILBOX,
                        format!("`{}` has no mailbox: only mail-enabled recipients can be members of an approver group", m.value),
                    )
                    .with_label(m.span, "not mail-enabled")
                    .with_help("give the user a mailbox (a license with Exchange Online), or remove it from members"),
                ),
                Some(Some(obj)) if obj.is_guest => out.push(
                    Diagnostic::warning(
                        code::GUEST_APPROVER,
                        format!("`{}` is a guest: guests can be members but can never approve requests", m.value),
                    )
                    .with_label(m.span, "guest account")
                    .with_help("add a member account of the tenant instead"),
                ),
                _ => {}
            }
        }
    }
    if let Some(p) = &config.privileged_access {
        for s in &p.system_accounts {
            if let Some(None) = snapshot.principals.get(&normalize::principal(&s.value)) {
                out.push(
                    Diagnostic::error(
                        code::UNKNOWN_SYSTEM_ACCOUNT,
                        format!("no account `{}` in the tenant", s.value),
                    )
                    .with_label(s.span, "not found in the directory")
                    .with_help(
                        "system accounts are UPNs of existing accounts, or the application id of an app",
                    ),
                );
            }
        }
    }
}

fn empty_groups(config: &Configuration, plan: &Plan, out: &mut Diagnostics) {
    for (address, g) in &config.groups {
        let Some(after) = plan.change(address).and_then(|c| c.after.as_ref()).and_then(Attrs::as_group)
        else {
            continue;
        };
        if after.members.is_empty() {
            let span = g.members.first().map(|m| m.span).unwrap_or(g.span);
            out.push(
                Diagnostic::error(
                    code::EMPTY_APPROVER_GROUP,
                    format!("{address} would have no members: nobody could approve its requests"),
                )
                .with_label(span, "no members")
                .with_help("list at least one member, ideally two, so that nobody approves alone"),
            );
        }
    }
}

/// Replacing the group that PAM names as its default approver group cannot be done in one
/// apply: Exchange keeps the old group while PAM names it, and PAM can only name a group
/// that exists.
fn default_group_replaced(config: &Configuration, plan: &Plan, out: &mut Diagnostics) {
    let Some(live_default) = plan
        .change(&crate::model::Address::privileged_access())
        .and_then(|c| c.before.as_ref())
        .and_then(Attrs::as_pam)
        .filter(|p| p.enabled)
        .and_then(|p| p.default_approver_group.clone())
    else {
        return;
    };
    for (address, g) in &config.groups {
        let Some(c) = plan.change(address).filter(|c| c.action == crate::plan::Action::Replace) else {
            continue;
        };
        if c.before
            .as_ref()
            .and_then(Attrs::as_group)
            .is_some_and(|b| b.email.eq_ignore_ascii_case(&live_default))
        {
            out.push(
                Diagnostic::error(
                    code::DEFAULT_GROUP_REPLACED,
                    format!("{address} must be replaced, but it is PAM's default approver group `{live_default}`, which Exchange does not let go while PAM names it"),
                )
                .with_label(g.email.span, "a new address means a new group")
                .with_help("apply in two steps: first point privileged_access.default_approver_group at another group, then change this group"),
            );
        }
    }
}

fn group_refs(config: &Configuration, snapshot: &TenantSnapshot, out: &mut Diagnostics) {
    let mut refs: Vec<(&GroupRef, crate::model::Span, String)> = Vec::new();
    for (a, p) in &config.policies {
        refs.push((&p.approver_group.value, p.approver_group.span, format!("{a}.approver_group")));
    }
    if let Some(p) = &config.privileged_access
        && let Some(g) = &p.default_approver_group
    {
        refs.push((&g.value, g.span, "privileged_access.default_approver_group".into()));
    }
    for (r, span, what) in refs {
        if let GroupRef::Email(email) = r
            && snapshot.group(email).is_none()
            && !config.groups.values().any(|g| g.email.value.eq_ignore_ascii_case(email))
        {
            out.push(
                Diagnostic::error(
                    code::UNKNOWN_APPROVER_GROUP,
                    format!("{what}: no group `{email}` in the tenant or the configuration"),
                )
                .with_label(span, "unknown group")
                .with_help("declare it as an approver_group block and refer to it, e.g. approver_group.NAME"),
            );
        }
    }
}

fn policy_limit(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    state: Option<&State>,
    out: &mut Diagnostics,
) {
    let managed_ids: BTreeSet<String> = state
        .map(|s| {
            s.resources
                .iter()
                .filter(|r| r.address.kind == crate::model::ResourceType::AccessPolicy)
                .map(|r| r.id.to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let wanted: BTreeSet<String> = config.policies.values().map(|p| p.target.value.natural_key()).collect();
    let unmanaged = snapshot
        .policies
        .iter()
        .filter(|p| !managed_ids.contains(&p.id.to_lowercase()) && !wanted.contains(&p.target.natural_key()))
        .count();
    let total = config.policies.len() + unmanaged;
    if total > MAX_POLICIES
        && let Some(last) = config.policies.values().last()
    {
        out.push(
            Diagnostic::error(
                code::TOO_MANY_POLICIES,
                format!(
                    "the tenant would hold {total} access policies ({} configured, {unmanaged} unmanaged already there); Microsoft allows {MAX_POLICIES}",
                    config.policies.len()
                ),
            )
            .with_label(last.span, "one policy too many")
            .with_help("remove policies, gate a role or role group instead of single tasks, or import and remove unmanaged ones"),
        );
    }
}

fn self_lockout(config: &Configuration, snapshot: &TenantSnapshot, out: &mut Diagnostics) {
    let Some(pam) = &config.privileged_access else { return };
    if !pam.enabled.value {
        return;
    }
    let Some(identity) = snapshot.identity.as_deref() else { return };
    if pam.system_accounts.iter().any(|s| s.value.trim().eq_ignore_ascii_case(identity.trim())) {
        return;
    }
    for (address, p) in &config.policies {
        let gated = gated_cmdlets(&p.target.value, snapshot);
        let hit: Vec<&str> =
            CMDLETS_PAMFORM_RUNS.iter().copied().filter(|c| gated.contains(&c.to_lowercase())).collect();
        if let Some(first) = hit.first() {
            let how = match &p.target.value {
                PolicyTarget::Task(_) => String::new(),
                t => format!(" (through {} `{}`)", t.attribute().replace('_', " "), t.name()),
            };
            out.push(
                Diagnostic::error(
                    code::SELF_LOCKOUT,
                    format!(
                        "{address} would lock pamform out: it gates Exchange\\{first}{how}, which pamform runs, and pamform's identity `{identity}` is not a system account"
                    ),
                )
                .with_label(p.target.span, format!("gates {} cmdlet(s) pamform needs", hit.len()))
                .with_extra_label(pam.span, "system_accounts does not list pamform's identity")
                .with_help(format!("add \"{identity}\" to privileged_access.system_accounts, or gate something narrower")),
            );
        }
    }
}

/// Lower-cased cmdlets a policy target gates, through roles and role groups.
pub fn gated_cmdlets(target: &PolicyTarget, snapshot: &TenantSnapshot) -> BTreeSet<String> {
    let role = |r: &str| {
        snapshot.role_cmdlets.get(&r.to_lowercase()).into_iter().flatten().map(|c| c.to_lowercase())
    };
    match target {
        PolicyTarget::Task(c) => [c.to_lowercase()].into(),
        PolicyTarget::Role(r) => role(r).collect(),
        PolicyTarget::RoleGroup(g) => snapshot
            .role_group_roles
            .get(&g.to_lowercase())
            .into_iter()
            .flatten()
            .flat_map(|r| role(r))
            .collect(),
    }
}
