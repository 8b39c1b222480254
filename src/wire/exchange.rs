//! The Exchange admin API: `InvokeCommand`, its headers, envelopes and the cmdlets pamform
//! runs, with their parameter and output field names. (**observed** unless marked.)

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST {exchange_url}/adminapi/beta/{tenant}/InvokeCommand` (**observed**)
pub fn invoke_command_path(tenant: &str) -> String {
    format!("/adminapi/beta/{tenant}/InvokeCommand")
}

pub const HEADER_CMDLET_NAME: &str = "X-CmdletName";
pub const HEADER_ANCHOR_MAILBOX: &str = "X-AnchorMailbox";
pub const HEADER_CLIENT_REQUEST_ID: &str = "client-request-id";
pub const HEADER_PREFER: &str = "Prefer";
/// Page size the client asks for; the service caps pages at 1000. (**observed**)
pub const PREFER_MAX_PAGE_SIZE: &str = "odata.maxpagesize=1000";
/// The preference name of `Prefer: odata.maxpagesize=N` (with its `=`).
pub const PREFER_PAGE_SIZE_KEY: &str = "odata.maxpagesize=";
pub const MAX_PAGE_SIZE: usize = 1000;

/// Anchor mailbox for app-only calls. (**observed**)
pub fn anchor_mailbox_app(tenant: &str) -> String {
    format!("APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}")
}

/// Anchor mailbox for delegated calls. (**observed**)
pub fn anchor_mailbox_user(upn: &str) -> String {
    format!("UPN:{upn}")
}

/// Cmdlets time out after 15 minutes on the service side. (**doc**)
pub const CMDLET_TIMEOUT_SECS: u64 = 15 * 60;

/// Body of an `InvokeCommand` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvokeCommandRequest {
    #[serde(rename = "CmdletInput")]
    pub cmdlet_input: CmdletInput,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CmdletInput {
    #[serde(rename = "CmdletName")]
    pub cmdlet_name: String,
    #[serde(rename = "Parameters", default)]
    pub parameters: Map<String, Value>,
}

impl InvokeCommandRequest {
    pub fn new(cmdlet: &str) -> Self {
        InvokeCommandRequest {
            cmdlet_input: CmdletInput { cmdlet_name: cmdlet.to_string(), parameters: Map::new() },
        }
    }

    /// Adds a parameter; strings, arrays (multi-valued), `true` for switches.
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.cmdlet_input.parameters.insert(name.to_string(), value.into());
        self
    }
}

/// OData annotations and the names of an `InvokeCommand` answer's members. (**observed**:
/// Get-QuarantineMessage and Get-Mailbox answers, `github:rknightion/graph2otel`
/// `internal/exoclient/exoclient.go` and `internal/exoclient/errors_test.go`)
pub mod odata {
    pub const CONTEXT: &str = "@odata.context";
    pub const NEXT_LINK: &str = "@odata.nextLink";
    pub const VALUE: &str = "value";
    /// The warnings of a cmdlet: always present, an empty array when there were none.
    pub const WARNINGS: &str = "@adminapi.warnings";
    pub const WARNINGS_TYPE: &str = "adminapi.warnings@odata.type";
    /// The suffix of a property's type annotation, `<Property>@odata.type`.
    pub const TYPE_SUFFIX: &str = "@odata.type";
    /// The type of a multi-valued string property (`MultiValuedProperty`).
    pub const COLLECTION_OF_STRING: &str = "#Collection(String)";
    /// The type of a `Guid` property (**observed** on Get-Mailbox's `Guid`).
    pub const GUID: &str = "#Guid";
    /// What every answer's `value` holds.
    pub const GENERIC_HASH_TABLE_COLLECTION: &str = "Collection(Exchange.GenericHashTable)";

    /// `<Property>@odata.type`, the annotation that precedes a typed property.
    pub fn type_of(property: &str) -> String {
        format!("{property}{TYPE_SUFFIX}")
    }

    /// `@odata.context` of an answer: `{base}/adminapi/beta/{tenant}/$metadata#Collection(...)`.
    pub fn context(base: &str, tenant: &str) -> String {
        format!("{base}/adminapi/beta/{tenant}/$metadata#{GENERIC_HASH_TABLE_COLLECTION}")
    }
}

/// A successful `InvokeCommand` response as the client reads it: `value` is always an array.
/// (**observed**)
#[derive(Debug, Clone, Deserialize, Default)]
pub struct InvokeCommandResponse {
    #[serde(rename = "@odata.context", default)]
    pub context: Option<String>,
    #[serde(rename = "@adminapi.warnings", default)]
    pub warnings: Vec<String>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    #[serde(default)]
    pub value: Vec<Value>,
}

/// Paging. The service answers a page of at most `Prefer: odata.maxpagesize` objects with an
/// `@odata.nextLink` carrying a `$skiptoken`; the client POSTs the same body to that link.
/// A link that is expired, unknown, or re-POSTed with another body is refused with status
/// 400, a `System.Exception` and [`PAGINATION_EXPIRED_MESSAGE`]. (**observed**:
/// <https://learn.microsoft.com/en-us/answers/questions/1023619/connect-exchangeonline-write-errormessage-expired>
/// and `github:rknightion/graph2otel` `internal/exoclient/exoclient.go`)
pub mod paging {
    /// The query parameter of a next link.
    pub const SKIP_TOKEN: &str = "$skiptoken";
    /// A continuation lives this long. (**observed**: "Default Expiry time is 00:30:00")
    pub const EXPIRY_SECS: i64 = 30 * 60;
}

/// The text of a refused continuation. (**observed**)
pub const PAGINATION_EXPIRED_MESSAGE: &str =
    "Expired or Invalid pagination request. Default Expiry time is 00:30:00";

/// The error envelope (status 400 or 404, and others) as the client reads it. `error.message`
/// is the useless "Invalid Operation"; the real text is in `details[0].message` as
/// `|Class|message` (empty id) and in `innererror.internalexception`. (**observed**, see
/// [`envelope`])
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
    #[serde(default)]
    pub innererror: Option<InnerError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InnerError {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub internalexception: Option<InternalException>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InternalException {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// The generic top-level message of every error envelope. (**observed**)
pub const GENERIC_ERROR_MESSAGE: &str = envelope::GENERIC_MESSAGE;

impl ErrorEnvelope {
    /// The real exception class and message, from `internalexception` or `details[0]`.
    pub fn real_error(&self) -> Option<(String, String)> {
        // The inner exception names the class even when its text is empty (a refusal in
        // another tenant's wording may have none): the class decides, not the text.
        if let Some(ie) = self.error.innererror.as_ref().and_then(|i| i.internalexception.as_ref())
            && (!ie.message.is_empty() || !ie.kind.is_empty())
        {
            return Some((ie.kind.clone(), ie.message.clone()));
        }
        let detail = self.error.details.first()?;
        let mut parts = detail.message.splitn(3, '|');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(class), Some(msg)) => Some((class.to_string(), msg.to_string())),
            _ if !detail.message.is_empty() => Some((String::new(), detail.message.clone())),
            _ => None,
        }
    }
}

