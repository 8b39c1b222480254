//! Pages of a Graph collection: `$top` and `$skiptoken`, `@odata.nextLink` repeating the
//! query, pages written straight from the tenant, and the member pages of a group.

use serde::Serialize;
use serde_json::Value;

use super::answer::{AnswerBody, GraphAnswer, error};
use super::objects::{MemberOut, UserOut, member_group_map};
use super::query::{Query, project};
use crate::emulator::seed::SeedGroup;
use crate::emulator::store::Shared;
use crate::emulator::sync::lock;
use crate::wire::graph::{self as wg, code};

/// A page of `items` at `skip` with a nextLink that repeats the query.
pub(super) fn page(
    shared: &Shared,
    path: &str,
    raw_query: &str,
    items: Vec<Value>,
    q: &Query,
    context: &str,
) -> GraphAnswer {
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(q.skip).take(page_size(q)).collect();
    page_of(shared, path, raw_query, value, total, q, context)
}

pub(super) fn page_size(q: &Query) -> usize {
    q.top.unwrap_or(wg::DEFAULT_PAGE_SIZE)
}

/// A page of a collection as Graph writes it.
struct PageOut<T> {
    context: String,
    /// With `$count=true` in an advanced query only.
    count: Option<usize>,
    value: Vec<T>,
    next_link: Option<String>,
}

impl<T: Serialize> Serialize for PageOut<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(wg::ODATA_CONTEXT, &self.context)?;
        if let Some(n) = self.count {
            m.serialize_entry(wg::ODATA_COUNT, &n)?;
        }
        m.serialize_entry("value", &self.value)?;
        if let Some(link) = &self.next_link {
            m.serialize_entry(wg::ODATA_NEXT_LINK, link)?;
        }
        m.end()
    }
}

/// The page `value` (already sliced at `skip`) of `total` items, with a nextLink that
/// repeats the query when more follow.
fn page_of<T: Serialize>(
    shared: &Shared,
    path: &str,
    raw_query: &str,
    value: Vec<T>,
    total: usize,
    q: &Query,
    context: &str,
) -> GraphAnswer {
    let size = page_size(q);
    let next_link = (q.skip + size < total).then(|| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
            if k != wg::SKIPTOKEN && k.trim_start_matches('$') != "skiptoken" {
                ser.append_pair(&k, &v);
            }
        }
        ser.append_pair(wg::SKIPTOKEN, &(q.skip + size).to_string());
        format!("{}{}{path}?{}", shared.base_url, wg::VERSION_PATH, ser.finish())
    });
    let count = (q.count && q.eventual).then_some(total);
    let page = PageOut { context: wg::context_url(&shared.base_url, context), count, value, next_link };
    match serde_json::value::to_raw_value(&page) {
        Ok(raw) => GraphAnswer { status: 200, body: AnswerBody::Raw(raw), headers: Vec::new() },
        Err(e) => error(503, code::SERVICE_UNAVAILABLE, &format!("the page could not be written: {e}")),
    }
}

/// The page of a group's members at the query's skip, as Graph sees the group; `None` when
/// the group is not (yet) visible. Only the page's members are resolved, each through the
/// user index, and written while the tenant lock is held, so that is O(page) work.
pub(super) fn members_page(
    shared: &Shared,
    id: &str,
    q: &Query,
    path: &str,
    raw_query: &str,
) -> Option<GraphAnswer> {
    // Groups come from the delayed view when a replication delay is set, users from the tenant.
    let view = shared.history_view();
    let t = lock(&shared.tenant);
    let groups: &[SeedGroup] = view.as_deref().map(Vec::as_slice).unwrap_or(&t.data.groups);
    let g = groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))?;
    let value: Vec<MemberOut<'_>> = g
        .members
        .iter()
        .skip(q.skip)
        .take(page_size(q))
        .filter_map(|m| match t.user_by_id(m) {
            Some(u) => Some(MemberOut::User(UserOut::new(u, &q.select))),
            None => member_group_map(groups, m).map(|g| MemberOut::Other(project(g, &q.select))),
        })
        .collect();
    Some(page_of(shared, path, raw_query, value, g.members.len(), q, wg::CONTEXT_DIRECTORY_OBJECTS))
}
