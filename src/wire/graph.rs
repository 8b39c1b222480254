//! Microsoft Graph v1.0 reads: groups, members, users, `$batch` and `groups/delta`. (**doc**)

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const VERSION_PATH: &str = "/v1.0";

/// `GET /v1.0/groups?$filter=mail eq '<smtp>'`
pub fn group_by_mail_query(mail: &str) -> String {
    format!("mail eq '{}'", mail.replace('\'', "''"))
}

pub const GROUP_SELECT: &str =
    "id,displayName,mail,mailNickname,description,groupTypes,mailEnabled,securityEnabled";
pub const MEMBER_SELECT: &str = "id,userPrincipalName,mail,displayName,userType";
pub const USER_SELECT: &str = "id,userPrincipalName,mail,displayName,userType";
/// Delta over groups, with membership changes. (**doc**)
pub const DELTA_SELECT: &str = "displayName,mail,members";
/// Delta over groups with every property the drift check compares, so a change to any of
/// them shows in the delta. (**doc**: `$select` takes any group property)
pub const DRIFT_DELTA_SELECT: &str = "displayName,mail,mailNickname,description,members";

/// Largest `$top` Graph honours for groups and members. (**doc**: 999)
pub const MAX_PAGE_SIZE: usize = 999;
/// Largest number of requests in one `$batch`. (**doc**)
pub const MAX_BATCH: usize = 20;

pub const ODATA_TYPE_USER: &str = "#microsoft.graph.user";
pub const ODATA_TYPE_GROUP: &str = "#microsoft.graph.group";
pub const ODATA_TYPE_SERVICE_PRINCIPAL: &str = "#microsoft.graph.servicePrincipal";
pub const USER_TYPE_GUEST: &str = "Guest";
pub const USER_TYPE_MEMBER: &str = "Member";

/// One page of a collection. Follow `@odata.nextLink` as a whole URL, never build it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    #[serde(rename = "@odata.context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(rename = "@odata.nextLink", default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default, skip_serializing_if = "Option::is_none")]
    pub delta_link: Option<String>,
    pub value: Vec<T>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub mail_nickname: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub group_types: Vec<String>,
    #[serde(default)]
    pub mail_enabled: bool,
    #[serde(default)]
    pub security_enabled: bool,
}

/// A member, user or any directory object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    #[serde(rename = "@odata.type", default, skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `Member` or `Guest` for users.
    #[serde(default)]
    pub user_type: Option<String>,
}

/// One entry of a `groups/delta` page. Deleted groups carry `@removed`; membership changes
/// arrive in `members@delta`, each with `@removed` when the member left. (**doc**)
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeltaGroup {
    pub id: String,
    #[serde(rename = "displayName", default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(rename = "mailNickname", default, skip_serializing_if = "Option::is_none")]
    pub mail_nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "members@delta", default, skip_serializing_if = "Option::is_none")]
    pub members_delta: Option<Vec<DeltaMember>>,
    #[serde(rename = "@removed", default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeltaMember {
    #[serde(rename = "@odata.type", default, skip_serializing_if = "Option::is_none")]
    pub odata_type: Option<String>,
    pub id: String,
    #[serde(rename = "@removed", default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Value>,
}

/// `POST /v1.0/$batch` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchRequest {
    pub requests: Vec<BatchItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchItem {
    pub id: String,
    pub method: String,
    /// Relative to the version root, e.g. `/groups/{id}/members`.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<serde_json::Map<String, Value>>,
}

/// The batch answers 200 while each inner response has its own status (maybe 429).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchResponse {
    pub responses: Vec<BatchItemResponse>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchItemResponse {
    pub id: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<serde_json::Map<String, Value>>,
    /// Kept as raw JSON text so that a page of members is decoded once, straight into its
    /// type, and not first into a generic tree. Absent for answers without a body (204).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<serde_json::value::RawValue>>,
}

/// Graph's error envelope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(rename = "innerError", default, skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<Value>,
}

