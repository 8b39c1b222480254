//! Graph's throttling budget for identity reads: each request is priced in resource units
//! (`wire::graph::budget`) and charged to its application's bucket, which holds the quota
//! for the tenant's size (or the fault options' quota) per 10 s. Over it, 429 with
//! `Retry-After` and the throttle headers; under it, the `x-ms-resource-unit` header.

use super::answer::{GraphAnswer, throttled};
use crate::emulator::store::{Charge, Shared};
use crate::emulator::sync::lock;
use crate::emulator::tokens::Caller;
use crate::wire::graph::budget as b;

/// The application a request is charged to: the token's application id.
fn app_of(caller: &Caller) -> String {
    match caller {
        Caller::App { client_id, .. } => client_id.to_ascii_lowercase(),
        Caller::User { .. } => caller.principal(),
    }
}

/// Charges `read` to the caller's application: the headers to add to its answer, or the
/// throttled answer.
pub(super) fn charge(
    shared: &Shared,
    caller: &Caller,
    read: &b::Read,
) -> Result<Vec<(String, String)>, GraphAnswer> {
    let (users, tenant_id) = {
        let t = lock(&shared.tenant);
        (t.data.users.len(), t.data.tenant.id.clone())
    };
    let quota = shared.faults().graph_resource_unit_quota.unwrap_or_else(|| b::quota_for(users));
    if quota == 0 {
        return Ok(Vec::new());
    }
    let cost = b::cost(read);
    let app = app_of(caller);
    let charged = lock(&shared.graph_budget).charge(&app, cost, quota, b::WINDOW_SECS, shared.now());
    match charged {
        Charge::Taken { used } => {
            lock(&shared.counters).graph_resource_units += cost;
            let mut headers = vec![(b::HEADER_RESOURCE_UNIT.to_string(), cost.to_string())];
            if used > b::LIMIT_PERCENTAGE_FROM {
                headers.push((b::HEADER_LIMIT_PERCENTAGE.to_string(), format!("{used:.1}")));
            }
            Ok(headers)
        }
        Charge::Refused { wait_secs } => {
            {
                let mut c = lock(&shared.counters);
                c.throttled += 1;
                c.graph_budget_throttled += 1;
            }
            // Whole seconds, rounded up, so a client that waits them finds room.
            let mut a = throttled(&(wait_secs.ceil().max(1.0) as u64).to_string());
            a.headers.push((b::HEADER_SCOPE.to_string(), b::scope(&app, &tenant_id)));
            a.headers.push((b::HEADER_INFORMATION.to_string(), b::RESOURCE_UNIT_LIMIT_EXCEEDED.to_string()));
            Err(a)
        }
    }
}
