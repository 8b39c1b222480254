//! Plan-time checks against the tenant, each pointing at the configuration: unknown members,
//! members without a mailbox, guest approvers, members listed twice under two names,
//! approver groups that would be empty, the 30-policy limit counting unmanaged policies,
//! approver groups that do not exist, tasks, roles and role groups the tenant does not have,
//! group names another recipient holds, and self-lockout (a policy in force after the plan
//! gating a cmdlet pamform itself runs while PAM is on and pamform's identity is not a
//! system account).

use std::collections::BTreeSet;

use crate::diagnostic::{Diagnostic, Diagnostics, codes};
use crate::model::snapshot::RoleCatalog;
use crate::model::{Configuration, GroupRef, PolicyTarget, ResourceType, Span, TenantSnapshot, normalize};
use crate::plan::attributes::Attrs;
use crate::plan::{Action, Plan};
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

/// Runs every check; errors and warnings together.
pub fn check(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    state: Option<&State>,
    plan: &Plan,
) -> Diagnostics {
    let mut out = Diagnostics::new();
    members(config, snapshot, &mut out);
    duplicate_members(config, snapshot, &mut out);
    empty_groups(config, plan, &mut out);
    group_refs(config, snapshot, &mut out);
    policy_limit(config, snapshot, state, &mut out);
    tenant_names(config, snapshot, &mut out);
    group_names(config, snapshot, plan, &mut out);
    self_lockout(config, snapshot, state, plan, &mut out);
    exemption_removed_with_gating_policy(config, snapshot, plan, &mut out);
    default_group_replaced(config, plan, &mut out);
    out.redact(&config.sensitive_texts);
    out.sort();
    out
}

