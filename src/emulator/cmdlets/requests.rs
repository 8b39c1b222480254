//! Elevated access requests and their authorizations: `New-`, `Get-`, `Approve-`,
//! `Deny-ElevatedAccessRequest`, `Get-ElevatedAccessAuthorization` and
//! `Revoke-ElevatedAccessAuthorization`, with the service's rules (a signed-in user, an
//! effective policy, approver-group approval (nested groups count), never one's own, expiry of
//! pending requests, a revoked request reads `Revoked`). Requests and authorizations are
//! written here from the emulator's own records, in the shape of Microsoft's documented
//! samples, never through the client's decode types.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::error::{CmdletError, Res, argument, denied, not_found};
use super::lookup::{eq, find_user};
use super::pam::{effective, same_target};
use super::params::Bound;
use super::{Ctx, Output, one, time};
use crate::emulator::seed::{SeedAuthorization, SeedRequest};
use crate::emulator::tenant_data::TenantData;
use crate::emulator::tokens::Caller;
use crate::model::PolicyTarget;
use crate::wire::exchange::{self as wx, class, cmdlet as c, param as p, request_status, request_type, task};

/// The texts of the refusals, all in one place. They are the emulator's own (**assumed**:
/// Microsoft publishes none, and the service translates them); pamform never reads them.
pub mod text {
    pub const PAM_OFF: &str =
        "Elevated access control isn't enabled for this organization, so there is nothing to request.";
    pub const OWN_REQUEST: &str =
        "You can't approve or deny your own request. Ask another member of the approver group.";
    pub const GUEST: &str = "Guest users can't approve or deny elevated access requests.";
    pub const NOT_REVOKER: &str =
        "Only the requestor or a member of the approver group can revoke this authorization.";

    pub fn no_policy(task: &str) -> String {
        format!("No approval policy exists for '{task}'; there is nothing to request.")
    }

    pub fn not_pending(id: &str, status: &str) -> String {
        format!("The request '{id}' is {status} and can no longer be approved or denied.")
    }

    pub fn not_approver(group: &str) -> String {
        format!("Only members of the approver group '{group}' can approve or deny this request.")
    }

    pub fn already_revoked(id: &str) -> String {
        format!("The authorization for request '{id}' is already revoked.")
    }
}

/// The forest part of the DN-style names the emulated service writes in `RevokedBy`.
const FOREST: &str = "EMUPR01A001.prod.outlook.com";

fn user_of(ctx: &Ctx, cmdlet: &str) -> Res<String> {
    match ctx.caller {
        Caller::User { upn, .. } => Ok(upn.clone()),
        Caller::App { .. } => Err(CmdletError::new(
            class::INVALID_OPERATION,
            format!(
                "'{cmdlet}' needs a signed-in user; app-only callers cannot use it. Sign in with the device code flow."
            ),
        )),
    }
}

fn status_of(r: &SeedRequest, now: DateTime<Utc>) -> &str {
    if r.status == request_status::PENDING
        && now > r.requested + Duration::hours(wx::PENDING_REQUEST_EXPIRY_HOURS)
    {
        request_status::EXPIRED
    } else {
        &r.status
    }
}

fn request_json(r: &SeedRequest, now: DateTime<Utc>) -> Value {
    json!({
        "Identity": r.identity,
        "RequestStatus": status_of(r, now),
        "Requestor": r.requestor,
        "Task": r.task,
        "Reason": r.reason,
        "DurationHours": r.duration_hours,
        "RequestedDateTime": time(&r.requested),
        "RequestType": request_type::ELEVATED_ACCESS,
        "Approver": r.approver,
        "ApprovalDateTime": r.decided.as_ref().map(time),
        "Comment": r.comment,
        "ApproverGroup": r.approver_group,
    })
}

/// `Type` of an authorization: what its policy names.
fn authorization_type(t: &str) -> &'static str {
    match task::decode(t) {
        Some(PolicyTarget::Role(_)) => wx::POLICY_TYPE_ROLE,
        Some(PolicyTarget::RoleGroup(_)) => wx::POLICY_TYPE_ROLE_GROUP,
        _ => wx::POLICY_TYPE_TASK,
    }
}