/// The error envelope as the service writes it: member names, fixed values, and which members
/// an exception's envelope has.
///
/// Observed envelopes (all `github:rknightion/graph2otel` `internal/exoclient/errors_test.go`
/// unless said otherwise):
/// - an unknown parameter, 400: `code` `BadRequest`, `details[0]` = `{code: "Client", target:
///   "", message: "|<Class>|<text>"}`, `innererror` = `{message, type:
///   ODataServiceException, stacktrace, internalexception: {message, type, stacktrace}}`;
/// - a parameter of the wrong type, 400: no `details`; the same `innererror`, and the
///   warnings annotation inside `error`;
/// - an expired continuation, 400: no `details`, no warnings (Microsoft Q&A 1023619).
///
/// That not-found answers 404 with `code` `NotFound` is **observed** for the status and
/// **assumed** for the code (the issue that brought this in reports both); that the other
/// cmdlet exceptions use the detailed layout is **assumed**.
pub mod envelope {
    pub const ERROR: &str = "error";
    pub const CODE: &str = "code";
    pub const MESSAGE: &str = "message";
    pub const DETAILS: &str = "details";
    pub const TARGET: &str = "target";
    pub const INNER_ERROR: &str = "innererror";
    pub const TYPE: &str = "type";
    pub const STACKTRACE: &str = "stacktrace";
    pub const INTERNAL_EXCEPTION: &str = "internalexception";
    /// `error.message` and `innererror.message`, whatever went wrong. (**observed**)
    pub const GENERIC_MESSAGE: &str = "Invalid Operation";
    /// `details[0].code`. (**observed**)
    pub const DETAIL_CODE_CLIENT: &str = "Client";
    /// `innererror.type`. (**observed**)
    pub const INNER_ERROR_TYPE: &str = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException";

    /// `error.code` for an HTTP status: `NotFound` for 404, `BadRequest` for 400 (**observed**);
    /// `TooManyRequests` for 429 and `InternalServerError` for 5xx (**assumed**).
    pub fn code_for_status(status: u16) -> &'static str {
        match status {
            404 => "NotFound",
            429 => "TooManyRequests",
            500..=599 => "InternalServerError",
            _ => "BadRequest",
        }
    }

    /// `details[0].message`: `|<Class>|<text>`, the id before the first bar left empty.
    /// (**observed**)
    pub fn detail_message(class: &str, message: &str) -> String {
        format!("|{class}|{message}")
    }

    /// Which members an exception's envelope has.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Layout {
        /// `details` and `innererror`.
        Detailed,
        /// `innererror` only.
        InnerOnly,
        /// `innererror` and the warnings annotation inside `error`.
        InnerWithWarnings,
    }

    /// The layout of an exception's envelope (see the module comment).
    pub fn layout(class: &str) -> Layout {
        if class == super::class::PARAMETER_TRANSFORMATION {
            Layout::InnerWithWarnings
        } else if class == super::class::PAGINATION {
            Layout::InnerOnly
        } else {
            Layout::Detailed
        }
    }
}

/// Exception classes. Each says whether it was seen in a real answer.
pub mod class {
    /// (**observed**: PowerShell/PowerShell#19793 quotes the serialized exception)
    pub const NOT_FOUND: &str = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
    /// (**assumed**, Exchange naming)
    pub const ALREADY_EXISTS: &str = "Microsoft.Exchange.Management.Tasks.ADObjectAlreadyExistsException";
    /// A parameter the cmdlet does not have: "Parameter set cannot be resolved using the
    /// specified named parameters. Invalid cmdlet parameters specified. `<Name>`". (**observed**)
    pub const AMBIGUOUS_PARAMETER_SET: &str =
        "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException";
    /// A value that does not convert to the parameter's type: "Cannot process argument
    /// transformation on parameter `'<Name>'`. Cannot convert value ...". (**observed**)
    pub const PARAMETER_TRANSFORMATION: &str =
        "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException";
    /// A missing mandatory parameter or a filter that does not parse. (**assumed**)
    pub const INVALID_PARAMETER: &str = "Microsoft.Exchange.Configuration.Tasks.ParameterBindingException";
    /// An expired or unknown continuation. (**observed**, see [`super::paging`])
    pub const PAGINATION: &str = "System.Exception";
    pub const INVALID_OPERATION: &str = "System.InvalidOperationException";
    pub const ARGUMENT: &str = "System.ArgumentException";
    pub const UNKNOWN_CMDLET: &str = "System.Management.Automation.CommandNotFoundException";
    pub const ACCESS_DENIED: &str = "Microsoft.Exchange.Configuration.Authorization.AccessDeniedException";
    /// Changing a group whose `ManagedBy` does not list the caller, without
    /// `-BypassSecurityGroupManagerCheck`. (**observed**: caught by this name in a public
    /// script; the text is [`super::GROUP_MANAGER_REQUIRED_MESSAGE`])
    pub const GROUP_MANAGER_REQUIRED: &str =
        "Microsoft.Exchange.Configuration.Tasks.OperationRequiresGroupManagerException";
    /// A PAM-gated cmdlet run without an approved authorization. (**assumed**)
    pub const ELEVATION_REQUIRED: &str =
        "Microsoft.Exchange.Management.ElevatedAccess.ElevationRequiredException";
    /// A member that is not mail-enabled, or a group made a member of itself. (**assumed**)
    pub const RECIPIENT_TASK: &str = "Microsoft.Exchange.Management.Tasks.RecipientTaskException";
    pub const RECIPIENT_NOT_MAIL_ENABLED: &str = RECIPIENT_TASK;
    pub const LIMIT_EXCEEDED: &str =
        "Microsoft.Exchange.Management.ElevatedAccess.PolicyLimitExceededException";
    /// Adding a member that is already in the group. (**assumed**, Exchange naming)
    pub const MEMBER_ALREADY_EXISTS: &str =
        "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException";
    /// Removing a member that is not in the group. (**assumed**, Exchange naming)
    pub const MEMBER_NOT_FOUND: &str = "Microsoft.Exchange.Management.Tasks.MemberNotFoundException";
    /// A body that is not a valid `InvokeCommand` request. (**assumed**)
    pub const BAD_REQUEST_BODY: &str = "Microsoft.OData.ODataException";
    /// Random throttling of the admin API (status 429). (**assumed**)
    pub const THROTTLED: &str = "Microsoft.Exchange.Admin.OData.Core.ThrottlingException";
    /// A transient service failure (status 5xx). (**assumed**)
    pub const SERVER_ERROR: &str = "Microsoft.Exchange.Data.Directory.TransientException";
}