impl ErrorEnvelope {
    pub fn new(code: &str, message: &str) -> Self {
        ErrorEnvelope {
            error: ErrorBody {
                code: code.to_string(),
                message: message.to_string(),
                inner_error: Some(serde_json::json!({
                    "request-id": uuid::Uuid::new_v4().to_string(),
                    "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                })),
            },
        }
    }
}

pub mod code {
    pub const NOT_FOUND: &str = "Request_ResourceNotFound";
    pub const BAD_REQUEST: &str = "BadRequest";
    pub const UNAUTHORIZED: &str = "InvalidAuthenticationToken";
    pub const FORBIDDEN: &str = "Authorization_RequestDenied";
    pub const THROTTLED: &str = "TooManyRequests";
    pub const SERVICE_UNAVAILABLE: &str = "serviceNotAvailable";
    pub const SYNC_STATE_NOT_FOUND: &str = "syncStateNotFound";
    pub const UNSUPPORTED_QUERY: &str = "Request_UnsupportedQuery";
    pub const METHOD_NOT_ALLOWED: &str = "Request_BadRequest";
}

/// `POST /v1.0/$batch` (**doc**)
pub const BATCH_PATH: &str = "/v1.0/$batch";

/// `Retry-After` on throttled responses, in seconds. (**doc**)
pub const RETRY_AFTER_HEADER: &str = "Retry-After";

/// RFC 3986 unreserved characters: kept as they are in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// RFC 3986 `pchar` (unreserved, sub-delims, `:` and `@`): kept as they are in a path segment.
const PATH_SEGMENT: &AsciiSet = &QUERY_VALUE
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// Percent-encodes a query value: everything but RFC 3986 unreserved characters, so quotes
/// and spaces survive inside `$batch` URLs too.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Percent-encodes a path segment: everything but RFC 3986 `pchar` (unreserved, sub-delims,
/// `:` and `@`), so a UPN stays readable (`/users/alice@contoso.com`, as Graph documents it)
/// while `#EXT#` becomes `%23EXT%23` (**doc**: guests' `#` must be encoded).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// Relative URL (to the version root) that finds a group by its primary SMTP address.
pub fn group_by_mail_url(mail: &str) -> String {
    format!("/groups?$filter={}&$select={GROUP_SELECT}", encode_component(&group_by_mail_query(mail)))
}

/// Relative URL of the first page of a group's direct members.
pub fn members_url(group_id: &str) -> String {
    format!("/groups/{}/members?$select={MEMBER_SELECT}&$top={MAX_PAGE_SIZE}", encode_segment(group_id))
}

/// Whether a `/users/{id or UPN}` answer means "no such user": 404 (**doc**), and 400 for a key
/// Graph cannot read as an id or a UPN (**assumed**; Graph documents that UPNs starting with
/// `$` need the `/users('...')` form). Either way the name is looked for elsewhere.
pub fn is_unknown_user(status: u16) -> bool {
    matches!(status, 400 | 404)
}

/// Relative URL of one user by id or UPN.
pub fn user_url(id_or_upn: &str) -> String {
    format!("/users/{}?$select={USER_SELECT}", encode_segment(id_or_upn))
}

/// Most values one `in` operator of a `$filter` takes on directory objects without advanced
/// query parameters. (**doc**: Microsoft Graph known issues, "Some limitations apply to query
/// parameters": "When using the "in" operator, the request is limited to 15 expressions in the
/// filter clause by default", <https://developer.microsoft.com/en-us/graph/known-issues/?search=13635>)
pub const MAX_IN_VALUES: usize = 15;

/// User properties a lookup filters on with `in`: the object id and the UPN, the two keys
/// `/users/{id or UPN}` takes. (**doc**: both support `$filter` with `eq` and `in`)
pub const USER_ID: &str = "id";
pub const USER_UPN: &str = "userPrincipalName";

/// `prop in ('a','b',...)`, quotes doubled inside values. (**doc**: OData `in` operator)
pub fn in_query(prop: &str, values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{}'", v.replace('\'', "''"))).collect();
    format!("{prop} in ({})", quoted.join(","))
}

/// Relative URL of the users whose `prop` is one of `values` (at most [`MAX_IN_VALUES`]);
/// the answer is one page, as [`DEFAULT_PAGE_SIZE`] exceeds [`MAX_IN_VALUES`] and both keys
/// are unique.
pub fn users_in_url(prop: &str, values: &[String]) -> String {
    format!("/users?$filter={}&$select={USER_SELECT}", encode_component(&in_query(prop, values)))
}

/// The key a user lookup filters on for a name: `id` for an object id (a GUID), else the UPN.
pub fn user_key_of(name: &str) -> &'static str {
    if uuid::Uuid::try_parse(name.trim()).is_ok() { USER_ID } else { USER_UPN }
}

/// Graph's answer to an `in` with more than [`MAX_IN_VALUES`] values: 400
/// `Request_UnsupportedQuery`. (**assumed**: the status and code Graph gives other filters
/// it cannot run; the message is the one users report, not documented)
pub fn too_many_in_values(count: usize) -> String {
    format!(
        "Too many child clauses specified in search filter expression containing 'OR' operators: {count}. Max allowed: {MAX_IN_VALUES}."
    )
}

/// Relative URL that starts a `groups/delta` round selecting `select`.
pub fn groups_delta_url_selecting(select: &str) -> String {
    format!("/groups/delta?$select={select}")
}