fn authorization_json(data: &TenantData, a: &SeedAuthorization) -> Value {
    let revoked_by = a.revoked_by.as_deref().map(|upn| {
        let name = upn.split('@').next().unwrap_or(upn);
        wx::hosted_dn(FOREST, &data.tenant.domain, name)
    });
    json!({
        "AuthorizedBy": a.authorized_by,
        "Type": authorization_type(&a.task),
        "AuthorizedAccess": a.task,
        "StartTimeUtc": time(&a.start),
        "EndTimeUtc": time(&a.end),
        "Revoked": a.revoked,
        "RevocationDateTimeUtc": a.revoked_at.as_ref().map(time),
        "RevokedBy": revoked_by,
        "RevocationComment": a.revocation_comment,
        "Identity": a.identity,
        "DateCreatedUtc": time(&a.start),
        "DateUpdatedUtc": time(a.revoked_at.as_ref().unwrap_or(&a.start)),
    })
}

pub(super) fn new_request(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let upn = user_of(ctx, c::NEW_REQUEST)?;
    if !data.pam.enabled {
        return Err(CmdletError::new(class::INVALID_OPERATION, text::PAM_OFF));
    }
    let raw = b.req(p::TASK);
    let target = task::decode(&raw)
        .ok_or_else(|| argument(format!("The task '{raw}' isn't valid. Use 'Exchange\\<Cmdlet>'.")))?;
    let pol = data
        .policies
        .iter()
        .find(|x| effective(ctx, x) && same_target(&x.task, &target))
        .ok_or_else(|| argument(text::no_policy(&task::encode(&target))))?
        .clone();
    let hours = b.int(p::DURATION_HOURS).unwrap_or(i64::from(wx::DEFAULT_REQUEST_HOURS));
    if !wx::valid_request_hours(hours) {
        return Err(argument(format!("DurationHours must be a positive number of hours, got {hours}.")));
    }
    let reason = b.req(p::REASON);
    if reason.trim().is_empty() {
        return Err(argument("Reason can't be empty; say why you need access."));
    }
    let mut req = SeedRequest {
        identity: uuid::Uuid::new_v4().to_string(),
        requestor: upn.clone(),
        task: pol.task.clone(),
        reason,
        duration_hours: hours as u32,
        requested: ctx.now,
        status: request_status::PENDING.to_string(),
        approver_group: pol.approver_group.clone(),
        approver: None,
        decided: None,
        comment: None,
    };
    if pol.approval_type == wx::APPROVAL_AUTO {
        req.status = request_status::APPROVED.to_string();
        req.decided = Some(ctx.now);
        req.approver = Some(wx::APPROVAL_AUTO.into());
        data.authorizations.push(grant(&req, ctx.now));
    }
    let v = request_json(&req, ctx.now);
    data.requests.push(req);
    Ok(Output { value: vec![v], wrote: true, ..Output::default() })
}

fn grant(r: &SeedRequest, now: DateTime<Utc>) -> SeedAuthorization {
    SeedAuthorization {
        identity: r.identity.clone(),
        request_id: r.identity.clone(),
        user: r.requestor.clone(),
        task: r.task.clone(),
        start: now,
        end: now + Duration::hours(i64::from(r.duration_hours)),
        revoked: false,
        revoked_by: None,
        revoked_at: None,
        authorized_by: r.approver.clone(),
        revocation_comment: None,
    }
}

pub(super) fn get_requests(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let foreign = data.foreign_requests.iter().map(|f| {
        let mut v = json!({
            "Identity": f.identity,
            "RequestStatus": f.request_status,
            "Requestor": f.requestor,
            "Reason": f.reason,
            "RequestedDateTime": f.requested_date_time,
            "RequestType": f.request_type,
        });
        if f.request_type.eq_ignore_ascii_case(request_type::DATA_ACCESS_REQUEST) {
            v["DurationHours"] = json!(wx::DATA_ACCESS_REQUEST_HOURS);
            v["Context"] = f.context.clone().unwrap_or_else(|| json!({}));
        }
        v
    });
    let all: Vec<Value> = data.requests.iter().map(|r| request_json(r, ctx.now)).chain(foreign).collect();
    // Microsoft's documents call it both ways: `-Identity` and `-RequestId`.
    match b.str(p::IDENTITY).or_else(|| b.str(p::REQUEST_ID)) {
        Some(id) => {
            let v = all
                .into_iter()
                .find(|v| v["Identity"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id.trim())))
                .ok_or_else(|| not_found(&id))?;
            Ok(one(v))
        }
        None => Ok(Output { value: all, ..Output::default() }),
    }
}

