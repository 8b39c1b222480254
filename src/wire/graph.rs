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
        let request_id = uuid::Uuid::new_v4().to_string();
        ErrorEnvelope {
            error: ErrorBody {
                code: code.to_string(),
                message: message.to_string(),
                inner_error: Some(inner_error(&request_id, None, &chrono::Utc::now())),
            },
        }
    }
}

/// Keys of Graph's error envelope. (**doc**/**observed**: every Graph error body is
/// `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`,
/// e.g. <https://learn.microsoft.com/en-us/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects>
/// and the bodies quoted in github:microsoftgraph/microsoft-graph-docs issue 18715)
pub const ERROR: &str = "error";
pub const ERROR_CODE: &str = "code";
pub const ERROR_MESSAGE: &str = "message";
pub const INNER_ERROR: &str = "innerError";
pub const INNER_DATE: &str = "date";

/// `innerError` of an error body: the time (seconds, no zone), the request id and the
/// client's `client-request-id`, which Graph fills with the request id when the client sent
/// none. (**observed**: the two ids are equal in bodies quoted from requests without a
/// client id, github:microsoftgraph/microsoft-graph-docs issue 18715)
pub fn inner_error(
    request_id: &str,
    client_request_id: Option<&str>,
    now: &chrono::DateTime<chrono::Utc>,
) -> Value {
    serde_json::json!({
        INNER_DATE: now.format("%Y-%m-%dT%H:%M:%S").to_string(),
        HEADER_REQUEST_ID: request_id,
        HEADER_CLIENT_REQUEST_ID: client_request_id.unwrap_or(request_id),
    })
}

/// The body of a throttled answer: `TooManyRequests`, and an `innerError` that repeats the
/// status. (**doc**: the sample response of <https://learn.microsoft.com/en-us/graph/throttling#sample-response>)
pub fn throttled_body(request_id: &str, now: &chrono::DateTime<chrono::Utc>) -> Value {
    serde_json::json!({ ERROR: {
        ERROR_CODE: code::THROTTLED,
        INNER_ERROR: {
            ERROR_CODE: "429",
            INNER_DATE: now.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ERROR_MESSAGE: THROTTLED_INNER_MESSAGE,
            HEADER_REQUEST_ID: request_id,
            "status": "429",
        },
        ERROR_MESSAGE: THROTTLED_MESSAGE,
    }})
}

/// Messages of the throttled sample response. (**doc**, as [`throttled_body`])
pub const THROTTLED_MESSAGE: &str = "Please retry again later.";
pub const THROTTLED_INNER_MESSAGE: &str = "Please retry after";

/// Request and answer headers. (**doc**: <https://learn.microsoft.com/en-us/graph/best-practices-concept#reliability-and-support>
/// for the request ids; <https://learn.microsoft.com/en-us/graph/aad-advanced-queries> for
/// `ConsistencyLevel`)
pub const HEADER_REQUEST_ID: &str = "request-id";
pub const HEADER_CLIENT_REQUEST_ID: &str = "client-request-id";
pub const HEADER_CONSISTENCY_LEVEL: &str = "ConsistencyLevel";
pub const CONSISTENCY_EVENTUAL: &str = "eventual";
pub const HEADER_CONTENT_TYPE: &str = "Content-Type";
pub const JSON_CONTENT_TYPE: &str = "application/json";

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
    /// Directory errors: a malformed key or query. (**observed**, see [`super::invalid_object_identifier`])
    pub const REQUEST_BAD_REQUEST: &str = "Request_BadRequest";
}

