//! Requests as pamform knows them: the service's request items (PAM requests and foreign
//! items such as Customer Lockbox) joined with the active authorizations into one view with
//! a derived state and the remaining time of approved access; filters for `request list`;
//! people's names for kinds and tasks. [`crate::views::requests`] draws them.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::model::PolicyTarget;
use crate::model::normalize;
use crate::wire::exchange::{self as wx, Authorization, ElevatedAccessRequest, request_status, request_type};

/// One request as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestView {
    pub id: String,
    /// `pam`, `customer_lockbox`, `data_access_request`, or the service's own name.
    pub kind: String,
    /// Not a PAM request (shares the list, handled elsewhere).
    pub foreign: bool,
    /// The service's status, as given.
    pub status: String,
    /// pending, active (approved, access left), ended (approved, access over or revoked),
    /// denied, expired, revoked (when the service says so), or the status in lower case.
    pub state: String,
    pub requestor: Option<String>,
    /// `Exchange\<Cmdlet>`, `Role:<Name>` or `RoleGroup:<Name>` as the service spells it.
    pub task: Option<String>,
    pub reason: Option<String>,
    pub duration_hours: Option<u32>,
    pub requested_at: Option<DateTime<Utc>>,
    /// When a pending request expires.
    pub expires_at: Option<DateTime<Utc>>,
    pub approver_group: Option<String>,
    pub approver: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    /// End of the approved access (active, ended or revoked).
    pub access_until: Option<DateTime<Utc>>,
    /// Seconds of approved access left.
    pub remaining_seconds: Option<i64>,
}

pub mod state {
    pub const PENDING: &str = "pending";
    pub const ACTIVE: &str = "active";
    pub const ENDED: &str = "ended";
    pub const REVOKED: &str = "revoked";
    pub const DENIED: &str = "denied";
    pub const EXPIRED: &str = "expired";
}

fn time(s: Option<&String>) -> Option<DateTime<Utc>> {
    s.and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok()).map(|t| t.with_timezone(&Utc))
}

fn kind_of(r: &ElevatedAccessRequest) -> String {
    if r.is_data_access_request() {
        return "data_access_request".to_string();
    }
    match r.request_type.as_deref().map(str::trim) {
        None | Some("") => "pam".to_string(),
        Some(t) if t.eq_ignore_ascii_case(request_type::ELEVATED_ACCESS) => "pam".to_string(),
        Some(t) if t.eq_ignore_ascii_case(request_type::CUSTOMER_LOCKBOX) => "customer_lockbox".to_string(),
        Some(t) if t.eq_ignore_ascii_case(request_type::DATA_ACCESS_REQUEST) => {
            "data_access_request".to_string()
        }
        Some(other) => other.to_string(),
    }
}

/// People's name for a kind.
pub fn kind_label(kind: &str) -> &str {
    match kind {
        "pam" => "PAM request",
        "customer_lockbox" => "Customer Lockbox",
        "data_access_request" => "Data Access Request",
        other => other,
    }
}

/// People's spelling of a request's task.
pub fn task_label(task: &str) -> String {
    match wx::task::decode(task) {
        Some(PolicyTarget::Task(c)) => format!("{}{c}", wx::task::TASK_PREFIX),
        Some(PolicyTarget::Role(r)) => format!("role {r}"),
        Some(PolicyTarget::RoleGroup(g)) => format!("role group {g}"),
        None => task.to_string(),
    }
}

