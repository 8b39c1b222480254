//! The Microsoft Graph client: GETs that follow `@odata.nextLink` as whole URLs, `$batch` of
//! up to 20 with per-item retry of throttled or failed items, group lookups by mail, member
//! lists, users, and `groups/delta` for cheap change detection.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::task::JoinSet;

use super::auth::Resource;
use super::client::Client;
use super::error::{self, Api, TenantError};
use super::http::{Body, Incoming, Outgoing};
use super::retry::{self, Attempt, Idempotency, Reason};
use crate::model;
use crate::wire::graph as wg;

/// What changed since a delta link, and the link for next time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupsDelta {
    /// Groups created or changed (properties or members), by Graph id.
    pub changed: BTreeSet<String>,
    /// Groups deleted, by Graph id.
    pub removed: BTreeSet<String>,
    /// Pass this to the next call.
    pub delta_link: String,
}

impl Client {
    fn graph_url(&self, relative: &str) -> String {
        format!("{}{}{}", self.inner.endpoints.graph, wg::VERSION_PATH, relative)
    }

    async fn graph_send(&self, req: Outgoing) -> Result<Incoming, TenantError> {
        let auth = self.inner.tokens.source(Resource::Graph);
        self.inner.transport.send(&req, Some(&auth), Some(&self.inner.graph_permits)).await
    }

    async fn graph_get_page<T: DeserializeOwned>(&self, url: &str) -> Result<wg::Page<T>, TenantError> {
        Client::check_next_link(Api::Graph, &self.inner.endpoints.graph, url)?;
        let incoming = self
            .graph_send(Outgoing::new(Api::Graph, Method::GET, url.to_string(), Idempotency::Read))
            .await?;
        let path = super::secret::loggable_url(url);
        if !incoming.is_success() {
            return Err(error::graph_error(&path, incoming.status, &incoming.body));
        }
        decode(&path, &incoming.body)
    }