/// `POST /v1.0/$batch` (**doc**)
pub const BATCH_PATH: &str = "/v1.0/$batch";
/// Keys of a batch request item and answer. (**doc**: <https://learn.microsoft.com/en-us/graph/json-batching>)
pub const BATCH_RESPONSES: &str = "responses";
pub const BATCH_ID: &str = "id";
pub const BATCH_STATUS: &str = "status";
pub const BATCH_HEADERS: &str = "headers";
pub const BATCH_BODY: &str = "body";
/// Status of a batch item whose `dependsOn` request failed. (**doc**: "If an individual
/// request fails, any request that depends on that request fails with status code 424
/// (Failed Dependency)", <https://learn.microsoft.com/en-us/graph/json-batching#sequencing-requests-with-the-dependson-property>)
pub const FAILED_DEPENDENCY_STATUS: u16 = 424;
/// Error code and message of a failed dependency. (**assumed**: the documentation gives the
/// status only)
pub const FAILED_DEPENDENCY: &str = "FailedDependency";
pub fn failed_dependency(id: &str) -> String {
    format!("The request depends on request '{id}', which failed.")
}
/// A `dependsOn` that names no earlier request of the batch. (**observed** message:
/// "Invalid dependency for request Id", github:microsoftgraph/msgraph-sdk-dotnet-core issue 891;
/// the service wants a dependency to appear earlier in the array)
pub fn invalid_dependency(id: &str) -> String {
    format!("Invalid dependency for request Id: {id}.")
}
/// A batch with more than [`MAX_BATCH`] requests. (**assumed** wording; the limit is **doc**)
pub fn too_many_batch_requests() -> String {
    format!("The number of batch requests exceeds the limit of {MAX_BATCH}.")
}

/// `Retry-After` on throttled responses, in seconds. (**doc**)
pub const RETRY_AFTER_HEADER: &str = "Retry-After";

/// Graph's throttling budget for identity and access (users, groups, members): a token
/// bucket of resource units per application and tenant. (**doc**: "Identity and access
/// service limits", <https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-service-limits>)
pub mod budget {
    /// The window the quotas are given for, in seconds.
    pub const WINDOW_SECS: u64 = 10;
    /// Resource units per application+tenant pair per [`WINDOW_SECS`], by tenant size:
    /// S under 50 users, M 50 to 500, L above 500.
    pub const SMALL_QUOTA: u64 = 3_500;
    pub const MEDIUM_QUOTA: u64 = 5_000;
    pub const LARGE_QUOTA: u64 = 8_000;
    pub const SMALL_TENANT_USERS: usize = 50;
    pub const LARGE_TENANT_USERS: usize = 500;

    /// The application+tenant quota for a tenant of `users` users.
    pub fn quota_for(users: usize) -> u64 {
        if users < SMALL_TENANT_USERS {
            SMALL_QUOTA
        } else if users <= LARGE_TENANT_USERS {
            MEDIUM_QUOTA
        } else {
            LARGE_QUOTA
        }
    }

    /// What a read is, for its cost.
    pub struct Read<'a> {
        /// Path segments below the version root, decoded.
        pub segments: &'a [&'a str],
        pub select: bool,
        pub expand: bool,
        pub top: Option<usize>,
    }

    /// The resource units of a GET: base cost 2 for `users`, 3 for `groups/{id}/members`,
    /// 1 for any other identity path; `$select` takes 1 off, `$expand` adds 1, `$top` under
    /// 20 takes 1 off; never under 1.
    pub fn cost(read: &Read) -> u64 {
        let base: i64 = match read.segments {
            ["users"] => 2,
            ["groups", _, "members"] => 3,
            _ => 1,
        };
        let cost = base - i64::from(read.select) + i64::from(read.expand)
            - i64::from(read.top.is_some_and(|t| t < 20));
        cost.max(1) as u64
    }

    /// Answer headers: the units a request cost, and, past 80 % of the quota, the share
    /// used; on a throttled answer, the scope and the reason.
    pub const HEADER_RESOURCE_UNIT: &str = "x-ms-resource-unit";
    pub const HEADER_LIMIT_PERCENTAGE: &str = "x-ms-throttle-limit-percentage";
    pub const LIMIT_PERCENTAGE_FROM: f64 = 0.8;
    pub const HEADER_SCOPE: &str = "x-ms-throttle-scope";
    pub const HEADER_INFORMATION: &str = "x-ms-throttle-information";
    pub const RESOURCE_UNIT_LIMIT_EXCEEDED: &str = "ResourceUnitLimitExceeded";

    /// `<Scope>/<Limit>/<ApplicationId>/<TenantId>` for reads of one app in one tenant.
    pub fn scope(app_id: &str, tenant_id: &str) -> String {
        format!("Tenant_Application/Read/{app_id}/{tenant_id}")
    }
}

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
    format!("/groups/{DELTA_FUNCTION}?$select={select}")
}