fn members(config: &Configuration, snapshot: &TenantSnapshot, out: &mut Diagnostics) {
    for g in config.groups.values() {
        for m in &g.members {
            match snapshot.principals.get(normalize::principal_cow(&m.value).as_ref()) {
                Some(None) => out.push(
                    Diagnostic::error(codes::UNKNOWN_MEMBER, format!("no user or recipient `{}` in the tenant", m.value))
                        .with_label(m.span, "not found in the directory")
                        .with_help("check the spelling, or create the user (with a mailbox) first"),
                ),
                Some(Some(obj)) if !obj.has_mailbox => out.push(
                    Diagnostic::error(
                        codes::MEMBER_WITHOUT_MAILBOX,
                        format!("`{}` has no mailbox: only mail-enabled recipients can be members of an approver group", m.value),
                    )
                    .with_label(m.span, "not mail-enabled")
                    .with_help("give the user a mailbox (a license with Exchange Online), or remove it from members"),
                ),
                Some(Some(obj)) if obj.is_guest => out.push(
                    Diagnostic::warning(
                        codes::GUEST_APPROVER,
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
                        codes::UNKNOWN_SYSTEM_ACCOUNT,
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
                    codes::EMPTY_APPROVER_GROUP,
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
                    codes::DEFAULT_GROUP_REPLACED,
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
                    codes::UNKNOWN_APPROVER_GROUP,
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
    let state_policies = || {
        state
            .into_iter()
            .flat_map(|s| s.resources.iter())
            .filter(|r| r.address.kind == crate::model::ResourceType::AccessPolicy)
    };
    let managed_ids: BTreeSet<String> = state_policies().map(|r| r.id.to_lowercase()).collect();
    // A live policy for a target state records is the object state manages, even when it was
    // recreated out of band under a new id: the plan adopts it (and destroys it when its
    // address is gone), so it is not an unmanaged policy that stays.
    let managed_keys: BTreeSet<String> = state_policies()
        .filter_map(|r| Attrs::from_value(r.address.kind, &r.attributes))
        .filter_map(|a| a.as_policy().and_then(|p| p.target()))
        .map(|t| t.natural_key())
        .collect();
    let wanted: BTreeSet<String> = config.policies.values().map(|p| p.target.value.natural_key()).collect();
    let unmanaged = snapshot
        .policies
        .iter()
        .filter(|p| {
            let key = p.target.natural_key();
            !managed_ids.contains(&p.id.to_lowercase())
                && !wanted.contains(&key)
                && !managed_keys.contains(&key)
        })
        .count();
    let total = config.policies.len() + unmanaged;
    if total > MAX_POLICIES
        && let Some(last) = config.policies.values().last()
    {
        out.push(
            Diagnostic::error(
                codes::TOO_MANY_POLICIES,
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

/// A member listed twice in one group under two names (UPN and mail, say) is one member:
/// a warning at the second name.
///
/// A member is keyed by the id of the directory object its name resolves to (what
/// `MemberNames::id_of` would answer for it), else by its name; the
/// snapshot's principals are read directly, without building that index a second time.
fn duplicate_members(config: &Configuration, snapshot: &TenantSnapshot, out: &mut Diagnostics) {
    for (address, g) in &config.groups {
        let mut seen: std::collections::HashMap<std::borrow::Cow<'_, str>, &str> =
            std::collections::HashMap::with_capacity(g.members.len());
        for m in &g.members {
            let name = normalize::principal_cow(&m.value);
            let key = match snapshot.principals.get(name.as_ref()) {
                Some(Some(obj)) => std::borrow::Cow::Borrowed(obj.id.as_str()),
                _ => name,
            };
            match seen.get(&key) {
                Some(first) => out.push(
                    Diagnostic::warning(
                        codes::DUPLICATE_MEMBER,
                        format!("{address} lists the same member twice: `{}` is `{first}`", m.value),
                    )
                    .with_label(m.span, "already listed under another name")
                    .with_help("list each member once; pamform compares members as directory objects"),
                ),
                None => {
                    seen.insert(key, m.value.as_str());
                }
            }
        }
    }
}

/// Tasks, roles and role groups the tenant does not have fail only halfway through an apply:
/// check them against the tenant's catalog (when the refresh read it), unless the tenant
/// already has a policy for the target.
fn tenant_names(config: &Configuration, snapshot: &TenantSnapshot, out: &mut Diagnostics) {
    let Some(catalog) = &snapshot.catalog else { return };
    for (address, p) in &config.policies {
        let target = &p.target.value;
        if snapshot.policy_by_target(target).is_some() {
            continue;
        }
        let (names, code, what, lister) = match target {
            PolicyTarget::Task(_) => (
                &catalog.cmdlets,
                codes::UNKNOWN_TASK,
                "cmdlet",
                "tasks are the cmdlets of the tenant's management roles, which Get-ManagementRoleEntry \"*\\*\" lists",
            ),
            PolicyTarget::Role(_) => (
                &catalog.roles,
                codes::UNKNOWN_ROLE,
                "management role",
                "Get-ManagementRole lists the tenant's roles",
            ),
            PolicyTarget::RoleGroup(_) => (
                &catalog.role_groups,
                codes::UNKNOWN_ROLE_GROUP,
                "role group",
                "Get-RoleGroup lists the tenant's role groups",
            ),
        };
        if RoleCatalog::find(names, target.name()).is_some() {
            continue;
        }
        let shown = |n: &str| match target {
            PolicyTarget::Task(_) => format!("Exchange\\{n}"),
            _ => n.to_string(),
        };
        let d = Diagnostic::error(code, format!("{address}: the tenant has no {what} `{}`", target.name()));
        let d = match did_you_mean(target.name(), names) {
            Some(best) => d
                .with_label(p.target.span, format!("did you mean \"{}\"?", shown(best)))
                .with_help(format!("did you mean \"{}\"? {lister}", shown(best))),
            None => d
                .with_label(p.target.span, format!("no such {what}"))
                .with_help(format!("check the spelling; {lister}")),
        };
        out.push(d);
    }
}

/// The closest name, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a String>) -> Option<&'a str> {
    let wanted = name.trim().to_lowercase();
    let limit = (wanted.chars().count() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&wanted, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)))
        .map(|(_, c)| c.as_str())
}

/// A new group (or a group being renamed) must not take the Exchange `Name`, display name or
/// alias of another recipient: Exchange refuses it only at apply.
fn group_names(config: &Configuration, snapshot: &TenantSnapshot, plan: &Plan, out: &mut Diagnostics) {
    for (address, g) in &config.groups {
        let Some(change) = plan.change(address) else { continue };
        let Some(after) = change.after.as_ref().and_then(Attrs::as_group) else { continue };
        let renamed = change.changed.iter().any(|c| c == "name");
        let realiased = change.changed.iter().any(|c| c == "alias");
        let new = matches!(change.action, Action::Create | Action::Replace);
        if !(new || renamed || realiased) {
            continue;
        }
        // The group itself (by id, or by address when it is adopted) holds its own names.
        let others = snapshot.name_holders.iter().filter(|r| {
            !change.remote_id.as_deref().is_some_and(|id| r.id.eq_ignore_ascii_case(id))
                && !r.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&after.email))
        });
        let name = after.name.trim();
        let alias = after.alias.trim();
        for r in others {
            let holder = r.email.as_deref().unwrap_or(&r.name);
            let (what, span) = if (new || renamed)
                && (r.name.trim().eq_ignore_ascii_case(name)
                    || r.display_name.trim().eq_ignore_ascii_case(name))
            {
                ("name", g.name.span)
            } else if (new || realiased) && !alias.is_empty() && r.alias.trim().eq_ignore_ascii_case(alias) {
                ("alias", g.alias.as_ref().map(|a| a.span).unwrap_or(g.email.span))
            } else {
                continue;
            };
            let value = if what == "name" { name } else { alias };
            out.push(
                Diagnostic::error(
                    codes::GROUP_NAME_TAKEN,
                    format!("{address}: the {what} `{value}` is already taken by `{holder}` in the tenant"),
                )
                .with_label(span, format!("{what} in use"))
                .with_help(format!(
                    "Exchange keeps names and aliases unique among recipients: choose another {what}, or import `{holder}` if it is the group you mean"
                )),
            );
            break;
        }
    }
}

/// PAM after the plan: the configuration's `privileged_access` block when there is one, else
/// the tenant's live switch, with its system accounts.
fn pam_after(config: &Configuration, snapshot: &TenantSnapshot) -> (bool, Vec<String>, Option<Span>) {
    match &config.privileged_access {
        Some(p) => {
            (p.enabled.value, p.system_accounts.iter().map(|s| s.value.clone()).collect(), Some(p.span))
        }
        None => (snapshot.pam.enabled, snapshot.pam.system_accounts.clone(), None),
    }
}

fn self_lockout(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    state: Option<&State>,
    plan: &Plan,
    out: &mut Diagnostics,
) {
    let (enabled, accounts, pam_span) = pam_after(config, snapshot);
    if !enabled {
        return;
    }
    let Some(identity) = snapshot.identity.as_deref() else { return };
    if accounts.iter().any(|s| s.trim().eq_ignore_ascii_case(identity.trim())) {
        return;
    }
    let fix = match pam_span {
        Some(_) => format!("add \"{identity}\" to privileged_access.system_accounts"),
        None => format!(
            "PAM is on in the tenant: add a privileged_access block whose system_accounts include \"{identity}\""
        ),
    };
    let hits = |target: &PolicyTarget| -> Vec<&'static str> {
        let gated = gated_cmdlets(target, snapshot);
        CMDLETS_PAMFORM_RUNS.iter().copied().filter(|c| gated.contains(&c.to_lowercase())).collect()
    };
    let how = |t: &PolicyTarget| match t {
        PolicyTarget::Task(_) => String::new(),
        t => format!(" (through {} `{}`)", t.attribute().replace('_', " "), t.name()),
    };
    for (address, p) in &config.policies {
        let hit = hits(&p.target.value);
        if let Some(first) = hit.first() {
            let mut d = Diagnostic::error(
                codes::SELF_LOCKOUT,
                format!(
                    "{address} would lock pamform out: it gates Exchange\\{first}{}, which pamform runs, and pamform's identity `{identity}` is not a system account",
                    how(&p.target.value)
                ),
            )
            .with_label(p.target.span, format!("gates {} cmdlet(s) pamform needs", hit.len()));
            if let Some(span) = pam_span {
                d = d.with_extra_label(span, "system_accounts does not list pamform's identity");
            }
            out.push(d.with_help(format!("{fix}, or gate something narrower")));
        }
    }
    // Policies already in the tenant that this plan keeps: neither configured nor destroyed.
    let planned: BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| c.address.kind == ResourceType::AccessPolicy)
        .filter_map(|c| c.remote_id.as_deref().map(str::to_lowercase))
        .chain(state.into_iter().flat_map(|s| {
            s.resources
                .iter()
                .filter(|r| r.address.kind == ResourceType::AccessPolicy && config.contains(&r.address))
                .map(|r| r.id.to_lowercase())
        }))
        .collect();
    let wanted: BTreeSet<String> = config.policies.values().map(|p| p.target.value.natural_key()).collect();
    for live in &snapshot.policies {
        if planned.contains(&live.id.to_lowercase()) || wanted.contains(&live.target.natural_key()) {
            continue;
        }
        let hit = hits(&live.target);
        let Some(first) = hit.first() else { continue };
        let mut d = Diagnostic::error(
            codes::SELF_LOCKOUT,
            format!(
                "the policy for {} already in the tenant (id {}) would lock pamform out: it gates Exchange\\{first}{}, which pamform runs, PAM is on and pamform's identity `{identity}` is not a system account",
                live.target.display_value(),
                live.id,
                how(&live.target)
            ),
        );
        if let Some(span) = pam_span {
            d = d.with_label(span, "system_accounts does not list pamform's identity");
        }
        out.push(d.with_help(format!(
            "{fix}, or remove that policy from the tenant (pamform import it, then delete its block)"
        )));
    }
}

/// Whether pamform's identity is gated while PAM is `enabled` with `accounts` exempt.
fn identity_gated(identity: &str, enabled: bool, accounts: &[String]) -> bool {
    enabled && !accounts.iter().any(|s| s.trim().eq_ignore_ascii_case(identity.trim()))
}

/// The cmdlets pamform runs that a policy target gates.
fn gates_pamform(target: &PolicyTarget, snapshot: &TenantSnapshot) -> bool {
    let gated = gated_cmdlets(target, snapshot);
    CMDLETS_PAMFORM_RUNS.iter().any(|c| gated.contains(&c.to_lowercase()))
}

/// Orders an apply so that pamform never locks itself out halfway: when the tenant's PAM
/// switch gates pamform now and this plan's change to the switch exempts it (a system
/// account, or PAM off), every policy the plan creates that gates a cmdlet pamform runs
/// waits for that change. Otherwise the policy can take effect first and the switch's own
/// update (and whatever else follows) is refused, in this apply and every later one.
pub fn order_after_exemption(config: &Configuration, snapshot: &TenantSnapshot, plan: &mut Plan) {
    let Some(identity) = snapshot.identity.as_deref() else { return };
    if !identity_gated(identity, snapshot.pam.enabled, &snapshot.pam.system_accounts) {
        return;
    }
    let pam = crate::model::Address::privileged_access();
    let switch_exempts = plan
        .change(&pam)
        .is_some_and(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace));
    let (enabled, accounts, _) = pam_after(config, snapshot);
    if !switch_exempts || identity_gated(identity, enabled, &accounts) {
        return;
    }
    for c in plan.changes.iter_mut() {
        if c.address.kind != ResourceType::AccessPolicy
            || !matches!(c.action, Action::Create | Action::Replace)
            || c.dependencies.contains(&pam)
        {
            continue;
        }
        let target = c.after.as_ref().and_then(Attrs::as_policy).and_then(|p| p.target());
        if target.is_some_and(|t| gates_pamform(&t, snapshot)) {
            c.dependencies.push(pam.clone());
        }
    }
}

/// A plan that takes pamform's exemption away (PAM switched on, or pamform's identity
/// dropped from the system accounts) while it removes a policy that gates the removal of
/// policies cannot be ordered safely: the switch may change first, and the removal is then
/// refused in this apply and every later one, leaving the policy in force. Two applies can.
fn exemption_removed_with_gating_policy(
    config: &Configuration,
    snapshot: &TenantSnapshot,
    plan: &Plan,
    out: &mut Diagnostics,
) {
    let Some(identity) = snapshot.identity.as_deref() else { return };
    let (enabled, accounts, pam_span) = pam_after(config, snapshot);
    if !identity_gated(identity, enabled, &accounts)
        || identity_gated(identity, snapshot.pam.enabled, &snapshot.pam.system_accounts)
    {
        return;
    }
    for c in &plan.changes {
        if c.address.kind != ResourceType::AccessPolicy || c.action != Action::Delete {
            continue;
        }
        let Some(target) = c.before.as_ref().and_then(Attrs::as_policy).and_then(|p| p.target()) else {
            continue;
        };
        if !gated_cmdlets(&target, snapshot).contains(&cmdlet::REMOVE_POLICY.to_lowercase()) {
            continue;
        }
        let mut d = Diagnostic::error(
            codes::SELF_LOCKOUT,
            format!(
                "{} gates Exchange\\{}, which removes it, and is removed by the same apply that stops exempting pamform's identity `{identity}` from PAM: if the switch changes first, pamform is locked out before the removal",
                c.address,
                cmdlet::REMOVE_POLICY
            ),
        );
        if let Some(span) = pam_span {
            d = d.with_label(span, "stops exempting pamform");
        }
        out.push(d.with_help(format!(
            "apply in two steps: first remove {} (keeping pamform exempt), then change privileged_access",
            c.address
        )));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::NamedRecipient;
    use crate::model::{Approval, DirectoryObject, ObjectKind, PamSetting, RemotePolicy};
    use crate::plan::PlanOptions;

    const APP: &str = "app-id";

    use crate::plan::test_support::load;

    fn user(name: &str, mail: &str) -> DirectoryObject {
        DirectoryObject {
            id: format!("id-{name}"),
            kind: ObjectKind::User,
            upn: Some(format!("{name}@contoso.onmicrosoft.com")),
            mail: Some(mail.to_string()),
            display_name: Some(name.to_string()),
            has_mailbox: true,
            is_guest: false,
        }
    }

    /// Alice (also `alice.a@contoso.com`) and Bob are in the directory; the catalog has the
    /// move and group cmdlets.
    fn tenant(config: &Configuration) -> TenantSnapshot {
        let mut s = TenantSnapshot { identity: Some(APP.into()), ..Default::default() };
        let alice = user("alice", "alice.a@contoso.com");
        let bob = user("bob", "bob@contoso.onmicrosoft.com");
        for g in config.groups.values() {
            for m in &g.members {
                let found = [&alice, &bob].into_iter().find(|o| o.answers_to(&m.value)).cloned();
                s.principals.insert(normalize::principal(&m.value), found);
            }
        }
        let groups = ["Get-DistributionGroup", "New-DistributionGroup"];
        s.role_cmdlets.insert("distribution groups".into(), groups.map(String::from).to_vec());
        s.role_cmdlets.insert("move mailboxes".into(), vec!["New-MoveRequest".into()]);
        s.role_group_roles.insert("recipient management".into(), vec!["Distribution Groups".into()]);
        s.catalog = Some(RoleCatalog {
            cmdlets: ["New-MoveRequest", "Get-DistributionGroup", "New-DistributionGroup"]
                .map(String::from)
                .into(),
            roles: ["Move Mailboxes", "Distribution Groups"].map(String::from).into(),
            role_groups: ["Recipient Management"].map(String::from).into(),
        });
        s
    }

    const GROUP: &str = "approver_group \"approvers\" {\n  name    = \"PAM Approvers\"\n  email   = \"pam-approvers@contoso.onmicrosoft.com\"\n  members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]\n}\n";

    fn gate(attribute: &str, value: &str) -> String {
        format!(
            "{GROUP}access_policy \"gate\" {{\n  {attribute} = \"{value}\"\n  approver_group = approver_group.approvers\n}}\n"
        )
    }

    /// (code, configured text under the primary label, message) of each diagnostic.
    fn run(config: &Configuration, snapshot: &TenantSnapshot) -> Vec<(String, String, String)> {
        let plan = crate::plan::build(config, snapshot, None, &PlanOptions::default()).expect("plan");
        check(config, snapshot, None, &plan)
            .iter()
            .map(|d| {
                let at = d
                    .primary
                    .as_ref()
                    .map(|l| config.sources.snippet(l.span).to_string())
                    .unwrap_or_default();
                (d.code.clone(), at, d.message.clone())
            })
            .collect()
    }

    fn codes(found: &[(String, String, String)]) -> Vec<&str> {
        found.iter().map(|d| d.0.as_str()).collect()
    }

    fn live_pam(enabled: bool, system_accounts: &[&str]) -> PamSetting {
        PamSetting {
            enabled,
            default_approver_group: Some("hand@contoso.onmicrosoft.com".into()),
            system_accounts: system_accounts.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn without_a_block_the_live_pam_switch_decides_self_lockout() {
        let config = load(&gate("task", "Exchange\\\\Get-DistributionGroup"));
        let mut snapshot = tenant(&config);
        assert!(run(&config, &snapshot).is_empty(), "PAM is off in the tenant");
        snapshot.pam = live_pam(true, &[]);
        let found = run(&config, &snapshot);
        assert_eq!(codes(&found), vec![codes::SELF_LOCKOUT]);
        assert_eq!(found[0].1, "\"Exchange\\\\Get-DistributionGroup\"");
        snapshot.pam = live_pam(true, &["APP-ID"]);
        assert!(run(&config, &snapshot).is_empty(), "pamform is a live system account");
    }

    #[test]
    fn the_block_wins_over_the_live_switch() {
        let off =
            format!("{}privileged_access {{\n  enabled = false\n}}\n", gate("role", "Distribution Groups"));
        let config = load(&off);
        let mut snapshot = tenant(&config);
        snapshot.pam = live_pam(true, &[]);
        assert!(!codes(&run(&config, &snapshot)).contains(&codes::SELF_LOCKOUT), "the plan turns PAM off");
    }

    #[test]
    fn an_unmanaged_policy_that_stays_locks_pamform_out() {
        let config = load(GROUP);
        let mut snapshot = tenant(&config);
        snapshot.pam = live_pam(true, &[]);
        snapshot.policies.push(RemotePolicy {
            id: "p-1".into(),
            target: PolicyTarget::RoleGroup("Recipient Management".into()),
            approval: Approval::Manual,
            approver_group: "hand@contoso.onmicrosoft.com".into(),
        });
        let found = run(&config, &snapshot);
        assert_eq!(codes(&found), vec![codes::SELF_LOCKOUT]);
        assert!(
            found[0].2.contains("the policy for Recipient Management already in the tenant"),
            "{found:?}"
        );
        assert!(found[0].2.contains("through role group `Recipient Management`"), "{found:?}");
        // Configured, the same policy is reported once, at its span.
        let config = load(&gate("role_group", "Recipient Management"));
        let found = run(&config, &snapshot);
        assert_eq!(codes(&found), vec![codes::SELF_LOCKOUT]);
        assert_eq!(found[0].1, "\"Recipient Management\"");
    }

    #[test]
    fn names_the_tenant_lacks_are_errors_with_a_suggestion() {
        let cases = [
            ("task", "Exchange\\\\New-MoveReqest", codes::UNKNOWN_TASK, Some("Exchange\\New-MoveRequest")),
            ("role", "Move Mailbox", codes::UNKNOWN_ROLE, Some("Move Mailboxes")),
            ("role_group", "recipient managment", codes::UNKNOWN_ROLE_GROUP, Some("Recipient Management")),
            ("task", "Exchange\\\\Set-Whatever", codes::UNKNOWN_TASK, None),
        ];
        for (attribute, value, want, suggestion) in cases {
            let config = load(&gate(attribute, value));
            let found = run(&config, &tenant(&config));
            assert_eq!(codes(&found), vec![want], "{value}");
            assert_eq!(found[0].1, format!("\"{value}\""));
            let diag = check(
                &config,
                &tenant(&config),
                None,
                &crate::plan::build(&config, &tenant(&config), None, &PlanOptions::default()).unwrap(),
            );
            let help = diag.iter().next().and_then(|d| d.help.clone()).unwrap_or_default();
            match suggestion {
                Some(s) => assert!(help.contains(&format!("did you mean \"{s}\"")), "{help}"),
                None => assert!(!help.contains("did you mean"), "{help}"),
            }
        }
    }

    #[test]
    fn names_are_not_checked_without_a_catalog_or_when_the_policy_exists() {
        let config = load(&gate("task", "Exchange\\\\New-Thing"));
        let mut snapshot = tenant(&config);
        snapshot.catalog = None;
        assert!(run(&config, &snapshot).is_empty());
        let mut snapshot = tenant(&config);
        snapshot.policies.push(RemotePolicy {
            id: "p-1".into(),
            target: PolicyTarget::Task("new-thing".into()),
            approval: Approval::Manual,
            approver_group: "pam-approvers@contoso.onmicrosoft.com".into(),
        });
        assert!(!codes(&run(&config, &snapshot)).contains(&codes::UNKNOWN_TASK));
    }

    #[test]
    fn did_you_mean_picks_the_closest_likely_typo() {
        let names: BTreeSet<String> =
            ["New-MoveRequest", "Get-MoveRequest", "Set-Mailbox"].map(String::from).into();
        assert_eq!(did_you_mean("new-movereqest", &names), Some("New-MoveRequest"));
        assert_eq!(did_you_mean("Set-Mailbx", &names), Some("Set-Mailbox"));
        assert_eq!(did_you_mean("Remove-Everything", &names), None);
    }

    #[test]
    fn a_new_group_must_not_take_another_recipients_name_or_alias() {
        let config = load(GROUP);
        let holder = |id: &str, name: &str, alias: &str, email: &str| NamedRecipient {
            id: id.into(),
            name: name.into(),
            display_name: name.into(),
            alias: alias.into(),
            email: Some(email.into()),
        };
        let mut snapshot = tenant(&config);
        snapshot.name_holders.push(holder("g-old", "PAM Approvers", "old", "old@contoso.onmicrosoft.com"));
        let found = run(&config, &snapshot);
        assert_eq!(codes(&found), vec![codes::GROUP_NAME_TAKEN]);
        assert_eq!(found[0].1, "\"PAM Approvers\"");
        assert!(found[0].2.contains("old@contoso.onmicrosoft.com"), "{found:?}");

        let mut snapshot = tenant(&config);
        snapshot.name_holders.push(holder("u-1", "pam-approvers", "pam-approvers", "someone@contoso.com"));
        let found = run(&config, &snapshot);
        assert_eq!(codes(&found), vec![codes::GROUP_NAME_TAKEN]);
        assert!(found[0].2.contains("alias `pam-approvers`"), "{found:?}");

        // The group itself, found by its address, holds its own names.
        let mut snapshot = tenant(&config);
        snapshot.name_holders.push(holder(
            "g-self",
            "PAM Approvers",
            "pam-approvers",
            "PAM-Approvers@contoso.onmicrosoft.com",
        ));
        assert!(run(&config, &snapshot).is_empty());
    }

    #[test]
    fn one_user_listed_by_upn_and_by_mail_is_a_warning_at_the_second_name() {
        let hcl = GROUP.replace(
            "\"bob@contoso.onmicrosoft.com\"",
            "\"Alice.A@contoso.com\", \"bob@contoso.onmicrosoft.com\"",
        );
        let config = load(&hcl);
        let found = run(&config, &tenant(&config));
        assert_eq!(codes(&found), vec![codes::DUPLICATE_MEMBER]);
        assert_eq!(found[0].1, "\"Alice.A@contoso.com\"");
    }
}
