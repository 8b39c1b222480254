//! The [`Executor`] that changes a real (or emulated) tenant through the tenant client.
//! Every operation is idempotent: creates first look the object up by its natural key (group
//! email, policy target) and adopt it; adding a member that is there or removing what is
//! already gone succeeds. That makes a write whose connection dropped safe to run again,
//! which [`TenantExecutor::execute`] does. Settling waits until the tenant's reads show what
//! was written, within a bounded budget.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{Applied, Executor, OperationError};
use crate::model::ResourceType;
use crate::plan::attributes::{Attrs, GroupAttrs, PamAttrs, PolicyAttrs};
use crate::plan::{Action, ResourceChange};
use crate::tenant::{Client, NewGroup, TenantError};

/// Up to this many member changes are made one by one; more replace the whole list.
pub const MEMBER_REPLACE_THRESHOLD: usize = 20;

pub struct TenantExecutor<'a> {
    client: &'a Client,
    /// How long to wait for a new object to become visible (replication delay).
    visibility_budget: Duration,
}

impl<'a> TenantExecutor<'a> {
    pub fn new(client: &'a Client, visibility_budget: Duration) -> Self {
        TenantExecutor { client, visibility_budget }
    }

    async fn group(&self, c: &ResourceChange) -> Result<Applied, TenantError> {
        let before = c.before.as_ref().and_then(Attrs::as_group);
        let after = c.after.as_ref().and_then(Attrs::as_group);
        match (c.action, after) {
            (Action::Delete, _) => {
                let identity = c.remote_id.clone().or(before.map(|b| b.email.clone())).unwrap_or_default();
                ignore_not_found(self.client.remove_group(&identity).await)?;
                Ok(Applied::Removed)
            }
            (Action::Replace, Some(after)) => {
                if let Some(id) = &c.remote_id {
                    ignore_not_found(self.client.remove_group(id).await)?;
                }
                self.create_group(after).await
            }
            (Action::Create, Some(after)) => self.create_group(after).await,
            (Action::Update, Some(after)) => {
                let identity = after.email.clone();
                let id = c.remote_id.clone().unwrap_or_default();
                self.converge_group(&identity, before, after).await?;
                Ok(Applied::Recorded { id, attributes: Attrs::Group(after.clone()) })
            }
            _ => Err(TenantError::Config(format!("nothing to do for {}", c.address))),
        }
    }

    async fn create_group(&self, after: &GroupAttrs) -> Result<Applied, TenantError> {
        let existing = self.client.get_group(&after.email).await?;
        let id = match existing {
            Some(g) => {
                // Created by an earlier, interrupted run (or by hand): adopt it and converge.
                let members = self.client.get_group_members(&after.email).await?;
                let current = GroupAttrs {
                    name: g.display_name.clone(),
                    email: after.email.clone(),
                    alias: g.alias.clone(),
                    description: g.description_text().unwrap_or_default(),
                    members: members
                        .iter()
                        .map(|m| {
                            let name = m
                                .primary_smtp_address
                                .clone()
                                .or(m.user_principal_name.clone())
                                .unwrap_or_default();
                            // Match members as the configuration names them, by either name.
                            after
                                .members
                                .iter()
                                .find(|want| {
                                    [&m.primary_smtp_address, &m.user_principal_name]
                                        .into_iter()
                                        .flatten()
                                        .any(|n| n.eq_ignore_ascii_case(want))
                                })
                                .cloned()
                                .unwrap_or_else(|| name.to_lowercase())
                        })
                        .collect(),
                    membership: after.membership,
                };
                self.converge_group(&after.email, Some(&current), after).await?;
                g.external_directory_object_id
            }
            None => {
                let created = self
                    .client
                    .new_group(&NewGroup {
                        name: after.name.clone(),
                        display_name: Some(after.name.clone()),
                        alias: after.alias.clone(),
                        email: after.email.clone(),
                        description: (!after.description.is_empty()).then(|| after.description.clone()),
                        members: after.members.iter().cloned().collect(),
                    })
                    .await?;
                created.external_directory_object_id
            }
        };
        Ok(Applied::Recorded { id, attributes: Attrs::Group(after.clone()) })
    }

