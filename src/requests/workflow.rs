//! Reading and changing requests as the signed-in user: list (tolerating foreign items of any
//! shape), find one by id or unique id prefix, ask for access, approve, deny, revoke, and wait
//! for a decision. Every refusal goes through [`super::explain`].

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::explain::{Action, RequestError, explain, read_error};
use super::status::{self, RequestView, state};
use crate::model::PolicyTarget;
use crate::tenant::Client;
use crate::wire::exchange::{self as wx, ElevatedAccessRequest, cmdlet};

/// Who can approve a request: the policy's approver group and, when the user may read it, its
/// members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approvers {
    pub group: String,
    pub members: Option<Vec<String>>,
}

/// Decodes request items one by one: an item of an unknown shape (a foreign item the service
/// lists alongside PAM requests) is kept as a foreign item instead of failing the list.
fn decode_items(values: Vec<Value>) -> Vec<ElevatedAccessRequest> {
    values
        .into_iter()
        .map(|v| {
            serde_json::from_value::<ElevatedAccessRequest>(v.clone()).unwrap_or_else(|_| {
                let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                ElevatedAccessRequest {
                    identity: text("Identity").or_else(|| text("Id")).unwrap_or_else(|| "(no id)".into()),
                    request_status: text("RequestStatus").or_else(|| text("Status")),
                    requestor: text("Requestor"),
                    task: None,
                    reason: text("Reason"),
                    duration_hours: None,
                    requested_date_time: text("RequestedDateTime"),
                    request_type: Some(text("RequestType").unwrap_or_else(|| "Unknown".into())),
                    approver: None,
                    approval_date_time: None,
                    comment: None,
                    approver_group: None,
                    context: v.get("Context").cloned(),
                }
            })
        })
        .collect()
}

/// Every request item the user can see, joined with the active authorizations.
pub async fn all(client: &Client, now: DateTime<Utc>) -> Result<Vec<RequestView>, RequestError> {
    let out = client.invoke(&wx::InvokeCommandRequest::new(cmdlet::GET_REQUEST)).await.map_err(read_error)?;
    let auths = client.get_authorizations().await.map_err(read_error)?;
    let mut views: Vec<RequestView> =
        decode_items(out.value).iter().map(|r| status::build(r, &auths, now)).collect();
    status::sort(&mut views);
    Ok(views)
}

/// The request with id `id`, or the only one whose id starts with it.
pub async fn find(client: &Client, id: &str, now: DateTime<Utc>) -> Result<RequestView, RequestError> {
    let id = id.trim();
    let views = all(client, now).await?;
    if let Some(v) = views.iter().find(|v| v.id.eq_ignore_ascii_case(id)) {
        return Ok(v.clone());
    }
    let lower = id.to_lowercase();
    let mut matches = views.into_iter().filter(|v| !id.is_empty() && v.id.to_lowercase().starts_with(&lower));
    match (matches.next(), matches.next()) {
        (Some(v), None) => Ok(v),
        (None, _) => Err(RequestError::NotFound { id: id.to_string() }),
        (Some(_), Some(_)) => {
            Err(RequestError::Ambiguous { prefix: id.to_string(), count: 2 + matches.count() })
        }
    }
}

/// The approver group of a request and its members, when the user may read them.
pub async fn approvers(client: &Client, group: &str) -> Approvers {
    let members = client.get_group_members(group).await.ok().map(|ms| {
        let mut names: Vec<String> = ms
            .into_iter()
            .map(|m| {
                m.user_principal_name.filter(|u| !u.is_empty()).or(m.primary_smtp_address).unwrap_or(m.name)
            })
            .collect();
        names.sort();
        names
    });
    Approvers { group: group.to_string(), members }
}

/// Asks for access as `me`; returns the new request and who can approve it.
pub async fn new_request(
    client: &Client,
    me: &str,
    target: &PolicyTarget,
    reason: &str,
    hours: u32,
    now: DateTime<Utc>,
) -> Result<(RequestView, Option<Approvers>), RequestError> {
    let task = wx::task::encode(target);
    let created = match client.new_request(&task, reason, hours).await {
        Ok(created) => created,
        Err(e) => return Err(explain(client, me, Action::New { target }, e).await),
    };
    let auths = client.get_authorizations().await.unwrap_or_default();
    let v = status::build(&created, &auths, now);
    let approvers = match created.approver_group.as_deref().filter(|g| !g.is_empty()) {
        Some(g) => Some(approvers(client, g).await),
        None => None,
    };
    Ok((v, approvers))
}