/// The `$deltatoken` value that asks for a delta link from now on, without the resources:
/// "sync from now". The answer holds no resources (an empty `value`) and an
/// `@odata.deltaLink` that returns the changes made after it; Microsoft Entra resources
/// (users, groups) support it. The link keeps the request's `$select`, as any delta round's
/// does. (**doc**: the note under the calling pattern of "Use delta query to track changes in
/// a resource collection", <https://learn.microsoft.com/en-us/graph/delta-query-overview>:
/// Microsoft Entra ID resources such as users and groups support sync from now; a client not
/// interested in the resources' full state skips the initial round, appends
/// `$deltatoken=latest` to the delta function, and gets an `@odata.deltaLink` and no resource
/// data. The page does not show the answer's body; its shape is the final page of a round
/// with nothing in `value`, **assumed**)
pub const DELTATOKEN_LATEST: &str = "latest";

/// Relative URL that asks for a `groups/delta` link from now on (see
/// [`DELTATOKEN_LATEST`]), selecting `select`.
pub fn groups_delta_latest_url_selecting(select: &str) -> String {
    format!("/groups/{DELTA_FUNCTION}?$select={select}&{DELTATOKEN}={DELTATOKEN_LATEST}")
}

/// The delta function segment as pamform sends it. (**doc**: `GET /groups/delta`)
pub const DELTA_FUNCTION: &str = "delta";

/// Whether a path segment calls the delta function: `delta`, its call form `delta()` (the
/// form Kiota-generated SDKs send, e.g. msgraph-sdk-python's `groups.delta.get()`), and the
/// full names. (**doc**: "/delta is a shortcut for the full name /microsoft.graph.delta",
/// <https://learn.microsoft.com/en-us/graph/delta-query-groups>)
pub fn is_delta_segment(segment: &str) -> bool {
    let s = segment.strip_suffix("()").unwrap_or(segment);
    s == DELTA_FUNCTION || s == "microsoft.graph.delta"
}

/// Query options and annotations of pages. (**doc**: OData paging and delta query)
pub const SKIPTOKEN: &str = "$skiptoken";
pub const DELTATOKEN: &str = "$deltatoken";
pub const ODATA_CONTEXT: &str = "@odata.context";
pub const ODATA_NEXT_LINK: &str = "@odata.nextLink";
pub const ODATA_DELTA_LINK: &str = "@odata.deltaLink";
pub const ODATA_COUNT: &str = "@odata.count";
pub const ODATA_TYPE: &str = "@odata.type";
pub const REMOVED: &str = "@removed";
pub const REMOVED_REASON: &str = "reason";
pub const MEMBERS_DELTA: &str = "members@delta";
/// The `members` navigation property a delta `$select` names to get `members@delta`.
pub const MEMBERS: &str = "members";

/// `@odata.context` of a collection or entity: `{base}/v1.0/$metadata#{fragment}`, e.g.
/// `groups`, `users/$entity`, `directoryObjects`. (**doc**: every sample response)
pub fn context_url(graph_base: &str, fragment: &str) -> String {
    format!("{graph_base}{VERSION_PATH}/$metadata#{fragment}")
}
pub const CONTEXT_GROUPS: &str = "groups";
pub const CONTEXT_USERS: &str = "users";
pub const CONTEXT_GROUP_ENTITY: &str = "groups/$entity";
pub const CONTEXT_USER_ENTITY: &str = "users/$entity";
pub const CONTEXT_DIRECTORY_OBJECTS: &str = "directoryObjects";

/// A `groups/delta` link carrying a state token (`$skiptoken` for the next page of a round,
/// `$deltatoken` for the next round). (**doc**: the links of
/// <https://learn.microsoft.com/en-us/graph/delta-query-groups>; the tokens are opaque)
pub fn delta_link(graph_base: &str, token_option: &str, token: &str) -> String {
    format!("{graph_base}{VERSION_PATH}/groups/{DELTA_FUNCTION}?{token_option}={token}")
}

/// Most member changes one page of a delta round carries. A group with more member changes
/// is returned again on the following pages, with the same properties and the next part of
/// its `members@delta`. (**doc** for the split, "Paging through members in a large group",
/// <https://learn.microsoft.com/en-us/graph/delta-query-groups#paging-through-members-in-a-large-group>;
/// **assumed** for the size, which Microsoft does not publish)
pub const DELTA_MEMBERS_PER_PAGE: usize = 500;