    /// Makes the group's name (Exchange `Name` and display name), description and members
    /// those of `after`.
    async fn converge_group(
        &self,
        identity: &str,
        before: Option<&GroupAttrs>,
        after: &GroupAttrs,
    ) -> Result<(), TenantError> {
        let name_changed = before.is_none_or(|b| b.name != after.name);
        let description_changed = before.is_none_or(|b| b.description != after.description);
        if name_changed || description_changed {
            self.client
                .set_group(
                    identity,
                    name_changed.then_some(after.name.as_str()),
                    description_changed.then_some(after.description.as_str()),
                )
                .await?;
        }
        let empty = BTreeSet::new();
        let current = before.map(|b| &b.members).unwrap_or(&empty);
        let add: Vec<&String> = after.members.difference(current).collect();
        let remove: Vec<&String> = current.difference(&after.members).collect();
        if add.len() + remove.len() > MEMBER_REPLACE_THRESHOLD {
            let all: Vec<String> = after.members.iter().cloned().collect();
            self.client.update_group_members(identity, &all).await?;
        } else {
            for m in add {
                ignore_exists(self.client.add_group_member(identity, m).await)?;
            }
            for m in remove {
                ignore_not_found(self.client.remove_group_member(identity, m).await)?;
            }
        }
        Ok(())
    }

