//! `GET /groups/delta` (also `delta()`): a full round without a token, the changes since a
//! token's snapshot with one (scalar changes, `members@delta`, removed groups), served in
//! pages. A group with many member changes fills pages on its own and comes again on the
//! next ones with the rest of its members, as Graph documents; a group without members has
//! no `members@delta`. `$deltatoken=latest` answers no groups and a link for the changes
//! from now on ([`wg::DELTATOKEN_LATEST`]). The store keeps the snapshots and the pages still
//! to fetch.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::answer::{GraphAnswer, error, ok};
use super::objects::group_map;
use super::query::{Query, project};
use crate::emulator::seed::SeedGroup;
use crate::emulator::store::{DeltaStore, LiveTenant, Shared, Snapshot};
use crate::emulator::sync::lock;
use crate::wire::graph::{self as wg, code};

/// `GET /groups/delta`: a full round without a token, changes since the token with one, and
/// nothing but the link with `$deltatoken=latest`.
pub(super) fn delta(shared: &Shared, q: &Query) -> GraphAnswer {
    let now = shared.now();
    let page_size = q.top.unwrap_or(wg::DEFAULT_PAGE_SIZE);
    if let Some(skip) = &q.skiptoken {
        let mut store = lock(&shared.delta);
        let Some((mut rest, token)) = store.take_parked(skip) else {
            return error(
                400,
                code::BAD_REQUEST,
                "The $skiptoken of this link isn't valid; start the delta round again.",
            );
        };
        return delta_page(shared, &mut store, &mut rest, token, page_size);
    }
    // Sync from now: a link for the changes after this moment, no groups.
    let latest = q.deltatoken.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(wg::DELTATOKEN_LATEST));
    let old = match &q.deltatoken {
        Some(_) if latest => None,
        Some(t) => match known_snapshot(shared, t, now) {
            Ok(s) => Some(s),
            Err(a) => return a,
        },
        None => None,
    };
    let select = old.as_ref().map(|s| s.select.clone()).unwrap_or_else(|| q.select.clone());
    let view = shared.history_view();
    let t = lock(&shared.tenant);
    let groups: &[SeedGroup] = view.as_deref().map(Vec::as_slice).unwrap_or(&t.data.groups);
    let snap = snapshot_of(groups, &select, now);
    let entries = if latest { Vec::new() } else { changes(&t, old.as_ref(), &snap) };
    drop(t);
    let mut store = lock(&shared.delta);
    let token = store.remember(snap);
    let mut rest: VecDeque<Value> = entries.into();
    delta_page(shared, &mut store, &mut rest, token, page_size)
}

/// The snapshot a delta token names, while it is young enough.
fn known_snapshot(shared: &Shared, token: &str, now: DateTime<Utc>) -> Result<Snapshot, GraphAnswer> {
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(error(400, code::BAD_REQUEST, "Badly formed delta token."));
    }
    let store = lock(&shared.delta);
    match store.snapshot(token) {
        Some(s) if now - s.created <= Duration::days(wg::DELTA_TOKEN_DAYS) => Ok(s.clone()),
        _ => Err(error(
            410,
            code::SYNC_STATE_NOT_FOUND,
            "The delta token is expired or unknown; start a full round without a token.",
        )),
    }
}

/// The delta entries from `old` (everything without it) to `snap`: changed and new groups
/// with their member changes, then removed groups.
fn changes(t: &LiveTenant, old: Option<&Snapshot>, snap: &Snapshot) -> Vec<Value> {
    let mut entries = Vec::new();
    for (id, (scalars, members)) in &snap.groups {
        let prev = old.and_then(|o| o.groups.get(id));
        let (added, removed): (Vec<&String>, Vec<&String>) = match prev {
            Some((_, pm)) => (members.difference(pm).collect(), pm.difference(members).collect()),
            None => (members.iter().collect(), Vec::new()),
        };
        let scalar_changed = prev.is_none_or(|(ps, _)| ps != scalars);
        if !scalar_changed && added.is_empty() && removed.is_empty() {
            continue;
        }
        let md: Vec<Value> = if wants_members(&snap.select) {
            added
                .iter()
                .map(|m| member_ref(t, m, false))
                .chain(removed.iter().map(|m| member_ref(t, m, true)))
                .collect()
        } else {
            Vec::new()
        };
        if md.is_empty() {
            entries.push(Value::Object(scalars.clone()));
            continue;
        }
        // The same group again for each part of its member changes.
        for part in md.chunks(wg::DELTA_MEMBERS_PER_PAGE) {
            let mut e = scalars.clone();
            e.insert(wg::MEMBERS_DELTA.into(), Value::Array(part.to_vec()));
            entries.push(Value::Object(e));
        }
    }
    if let Some(o) = old {
        for id in o.groups.keys().filter(|id| !snap.groups.contains_key(*id)) {
            entries
                .push(json!({ "id": id, wg::REMOVED: { wg::REMOVED_REASON: wg::REMOVED_REASON_DELETED } }));
        }
    }
    entries
}

fn snapshot_of(groups: &[SeedGroup], select: &Option<Vec<String>>, now: DateTime<Utc>) -> Snapshot {
    let groups = groups
        .iter()
        .map(|g| {
            let scalars = match project(group_map(g), select) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            (g.id.clone(), (scalars, g.members.clone()))
        })
        .collect();
    Snapshot { created: now, select: select.clone(), groups }
}

fn wants_members(select: &Option<Vec<String>>) -> bool {
    select.as_ref().is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(wg::MEMBERS)))
}

fn member_ref(t: &LiveTenant, id: &str, removed: bool) -> Value {
    let kind = if t.user_by_id(id).is_some() { wg::ODATA_TYPE_USER } else { wg::ODATA_TYPE_GROUP };
    let mut v = json!({ wg::ODATA_TYPE: kind, "id": id });
    if removed {
        v[wg::REMOVED] = json!({ wg::REMOVED_REASON: wg::REMOVED_REASON_DELETED });
    }
    v
}

fn members_of(entry: &Value) -> usize {
    entry.get(wg::MEMBERS_DELTA).and_then(Value::as_array).map_or(0, Vec::len)
}

/// The next page of a round: up to `size` entries and [`wg::DELTA_MEMBERS_PER_PAGE`] member
/// changes (at least one entry), with a nextLink while entries remain, else the deltaLink.
fn delta_page(
    shared: &Shared,
    store: &mut DeltaStore,
    rest: &mut VecDeque<Value>,
    token: String,
    size: usize,
) -> GraphAnswer {
    let mut value: Vec<Value> = Vec::new();
    let mut members = 0;
    while let Some(next) = rest.front() {
        let m = members_of(next);
        if !value.is_empty() && (value.len() >= size || members + m > wg::DELTA_MEMBERS_PER_PAGE) {
            break;
        }
        members += m;
        value.extend(rest.pop_front());
    }
    let mut body =
        json!({ wg::ODATA_CONTEXT: wg::context_url(&shared.base_url, wg::CONTEXT_GROUPS), "value": value });
    if rest.is_empty() {
        body[wg::ODATA_DELTA_LINK] = json!(wg::delta_link(&shared.base_url, wg::DELTATOKEN, &token));
    } else {
        let skip = store.park(std::mem::take(rest), token);
        body[wg::ODATA_NEXT_LINK] = json!(wg::delta_link(&shared.base_url, wg::SKIPTOKEN, &skip));
    }
    ok(body)
}