/// Approves (`true`) or denies a request as `me`; returns it as it is afterwards.
pub async fn decide(
    client: &Client,
    me: &str,
    id: &str,
    approve: bool,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<RequestView, RequestError> {
    let target = pam_request(client, id, now).await?;
    let action = Action::Decide { id: &target.id };
    let result = if approve {
        client.approve_request(&target.id, comment).await
    } else {
        client.deny_request(&target.id, comment).await
    };
    if let Err(e) = result {
        return Err(explain(client, me, action, e).await);
    }
    find(client, &target.id, now).await
}

/// Revokes the approved access of a request as `me`; returns it as it is afterwards.
pub async fn revoke(
    client: &Client,
    me: &str,
    id: &str,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<RequestView, RequestError> {
    let target = pam_request(client, id, now).await?;
    if let Err(e) = client.revoke_authorization(&target.id, comment).await {
        return Err(explain(client, me, Action::Revoke { id: &target.id }, e).await);
    }
    find(client, &target.id, now).await
}

/// Like [`find`], refusing foreign items: pamform decides only PAM requests.
async fn pam_request(client: &Client, id: &str, now: DateTime<Utc>) -> Result<RequestView, RequestError> {
    let v = find(client, id, now).await?;
    if v.foreign { Err(foreign(&v)) } else { Ok(v) }
}

fn foreign(v: &RequestView) -> RequestError {
    RequestError::Tenant(crate::tenant::TenantError::Config(format!(
        "{} is a {} item, not a PAM request; decide it where it was raised (the Microsoft 365 admin center)",
        v.id,
        status::kind_label(&v.kind)
    )))
}

/// How waiting for a decision ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitOutcome {
    Approved(RequestView),
    Denied(RequestView),
    Expired(RequestView),
    TimedOut(RequestView),
}

/// Polls the request every `interval` until it is decided, expires or `timeout` passes;
/// `tick` sees every state read.
pub async fn wait(
    client: &Client,
    id: &str,
    timeout: Option<Duration>,
    interval: Duration,
    mut tick: impl FnMut(&RequestView),
) -> Result<WaitOutcome, RequestError> {
    let started = Instant::now();
    let mut current = pam_request(client, id, Utc::now()).await?;
    loop {
        tick(&current);
        match current.state.as_str() {
            state::ACTIVE | state::ENDED => return Ok(WaitOutcome::Approved(current)),
            state::DENIED | state::REVOKED => return Ok(WaitOutcome::Denied(current)),
            state::EXPIRED => return Ok(WaitOutcome::Expired(current)),
            _ => {}
        }
        let elapsed = started.elapsed();
        if timeout.is_some_and(|t| elapsed >= t) {
            return Ok(WaitOutcome::TimedOut(current));
        }
        let nap = timeout.map_or(interval, |t| interval.min(t.saturating_sub(elapsed)));
        tokio::time::sleep(nap).await;
        current = find(client, &current.id, Utc::now()).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_of_any_shape_are_kept() {
        let items = decode_items(vec![
            json!({"Identity": "r1", "RequestStatus": "Pending", "RequestType": "ElevatedAccess", "DurationHours": 4}),
            json!({"Identity": "lb1", "RequestType": "CustomerLockbox", "DurationHours": "PT4H", "Extra": {"x": 1}}),
            json!({"Id": 7, "Status": "Open"}),
            json!("not even an object"),
        ]);
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].duration_hours, Some(4));
        assert_eq!(items[1].identity, "lb1");
        assert_eq!(items[1].request_type.as_deref(), Some("CustomerLockbox"));
        assert_eq!(items[2].request_status.as_deref(), Some("Open"));
        assert_eq!(items[3].request_type.as_deref(), Some("Unknown"));
    }
}
