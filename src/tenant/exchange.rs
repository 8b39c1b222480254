//! The Exchange admin API client: `InvokeCommand` with the documented headers, paging by
//! re-POSTing the same body to `@odata.nextLink` (a listing whose continuation expired is
//! read again from the start, once), warnings kept, errors decoded, and a typed helper for
//! every cmdlet pamform runs.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::Resource;
use super::client::Client;
use super::error::{self, Api, TenantError};
use super::http::{Body, Outgoing};
use super::retry::Idempotency;
use crate::model::{self, Approval, PolicyTarget};
use crate::wire::exchange::{self as wx, cmdlet, param};

/// All results of one cmdlet (all pages) and the warnings that came with them.
#[derive(Debug, Clone, Default)]
pub struct CmdletOutput {
    pub value: Vec<Value>,
    pub warnings: Vec<String>,
}

/// What `New-DistributionGroup` needs.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    pub display_name: Option<String>,
    pub alias: String,
    pub email: String,
    pub description: Option<String>,
    pub members: Vec<String>,
}

impl Client {
    fn anchor_mailbox(&self) -> String {
        if self.inner.app_only {
            wx::anchor_mailbox_app(&self.inner.tenant)
        } else {
            wx::anchor_mailbox_user(&self.inner.identity)
        }
    }

    /// Runs a cmdlet and reads every page of its output.
    pub async fn invoke(&self, request: &wx::InvokeCommandRequest) -> Result<CmdletOutput, TenantError> {
        let name = request.cmdlet_input.cmdlet_name.clone();
        let body = serde_json::to_vec(request).map_err(|e| TenantError::Config(e.to_string()))?;
        let idempotency = if wx::is_read_only(&name) { Idempotency::Read } else { Idempotency::Write };
        let first_url =
            format!("{}{}", self.inner.endpoints.exchange, wx::invoke_command_path(&self.inner.tenant));
        let mut url = first_url.clone();
        let mut out = CmdletOutput::default();
        let mut restarted = false;
        loop {
            let mut req = Outgoing::new(Api::Exchange, Method::POST, url.clone(), idempotency);
            req.headers = vec![
                (wx::HEADER_CMDLET_NAME, name.clone()),
                (wx::HEADER_ANCHOR_MAILBOX, self.anchor_mailbox()),
                (wx::HEADER_PREFER, wx::PREFER_MAX_PAGE_SIZE.to_string()),
                (wx::HEADER_CLIENT_REQUEST_ID, uuid::Uuid::new_v4().to_string()),
            ];
            req.body = Body::Json(body.clone());
            req.label = name.clone();
            req.timeout = std::time::Duration::from_secs(wx::CMDLET_TIMEOUT_SECS + 60);
            let auth = self.inner.tokens.source(Resource::Exchange);
            let incoming =
                self.inner.transport.send(&req, Some(&auth), Some(&self.inner.exchange_permits)).await?;
            if !incoming.is_success() {
                let err = error::exchange_error(&name, incoming.status, &incoming.body, self.inner.app_only);
                // A continuation the service no longer knows (it lives 30 minutes and is tied
                // to one backend): read the listing again from its first page, once.
                if url != first_url && err.is_pagination_expired() && !restarted {
                    restarted = true;
                    out = CmdletOutput::default();
                    url = first_url.clone();
                    continue;
                }
                return Err(err);
            }
            let page: wx::InvokeCommandResponse =
                serde_json::from_slice(&incoming.body).map_err(|e| TenantError::Decode {
                    api: Api::Exchange,
                    path: name.clone(),
                    message: format!("{e}: {}", error::body_excerpt(&incoming.body)),
                })?;
            out.value.extend(page.value);
            out.warnings.extend(page.warnings);
            match page.next_link {
                Some(next) => {
                    Client::check_next_link(Api::Exchange, &first_url, &next)?;
                    url = next;
                }
                None => break,
            }
        }
        if !out.warnings.is_empty() {
            // Shown as they come only with --verbose; commands show them all at the end
            // (`take_warnings`).
            for w in &out.warnings {
                log::debug!("warning: {name}: {w}");
            }
            if let Ok(mut all) = self.inner.warnings.lock() {
                all.extend(out.warnings.iter().map(|w| format!("{name}: {w}")));
            }
        }
        Ok(out)
    }