/// Joins a request with the active authorizations (from `Get-ElevatedAccessAuthorization`): an
/// authorization answers to the id of the request it grants; those of Data Access Requests are
/// never a PAM request's.
pub fn build(r: &ElevatedAccessRequest, active: &[Authorization], now: DateTime<Utc>) -> RequestView {
    let kind = kind_of(r);
    let foreign = kind != "pam";
    let status = r.request_status.clone().unwrap_or_default();
    let requested_at = time(r.requested_date_time.as_ref());
    let decided_at = time(r.approval_date_time.as_ref());
    let auth = active.iter().find(|a| {
        !a.revoked && !a.is_data_access_request() && a.request_id().eq_ignore_ascii_case(&r.identity)
    });
    let auth_end = auth.and_then(|a| time(a.end_time_utc.as_ref()));
    let planned_end = decided_at.zip(r.duration_hours).map(|(d, h)| d + Duration::hours(i64::from(h)));
    let is = |s: &str| status.eq_ignore_ascii_case(s);
    let mut view = RequestView {
        id: r.identity.clone(),
        kind,
        foreign,
        status: status.clone(),
        state: status.to_lowercase(),
        requestor: r.requestor.clone(),
        task: r.task.clone(),
        reason: r.reason.clone(),
        duration_hours: r.duration_hours,
        requested_at,
        expires_at: None,
        approver_group: r.approver_group.clone(),
        approver: r.approver.clone(),
        decided_at,
        comment: r.comment.clone(),
        access_until: None,
        remaining_seconds: None,
    };
    if foreign {
        return view;
    }
    if is(request_status::PENDING) {
        view.state = state::PENDING.to_string();
        view.expires_at = requested_at.map(|t| t + Duration::hours(wx::PENDING_REQUEST_EXPIRY_HOURS));
    } else if is(request_status::APPROVED) {
        match auth_end.filter(|end| *end > now) {
            Some(end) => {
                view.state = state::ACTIVE.to_string();
                view.access_until = Some(end);
                view.remaining_seconds = Some((end - now).num_seconds());
            }
            None => {
                // No active authorization: it ran out, or someone revoked it early. Only the
                // service's clock can tell which, so both read as ended.
                view.state = state::ENDED.to_string();
                view.access_until = planned_end;
            }
        }
    } else if is(request_status::REVOKED) {
        view.state = state::REVOKED.to_string();
    } else if is(request_status::DENIED) {
        view.state = state::DENIED.to_string();
    } else if is(request_status::EXPIRED) {
        view.state = state::EXPIRED.to_string();
    }
    view
}

/// Which requests `request list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only pending ones.
    pub pending: bool,
    /// Only the signed-in user's (normalised UPN).
    pub mine: Option<String>,
    /// Closed ones too (denied, expired, ended, revoked).
    pub all: bool,
}

const CLOSED: &[&str] =
    &["denied", "expired", "ended", "revoked", "completed", "closed", "canceled", "cancelled", "rejected"];

impl RequestView {
    /// Pending, or approved with access left (foreign items: any status not closed).
    pub fn is_open(&self) -> bool {
        !CLOSED.contains(&self.state.as_str())
    }

    pub fn is_pending(&self) -> bool {
        self.state == state::PENDING
            || (self.foreign && self.status.eq_ignore_ascii_case(request_status::PENDING))
    }
}

impl Filter {
    pub fn keeps(&self, v: &RequestView) -> bool {
        if self.pending && !v.is_pending() {
            return false;
        }
        if let Some(me) = &self.mine
            && v.requestor.as_deref().is_none_or(|r| normalize::principal(r) != *me)
        {
            return false;
        }
        self.all || v.is_open()
    }
}

/// Newest first, ties by id.
pub fn sort(views: &mut [RequestView]) {
    views.sort_by(|a, b| b.requested_at.cmp(&a.requested_at).then_with(|| a.id.cmp(&b.id)));
}

/// The first characters of an id, as tables show it.
pub fn short_id(id: &str) -> String {
    id.chars().take(SHORT_ID).collect()
}

