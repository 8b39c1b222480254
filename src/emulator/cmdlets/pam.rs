//! The PAM switch (`Get-OrganizationConfig`, `Enable-`/`Disable-ElevatedAccessControl`) and
//! the approval policies (`Get-`, `New-`, `Remove-ElevatedAccessApprovalPolicy`) with the
//! service's rules: a known target, one policy per target, at most 30, a security approver
//! group, and a replication delay before a new policy takes effect. The answers are written
//! here from the emulator's records, never through the client's decode types.

use serde_json::{Value, json};

use super::error::{CmdletError, Res, argument, not_found};
use super::lookup::{eq, find_group, find_user};
use super::params::Bound;
use super::{Ctx, Output, one};
use crate::emulator::journal::JournalAction;
use crate::emulator::seed::SeedPolicy;
use crate::emulator::tenant_data::TenantData;
use crate::model::PolicyTarget;
use crate::wire::exchange::{self as wx, class, param as p, task};

fn org_config(data: &TenantData) -> Value {
    super::recipients::org_config_json(
        data,
        if data.pam.enabled { wx::PAM_ENABLED } else { wx::PAM_DISABLED },
    )
}

/// `Get-OrganizationConfig`: the PAM switch, its approver group and system accounts.
pub(super) fn get_org_config(data: &mut TenantData, _ctx: &Ctx, _b: &Bound) -> Res<Output> {
    Ok(one(org_config(data)))
}

pub(super) fn enable_pam(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let gi = find_group(data, &b.req(p::ADMIN_GROUP))?;
    let group = data.groups[gi].primary_smtp_address.clone();
    // The default approver group is a mail-enabled security group, as Microsoft's setup steps
    // create it. (**doc**: privileged-access-management-configuration, step 1)
    if !data.groups[gi].is_security() {
        return Err(argument(format!("The approver group '{group}' must be a mail-enabled security group.")));
    }
    let mut accounts = Vec::new();
    for a in b.list(p::SYSTEM_ACCOUNTS).unwrap_or_default() {
        let resolved = if let Some(u) = find_user(data, &a) {
            u.user_principal_name.clone()
        } else if let Some(app) = data.apps.iter().find(|x| eq(&x.client_id, &a)) {
            app.client_id.clone()
        } else {
            return Err(not_found(&a));
        };
        if !accounts.iter().any(|x: &String| eq(x, &resolved)) {
            accounts.push(resolved);
        }
    }
    let mut out = Output { wrote: true, ..Output::default() };
    if data.pam.enabled {
        out.warnings.push(
            "Elevated access control is already enabled; the approver group and system accounts were updated.".into(),
        );
    }
    data.pam.enabled = true;
    data.pam.admin_group = Some(group);
    data.pam.system_accounts = accounts;
    Ok(out)
}

/// `Disable-ElevatedAccessControl`; a warning when it is already off.
pub(super) fn disable_pam(data: &mut TenantData, _ctx: &Ctx, _b: &Bound) -> Res<Output> {
    let mut out = Output { wrote: data.pam.enabled, ..Output::default() };
    if !data.pam.enabled {
        out.warnings.push("Elevated access control is already disabled.".into());
    }
    data.pam.enabled = false;
    Ok(out)
}

/// Whether a policy has taken effect (it has after the replication delay).
pub(super) fn effective(ctx: &Ctx, policy: &SeedPolicy) -> bool {
    policy.created.is_none_or(|t| t + ctx.delay <= ctx.now)
}

fn policy_json(pol: &SeedPolicy) -> Value {
    let policy_type = match task::decode(&pol.task) {
        Some(PolicyTarget::Role(_)) => wx::POLICY_TYPE_ROLE,
        Some(PolicyTarget::RoleGroup(_)) => wx::POLICY_TYPE_ROLE_GROUP,
        _ => wx::POLICY_TYPE_TASK,
    };
    json!({
        "Identity": pol.identity,
        "Task": pol.task,
        "ApprovalType": pol.approval_type,
        "ApproverGroup": pol.approver_group,
        "PolicyType": policy_type,
    })
}

pub(super) fn get_policies(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let visible = data.policies.iter().filter(|x| effective(ctx, x));
    match b.str(p::IDENTITY) {
        Some(id) => {
            let pol = visible
                .into_iter()
                .find(|x| {
                    x.identity.eq_ignore_ascii_case(id.trim()) || x.task.eq_ignore_ascii_case(id.trim())
                })
                .ok_or_else(|| not_found(&id))?;
            Ok(one(policy_json(pol)))
        }
        None => Ok(Output { value: visible.map(policy_json).collect(), ..Output::default() }),
    }
}