/// A `@odata.nextLink` as a URL relative to the version root, so further pages of many
/// collections can travel in one `$batch` (whose items take relative URLs, **doc**). The link
/// itself is not changed, only its origin and version prefix dropped; `None` when it does not
/// start with `graph_base` + `/v1.0`.
pub fn relative_link(link: &str, graph_base: &str) -> Option<String> {
    let prefix = format!("{}{VERSION_PATH}", graph_base.trim_end_matches('/'));
    let rest = link.strip_prefix(&prefix)?;
    rest.starts_with('/').then(|| rest.to_string())
}

/// Codes Graph answers when a delta link is too old; the client starts over. (**doc**: 410
/// Gone with `syncStateNotFound` or `resyncRequired`)
pub const DELTA_EXPIRED_STATUS: u16 = 410;
pub const RESYNC_REQUIRED: &str = "resyncRequired";

pub fn is_delta_expired(status: u16, error_code: &str) -> bool {
    status == DELTA_EXPIRED_STATUS
        || error_code.eq_ignore_ascii_case(code::SYNC_STATE_NOT_FOUND)
        || error_code.eq_ignore_ascii_case(RESYNC_REQUIRED)
}

/// Whether a user is a mail-enabled recipient in Exchange, as far as Graph can tell.
/// (**assumed**) Graph cannot tell a mailbox from a mail user; a user whose `mail` is set is
/// taken as mail-enabled (Exchange fills `mail` for every mail-enabled recipient), a user
/// without `mail` as not. The refresh asks Exchange (`Get-Recipient`) only for principals
/// Graph does not know.
pub fn is_mail_enabled(obj: &DirectoryObject) -> bool {
    obj.mail.as_deref().is_some_and(|m| !m.trim().is_empty())
}

/// Guests are users with `userType` `Guest`. (**doc**)
pub fn is_guest(obj: &DirectoryObject) -> bool {
    obj.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(USER_TYPE_GUEST))
}

/// A mail-enabled security group: `groupTypes` empty, `mailEnabled` and `securityEnabled`.
/// (**doc**)
pub fn is_mail_enabled_security_group(g: &Group) -> bool {
    g.group_types.is_empty() && g.mail_enabled && g.security_enabled
}

/// Graph has no Exchange `Name` for a group; the refresh reports `displayName` as the name.
/// (**assumed**: groups pamform creates get `Name` = `DisplayName`.)
pub fn exchange_name_of(g: &Group) -> String {
    g.display_name.clone().unwrap_or_default()
}

/// Page size Graph uses when `$top` is absent. (**doc**: 100 for directory objects)
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Directory delta tokens stop working after this many days. (**doc**)
pub const DELTA_TOKEN_DAYS: i64 = 7;
/// `@removed` reason for a deleted object or a member that left. (**doc**)
pub const REMOVED_REASON_DELETED: &str = "deleted";

/// `WWW-Authenticate` on a 401 from Graph. (**observed** shape)
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"\", \
     authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
     client_id=\"00000003-0000-0000-c000-000000000000\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_guest_upns_and_filters() {
        assert_eq!(
            user_url("oscar_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
            format!("/users/oscar_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?$select={USER_SELECT}")
        );
        assert!(
            group_by_mail_url("o'neil@x.com")
                .starts_with("/groups?$filter=mail%20eq%20%27o%27%27neil%40x.com%27&")
        );
    }

    #[test]
    fn user_lookups_filter_with_in() {
        let names = vec!["o'neil@x.com".to_string(), "bob@x.com".to_string()];
        assert_eq!(in_query(USER_UPN, &names), "userPrincipalName in ('o''neil@x.com','bob@x.com')");
        assert!(users_in_url(USER_UPN, &names).starts_with(
            "/users?$filter=userPrincipalName%20in%20%28%27o%27%27neil%40x.com%27%2C%27bob%40x.com%27%29&$select="
        ));
        assert_eq!(user_key_of("5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11"), USER_ID);
        assert_eq!(user_key_of("alice@contoso.com"), USER_UPN);
    }

    #[test]
    fn next_links_become_relative_only_on_the_same_base() {
        let base = "http://127.0.0.1:4000";
        assert_eq!(
            relative_link("http://127.0.0.1:4000/v1.0/groups/1/members?$skiptoken=999", base).as_deref(),
            Some("/groups/1/members?$skiptoken=999")
        );
        assert_eq!(relative_link("http://127.0.0.1:4001/v1.0/groups", base), None);
        assert_eq!(relative_link("http://127.0.0.1:4000/v1.0x/groups", base), None);
    }

    #[test]
    fn delta_expiry_is_recognised() {
        assert!(is_delta_expired(410, ""));
        assert!(is_delta_expired(400, "syncStateNotFound"));
        assert!(!is_delta_expired(400, "BadRequest"));
    }
}