    /// Waits until Graph shows the group with its members, so that the next refresh sees
    /// what was just applied. Gives up quietly when the budget runs out: state already
    /// records the group by id.
    async fn wait_for_group(&self, after: &GroupAttrs) {
        let deadline = Instant::now() + self.visibility_budget;
        let mut delay = Duration::from_millis(100);
        loop {
            if let Ok(found) = self.client.find_groups_by_mail(std::slice::from_ref(&after.email)).await
                && let Some(Some(g)) = found.into_values().next()
            {
                match self.client.group_members(std::slice::from_ref(&g.id)).await {
                    Ok(members) => {
                        let live = members.into_values().next().unwrap_or_default();
                        let all_there = after.members.iter().all(|m| live.iter().any(|o| o.answers_to(m)));
                        let exact = after.membership == crate::model::Membership::Additive
                            || live.len() == after.members.len();
                        if all_there && exact {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
            if Instant::now() + delay > deadline {
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Waits until Graph no longer shows a removed group, so that the next refresh does not
    /// find it again and offer to adopt it. Gives up quietly when the budget runs out.
    async fn wait_for_group_gone(&self, email: &str) {
        let deadline = Instant::now() + self.visibility_budget;
        let mut delay = Duration::from_millis(100);
        loop {
            match self.client.find_groups_by_mail(&[email.to_string()]).await {
                Ok(found) if found.values().all(Option::is_none) => return,
                Err(_) => return,
                Ok(_) => {}
            }
            if Instant::now() + delay > deadline {
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn policy(&self, c: &ResourceChange) -> Result<Applied, TenantError> {
        match (c.action, c.after.as_ref().and_then(Attrs::as_policy)) {
            (Action::Delete, _) => {
                if let Some(id) = &c.remote_id {
                    ignore_not_found(self.client.remove_policy(id).await)?;
                }
                Ok(Applied::Removed)
            }
            (Action::Replace, Some(after)) => {
                if let Some(id) = &c.remote_id {
                    ignore_not_found(self.client.remove_policy(id).await)?;
                }
                self.create_policy(after).await
            }
            (Action::Create | Action::Update, Some(after)) => self.create_policy(after).await,
            _ => Err(TenantError::Config(format!("nothing to do for {}", c.address))),
        }
    }

    async fn create_policy(&self, after: &PolicyAttrs) -> Result<Applied, TenantError> {
        let target = after.target().ok_or_else(|| TenantError::Config("a policy without a target".into()))?;
        let key = target.natural_key();
        let existing =
            self.client.get_remote_policies().await?.into_iter().find(|p| p.target.natural_key() == key);
        let id = match existing {
            Some(p)
                if p.approval == after.approval
                    && p.approver_group.eq_ignore_ascii_case(&after.approver_group) =>
            {
                p.id
            }
            other => {
                if let Some(p) = other {
                    // One policy per target: the stale one goes first.
                    ignore_not_found(self.client.remove_policy(&p.id).await)?;
                }
                match self.client.new_policy(&target, after.approval, &after.approver_group).await {
                    Ok(p) => p.identity,
                    // A policy for the target exists that the reads do not show yet: one an
                    // interrupted run created just before (replication delay). Wait for it
                    // to show, then adopt it, or replace it when its values differ.
                    Err(e) if e.is_already_exists() => {
                        let Some(p) = self.wait_for_target(&key).await? else { return Err(e) };
                        if p.approval == after.approval
                            && p.approver_group.eq_ignore_ascii_case(&after.approver_group)
                        {
                            p.id
                        } else {
                            ignore_not_found(self.client.remove_policy(&p.id).await)?;
                            self.client
                                .new_policy(&target, after.approval, &after.approver_group)
                                .await?
                                .identity
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(Applied::Recorded { id, attributes: Attrs::Policy(after.clone()) })
    }

    /// Waits, within the visibility budget, until the tenant's reads show a policy for the
    /// target with this natural key; `None` when none shows in time.
    async fn wait_for_target(&self, key: &str) -> Result<Option<crate::model::RemotePolicy>, TenantError> {
        let deadline = Instant::now() + self.visibility_budget;
        let mut delay = Duration::from_millis(100);
        loop {
            let found =
                self.client.get_remote_policies().await?.into_iter().find(|p| p.target.natural_key() == key);
            if found.is_some() {
                return Ok(found);
            }
            if Instant::now() + delay > deadline {
                return Ok(None);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn wait_for_policy(&self, id: &str) {
        let deadline = Instant::now() + self.visibility_budget;
        let mut delay = Duration::from_millis(100);
        while !matches!(self.client.get_policy(id).await, Ok(Some(_)) | Err(_)) {
            if Instant::now() + delay > deadline {
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    async fn pam(&self, c: &ResourceChange) -> Result<Applied, TenantError> {
        let after: Option<&PamAttrs> = c.after.as_ref().and_then(Attrs::as_pam);
        match after {
            Some(p) if p.enabled && c.action != Action::Delete => {
                let group = p.default_approver_group.clone().unwrap_or_default();
                let accounts: Vec<String> = p.system_accounts.iter().cloned().collect();
                self.client.enable_pam(&group, &accounts).await?;
            }
            _ => self.client.disable_pam().await?,
        }
        Ok(match (c.action, after) {
            (Action::Delete, _) | (_, None) => Applied::Removed,
            (_, Some(p)) => Applied::Recorded {
                id: crate::plan::PRIVILEGED_ACCESS_ID.to_string(),
                attributes: Attrs::Pam(p.clone()),
            },
        })
    }
}

impl TenantExecutor<'_> {
    async fn execute_once(&self, change: &ResourceChange) -> Result<Applied, TenantError> {
        match change.address.kind {
            ResourceType::ApproverGroup => self.group(change).await,
            ResourceType::AccessPolicy => self.policy(change).await,
            ResourceType::PrivilegedAccess => self.pam(change).await,
        }
    }
}

impl Executor for TenantExecutor<'_> {
    /// Runs the operation, and runs it again from the start when a connection failed under
    /// it: every step looks before it writes, so a write that did land is not repeated.
    async fn execute(&self, change: &ResourceChange) -> Result<Applied, OperationError> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.execute_once(change).await {
                Err(e) if attempt < WRITE_ATTEMPTS && is_connection_failure(&e) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                other => return other.map_err(|e| OperationError(e.to_string())),
            }
        }
    }

    async fn settle(&self, change: &ResourceChange, applied: &Applied) {
        match (change.address.kind, applied) {
            (ResourceType::ApproverGroup, Applied::Recorded { .. }) => {
                if let Some(after) = change.after.as_ref().and_then(Attrs::as_group) {
                    self.wait_for_group(after).await;
                }
            }
            (ResourceType::ApproverGroup, Applied::Removed) => {
                if let Some(before) = change.before.as_ref().and_then(Attrs::as_group) {
                    self.wait_for_group_gone(&before.email).await;
                }
            }
            (ResourceType::AccessPolicy, Applied::Recorded { id, .. }) => self.wait_for_policy(id).await,
            _ => {}
        }
    }
}

/// Attempts of one operation when connections fail under it.
const WRITE_ATTEMPTS: u32 = 5;

/// Whether the error is a lost connection (the write may or may not have landed), as
/// opposed to an answer from the service.
fn is_connection_failure(e: &TenantError) -> bool {
    matches!(e, TenantError::OutcomeUnknown { .. } | TenantError::Connection { .. })
}

fn ignore_not_found(r: Result<(), TenantError>) -> Result<(), TenantError> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

fn ignore_exists(r: Result<(), TenantError>) -> Result<(), TenantError> {
    match r {
        Err(e) if e.is_already_exists() => Ok(()),
        other => other,
    }
}