/// Advanced queries on directory objects need `ConsistencyLevel: eventual` (and `$count=true`
/// in the query). Without the header, `$search` and the `$count` segment are refused and
/// `$count=true` is ignored. (**doc**: "Error handling for advanced queries on directory
/// objects", <https://learn.microsoft.com/en-us/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects>)
pub const COUNT_SEGMENT: &str = "$count";
pub const COUNT_NOT_SUPPORTED: &str = "$count is not currently supported.";
pub const SEARCH_NEEDS_EVENTUAL: &str = "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'";
/// A filter that only advanced queries support (e.g. `endsWith`) sent without them. (**doc**,
/// as above)
pub fn unsupported_filter(property: &str, resource: &str) -> String {
    format!(
        "Unsupported or invalid query filter clause specified for property '{property}' of resource '{resource}'."
    )
}

/// `$filter` with `$orderby` without advanced query parameters. (**assumed** wording; the
/// refusal is **doc**: "Using $filter and $orderby together is supported only with advanced
/// queries")
pub const SORTING_NOT_SUPPORTED: &str = "Sorting not supported for current query.";

/// A key that is not an object id where Graph needs one (groups): 400 `Request_BadRequest`.
/// (**observed**: github:OfficeDev/microsoft-teams-apps-incentives issue 53 and
/// github:microsoftgraph/microsoft-graph-docs-contrib issue 3854 quote the body)
pub fn invalid_object_identifier(id: &str) -> String {
    format!("Invalid object identifier '{id}'.")
}

/// The message of `Request_ResourceNotFound`. (**observed**, as [`ERROR`])
pub fn resource_not_found(id: &str) -> String {
    format!(
        "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
    )
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

/// Delegated permissions (a token's `scp`) that let a signed-in user's app read groups and
/// their members, and users. (**doc**: the permission tables of
/// <https://learn.microsoft.com/en-us/graph/api/group-list-members> (least privileged
/// `GroupMember.Read.All`) and <https://learn.microsoft.com/en-us/graph/api/user-list> (least
/// privileged `User.ReadBasic.All`), with their higher privileged permissions)
pub const DELEGATED_GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];
pub const DELEGATED_USER_READ: &[&str] = &[
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];

/// Whether a token's `scp` (space-separated; an entry may carry its resource,
/// `https://graph.microsoft.com/Group.Read.All`) holds one of `allowed`.
pub fn scp_allows(scp: &str, allowed: &[&str]) -> bool {
    scp.split_whitespace()
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .any(|s| allowed.iter().any(|a| a.eq_ignore_ascii_case(s)))
}

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
    fn delegated_scopes_allow_reads_by_name() {
        assert!(scp_allows("openid GroupMember.Read.All", DELEGATED_GROUP_READ));
        assert!(scp_allows("https://graph.microsoft.com/User.ReadBasic.All", DELEGATED_USER_READ));
        assert!(!scp_allows("User.Read offline_access", DELEGATED_USER_READ));
        assert!(!scp_allows("User.ReadBasic.All", DELEGATED_GROUP_READ));
    }

    #[test]
    fn delta_function_forms_and_costs() {
        for form in ["delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"] {
            assert!(is_delta_segment(form), "{form}");
        }
        assert!(!is_delta_segment("deltas"));
        let read = |segments: &[&str], select: bool, top: Option<usize>| {
            budget::cost(&budget::Read { segments, select, expand: false, top })
        };
        assert_eq!(read(&["users"], false, None), 2);
        assert_eq!(read(&["users"], true, Some(5)), 1);
        assert_eq!(read(&["groups", "x", "members"], true, Some(999)), 2);
        assert_eq!(read(&["users", "a@b"], true, None), 1, "never under 1");
        assert_eq!(budget::quota_for(49), budget::SMALL_QUOTA);
        assert_eq!(budget::quota_for(500), budget::MEDIUM_QUOTA);
        assert_eq!(budget::quota_for(501), budget::LARGE_QUOTA);
    }

    #[test]
    fn delta_expiry_is_recognised() {
        assert!(is_delta_expired(410, ""));
        assert!(is_delta_expired(400, "syncStateNotFound"));
        assert!(!is_delta_expired(400, "BadRequest"));
    }
}