/// HTTP status of an error envelope: not found answers 404, every other cmdlet error 400.
/// (**observed** that both occur and that not-found is 404)
pub fn error_status(class: &str) -> u16 {
    if class == class::NOT_FOUND { 404 } else { 400 }
}

/// The text of [`class::GROUP_MANAGER_REQUIRED`]. (**doc**: "You don't have sufficient
/// permissions when remove or change distribution group", `github:MicrosoftDocs/SupportArticles-docs`)
pub const GROUP_MANAGER_REQUIRED_MESSAGE: &str =
    "You don't have sufficient permissions. This operation can only be performed by a manager of the group.";

/// Texts of the group and recipient cmdlets' exceptions. Only the not-found text is
/// **observed** (PowerShell/PowerShell#19793); the others are **assumed** wordings in Exchange's
/// style. pamform never matches on them: it decides by class and status.
pub mod text {
    /// [`super::class::NOT_FOUND`]. (**observed**)
    pub fn not_found(identity: &str, server: &str) -> String {
        format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found on '{server}'."
        )
    }
    /// A member reference that is no recipient.
    pub fn member_not_found(identity: &str) -> String {
        format!(
            "Couldn't find object \"{identity}\". Please make sure that it was spelled correctly or specify a different object."
        )
    }
    /// [`super::class::ALREADY_EXISTS`] for a name.
    pub fn name_taken(name: &str) -> String {
        format!("The name \"{name}\" is already being used. Please try another name.")
    }
    /// [`super::class::ALREADY_EXISTS`] for an address.
    pub fn address_taken(smtp: &str, owner: &str) -> String {
        format!(
            "The proxy address \"SMTP:{smtp}\" is already being used by the proxy addresses or LegacyExchangeDN of \"{owner}\". Please choose another proxy address."
        )
    }
    /// [`super::class::MEMBER_ALREADY_EXISTS`].
    pub fn member_already(member: &str, group: &str) -> String {
        format!("The recipient \"{member}\" is already a member of the group \"{group}\".")
    }
    /// [`super::class::MEMBER_NOT_FOUND`].
    pub fn not_a_member(member: &str, group: &str) -> String {
        format!("The recipient \"{member}\" isn't a member of the group \"{group}\".")
    }
    /// [`super::class::RECIPIENT_NOT_MAIL_ENABLED`].
    pub fn not_mail_enabled(user: &str) -> String {
        format!(
            "The user '{user}' isn't mail-enabled and can't be added as a member. Only mail-enabled recipients can be members of a distribution group."
        )
    }
    /// [`super::class::RECIPIENT_TASK`] for a group made a member of itself.
    pub fn member_of_itself(group: &str) -> String {
        format!("The group \"{group}\" can't be a member of itself.")
    }
    /// [`super::class::INVALID_PARAMETER`] for missing mandatory parameters.
    pub fn missing_mandatory(names: &[&str]) -> String {
        format!(
            "Cannot process command because of one or more missing mandatory parameters: {}.",
            names.join(" ")
        )
    }
    /// The warning of a `Set-` that changed nothing. (**observed** in public scripts that test
    /// for "completed successfully but no settings of")
    pub fn nothing_modified(identity: &str) -> String {
        format!("The command completed successfully but no settings of '{identity}' have been modified.")
    }
}

/// The start of [`class::AMBIGUOUS_PARAMETER_SET`]'s text; the unknown names follow.
/// (**observed**)
pub const UNKNOWN_PARAMETER_MESSAGE: &str = "Parameter set cannot be resolved using the specified named parameters. Invalid cmdlet parameters specified.";

/// [`class::PARAMETER_TRANSFORMATION`]'s text for `value` that is not a `type_name`.
/// (**observed** wording up to the error detail)
pub fn transformation_message(parameter: &str, value: &str, type_name: &str, error: &str) -> String {
    format!(
        "Cannot process argument transformation on parameter '{parameter}'. Cannot convert value \"{value}\" to type \"{type_name}\". Error: \"{error}\""
    )
}

/// PowerShell common parameters every cmdlet accepts besides its own. (**doc**)
pub const COMMON_PARAMETERS: &[&str] = &["Confirm", "ErrorAction", "WarningAction", "Verbose", "WhatIf"];

/// Every parameter of the group cmdlets in Exchange Online, as documented (on-premises-only
/// ones left out). A name outside these lists is refused with
/// [`class::AMBIGUOUS_PARAMETER_SET`]. (**doc**: the ExchangePowerShell reference pages,
/// `github:MicrosoftDocs/office-docs-powershell`
/// `exchange/exchange-ps/ExchangePowerShell/<Cmdlet>.md`)
pub mod documented {
    /// `New-DistributionGroup`.
    pub const NEW_GROUP: &[&str] = &[
        "Name",
        "Alias",
        "BccBlocked",
        "BypassNestedModerationEnabled",
        "CopyOwnerToMember",
        "Description",
        "DisplayName",
        "HiddenGroupMembershipEnabled",
        "IgnoreNamingPolicy",
        "ManagedBy",
        "MemberDepartRestriction",
        "MemberJoinRestriction",
        "Members",
        "ModeratedBy",
        "ModerationEnabled",
        "Notes",
        "OrganizationalUnit",
        "PrimarySmtpAddress",
        "RequireSenderAuthenticationEnabled",
        "RoomList",
        "SamAccountName",
        "SendModerationNotifications",
        "Type",
    ];
    /// `Set-DistributionGroup`: no `Notes`.
    pub const SET_GROUP: &[&str] = &[
        "Identity",
        "AcceptMessagesOnlyFrom",
        "AcceptMessagesOnlyFromDLMembers",
        "AcceptMessagesOnlyFromSendersOrMembers",
        "Alias",
        "BccBlocked",
        "BypassModerationFromSendersOrMembers",
        "BypassNestedModerationEnabled",
        "BypassSecurityGroupManagerCheck",
        "CustomAttribute1",
        "CustomAttribute2",
        "CustomAttribute3",
        "CustomAttribute4",
        "CustomAttribute5",
        "CustomAttribute6",
        "CustomAttribute7",
        "CustomAttribute8",
        "CustomAttribute9",
        "CustomAttribute10",
        "CustomAttribute11",
        "CustomAttribute12",
        "CustomAttribute13",
        "CustomAttribute14",
        "CustomAttribute15",
        "Description",
        "DisplayName",
        "EmailAddresses",
        "ExtensionCustomAttribute1",
        "ExtensionCustomAttribute2",
        "ExtensionCustomAttribute3",
        "ExtensionCustomAttribute4",
        "ExtensionCustomAttribute5",
        "GrantSendOnBehalfTo",
        "HiddenFromAddressListsEnabled",
        "HiddenGroupMembershipEnabled",
        "IgnoreDefaultScope",
        "IgnoreNamingPolicy",
        "MailTip",
        "MailTipTranslations",
        "ManagedBy",
        "MaxReceiveSize",
        "MaxSendSize",
        "MemberDepartRestriction",
        "MemberJoinRestriction",
        "ModeratedBy",
        "ModerationEnabled",
        "Name",
        "PrimarySmtpAddress",
        "RejectMessagesFrom",
        "RejectMessagesFromDLMembers",
        "RejectMessagesFromSendersOrMembers",
        "ReportToManagerEnabled",
        "ReportToOriginatorEnabled",
        "RequireSenderAuthenticationEnabled",
        "ResetMigrationToUnifiedGroup",
        "RoomList",
        "SamAccountName",
        "SendModerationNotifications",
        "SendOofMessageToOriginatorEnabled",
        "SimpleDisplayName",
        "UpdateMemberCount",
        "WindowsEmailAddress",
    ];
    /// `Remove-DistributionGroup`.
    pub const REMOVE_GROUP: &[&str] = &["Identity", "BypassSecurityGroupManagerCheck", "IgnoreDefaultScope"];
    /// `Add-` and `Remove-DistributionGroupMember`.
    pub const MEMBER: &[&str] = &["Identity", "Member", "BypassSecurityGroupManagerCheck"];
    /// `Update-DistributionGroupMember`.
    pub const UPDATE_MEMBERS: &[&str] = &["Identity", "Members", "BypassSecurityGroupManagerCheck"];
}

