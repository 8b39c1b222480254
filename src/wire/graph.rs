//! Microsoft Graph v1.0 reads: groups, members, users, `$batch` and `groups/delta`. (**doc**)

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
    #[serde(default)]
    pub body: Value,
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

/// Page size Graph uses when `$top` is absent. (**doc**: 100 for directory objects)
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Directory delta tokens stop working after this many days. (**doc**)
pub const DELTA_TOKEN_DAYS: i64 = 7;
/// `@removed` reason for a deleted object or a member that left. (**doc**)
pub const REMOVED_REASON_DELETED: &str = "deleted";
pub const REMOVED_REASON_CHANGED: &str = "changed";

/// `WWW-Authenticate` on a 401 from Graph. (**observed** shape)
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"\", \
     authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
     client_id=\"00000003-0000-0000-c000-000000000000\"";