/// The object ids of every member of a group, members of nested groups included (each group
/// once, so a cycle ends).
fn members_transitive(data: &TenantData, group: usize) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut seen = HashSet::new();
    let mut todo = vec![group];
    while let Some(i) = todo.pop() {
        if !seen.insert(i) {
            continue;
        }
        for m in &data.groups[i].members {
            match data.groups.iter().position(|g| &g.id == m) {
                Some(j) => todo.push(j),
                None => {
                    out.insert(m.clone());
                }
            }
        }
    }
    out
}

/// Whether a user is a (non-guest) member of the group with this address, directly or through
/// a nested group.
fn approver_member(data: &TenantData, group: &str, upn: &str) -> bool {
    let Some(user) = find_user(data, upn) else { return false };
    !user.guest
        && data
            .groups
            .iter()
            .position(|g| eq(&g.primary_smtp_address, group))
            .is_some_and(|g| members_transitive(data, g).contains(&user.id))
}

/// `Approve-ElevatedAccessRequest`: grants the authorization.
pub(super) fn approve(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    decide(data, ctx, b, true)
}

/// `Deny-ElevatedAccessRequest`.
pub(super) fn deny(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    decide(data, ctx, b, false)
}

fn decide(data: &mut TenantData, ctx: &Ctx, b: &Bound, approve: bool) -> Res<Output> {
    let cmd = if approve { c::APPROVE_REQUEST } else { c::DENY_REQUEST };
    let upn = user_of(ctx, cmd)?;
    let id = b.req(p::REQUEST_ID);
    let i = data
        .requests
        .iter()
        .position(|r| r.identity.eq_ignore_ascii_case(id.trim()))
        .ok_or_else(|| not_found(&id))?;
    let r = &data.requests[i];
    let status = status_of(r, ctx.now);
    if status != request_status::PENDING {
        return Err(CmdletError::new(class::INVALID_OPERATION, text::not_pending(&r.identity, status)));
    }
    if eq(&r.requestor, &upn) {
        return Err(denied(text::OWN_REQUEST));
    }
    if find_user(data, &upn).is_some_and(|u| u.guest) {
        return Err(denied(text::GUEST));
    }
    if !approver_member(data, &r.approver_group, &upn) {
        return Err(denied(text::not_approver(&r.approver_group)));
    }
    let r = &mut data.requests[i];
    r.status = if approve { request_status::APPROVED } else { request_status::DENIED }.to_string();
    r.approver = Some(upn);
    r.decided = Some(ctx.now);
    r.comment = b.str(p::COMMENT);
    let r = r.clone();
    if approve {
        data.authorizations.push(grant(&r, ctx.now));
    }
    Ok(Output { value: vec![request_json(&r, ctx.now)], wrote: true, ..Output::default() })
}

pub(super) fn revoke(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let upn = user_of(ctx, c::REVOKE_AUTHORIZATION)?;
    let id = b.req(p::REQUEST_ID);
    let i = data
        .authorizations
        .iter()
        .position(|a| {
            a.request_id.eq_ignore_ascii_case(id.trim()) || a.identity.eq_ignore_ascii_case(id.trim())
        })
        .ok_or_else(|| not_found(&id))?;
    let a = &data.authorizations[i];
    if a.revoked {
        return Err(CmdletError::new(class::INVALID_OPERATION, text::already_revoked(&id)));
    }
    let group = data.requests.iter().find(|r| r.identity == a.request_id).map(|r| r.approver_group.clone());
    let allowed = eq(&a.user, &upn) || group.is_some_and(|g| approver_member(data, &g, &upn));
    if !allowed {
        return Err(denied(text::NOT_REVOKER));
    }
    let a = &mut data.authorizations[i];
    a.revoked = true;
    a.revoked_by = Some(upn);
    a.revoked_at = Some(ctx.now);
    a.revocation_comment = b.str(p::COMMENT);
    let a = a.clone();
    if let Some(r) = data.requests.iter_mut().find(|r| r.identity == a.request_id) {
        r.status = request_status::REVOKED.to_string();
    }
    Ok(Output { value: vec![authorization_json(data, &a)], wrote: true, ..Output::default() })
}

/// `Get-ElevatedAccessAuthorization`: live authorizations, by identity or request id.
pub(super) fn get_authorizations(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let id = b.str(p::IDENTITY);
    let value: Vec<Value> = data
        .authorizations
        .iter()
        .filter(|a| !a.revoked && a.end > ctx.now)
        .filter(|a| {
            id.as_deref()
                .is_none_or(|i| a.identity.eq_ignore_ascii_case(i) || a.request_id.eq_ignore_ascii_case(i))
        })
        .map(|a| authorization_json(data, a))
        .collect();
    Ok(Output { value, ..Output::default() })
}