/// `WWW-Authenticate` on a 401 from the admin API. (**observed** shape)
pub const WWW_AUTHENTICATE: &str = "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", \
     token_types=\"app_asserted_user_v1 service_asserted_app_v1\", error=\"invalid_token\"";

/// A token issued in another tenant than the one the admin API's path names (a multi-tenant
/// app's token for tenant A sent to tenant B's `InvokeCommand`) is refused like any token the
/// API does not accept: this status with [`WWW_AUTHENTICATE`] and an empty body. (**assumed**:
/// Microsoft documents no separate answer; the API checks the token's `tid` against the
/// tenant it routes to, as every resource of the identity platform must ("validate the
/// tenant", Microsoft identity platform access tokens, learn.microsoft.com).)
pub const OTHER_TENANT_TOKEN_STATUS: u16 = 401;

/// A 403 for a token without the needed permission has a body of this many NUL bytes.
/// (**observed** quirk; the length is **assumed**)
pub const FORBIDDEN_NUL_BODY_LEN: usize = 16;

/// Warning when a list was cut at `ResultSize`. (**observed** wording)
pub const MORE_RESULTS_WARNING: &str = "There are more results available than are currently displayed. \
     To view them, increase the value for the ResultSize parameter.";

/// Any body starting with this, whatever the status, is throttling: wait and send again.
/// (**observed**: `github:GreyCorbel/ExoHelper` `Commands/Public/Invoke-ExoCommand.ps1` retries
/// on it besides the retryable statuses)
pub const CONCURRENCY_LIMIT_MESSAGE: &str =
    "You have reached the maximum number of concurrent requests per tenant. Please wait and try again";

/// Statuses that mean "throttled or briefly unavailable, send again": 429, 503 and 408, and
/// 504 (**observed**: the retryable statuses of `github:GreyCorbel/ExoHelper`
/// `Commands/Public/Invoke-ExoCommand.ps1` are 503, 504, 408 and 429; 504 is kept with the
/// ambiguous failures below, as a gateway timeout may come after the cmdlet ran).
pub const RETRY_STATUSES: &[u16] = &[429, 503, 408];
/// Failures after which the cmdlet may or may not have run: only reads are sent again.
/// (**assumed**)
pub const RETRY_READ_STATUSES: &[u16] = &[500, 502, 504];

/// Safe per-tenant concurrency for the Exchange admin API. (**assumed**)
pub const DEFAULT_CONCURRENCY: usize = 3;

/// At most this many access policies per tenant. (**doc**: "You can create and configure up to
/// 30 privileged access policies", <https://learn.microsoft.com/purview/privileged-access-management-configuration>)
pub const MAX_POLICIES: usize = 30;
/// Pending requests expire after this many hours. (**doc**: "Requests for privileged access are
/// valid for up to 24 hours after the request is submitted", same page)
pub const PENDING_REQUEST_EXPIRY_HOURS: i64 = 24;
/// Default request duration in hours. (**doc**: "default duration is 4 hours", same page)
pub const DEFAULT_REQUEST_HOURS: u32 = 4;
/// Request durations are a positive number of hours with no upper limit. (**doc**: "There isn't
/// a limit on the number of hours that can be requested", same page; Data Access Requests last
/// [`DATA_ACCESS_REQUEST_HOURS`]) The lower bound of one hour is **assumed** (the parameter
/// takes whole hours).
pub fn valid_request_hours(hours: i64) -> bool {
    hours >= 1 && u32::try_from(hours).is_ok()
}
/// A Data Access Request (Graph Data Connect) is approved for 4,320 hours (six months). (**doc**:
/// <https://learn.microsoft.com/graph/data-connect-pam>)
pub const DATA_ACCESS_REQUEST_HOURS: u32 = 4320;

/// Cmdlet names. (**doc**)
pub mod cmdlet {
    pub const GET_ORGANIZATION_CONFIG: &str = "Get-OrganizationConfig";
    pub const ENABLE_ELEVATED_ACCESS_CONTROL: &str = "Enable-ElevatedAccessControl";
    pub const DISABLE_ELEVATED_ACCESS_CONTROL: &str = "Disable-ElevatedAccessControl";
    pub const GET_POLICY: &str = "Get-ElevatedAccessApprovalPolicy";
    pub const NEW_POLICY: &str = "New-ElevatedAccessApprovalPolicy";
    pub const REMOVE_POLICY: &str = "Remove-ElevatedAccessApprovalPolicy";
    pub const NEW_REQUEST: &str = "New-ElevatedAccessRequest";
    pub const GET_REQUEST: &str = "Get-ElevatedAccessRequest";
    pub const APPROVE_REQUEST: &str = "Approve-ElevatedAccessRequest";
    pub const DENY_REQUEST: &str = "Deny-ElevatedAccessRequest";
    pub const REVOKE_AUTHORIZATION: &str = "Revoke-ElevatedAccessAuthorization";
    pub const GET_AUTHORIZATION: &str = "Get-ElevatedAccessAuthorization";
    pub const NEW_GROUP: &str = "New-DistributionGroup";
    pub const SET_GROUP: &str = "Set-DistributionGroup";
    pub const REMOVE_GROUP: &str = "Remove-DistributionGroup";
    pub const GET_GROUP: &str = "Get-DistributionGroup";
    pub const GET_GROUP_MEMBER: &str = "Get-DistributionGroupMember";
    pub const ADD_GROUP_MEMBER: &str = "Add-DistributionGroupMember";
    pub const REMOVE_GROUP_MEMBER: &str = "Remove-DistributionGroupMember";
    pub const UPDATE_GROUP_MEMBER: &str = "Update-DistributionGroupMember";
    pub const GET_RECIPIENT: &str = "Get-Recipient";
    pub const GET_USER: &str = "Get-User";
    /// Cmdlets of a management role: `Identity = "<Role>\*"`. (**doc**, Exchange RBAC)
    pub const GET_ROLE_ENTRY: &str = "Get-ManagementRoleEntry";
    /// Role groups with their `Roles`. (**doc**, Exchange RBAC)
    pub const GET_ROLE_GROUP: &str = "Get-RoleGroup";
}