    /// Runs a cmdlet and decodes each output object as `T`.
    pub async fn invoke_as<T: DeserializeOwned>(
        &self,
        request: &wx::InvokeCommandRequest,
    ) -> Result<Vec<T>, TenantError> {
        let name = request.cmdlet_input.cmdlet_name.clone();
        let out = self.invoke(request).await?;
        out.value
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|e| TenantError::Decode {
                    api: Api::Exchange,
                    path: name.clone(),
                    message: format!("unexpected output shape: {e}"),
                })
            })
            .collect()
    }

    /// Like [`Client::invoke_as`] for one object; not-found becomes `None`.
    async fn invoke_optional<T: DeserializeOwned>(
        &self,
        request: &wx::InvokeCommandRequest,
    ) -> Result<Option<T>, TenantError> {
        match self.invoke_as::<T>(request).await {
            Ok(items) => Ok(items.into_iter().next()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn invoke_first<T: DeserializeOwned>(
        &self,
        request: &wx::InvokeCommandRequest,
    ) -> Result<T, TenantError> {
        let name = request.cmdlet_input.cmdlet_name.clone();
        self.invoke_as::<T>(request).await?.into_iter().next().ok_or_else(|| TenantError::Decode {
            api: Api::Exchange,
            path: name,
            message: "the cmdlet returned no object".to_string(),
        })
    }

    async fn run(&self, request: wx::InvokeCommandRequest) -> Result<(), TenantError> {
        self.invoke(&request).await.map(|_| ())
    }

    // --- PAM switch -------------------------------------------------------------------------

    async fn get_organization_config(&self) -> Result<wx::OrganizationConfig, TenantError> {
        self.invoke_first(&wx::InvokeCommandRequest::new(cmdlet::GET_ORGANIZATION_CONFIG)).await
    }

    /// The PAM setting as the model speaks it.
    pub async fn get_pam_setting(&self) -> Result<model::PamSetting, TenantError> {
        let config = self.get_organization_config().await?;
        Ok(model::PamSetting {
            enabled: config.elevated_access_control.eq_ignore_ascii_case(wx::PAM_ENABLED),
            default_approver_group: config.elevated_access_approvers.filter(|g| !g.trim().is_empty()),
            system_accounts: config.elevated_access_system_accounts,
        })
    }

    /// Enables PAM, or updates the default approver group and system accounts of an enabled
    /// tenant.
    pub async fn enable_pam(&self, admin_group: &str, system_accounts: &[String]) -> Result<(), TenantError> {
        self.run(
            wx::InvokeCommandRequest::new(cmdlet::ENABLE_ELEVATED_ACCESS_CONTROL)
                .param(param::ADMIN_GROUP, admin_group)
                .param(param::SYSTEM_ACCOUNTS, system_accounts.to_vec()),
        )
        .await
    }

    pub async fn disable_pam(&self) -> Result<(), TenantError> {
        self.run(wx::InvokeCommandRequest::new(cmdlet::DISABLE_ELEVATED_ACCESS_CONTROL)).await
    }

    // --- policies ---------------------------------------------------------------------------

    pub async fn get_policies(&self) -> Result<Vec<wx::ApprovalPolicy>, TenantError> {
        self.invoke_as(&wx::InvokeCommandRequest::new(cmdlet::GET_POLICY)).await
    }

    pub async fn get_policy(&self, id: &str) -> Result<Option<wx::ApprovalPolicy>, TenantError> {
        self.invoke_optional(&wx::InvokeCommandRequest::new(cmdlet::GET_POLICY).param(param::IDENTITY, id))
            .await
    }

    /// Every policy as the model speaks it, ordered by id. A `Task` of no known shape is kept
    /// as a task named by its raw text, so it shows up (as unmanaged) instead of vanishing.
    pub async fn get_remote_policies(&self) -> Result<Vec<model::RemotePolicy>, TenantError> {
        let mut out: Vec<model::RemotePolicy> =
            self.get_policies().await?.into_iter().map(remote_policy).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub async fn new_policy(
        &self,
        target: &PolicyTarget,
        approval: Approval,
        approver_group: &str,
    ) -> Result<wx::ApprovalPolicy, TenantError> {
        let approval = match approval {
            Approval::Manual => wx::APPROVAL_MANUAL,
            Approval::Auto => wx::APPROVAL_AUTO,
        };
        self.invoke_first(
            &wx::InvokeCommandRequest::new(cmdlet::NEW_POLICY)
                .param(param::TASK, wx::task::encode(target))
                .param(param::APPROVAL_TYPE, approval)
                .param(param::APPROVER_GROUP, approver_group),
        )
        .await
    }

    pub async fn remove_policy(&self, id: &str) -> Result<(), TenantError> {
        self.run(wx::InvokeCommandRequest::new(cmdlet::REMOVE_POLICY).param(param::IDENTITY, id)).await
    }

    // --- groups -----------------------------------------------------------------------------

    pub async fn get_group(&self, identity: &str) -> Result<Option<wx::DistributionGroup>, TenantError> {
        self.invoke_optional(
            &wx::InvokeCommandRequest::new(cmdlet::GET_GROUP).param(param::IDENTITY, identity),
        )
        .await
    }

    pub async fn new_group(&self, group: &NewGroup) -> Result<wx::DistributionGroup, TenantError> {
        let mut req = wx::InvokeCommandRequest::new(cmdlet::NEW_GROUP)
            .param(param::NAME, group.name.as_str())
            .param(param::ALIAS, group.alias.as_str())
            .param(param::PRIMARY_SMTP_ADDRESS, group.email.as_str())
            .param(param::TYPE, param::TYPE_SECURITY);
        if let Some(d) = &group.display_name {
            req = req.param(param::DISPLAY_NAME, d.as_str());
        }
        // `Description` is what Get-DistributionGroup shows; `-Notes` sets another property.
        if let Some(d) = group.description.as_deref().filter(|d| !d.is_empty()) {
            req = req.param(param::DESCRIPTION, description_values(d));
        }
        if !group.members.is_empty() {
            req = req.param(param::MEMBERS, group.members.clone());
        }
        self.invoke_first(&req).await
    }

    /// Sets a group's name (both its Exchange `Name`, which must be unique, and its display
    /// name, so that another group can take the old name later) and its description (an
    /// empty text clears it). pamform changes groups it manages whoever their owners are, so
    /// it passes `-BypassSecurityGroupManagerCheck`.
    pub async fn set_group(
        &self,
        identity: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<(), TenantError> {
        let mut req = wx::InvokeCommandRequest::new(cmdlet::SET_GROUP)
            .param(param::IDENTITY, identity)
            .param(param::BYPASS_SECURITY_GROUP_MANAGER_CHECK, true);
        if let Some(n) = name {
            req = req.param(param::NAME, n).param(param::DISPLAY_NAME, n);
        }
        if let Some(d) = description {
            req = req.param(param::DESCRIPTION, description_values(d));
        }
        self.run(req).await
    }

    pub async fn remove_group(&self, identity: &str) -> Result<(), TenantError> {
        self.run(
            wx::InvokeCommandRequest::new(cmdlet::REMOVE_GROUP)
                .param(param::IDENTITY, identity)
                .param(param::BYPASS_SECURITY_GROUP_MANAGER_CHECK, true),
        )
        .await
    }

    pub async fn get_group_members(&self, identity: &str) -> Result<Vec<wx::Recipient>, TenantError> {
        self.invoke_as(
            &wx::InvokeCommandRequest::new(cmdlet::GET_GROUP_MEMBER)
                .param(param::IDENTITY, identity)
                .param(param::RESULT_SIZE, param::UNLIMITED),
        )
        .await
    }

    pub async fn add_group_member(&self, identity: &str, member: &str) -> Result<(), TenantError> {
        self.run(member_request(cmdlet::ADD_GROUP_MEMBER, identity).param(param::MEMBER, member)).await
    }

    pub async fn remove_group_member(&self, identity: &str, member: &str) -> Result<(), TenantError> {
        self.run(member_request(cmdlet::REMOVE_GROUP_MEMBER, identity).param(param::MEMBER, member)).await
    }

    /// Replaces the whole member list.
    pub async fn update_group_members(&self, identity: &str, members: &[String]) -> Result<(), TenantError> {
        self.run(
            member_request(cmdlet::UPDATE_GROUP_MEMBER, identity).param(param::MEMBERS, members.to_vec()),
        )
        .await
    }

    // --- directory --------------------------------------------------------------------------

    pub async fn get_recipient(&self, identity: &str) -> Result<Option<wx::Recipient>, TenantError> {
        self.invoke_optional(
            &wx::InvokeCommandRequest::new(cmdlet::GET_RECIPIENT).param(param::IDENTITY, identity),
        )
        .await
    }

    // --- roles ------------------------------------------------------------------------------

    /// The cmdlets of a management role; an unknown role is an empty list.
    pub async fn get_role_entries(&self, role: &str) -> Result<Vec<wx::RoleEntry>, TenantError> {
        let req = wx::InvokeCommandRequest::new(cmdlet::GET_ROLE_ENTRY)
            .param(param::IDENTITY, wx::role_entry_identity(role));
        match self.invoke_as(&req).await {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            other => other,
        }
    }

    /// One role group, or every role group when `identity` is `None`.
    pub async fn get_role_groups(&self, identity: Option<&str>) -> Result<Vec<wx::RoleGroup>, TenantError> {
        let mut req = wx::InvokeCommandRequest::new(cmdlet::GET_ROLE_GROUP);
        if let Some(id) = identity {
            req = req.param(param::IDENTITY, id);
        }
        match self.invoke_as(&req).await {
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            other => other,
        }
    }

    // --- requests (delegated) ---------------------------------------------------------------

    pub async fn new_request(
        &self,
        task: &str,
        reason: &str,
        hours: u32,
    ) -> Result<wx::ElevatedAccessRequest, TenantError> {
        self.invoke_first(
            &wx::InvokeCommandRequest::new(cmdlet::NEW_REQUEST)
                .param(param::TASK, task)
                .param(param::REASON, reason)
                .param(param::DURATION_HOURS, hours),
        )
        .await
    }

    pub async fn get_requests(
        &self,
        identity: Option<&str>,
    ) -> Result<Vec<wx::ElevatedAccessRequest>, TenantError> {
        let mut req = wx::InvokeCommandRequest::new(cmdlet::GET_REQUEST);
        if let Some(id) = identity {
            req = req.param(param::IDENTITY, id);
        }
        self.invoke_as(&req).await
    }

    pub async fn approve_request(&self, request_id: &str, comment: &str) -> Result<(), TenantError> {
        self.run(decision(cmdlet::APPROVE_REQUEST, request_id, comment)).await
    }

    pub async fn deny_request(&self, request_id: &str, comment: &str) -> Result<(), TenantError> {
        self.run(decision(cmdlet::DENY_REQUEST, request_id, comment)).await
    }

    pub async fn revoke_authorization(
        &self,
        request_id: &str,
        comment: &str,
    ) -> Result<wx::Authorization, TenantError> {
        self.invoke_first(&decision(cmdlet::REVOKE_AUTHORIZATION, request_id, comment)).await
    }

    pub async fn get_authorizations(&self) -> Result<Vec<wx::Authorization>, TenantError> {
        self.invoke_as(&wx::InvokeCommandRequest::new(cmdlet::GET_AUTHORIZATION)).await
    }
}

/// `-Description` is multi-valued: the text as its one value, none when empty.
fn description_values(text: &str) -> Vec<String> {
    if text.is_empty() { Vec::new() } else { vec![text.to_string()] }
}

fn member_request(name: &str, identity: &str) -> wx::InvokeCommandRequest {
    wx::InvokeCommandRequest::new(name)
        .param(param::IDENTITY, identity)
        .param(param::BYPASS_SECURITY_GROUP_MANAGER_CHECK, true)
}

fn decision(name: &str, request_id: &str, comment: &str) -> wx::InvokeCommandRequest {
    wx::InvokeCommandRequest::new(name).param(param::REQUEST_ID, request_id).param(param::COMMENT, comment)
}

/// A wire policy as the model speaks it.
fn remote_policy(p: wx::ApprovalPolicy) -> model::RemotePolicy {
    let target = wx::task::decode(&p.task).unwrap_or_else(|| PolicyTarget::Task(p.task.clone()));
    let approval = if p.approval_type.eq_ignore_ascii_case(wx::APPROVAL_AUTO) {
        Approval::Auto
    } else {
        Approval::Manual
    };
    model::RemotePolicy { id: p.identity, target, approval, approver_group: p.approver_group }
}

/// An Exchange group and its members as the model speaks it.
pub fn exchange_group(g: wx::DistributionGroup, members: Vec<wx::Recipient>) -> model::RemoteGroup {
    let mut members: Vec<model::DirectoryObject> = members.into_iter().map(recipient_object).collect();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    let description = g.description_text();
    model::RemoteGroup {
        security_enabled: g.recipient_type_details == wx::RECIPIENT_MAIL_UNIVERSAL_SECURITY_GROUP,
        id: g.external_directory_object_id,
        name: g.name,
        display_name: g.display_name,
        alias: g.alias,
        email: g.primary_smtp_address,
        description,
        members,
    }
}

/// A wire recipient as a directory object.
pub fn recipient_object(r: wx::Recipient) -> model::DirectoryObject {
    let t = r.recipient_type_details.as_str();
    let kind =
        if wx::recipient_type::is_group(t) { model::ObjectKind::Group } else { model::ObjectKind::User };
    model::DirectoryObject {
        id: r.external_directory_object_id.clone(),
        kind,
        upn: r.user_principal_name.clone().filter(|u| !u.is_empty()),
        mail: r.primary_smtp_address.clone().filter(|m| !m.is_empty()),
        display_name: Some(r.display_name.clone()).filter(|d| !d.is_empty()),
        has_mailbox: wx::recipient_type::is_mail_enabled(t),
        is_guest: wx::recipient_type::is_guest(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_decode_every_target_shape() {
        let p = wx::ApprovalPolicy {
            identity: "id".into(),
            task: "RoleGroup:Organization Management".into(),
            approval_type: "Auto".into(),
            approver_group: "g@x".into(),
            policy_type: "RoleGroup".into(),
        };
        let r = remote_policy(p.clone());
        assert_eq!(r.target, PolicyTarget::RoleGroup("Organization Management".into()));
        assert_eq!(r.approval, Approval::Auto);
        let odd =
            remote_policy(wx::ApprovalPolicy { task: "???".into(), approval_type: "Manual".into(), ..p });
        assert_eq!(odd.target, PolicyTarget::Task("???".into()));
        assert_eq!(odd.approval, Approval::Manual);
    }

    #[test]
    fn recipients_map_to_directory_objects() {
        let r = wx::Recipient {
            identity: "grace".into(),
            name: "grace".into(),
            display_name: "Grace".into(),
            primary_smtp_address: None,
            user_principal_name: Some("grace@contoso.onmicrosoft.com".into()),
            external_directory_object_id: "g-id".into(),
            recipient_type_details: wx::recipient_type::USER.into(),
        };
        let o = recipient_object(r.clone());
        assert!(!o.has_mailbox && !o.is_guest && o.kind == model::ObjectKind::User);
        let guest = recipient_object(wx::Recipient {
            recipient_type_details: wx::recipient_type::GUEST_MAIL_USER.into(),
            primary_smtp_address: Some("oscar@fabrikam.com".into()),
            ..r
        });
        assert!(guest.has_mailbox && guest.is_guest);
    }
}
