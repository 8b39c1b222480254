//! The gate before a managed cmdlet runs: RBAC (a role group of the caller holds a role with
//! the cmdlet) and PAM (an effective approval policy covering the cmdlet needs a live
//! authorization of the caller, unless the caller is a system account).

use super::Ctx;
use super::error::{CmdletError, Res, denied};
use super::lookup::eq;
use super::pam::effective;
use crate::emulator::seed::SeedPolicy;
use crate::emulator::tenant_data::TenantData;
use crate::emulator::tokens::Caller;
use crate::model::{PolicyTarget, normalize};
use crate::wire::exchange::{self as wx, class, refusal, task};

fn role_has(data: &TenantData, role: &str, cmdlet: &str) -> bool {
    data.roles.iter().any(|r| {
        r.name.eq_ignore_ascii_case(role) && r.cmdlets.iter().any(|x| x.eq_ignore_ascii_case(cmdlet))
    })
}

fn role_group_has(data: &TenantData, group: &str, cmdlet: &str) -> bool {
    data.role_groups
        .iter()
        .any(|g| g.name.eq_ignore_ascii_case(group) && g.roles.iter().any(|r| role_has(data, r, cmdlet)))
}

/// The reads every signed-in user may run whatever their role groups: Exchange Online assigns
/// every mailbox the Default Role Assignment Policy, whose user roles read the global address
/// list (MyDistributionGroupMembership: recipient read scope `MyGAL`, doc:
/// <https://learn.microsoft.com/previous-versions/office/exchange-server-2013/dd876900(v=exchg.150)>).
/// Which cmdlets of those roles are modelled here (looking up a recipient and a group's
/// members) is **assumed**; so is that a guest may run them too.
const USER_READS: &[&str] = &[wx::cmdlet::GET_RECIPIENT, wx::cmdlet::GET_GROUP_MEMBER];

pub(super) fn authorize_rbac(data: &TenantData, caller: &Caller, cmdlet: &str) -> Res<()> {
    if matches!(caller, Caller::User { .. }) && USER_READS.iter().any(|c| c.eq_ignore_ascii_case(cmdlet)) {
        return Ok(());
    }
    let (who, groups): (String, Vec<String>) = match caller {
        Caller::App { client_id, .. } => (
            client_id.clone(),
            data.apps
                .iter()
                .find(|a| eq(&a.client_id, client_id))
                .map(|a| a.role_groups.clone())
                .unwrap_or_default(),
        ),
        Caller::User { upn, .. } => (
            upn.clone(),
            data.role_groups
                .iter()
                .filter(|g| g.members.iter().any(|m| eq(m, upn)))
                .map(|g| g.name.clone())
                .collect(),
        ),
    };
    if groups.iter().any(|g| role_group_has(data, g, cmdlet)) {
        Ok(())
    } else {
        Err(denied(format!(
            "The user \"{who}\" isn't assigned to any management roles that allow running '{cmdlet}'. Add it to a role group that contains a role with this cmdlet."
        )))
    }
}

/// Whether a policy target covers a cmdlet: the task itself, a role containing it, or a
/// role group with such a role.
fn covers(data: &TenantData, target: &PolicyTarget, cmdlet: &str) -> bool {
    match target {
        PolicyTarget::Task(t) => t.eq_ignore_ascii_case(cmdlet),
        PolicyTarget::Role(r) => role_has(data, r, cmdlet),
        PolicyTarget::RoleGroup(g) => role_group_has(data, g, cmdlet),
    }
}

pub(super) fn enforce_pam(data: &TenantData, ctx: &Ctx, cmdlet: &str) -> Res<()> {
    if !data.pam.enabled {
        return Ok(());
    }
    let me = ctx.caller.principal();
    if data.pam.system_accounts.iter().any(|s| normalize::principal(s) == me) {
        return Ok(());
    }
    let gating: Vec<&SeedPolicy> = data
        .policies
        .iter()
        .filter(|pol| {
            effective(ctx, pol) && task::decode(&pol.task).is_some_and(|t| covers(data, &t, cmdlet))
        })
        .collect();
    let Some(first) = gating.first() else { return Ok(()) };
    let authorized = matches!(ctx.caller, Caller::User { .. })
        && data.authorizations.iter().any(|a| {
            eq(&a.user, &me)
                && !a.revoked
                && a.start <= ctx.now
                && ctx.now < a.end
                && task::decode(&a.task).is_some_and(|t| covers(data, &t, cmdlet))
        });
    if authorized {
        return Ok(());
    }
    Err(CmdletError::new(class::ELEVATION_REQUIRED, refusal::elevation_required(cmdlet, &first.task)))
}