/// Parameter names. (**doc**)
pub mod param {
    pub const IDENTITY: &str = "Identity";
    pub const FILTER: &str = "Filter";
    pub const RESULT_SIZE: &str = "ResultSize";
    pub const UNLIMITED: &str = "Unlimited";
    pub const ADMIN_GROUP: &str = "AdminGroup";
    pub const SYSTEM_ACCOUNTS: &str = "SystemAccounts";
    pub const TASK: &str = "Task";
    pub const APPROVAL_TYPE: &str = "ApprovalType";
    pub const APPROVER_GROUP: &str = "ApproverGroup";
    pub const REASON: &str = "Reason";
    pub const DURATION_HOURS: &str = "DurationHours";
    pub const REQUEST_ID: &str = "RequestId";
    pub const COMMENT: &str = "Comment";
    pub const NAME: &str = "Name";
    pub const DISPLAY_NAME: &str = "DisplayName";
    pub const ALIAS: &str = "Alias";
    pub const PRIMARY_SMTP_ADDRESS: &str = "PrimarySmtpAddress";
    pub const TYPE: &str = "Type";
    pub const TYPE_SECURITY: &str = "Security";
    pub const TYPE_DISTRIBUTION: &str = "Distribution";
    pub const MEMBERS: &str = "Members";
    pub const MEMBER: &str = "Member";
    pub const DESCRIPTION: &str = "Description";
    pub const NOTES: &str = "Notes";
    pub const BYPASS_SECURITY_GROUP_MANAGER_CHECK: &str = "BypassSecurityGroupManagerCheck";
    pub const MANAGED_BY: &str = "ManagedBy";
}

/// `Get-OrganizationConfig` output as the client reads it (the PAM-related properties).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct OrganizationConfig {
    #[serde(default)]
    pub identity: String,
    /// `"Enabled"` or `"Disabled"`. (doc-adjacent)
    #[serde(default)]
    pub elevated_access_control: String,
    /// Default approver group SMTP address. (**assumed** name)
    #[serde(default)]
    pub elevated_access_approvers: Option<String>,
    /// System accounts excluded from PAM. (**assumed** name)
    #[serde(default)]
    pub elevated_access_system_accounts: Vec<String>,
}

pub const PAM_ENABLED: &str = "Enabled";
pub const PAM_DISABLED: &str = "Disabled";

/// `Get-ElevatedAccessApprovalPolicy` output. Names beyond Identity/Task/ApprovalType are
/// **assumed**.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ApprovalPolicy {
    pub identity: String,
    pub task: String,
    pub approval_type: String,
    #[serde(default)]
    pub approver_group: String,
    #[serde(default)]
    pub policy_type: String,
}

pub const APPROVAL_MANUAL: &str = "Manual";
pub const APPROVAL_AUTO: &str = "Auto";
pub const POLICY_TYPE_TASK: &str = "Task";
pub const POLICY_TYPE_ROLE: &str = "Role";
pub const POLICY_TYPE_ROLE_GROUP: &str = "RoleGroup";

/// How a policy's target travels in the `Task` parameter. Tasks are `Exchange\<Cmdlet>`
/// (**doc**); the role and role group forms are unknown and **assumed** to be
/// `Role:<RoleName>` and `RoleGroup:<GroupName>`.
pub mod task {
    use crate::model::{PolicyTarget, normalize};

    pub const TASK_PREFIX: &str = "Exchange\\";
    pub const ROLE_PREFIX: &str = "Role:";
    pub const ROLE_GROUP_PREFIX: &str = "RoleGroup:";

    pub fn encode(target: &PolicyTarget) -> String {
        match target {
            PolicyTarget::Task(c) => format!("{TASK_PREFIX}{c}"),
            PolicyTarget::Role(r) => format!("{ROLE_PREFIX}{r}"),
            PolicyTarget::RoleGroup(g) => format!("{ROLE_GROUP_PREFIX}{g}"),
        }
    }

    /// Decodes a `Task` value; `None` when it has none of the known shapes.
    pub fn decode(task: &str) -> Option<PolicyTarget> {
        let t = task.trim();
        if let Some(r) = strip_prefix_ci(t, ROLE_GROUP_PREFIX) {
            return Some(PolicyTarget::RoleGroup(r.trim().to_string()));
        }
        if let Some(r) = strip_prefix_ci(t, ROLE_PREFIX) {
            return Some(PolicyTarget::Role(r.trim().to_string()));
        }
        if normalize::is_task_shaped(t) {
            return Some(PolicyTarget::Task(normalize::task_cmdlet(t).to_string()));
        }
        None
    }

    fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
        let head = s.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
    }
}

/// Property names of the group and recipient objects the cmdlets output. (**observed** on
/// a Get-Mailbox answer for the recipient properties; the group-only ones **doc**, as
/// parameters of New-/Set-DistributionGroup)
pub mod prop {
    pub const IDENTITY: &str = "Identity";
    pub const ID: &str = "Id";
    pub const NAME: &str = "Name";
    pub const DISPLAY_NAME: &str = "DisplayName";
    pub const ALIAS: &str = "Alias";
    pub const PRIMARY_SMTP_ADDRESS: &str = "PrimarySmtpAddress";
    pub const EMAIL_ADDRESSES: &str = "EmailAddresses";
    pub const GUID: &str = "Guid";
    pub const DISTINGUISHED_NAME: &str = "DistinguishedName";
    pub const EXTERNAL_DIRECTORY_OBJECT_ID: &str = "ExternalDirectoryObjectId";
    pub const RECIPIENT_TYPE: &str = "RecipientType";
    pub const RECIPIENT_TYPE_DETAILS: &str = "RecipientTypeDetails";
    pub const USER_PRINCIPAL_NAME: &str = "UserPrincipalName";
    pub const GROUP_TYPE: &str = "GroupType";
    /// Multi-valued on the service: `#Collection(String)`. (**doc**: `-Description
    /// <MultiValueProperty>` of Set-DistributionGroup)
    pub const DESCRIPTION: &str = "Description";
    /// Multi-valued: the group's owners. (**doc**: `-ManagedBy <MultiValuedProperty>`)
    pub const MANAGED_BY: &str = "ManagedBy";
    /// Get-OrganizationConfig.
    pub const ELEVATED_ACCESS_CONTROL: &str = "ElevatedAccessControl";
    pub const ELEVATED_ACCESS_APPROVERS: &str = "ElevatedAccessApprovers";
    pub const ELEVATED_ACCESS_SYSTEM_ACCOUNTS: &str = "ElevatedAccessSystemAccounts";
}