    /// Runs GETs (relative URLs) through `$batch`, 20 per batch, batches in parallel, and
    /// retries inner 429/5xx answers until they succeed or the retry budget is spent.
    /// Answers come back in the order of `urls`.
    async fn graph_batch(&self, urls: &[String]) -> Result<Vec<wg::BatchItemResponse>, TenantError> {
        let mut set = JoinSet::new();
        for (n, chunk) in urls.chunks(wg::MAX_BATCH).enumerate() {
            let client = self.clone();
            let chunk = chunk.to_vec();
            set.spawn(async move { (n, client.graph_batch_chunk(chunk).await) });
        }
        let mut parts: Vec<(usize, Vec<wg::BatchItemResponse>)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            let (n, result) = joined.map_err(|e| TenantError::Config(format!("a batch task failed: {e}")))?;
            parts.push((n, result?));
        }
        parts.sort_by_key(|(n, _)| *n);
        Ok(parts.into_iter().flat_map(|(_, r)| r).collect())
    }

    async fn graph_batch_chunk(&self, urls: Vec<String>) -> Result<Vec<wg::BatchItemResponse>, TenantError> {
        let policy = self.inner.transport.retry_policy().clone();
        let start = Instant::now();
        let mut answers: Vec<Option<wg::BatchItemResponse>> = vec![None; urls.len()];
        let mut pending: Vec<usize> = (0..urls.len()).collect();
        let mut rounds = 0u32;
        while !pending.is_empty() {
            rounds += 1;
            let body = wg::BatchRequest {
                requests: pending
                    .iter()
                    .map(|i| wg::BatchItem {
                        id: i.to_string(),
                        method: "GET".to_string(),
                        url: urls[*i].clone(),
                        headers: None,
                    })
                    .collect(),
            };
            let mut req = Outgoing::new(
                Api::Graph,
                Method::POST,
                format!("{}{}", self.inner.endpoints.graph, wg::BATCH_PATH),
                Idempotency::Read,
            );
            req.body = Body::Json(serde_json::to_vec(&body).map_err(|e| TenantError::Config(e.to_string()))?);
            let incoming = self.graph_send(req).await?;
            if !incoming.is_success() {
                return Err(error::graph_error(wg::BATCH_PATH, incoming.status, &incoming.body));
            }
            let batch: wg::BatchResponse = decode(wg::BATCH_PATH, &incoming.body)?;
            let mut again = Vec::new();
            let mut wait_hint = None;
            let mut throttled = false;
            for item in batch.responses {
                let Some(i) = item.id.parse::<usize>().ok().filter(|i| pending.contains(i)) else {
                    continue;
                };
                let retry_after = item_retry_after(&item);
                let attempt =
                    Attempt::Answer { status: item.status, retry_after, concurrency_message: false };
                match retry::classify(attempt, Idempotency::Read) {
                    Some(reason) => {
                        throttled |= reason == Reason::Throttled;
                        wait_hint = wait_hint.max(retry_after);
                        again.push(i);
                    }
                    None => answers[i] = Some(item),
                }
            }
            // Items the batch did not answer at all are sent again too.
            let unanswered: Vec<usize> =
                pending.iter().copied().filter(|i| answers[*i].is_none() && !again.contains(i)).collect();
            again.extend(unanswered);
            again.sort_unstable();
            if again.is_empty() {
                break;
            }
            match policy.next(rounds, start.elapsed(), wait_hint, retry::jitter()) {
                Some(wait) => {
                    log::debug!(
                        "graph $batch: {} of {} items to retry in {} ms",
                        again.len(),
                        pending.len(),
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                    pending = again;
                }
                None if throttled => {
                    return Err(TenantError::Throttled {
                        api: Api::Graph,
                        attempts: rounds,
                        elapsed: start.elapsed(),
                    });
                }
                None => {
                    let i = again[0];
                    return Err(TenantError::Graph {
                        path: urls[i].clone(),
                        status: 500,
                        code: String::new(),
                        message: format!("still failing after {rounds} attempts"),
                    });
                }
            }
        }
        Ok(answers.into_iter().flatten().collect())
    }

    /// Looks groups up by primary SMTP address; keys are the addresses as given.
    pub async fn find_groups_by_mail(
        &self,
        mails: &[String],
    ) -> Result<BTreeMap<String, Option<wg::Group>>, TenantError> {
        let urls: Vec<String> = mails.iter().map(|m| wg::group_by_mail_url(m)).collect();
        let answers = self.graph_batch(&urls).await?;
        let mut out = BTreeMap::new();
        for (mail, (url, item)) in mails.iter().zip(urls.iter().zip(answers)) {
            let page: wg::Page<wg::Group> = batch_body(url, item)?;
            out.insert(mail.clone(), page.value.into_iter().next());
        }
        Ok(out)
    }

    /// Direct members of each group (by Graph id). Groups go in `$batch` chunks of 20, the
    /// chunks at once; each chunk pages on its own (first pages, then the nextLinks of the
    /// groups still paging), so a chunk never waits for another's pages and the rounds
    /// number the pages of the largest group, not the groups.
    pub async fn group_members(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, Vec<model::DirectoryObject>>, TenantError> {
        let mut set = JoinSet::new();
        for chunk in ids.chunks(wg::MAX_BATCH) {
            let client = self.clone();
            let chunk = chunk.to_vec();
            set.spawn(async move { client.group_members_chunk(chunk).await });
        }
        let mut out = BTreeMap::new();
        while let Some(joined) = set.join_next().await {
            out.extend(joined.map_err(|e| TenantError::Config(format!("a member read failed: {e}")))??);
        }
        Ok(out)
    }

    /// Members of at most [`wg::MAX_BATCH`] groups, one `$batch` per page round.
    async fn group_members_chunk(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<(String, Vec<model::DirectoryObject>)>, TenantError> {
        let mut out: BTreeMap<String, Vec<model::DirectoryObject>> = BTreeMap::new();
        let mut round: Vec<(String, String)> = ids
            .into_iter()
            .map(|id| {
                let url = wg::members_url(&id);
                (id, url)
            })
            .collect();
        while !round.is_empty() {
            let urls: Vec<String> = round.iter().map(|(_, u)| u.clone()).collect();
            let answers = self.graph_batch_chunk(urls).await?;
            let mut next_round = Vec::new();
            for ((id, url), item) in round.into_iter().zip(answers) {
                let page: wg::Page<wg::DirectoryObject> = batch_body(&url, item)?;
                out.entry(id.clone()).or_default().extend(page.value.into_iter().map(graph_object));
                if let Some(link) = page.next_link {
                    Client::check_next_link(Api::Graph, &self.inner.endpoints.graph, &link)?;
                    let relative =
                        wg::relative_link(&link, &self.inner.endpoints.graph).ok_or_else(|| {
                            TenantError::Decode {
                                api: Api::Graph,
                                path: super::secret::loggable_url(&link),
                                message: "a nextLink outside the Graph version root".to_string(),
                            }
                        })?;
                    next_round.push((id, relative));
                }
            }
            round = next_round;
        }
        Ok(out
            .into_iter()
            .map(|(id, mut objects)| {
                objects.sort_by(|a, b| a.id.cmp(&b.id));
                objects.dedup_by(|a, b| a.id == b.id);
                // Pages grow the list by doubling; a large tenant's groups are kept for the
                // whole command, so the spare room is given back.
                objects.shrink_to_fit();
                (id, objects)
            })
            .collect())
    }

    /// Users by id or UPN; `None` for names Graph does not know as users. Names go
    /// [`wg::MAX_IN_VALUES`] to a `$filter=... in (...)` (ids by `id`, others by UPN), those
    /// filters 20 to a `$batch`, so a thousand names cost four requests, not fifty. A filter
    /// Graph refuses (400, as for a key it cannot read) leaves its names unknown, to be
    /// looked for elsewhere.
    pub async fn get_users(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Option<model::DirectoryObject>>, TenantError> {
        let mut by_key: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for name in names {
            by_key.entry(wg::user_key_of(name)).or_default().push(name.clone());
        }
        let chunks: Vec<(&'static str, &[String])> = by_key
            .iter()
            .flat_map(|(key, names)| names.chunks(wg::MAX_IN_VALUES).map(move |chunk| (*key, chunk)))
            .collect();
        let urls: Vec<String> = chunks.iter().map(|(key, chunk)| wg::users_in_url(key, chunk)).collect();
        let answers = self.graph_batch(&urls).await?;
        let mut out: BTreeMap<String, Option<model::DirectoryObject>> =
            names.iter().map(|n| (n.clone(), None)).collect();
        for ((key, chunk), (url, item)) in chunks.into_iter().zip(urls.iter().zip(answers)) {
            if wg::is_unknown_user(item.status) {
                continue;
            }
            let page: wg::Page<wg::DirectoryObject> = batch_body(url, item)?;
            for mut user in page.value {
                let found = if key == wg::USER_ID {
                    Some(user.id.as_str())
                } else {
                    user.user_principal_name.as_deref()
                };
                let Some(found) = found.map(model::normalize::principal) else { continue };
                let Some(name) = chunk.iter().find(|n| model::normalize::principal(n) == found) else {
                    continue;
                };
                user.odata_type.get_or_insert_with(|| wg::ODATA_TYPE_USER.to_string());
                out.insert(name.clone(), Some(graph_object(user)));
            }
        }
        Ok(out)
    }

    /// Changes to groups since `delta_link` (or everything, when `None`). An expired link is
    /// [`TenantError::DeltaExpired`]: read everything again and start a new round.
    pub async fn groups_delta(&self, delta_link: Option<&str>) -> Result<GroupsDelta, TenantError> {
        let (entries, delta_link) = self.groups_delta_entries(delta_link, wg::DELTA_SELECT).await?;
        let mut out = GroupsDelta { delta_link, ..GroupsDelta::default() };
        for g in entries {
            if g.removed.is_some() {
                out.changed.remove(&g.id);
                out.removed.insert(g.id);
            } else {
                out.changed.insert(g.id);
            }
        }
        Ok(out)
    }

    /// The entries of a `groups/delta` round since `delta_link` (or a full round selecting
    /// `select`, when `None`; a link keeps the selection it was made with), in the order
    /// Graph sent them, and the link for next time. An expired link is
    /// [`TenantError::DeltaExpired`].
    pub async fn groups_delta_entries(
        &self,
        delta_link: Option<&str>,
        select: &str,
    ) -> Result<(Vec<wg::DeltaGroup>, String), TenantError> {
        let start = match delta_link {
            Some(link) => link.to_string(),
            None => self.graph_url(&wg::groups_delta_url_selecting(select)),
        };
        self.delta_round(start).await
    }

    /// A `groups/delta` link that returns the changes made from now on, selecting `select`,
    /// without reading the groups (sync from now: `$deltatoken=latest`). Any change after
    /// this call shows through the link, so reads made after it miss nothing; a change
    /// between the call and those reads is reported again by the link, which a reader applies
    /// without harm.
    pub async fn groups_delta_latest(&self, select: &str) -> Result<String, TenantError> {
        let start = self.graph_url(&wg::groups_delta_latest_url_selecting(select));
        // Documented to hold no resources; a round that brought some would only repeat what
        // the reads after it find.
        let (_, link) = self.delta_round(start).await?;
        Ok(link)
    }

    /// Follows one delta round from `start` to its deltaLink.
    async fn delta_round(&self, start: String) -> Result<(Vec<wg::DeltaGroup>, String), TenantError> {
        let mut next = start;
        let mut out = Vec::new();
        loop {
            let page: wg::Page<wg::DeltaGroup> = self.graph_get_page(&next).await?;
            out.extend(page.value);
            match (page.next_link, page.delta_link) {
                (Some(link), _) => next = link,
                (None, Some(link)) => return Ok((out, link)),
                (None, None) => {
                    return Err(TenantError::Decode {
                        api: Api::Graph,
                        path: super::secret::loggable_url(&next),
                        message: "a delta page had neither nextLink nor deltaLink".to_string(),
                    });
                }
            }
        }
    }
}

fn decode<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, TenantError> {
    serde_json::from_slice(body).map_err(|e| TenantError::Decode {
        api: Api::Graph,
        path: path.to_string(),
        message: format!("{e}: {}", error::body_excerpt(body)),
    })
}

fn batch_body<T: DeserializeOwned>(url: &str, item: wg::BatchItemResponse) -> Result<T, TenantError> {
    let body = item.body.as_deref().map_or("null", |raw| raw.get()).as_bytes();
    if !(200..300).contains(&item.status) {
        return Err(error::graph_error(url, item.status, body));
    }
    decode(url, body)
}

/// `Retry-After` of one batch item (a header map inside the JSON).
fn item_retry_after(item: &wg::BatchItemResponse) -> Option<std::time::Duration> {
    let headers = item.headers.as_ref()?;
    let value =
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(wg::RETRY_AFTER_HEADER)).map(|(_, v)| v)?;
    match value {
        Value::String(s) => retry::parse_retry_after(s),
        Value::Number(n) => n.as_f64().and_then(|f| retry::parse_retry_after(&f.to_string())),
        _ => None,
    }
}

/// A Graph directory object as the model speaks it.
fn graph_object(o: wg::DirectoryObject) -> model::DirectoryObject {
    let kind = match o.odata_type.as_deref() {
        Some(wg::ODATA_TYPE_USER) => model::ObjectKind::User,
        Some(wg::ODATA_TYPE_GROUP) => model::ObjectKind::Group,
        Some(wg::ODATA_TYPE_SERVICE_PRINCIPAL) => model::ObjectKind::ServicePrincipal,
        None => model::ObjectKind::User,
        Some(_) => model::ObjectKind::Other,
    };
    model::DirectoryObject {
        has_mailbox: wg::is_mail_enabled(&o),
        is_guest: wg::is_guest(&o),
        id: o.id,
        kind,
        upn: o.user_principal_name,
        mail: o.mail,
        display_name: o.display_name,
    }
}

/// A Graph group and its members as the model speaks it.
pub fn remote_group(g: wg::Group, members: Vec<model::DirectoryObject>) -> model::RemoteGroup {
    model::RemoteGroup {
        name: wg::exchange_name_of(&g),
        security_enabled: wg::is_mail_enabled_security_group(&g),
        display_name: g.display_name.unwrap_or_default(),
        alias: g.mail_nickname.unwrap_or_default(),
        email: g.mail.unwrap_or_default(),
        description: g.description.filter(|d| !d.is_empty()),
        id: g.id,
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_items_carry_retry_after_in_either_form() {
        let mut item = wg::BatchItemResponse { id: "1".into(), status: 429, headers: None, body: None };
        assert_eq!(item_retry_after(&item), None);
        item.headers = Some(serde_json::from_str(r#"{"retry-after":"2"}"#).unwrap());
        assert_eq!(item_retry_after(&item), Some(std::time::Duration::from_secs(2)));
        item.headers = Some(serde_json::from_str(r#"{"Retry-After":1}"#).unwrap());
        assert_eq!(item_retry_after(&item), Some(std::time::Duration::from_secs(1)));
    }

    #[test]
    fn graph_objects_know_guests_and_mail() {
        let o = graph_object(wg::DirectoryObject {
            odata_type: Some(wg::ODATA_TYPE_USER.into()),
            id: "1".into(),
            user_principal_name: Some("oscar_fabrikam.com#EXT#@contoso.onmicrosoft.com".into()),
            mail: Some("oscar@fabrikam.com".into()),
            display_name: None,
            user_type: Some("Guest".into()),
        });
        assert!(o.is_guest && o.has_mailbox && o.kind == model::ObjectKind::User);
    }
}