/// Whether a policy's task names the same target (the service keeps one policy per target).
pub(super) fn same_target(a: &str, b: &PolicyTarget) -> bool {
    match (task::decode(a), b) {
        (Some(PolicyTarget::Task(x)), PolicyTarget::Task(y))
        | (Some(PolicyTarget::Role(x)), PolicyTarget::Role(y))
        | (Some(PolicyTarget::RoleGroup(x)), PolicyTarget::RoleGroup(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

/// `New-ElevatedAccessApprovalPolicy`, recorded in the journal; it takes effect after the
/// replication delay.
pub(super) fn new_policy(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let target = policy_target(data, &b.req(p::TASK))?;
    let approval = b.req(p::APPROVAL_TYPE);
    let approval = [wx::APPROVAL_MANUAL, wx::APPROVAL_AUTO]
        .into_iter()
        .find(|a| a.eq_ignore_ascii_case(approval.trim()))
        .ok_or_else(|| {
            argument(format!("The approval type '{approval}' isn't valid. Use 'Manual' or 'Auto'."))
        })?;
    let approver_group = approver_group(data, b.str(p::APPROVER_GROUP), approval)?;
    if data.policies.iter().any(|x| same_target(&x.task, &target)) {
        return Err(CmdletError::new(
            class::ALREADY_EXISTS,
            format!(
                "An approval policy for '{}' already exists. Remove it before creating a new one.",
                task::encode(&target)
            ),
        ));
    }
    if data.policies.len() >= wx::MAX_POLICIES {
        return Err(CmdletError::new(
            class::LIMIT_EXCEEDED,
            format!(
                "The organization already has {} approval policies, the maximum. Remove one first.",
                wx::MAX_POLICIES
            ),
        ));
    }
    let pol = SeedPolicy {
        identity: uuid::Uuid::new_v4().to_string(),
        task: task::encode(&target),
        approval_type: approval.to_string(),
        approver_group,
        created: Some(ctx.now),
    };
    let v = policy_json(&pol);
    ctx.journal.record(ctx.now, JournalAction::Created, &pol.task, &pol.identity);
    data.policies.push(pol);
    Ok(Output { value: vec![v], wrote: true, ..Output::default() })
}

/// The target a policy's task names: a cmdlet of the tenant's roles, a role or a role group.
fn policy_target(data: &TenantData, raw: &str) -> Res<PolicyTarget> {
    let target = task::decode(raw).ok_or_else(|| {
        argument(format!("The task '{raw}' isn't valid. Use 'Exchange\\<Cmdlet>', 'Role:<RoleName>' or 'RoleGroup:<GroupName>'."))
    })?;
    let exists = match &target {
        PolicyTarget::Task(t) => {
            data.roles.iter().any(|r| r.cmdlets.iter().any(|x| x.eq_ignore_ascii_case(t)))
        }
        PolicyTarget::Role(r) => data.roles.iter().any(|x| x.name.eq_ignore_ascii_case(r)),
        PolicyTarget::RoleGroup(g) => data.role_groups.iter().any(|x| x.name.eq_ignore_ascii_case(g)),
    };
    if !exists {
        return Err(argument(format!(
            "The task '{raw}' doesn't name a cmdlet, role or role group of this organization."
        )));
    }
    Ok(target)
}

/// The address of a policy's approver group: a mail-enabled security group, mandatory for
/// manual approval.
fn approver_group(data: &TenantData, group: Option<String>, approval: &str) -> Res<String> {
    match group {
        Some(g) => {
            let g = &data.groups[find_group(data, &g)?];
            if !g.is_security() {
                return Err(argument(format!(
                    "The approver group '{}' must be a mail-enabled security group.",
                    g.primary_smtp_address
                )));
            }
            Ok(g.primary_smtp_address.clone())
        }
        None if approval == wx::APPROVAL_MANUAL => Err(CmdletError::new(
            class::INVALID_PARAMETER,
            "Cannot process command because of one or more missing mandatory parameters: ApproverGroup.",
        )),
        None => Ok(String::new()),
    }
}

/// `Remove-ElevatedAccessApprovalPolicy`, recorded in the journal.
pub(super) fn remove_policy(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let id = b.req(p::IDENTITY);
    let i = data
        .policies
        .iter()
        .position(|x| x.identity.eq_ignore_ascii_case(id.trim()))
        .ok_or_else(|| not_found(&id))?;
    let removed = data.policies.remove(i);
    ctx.journal.record(ctx.now, JournalAction::Removed, &removed.task, &removed.identity);
    Ok(Output { wrote: true, ..Output::default() })
}