/// `Get-DistributionGroup` output as the client reads it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DistributionGroup {
    pub identity: String,
    pub guid: String,
    pub external_directory_object_id: String,
    pub name: String,
    pub display_name: String,
    pub alias: String,
    pub primary_smtp_address: String,
    /// Multi-valued (`#Collection(String)`); `null` reads as empty.
    #[serde(default, deserialize_with = "string_collection")]
    pub description: Vec<String>,
    #[serde(default, deserialize_with = "string_collection")]
    pub managed_by: Vec<String>,
    #[serde(default)]
    pub group_type: String,
    pub recipient_type_details: String,
}

impl DistributionGroup {
    /// The description as one text: the values joined by new lines, `None` when empty.
    pub fn description_text(&self) -> Option<String> {
        let parts: Vec<&str> = self.description.iter().map(|d| d.trim()).filter(|d| !d.is_empty()).collect();
        (!parts.is_empty()).then(|| parts.join("\n"))
    }
}

/// A `#Collection(String)` property: an array of strings, `null` or absent as empty.
fn string_collection<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

pub const RECIPIENT_MAIL_UNIVERSAL_SECURITY_GROUP: &str = recipient_type::MAIL_UNIVERSAL_SECURITY_GROUP;
/// `GroupType` of a mail-enabled security group and of a distribution group. (**assumed**
/// wording of the flags enum)
pub const GROUP_TYPE_SECURITY: &str = "Universal, SecurityEnabled";
pub const GROUP_TYPE_DISTRIBUTION: &str = "Universal";

/// A recipient's `DistinguishedName`, also accepted as its `Identity`:
/// `CN=<Name>,OU=<tenant domain>,OU=Microsoft Exchange Hosted Organizations,DC=...`.
/// (**observed** shape on a Get-Mailbox answer; the forest part is the emulator's own)
pub fn distinguished_name(name: &str, tenant_domain: &str) -> String {
    format!(
        "CN={name},OU={tenant_domain},OU=Microsoft Exchange Hosted Organizations,DC=EMULATOR,DC=PROD,DC=OUTLOOK,DC=COM"
    )
}

/// `Get-DistributionGroupMember` / `Get-Recipient` / `Get-User` output as the client reads it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Recipient {
    pub identity: String,
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub primary_smtp_address: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    pub external_directory_object_id: String,
    /// `UserMailbox`, `MailUser`, `GuestMailUser`, `User` (no mailbox),
    /// `MailUniversalSecurityGroup`, ...
    pub recipient_type_details: String,
}

/// `RecipientTypeDetails` and `RecipientType` values. (**doc**: the RecipientTypeDetails
/// parameter of Get-Recipient lists them; **observed** `UserMailbox` on Get-Mailbox)
pub mod recipient_type {
    pub const USER_MAILBOX: &str = "UserMailbox";
    pub const MAIL_USER: &str = "MailUser";
    pub const GUEST_MAIL_USER: &str = "GuestMailUser";
    /// An Entra user without a mailbox: not a recipient, cannot be a member.
    pub const USER: &str = "User";
    pub const GUEST_USER: &str = "GuestUser";
    pub const MAIL_UNIVERSAL_SECURITY_GROUP: &str = "MailUniversalSecurityGroup";
    pub const MAIL_UNIVERSAL_DISTRIBUTION_GROUP: &str = "MailUniversalDistributionGroup";
    /// `RecipientType` of a mail-enabled user with a mailbox, and of the others. (**observed**
    /// `UserMailbox`; the rest **doc**)
    pub const TYPE_USER_MAILBOX: &str = "UserMailbox";
    pub const TYPE_MAIL_USER: &str = "MailUser";
    pub const TYPE_USER: &str = "User";
    pub const TYPE_MAIL_UNIVERSAL_SECURITY_GROUP: &str = "MailUniversalSecurityGroup";
    pub const TYPE_MAIL_UNIVERSAL_DISTRIBUTION_GROUP: &str = "MailUniversalDistributionGroup";

    /// Whether a recipient of this type is mail-enabled.
    pub fn is_mail_enabled(t: &str) -> bool {
        !matches!(t, USER | GUEST_USER)
    }

    pub fn is_guest(t: &str) -> bool {
        matches!(t, GUEST_MAIL_USER | GUEST_USER)
    }

    pub fn is_group(t: &str) -> bool {
        matches!(t, MAIL_UNIVERSAL_SECURITY_GROUP | MAIL_UNIVERSAL_DISTRIBUTION_GROUP)
    }

    /// Whether a recipient of this type is one person, so holds no other member. Any other
    /// value (the groups above, and the service's other group kinds such as
    /// `MailNonUniversalGroup`, `GroupMailbox`, `RoleGroup` or `DynamicDistributionGroup`, or a
    /// value pamform does not know) may hold members. (**doc**: the RecipientTypeDetails
    /// parameter of Get-Recipient)
    pub fn is_person(t: &str) -> bool {
        matches!(t, USER_MAILBOX | MAIL_USER | GUEST_MAIL_USER | USER | GUEST_USER)
    }

    /// `RecipientType` for a `RecipientTypeDetails`.
    pub fn recipient_type(details: &str) -> &'static str {
        match details {
            USER_MAILBOX => TYPE_USER_MAILBOX,
            MAIL_USER | GUEST_MAIL_USER => TYPE_MAIL_USER,
            MAIL_UNIVERSAL_SECURITY_GROUP => TYPE_MAIL_UNIVERSAL_SECURITY_GROUP,
            MAIL_UNIVERSAL_DISTRIBUTION_GROUP => TYPE_MAIL_UNIVERSAL_DISTRIBUTION_GROUP,
            _ => TYPE_USER,
        }
    }
}

/// `Get-ElevatedAccessRequest` output. `Identity` (the id `-RequestId` takes), `RequestStatus`
/// and, on Data Access Requests, `Context` are **doc**
/// (<https://learn.microsoft.com/graph/data-connect-pam>); the other names are **assumed**.
/// Foreign items (Customer Lockbox, Data Access Requests) share the list, so every field but
/// `Identity` is optional.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ElevatedAccessRequest {
    pub identity: String,
    #[serde(default)]
    pub request_status: Option<String>,
    #[serde(default)]
    pub requestor: Option<String>,
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub duration_hours: Option<u32>,
    #[serde(default)]
    pub requested_date_time: Option<String>,
    /// `ElevatedAccess` for PAM; `CustomerLockbox`, `DataAccessRequest` for foreign items.
    /// (**assumed**)
    #[serde(default)]
    pub request_type: Option<String>,
    #[serde(default)]
    pub approver: Option<String>,
    #[serde(default)]
    pub approval_date_time: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub approver_group: Option<String>,
    /// The parameters of a Data Access Request's copy activity (a JSON text or an object);
    /// only Data Access Requests carry it. (**doc**)
    #[serde(default)]
    pub context: Option<Value>,
}