/// Width of the short id in tables; `show`, `approve` and friends accept any unique prefix.
pub const SHORT_ID: usize = 8;
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn req(id: &str, status: &str) -> ElevatedAccessRequest {
        ElevatedAccessRequest {
            identity: id.to_string(),
            request_status: Some(status.to_string()),
            requestor: Some("dave@contoso.onmicrosoft.com".into()),
            task: Some("Exchange\\New-MoveRequest".into()),
            reason: Some("ticket 4711".into()),
            duration_hours: Some(4),
            requested_date_time: Some("2026-11-28T10:00:00Z".into()),
            request_type: Some(request_type::ELEVATED_ACCESS.into()),
            approver: None,
            approval_date_time: None,
            comment: None,
            approver_group: Some("pam-approvers@contoso.onmicrosoft.com".into()),
            context: None,
        }
    }

    fn auth(request: &str, end: &str) -> Authorization {
        Authorization {
            identity: request.into(),
            authorized_by: Some("alice@contoso.onmicrosoft.com".into()),
            kind: Some("Task".into()),
            authorized_access: Some("Exchange\\New-MoveRequest".into()),
            start_time_utc: Some("2026-11-28T10:30:00Z".into()),
            end_time_utc: Some(end.into()),
            revoked: false,
            revocation_date_time_utc: None,
            revoked_by: None,
            revocation_comment: None,
            date_created_utc: None,
            date_updated_utc: None,
        }
    }

    pub(crate) fn sample() -> (Vec<RequestView>, DateTime<Utc>) {
        let now = at("2026-11-28T12:00:00Z");
        let pending = req("11111111-aaaa-4bbb-8ccc-000000000001", "Pending");
        let mut active = req("22222222-aaaa-4bbb-8ccc-000000000002", "Approved");
        active.approver = Some("alice@contoso.onmicrosoft.com".into());
        active.approval_date_time = Some("2026-11-28T10:30:00Z".into());
        active.comment = Some("ok".into());
        let mut revoked = active.clone();
        revoked.identity = "33333333-aaaa-4bbb-8ccc-000000000003".into();
        let mut ended = active.clone();
        ended.identity = "44444444-aaaa-4bbb-8ccc-000000000004".into();
        ended.approval_date_time = Some("2026-11-27T10:30:00Z".into());
        ended.requested_date_time = Some("2026-11-27T10:00:00Z".into());
        let mut expired = req("55555555-aaaa-4bbb-8ccc-000000000005", "Expired");
        expired.requested_date_time = Some("2026-11-26T09:00:00Z".into());
        let lockbox = ElevatedAccessRequest {
            identity: "LB-0001".into(),
            request_status: Some("Pending".into()),
            requestor: Some("Microsoft Support".into()),
            task: None,
            reason: Some("case 123".into()),
            duration_hours: None,
            requested_date_time: None,
            request_type: Some("CustomerLockbox".into()),
            approver: None,
            approval_date_time: None,
            comment: None,
            approver_group: None,
            context: None,
        };
        let auths = [auth(&active.identity, "2026-11-28T14:30:00Z")];
        let views = [pending, active, revoked, ended, expired, lockbox]
            .iter()
            .map(|r| build(r, &auths, now))
            .collect();
        (views, now)
    }

    #[test]
    fn states_are_derived_from_status_and_authorizations() {
        let (v, _) = sample();
        let states: Vec<&str> = v.iter().map(|x| x.state.as_str()).collect();
        assert_eq!(states, ["pending", "active", "ended", "ended", "expired", "pending"]);
        assert_eq!(v[1].remaining_seconds, Some(2 * 3600 + 1800));
        assert!(v[5].foreign && v[5].kind == "customer_lockbox");
        assert_eq!(v[0].expires_at, Some(at("2026-11-29T10:00:00Z")));
    }

    #[test]
    fn filters() {
        let (v, _) = sample();
        let ids = |f: &Filter| v.iter().filter(|x| f.keeps(x)).map(|x| &x.id[..2]).collect::<Vec<_>>();
        assert_eq!(ids(&Filter::default()), ["11", "22", "LB"]);
        assert_eq!(ids(&Filter { pending: true, ..Filter::default() }), ["11", "LB"]);
        let mine =
            Filter { mine: Some("dave@contoso.onmicrosoft.com".into()), all: true, ..Filter::default() };
        assert_eq!(ids(&mine), ["11", "22", "33", "44", "55"]);
    }
}