impl ElevatedAccessRequest {
    /// Whether this item is a Data Access Request (Graph Data Connect): it says so in
    /// `RequestType`, or it carries a `Context`. (**doc** that they carry `Context`)
    pub fn is_data_access_request(&self) -> bool {
        self.request_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(request_type::DATA_ACCESS_REQUEST))
            || self.context.as_ref().is_some_and(|c| !c.is_null())
    }
}

/// Values of `RequestStatus`. `Pending`, `Approved` and `Denied` are **doc** (the admin center
/// filters by them); `Expired` and `Revoked` (a revoked request's status) are **assumed**.
pub mod request_status {
    pub const PENDING: &str = "Pending";
    pub const APPROVED: &str = "Approved";
    pub const DENIED: &str = "Denied";
    pub const EXPIRED: &str = "Expired";
    pub const REVOKED: &str = "Revoked";
}

/// Refusals of the request cmdlets. Microsoft publishes neither their texts (which the service
/// translates) nor their exception classes, so the client never reads a refusal's wording; it
/// reads the facts that decide it (`crate::requests::explain`) and, where the signed-in user
/// may not read them, the class. The classes, all **assumed**: approving, denying or revoking
/// when the caller may not (own request, guest, not an approver, neither requestor nor
/// approver) is [`class::ACCESS_DENIED`]; deciding a request that is no longer pending,
/// revoking twice, and asking while PAM is off are [`class::INVALID_OPERATION`]; asking
/// for a task no policy covers is [`class::ARGUMENT`].
pub mod refusal {
    /// A gated cmdlet run without an approved request. (**assumed**: Microsoft documents no
    /// text; the client never reads it and recognises the refusal by its class alone)
    pub fn elevation_required(cmdlet: &str, policy_task: &str) -> String {
        format!(
            "The cmdlet '{cmdlet}' requires elevated access: it is covered by the approval policy for '{policy_task}'. Request access with New-ElevatedAccessRequest and run it again once the request is approved."
        )
    }
}

pub mod request_type {
    pub const ELEVATED_ACCESS: &str = "ElevatedAccess";
    pub const CUSTOMER_LOCKBOX: &str = "CustomerLockbox";
    pub const DATA_ACCESS_REQUEST: &str = "DataAccessRequest";
}

/// `Revoke-ElevatedAccessAuthorization` / `Get-ElevatedAccessAuthorization` output. Every name
/// is **doc** (the one published sample, <https://learn.microsoft.com/graph/data-connect-pam>):
/// `AuthorizedBy` (who approved), `Type` (`Task`), `AuthorizedAccess` (`Data Access Request`
/// there; the request's task for PAM, **assumed**), the validity, the revocation and a DN-style
/// `RevokedBy`. There is no `RequestId`: an authorization's `Identity` is the id of the request
/// it grants (**assumed**; the sample's `Identity` is what `-RequestId` took).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Authorization {
    pub identity: String,
    #[serde(default)]
    pub authorized_by: Option<String>,
    /// `Task`, `Role` or `RoleGroup`: what the policy named. (`Task` **doc**)
    #[serde(rename = "Type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub authorized_access: Option<String>,
    #[serde(default)]
    pub start_time_utc: Option<String>,
    #[serde(default)]
    pub end_time_utc: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub revocation_date_time_utc: Option<String>,
    /// `<server>/Microsoft Exchange Hosted Organizations/<tenant>/<name>`, see [`hosted_dn`].
    #[serde(default)]
    pub revoked_by: Option<String>,
    #[serde(default)]
    pub revocation_comment: Option<String>,
    #[serde(default)]
    pub date_created_utc: Option<String>,
    #[serde(default)]
    pub date_updated_utc: Option<String>,
}

/// `AuthorizedAccess` of the authorization of a Data Access Request. (**doc**)
pub const AUTHORIZED_ACCESS_DATA_ACCESS_REQUEST: &str = "Data Access Request";

impl Authorization {
    /// The id of the request this authorization grants (its `Identity`; **assumed**).
    pub fn request_id(&self) -> &str {
        &self.identity
    }

    /// Whether it authorizes a Data Access Request rather than a PAM task. (**doc** value)
    pub fn is_data_access_request(&self) -> bool {
        self.authorized_access
            .as_deref()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case(AUTHORIZED_ACCESS_DATA_ACCESS_REQUEST))
    }
}

/// Exchange Online names a user in `RevokedBy` by its directory path:
/// `NAMPR00A001.prod.outlook.com/Microsoft Exchange Hosted Organizations/tenant.onmicrosoft.com/user`.
/// (**doc** shape; the server part is the tenant's forest)
pub const HOSTED_ORGANIZATIONS: &str = "Microsoft Exchange Hosted Organizations";

/// A DN-style user path as [`HOSTED_ORGANIZATIONS`] shows it.
pub fn hosted_dn(forest: &str, tenant: &str, name: &str) -> String {
    format!("{forest}/{HOSTED_ORGANIZATIONS}/{tenant}/{name}")
}

/// The last segment of a DN-style path (the user's name), or the whole value when it has no
/// slash (a UPN).
pub fn dn_name(value: &str) -> &str {
    value.rsplit('/').next().unwrap_or(value).trim()
}

/// `Get-ManagementRoleEntry "<Role>\*"` output (the part pamform reads).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RoleEntry {
    /// The cmdlet name.
    pub name: String,
    pub role: String,
}

/// `Get-RoleGroup` output (the part pamform reads).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RoleGroup {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Whether a cmdlet only reads: PowerShell's `Get-` verb has no side effects, so a read can be
/// sent again after a dropped connection. (**doc**, PowerShell approved verbs)
pub fn is_read_only(cmdlet: &str) -> bool {
    cmdlet.get(..4).is_some_and(|v| v.eq_ignore_ascii_case("Get-"))
}

/// `Get-ManagementRoleEntry -Identity "<Role>\*"` lists every cmdlet of a role. (**doc**)
pub fn role_entry_identity(role: &str) -> String {
    format!("{role}\\*")
}

/// PAM names a task by its cmdlet, `Exchange\New-MoveRequest`, and the tasks a tenant offers
/// are the cmdlets of its management roles (the admin center lists exactly those). (**doc**:
/// <https://learn.microsoft.com/purview/privileged-access-management-configuration>)
///
/// `Get-ManagementRoleEntry -Identity "*\*"` lists every cmdlet of every role in one call
/// (paged like any output): the wildcard works on both sides of the backslash. (**doc**:
/// <https://learn.microsoft.com/powershell/module/exchange/get-managementroleentry>, whose
/// examples use `*\<Cmdlet>` and `<Role>\*`; both sides at once is **assumed**)
pub const ALL_ROLE_ENTRIES: &str = "*\\*";

/// `Get-Recipient` output, the names Exchange keeps unique among recipients: `Name` and
/// `Alias` must be unique in the organization (a new object taking either fails with
/// `ADObjectAlreadyExistsException`). `Alias` is in the output (**doc**); uniqueness of
/// `Name` **observed**.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RecipientName {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub primary_smtp_address: Option<String>,
    #[serde(default)]
    pub external_directory_object_id: String,
}

/// OPATH filters (`-Filter`): `Property -eq 'value'` clauses joined by `-and` / `-or`, with
/// `-and` binding tighter; a single quote inside a value is doubled. (**doc**:
/// <https://learn.microsoft.com/powershell/exchange/filter-properties>)
pub mod opath {
    pub const NAME: &str = "Name";
    pub const DISPLAY_NAME: &str = "DisplayName";
    pub const ALIAS: &str = "Alias";

    /// `'value'` with embedded quotes doubled.
    pub fn quote(value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// A filter matching recipients whose `Name`, `DisplayName` or `Alias` is any of `values`.
    pub fn any_name(values: &[String]) -> String {
        values
            .iter()
            .flat_map(|v| {
                let q = quote(v);
                [NAME, DISPLAY_NAME, ALIAS].map(move |p| format!("{p} -eq {q}"))
            })
            .collect::<Vec<_>>()
            .join(" -or ")
    }
}

/// How many names one `Get-Recipient -Filter` asks about, keeping filters short. (**assumed**)
pub const NAMES_PER_FILTER: usize = 10;

/// What an app needs to call the Exchange admin API, named in 401/403 errors: the app role and
/// an Exchange admin role assigned to the app's service principal. (**doc**)
pub const REQUIRED_APP_ACCESS: &str = "the application permission Exchange.ManageAsApp (admin consent granted) and an Exchange admin role such as Organization Management assigned to the app";
/// What a signed-in user needs to call a cmdlet. (**doc**)
pub const REQUIRED_USER_ACCESS: &str = "an Exchange admin role that includes the cmdlet";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicyTarget;

    /// `Get-QuarantineMessage -BogusParameter 1`, captured (`github:rknightion/graph2otel`
    /// `internal/exoclient/errors_test.go`).
    const UNKNOWN_PARAMETER: &str = r#"{"error":{"code":"BadRequest","message":"Invalid Operation","details":[{"code":"Client","target":"","message":"|Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException|Parameter set cannot be resolved using the specified named parameters. Invalid cmdlet parameters specified. BogusParameter"}],"innererror":{"message":"Invalid Operation","type":"Microsoft.Exchange.Admin.OData.Core.ODataServiceException","stacktrace":"","internalexception":{"message":"Parameter set cannot be resolved using the specified named parameters. Invalid cmdlet parameters specified. BogusParameter","type":"Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException","stacktrace":""}}}}"#;

    #[test]
    fn error_envelope_carries_the_real_error() {
        let env: ErrorEnvelope = serde_json::from_str(UNKNOWN_PARAMETER).unwrap();
        assert_eq!(env.error.code, envelope::code_for_status(400));
        assert_eq!(env.error.message, GENERIC_ERROR_MESSAGE);
        assert_eq!(env.error.details[0].code, envelope::DETAIL_CODE_CLIENT);
        let (class, msg) = env.real_error().unwrap();
        assert_eq!(class, class::AMBIGUOUS_PARAMETER_SET);
        assert!(msg.starts_with(UNKNOWN_PARAMETER_MESSAGE));
        // Without innererror, details[0] (empty id) still gives class and text.
        let details_only: ErrorEnvelope = serde_json::from_value(serde_json::json!({"error": {
            "code": "BadRequest", "message": GENERIC_ERROR_MESSAGE,
            "details": [{"code": "Client", "target": "", "message": envelope::detail_message(class::NOT_FOUND, "gone")}]
        }}))
        .unwrap();
        assert_eq!(details_only.real_error(), Some((class::NOT_FOUND.to_string(), "gone".to_string())));
        // An inner exception without text still names its class (no details to fall back on).
        let no_text: ErrorEnvelope = serde_json::from_value(serde_json::json!({"error": {
            "code": "BadRequest", "message": GENERIC_ERROR_MESSAGE,
            "innererror": {"message": GENERIC_ERROR_MESSAGE, "type": envelope::INNER_ERROR_TYPE,
                "internalexception": {"message": "", "type": class::ELEVATION_REQUIRED}}
        }}))
        .unwrap();
        assert_eq!(no_text.real_error(), Some((class::ELEVATION_REQUIRED.to_string(), String::new())));
        assert_eq!(envelope::layout(class::PARAMETER_TRANSFORMATION), envelope::Layout::InnerWithWarnings);
        assert_eq!(envelope::code_for_status(404), "NotFound");
    }

    #[test]
    fn descriptions_are_collections() {
        let g: DistributionGroup = serde_json::from_value(serde_json::json!({
            "Identity": "g", "Guid": "x", "ExternalDirectoryObjectId": "y", "Name": "g", "DisplayName": "g",
            "Alias": "g", "PrimarySmtpAddress": "g@x", "Description@odata.type": odata::COLLECTION_OF_STRING,
            "Description": ["one", " two "], "ManagedBy": null, "RecipientTypeDetails": "MailUniversalSecurityGroup"
        }))
        .unwrap();
        assert_eq!(g.description_text().as_deref(), Some("one\ntwo"));
        assert!(g.managed_by.is_empty());
        assert!(serde_json::from_value::<DistributionGroup>(serde_json::json!({
            "Identity": "g", "Guid": "x", "ExternalDirectoryObjectId": "y", "Name": "g", "DisplayName": "g",
            "Alias": "g", "PrimarySmtpAddress": "g@x", "Description": "a string", "RecipientTypeDetails": "x"
        }))
        .is_err());
    }

    #[test]
    fn task_encoding_round_trips() {
        for t in [
            PolicyTarget::Task("New-MoveRequest".into()),
            PolicyTarget::Role("Journaling".into()),
            PolicyTarget::RoleGroup("Organization Management".into()),
        ] {
            assert_eq!(task::decode(&task::encode(&t)), Some(t));
        }
        assert_eq!(task::decode("nonsense"), None);
    }

    #[test]
    fn name_filters_quote_values() {
        let f = opath::any_name(&["O'Brien".to_string()]);
        assert_eq!(f, "Name -eq 'O''Brien' -or DisplayName -eq 'O''Brien' -or Alias -eq 'O''Brien'");
        assert_eq!(ALL_ROLE_ENTRIES, "*\\*");
    }
}
