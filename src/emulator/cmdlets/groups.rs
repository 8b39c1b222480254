//! The distribution group cmdlets: `Get-`, `New-`, `Set-`, `Remove-DistributionGroup` and
//! their members, with the service's rules: unique names and addresses, mail-enabled members,
//! no group inside itself, owners (`ManagedBy`) who alone may change a group unless the
//! caller passes `-BypassSecurityGroupManagerCheck`, and approver groups kept while policies
//! use them.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::error::{CmdletError, Res, argument, manager_required, not_found};
use super::listing::listing;
use super::lookup::{eq, find_group, find_user};
use super::params::Bound;
use super::recipients::{group_json, group_recipient_json, user_json};
use super::{Ctx, Output};
use crate::emulator::seed::{SeedGroup, SeedUser};
use crate::emulator::tenant_data::TenantData;
use crate::emulator::tokens::Caller;
use crate::model::normalize;
use crate::wire::exchange::{class, param as p, recipient_type, text};

/// `Get-DistributionGroup`: one group, or all of them.
pub(super) fn get_groups(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let items: Vec<Value> = match b.str(p::IDENTITY) {
        Some(id) => vec![group_json(data, &data.groups[find_group(data, &id)?])],
        None => data.groups.iter().map(|g| group_json(data, g)).collect(),
    };
    listing(items, b)
}

/// `Get-DistributionGroupMember`: users as recipients, nested groups as group recipients.
pub(super) fn get_members(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let g = &data.groups[find_group(data, &b.req(p::IDENTITY))?];
    // One pass over the users, not one per member.
    let members: HashSet<&str> = g.members.iter().map(String::as_str).collect();
    let users: HashMap<&str, &SeedUser> =
        data.users.iter().filter(|u| members.contains(u.id.as_str())).map(|u| (u.id.as_str(), u)).collect();
    let items: Vec<Value> = g
        .members
        .iter()
        .filter_map(|id| match users.get(id.as_str()) {
            Some(u) => Some(user_json(data, u)),
            None => data.groups.iter().find(|g| g.id == *id).map(|g| group_recipient_json(data, g)),
        })
        .collect();
    listing(items, b)
}

/// Resolves a member reference to an object id; refuses non-mail-enabled users.
fn resolve_member(data: &TenantData, id: &str) -> Res<String> {
    if let Some(u) = find_user(data, id) {
        if !recipient_type::is_mail_enabled(u.recipient_type()) {
            return Err(CmdletError::new(
                class::RECIPIENT_NOT_MAIL_ENABLED,
                text::not_mail_enabled(&u.user_principal_name),
            ));
        }
        return Ok(u.id.clone());
    }
    let i =
        find_group(data, id).map_err(|_| CmdletError::new(class::NOT_FOUND, text::member_not_found(id)))?;
    Ok(data.groups[i].id.clone())
}

/// Refuses making a group a member of itself. (The class and wording are **assumed**.)
fn not_itself(g: &SeedGroup, member_id: &str) -> Res<()> {
    if g.id == member_id {
        return Err(CmdletError::new(class::RECIPIENT_TASK, text::member_of_itself(&g.name)));
    }
    Ok(())
}

fn address_owner(data: &TenantData, smtp: &str) -> Option<String> {
    data.users
        .iter()
        .find(|u| eq(&u.user_principal_name, smtp) || u.mail.as_deref().is_some_and(|m| eq(m, smtp)))
        .map(|u| u.user_principal_name.clone())
        .or_else(|| data.groups.iter().find(|g| eq(&g.primary_smtp_address, smtp)).map(|g| g.name.clone()))
}

/// The name a caller has in `ManagedBy`: its principal name, or its application id.
fn caller_name(caller: &Caller) -> String {
    match caller {
        Caller::App { client_id, .. } => client_id.clone(),
        Caller::User { upn, .. } => upn.clone(),
    }
}

/// Resolves the owners given to `-ManagedBy`: mail-enabled users (by any identity) become
/// their principal name; an owner must exist. (**doc**: an owner is a mailbox, mail user or
/// mail-enabled security group)
fn resolve_owners(data: &TenantData, owners: Vec<String>) -> Res<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for o in owners {
        let name = match find_user(data, &o) {
            Some(u) if recipient_type::is_mail_enabled(u.recipient_type()) => u.user_principal_name.clone(),
            Some(_) => return Err(not_found(&o)),
            None => match find_group(data, &o) {
                Ok(i) if data.groups[i].is_security() => data.groups[i].name.clone(),
                _ if data.apps.iter().any(|a| eq(&a.client_id, &o)) => o.trim().to_string(),
                _ => return Err(not_found(&o)),
            },
        };
        if !out.iter().any(|x| eq(x, &name)) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Only an owner may change a group, unless `-BypassSecurityGroupManagerCheck` is given.
/// (**doc**: the BypassSecurityGroupManagerCheck parameter of Set-DistributionGroup)
fn require_manager(data: &TenantData, g: &SeedGroup, ctx: &Ctx, b: &Bound) -> Res<()> {
    if b.switch(p::BYPASS_SECURITY_GROUP_MANAGER_CHECK) {
        return Ok(());
    }
    let me = caller_name(ctx.caller);
    let alias = find_user(data, &me).map(|u| u.alias().to_string());
    let owner = g.managed_by.iter().any(|m| eq(m, &me) || alias.as_deref().is_some_and(|a| eq(m, a)));
    if owner { Ok(()) } else { Err(manager_required()) }
}

fn name_taken(name: &str) -> CmdletError {
    CmdletError::new(class::ALREADY_EXISTS, text::name_taken(name))
}

/// The description values as the emulator keeps them: one text (Entra keeps one value).
fn description(values: Vec<String>) -> Option<String> {
    let parts: Vec<String> =
        values.into_iter().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

fn check_smtp(data: &TenantData, smtp: &str, except: Option<&str>) -> Res<()> {
    if !normalize::is_email_like(smtp) {
        return Err(argument(format!(
            "The email address \"{smtp}\" isn't correct. Please use this format: user name, the @ sign, followed by the domain name."
        )));
    }
    match address_owner(data, smtp) {
        Some(owner) if except.is_none_or(|e| !eq(e, &owner)) => {
            Err(CmdletError::new(class::ALREADY_EXISTS, text::address_taken(smtp, &owner)))
        }
        _ => Ok(()),
    }
}

/// `New-DistributionGroup`. `-Notes` sets the group's notes, which Get-DistributionGroup
/// does not show; `-Description` sets its (multi-valued) description.
pub(super) fn new_group(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let name = b.req(p::NAME).trim().to_string();
    if name.is_empty() {
        return Err(argument("The Name parameter can't be empty."));
    }
    if data.groups.iter().any(|g| eq(&g.name, &name)) {
        return Err(name_taken(&name));
    }
    let alias = b.str(p::ALIAS).unwrap_or_else(|| {
        b.str(p::PRIMARY_SMTP_ADDRESS).and_then(|s| s.split('@').next().map(str::to_string)).unwrap_or_else(
            || name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect(),
        )
    });
    let smtp = b.str(p::PRIMARY_SMTP_ADDRESS).unwrap_or_else(|| format!("{alias}@{}", data.tenant.domain));
    check_smtp(data, &smtp, None)?;
    let kind = b.str(p::TYPE).unwrap_or_else(|| p::TYPE_DISTRIBUTION.into());
    let kind = [p::TYPE_SECURITY, p::TYPE_DISTRIBUTION]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(kind.trim()))
        .ok_or_else(|| {
            argument(format!("The group type '{kind}' isn't valid. Use 'Security' or 'Distribution'."))
        })?;
    let mut members = BTreeSet::new();
    for m in b.list(p::MEMBERS).unwrap_or_default() {
        members.insert(resolve_member(data, &m)?);
    }
    // Without -ManagedBy, the one who creates the group owns it. (**doc**)
    let managed_by = match b.list(p::MANAGED_BY) {
        Some(owners) => resolve_owners(data, owners)?,
        None => vec![caller_name(ctx.caller)],
    };
    let g = SeedGroup {
        id: uuid::Uuid::new_v4().to_string(),
        guid: uuid::Uuid::new_v4().to_string(),
        name,
        display_name: b.str(p::DISPLAY_NAME),
        alias: Some(alias),
        primary_smtp_address: smtp,
        description: description(b.list(p::DESCRIPTION).unwrap_or_default()),
        r#type: kind.to_string(),
        members,
        managed_by,
    };
    let v = group_json(data, &g);
    data.groups.push(g);
    Ok(Output { value: vec![v], wrote: true, ..Output::default() })
}

/// `Set-DistributionGroup`: the modelled parameters change the group; the cmdlet's other
/// documented parameters are accepted and have no effect here.
pub(super) fn set_group(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    require_manager(data, &data.groups[i], ctx, b)?;
    let name = b.str(p::NAME).map(|n| n.trim().to_string());
    if let Some(n) = &name {
        if n.is_empty() {
            return Err(argument("The Name parameter can't be empty."));
        }
        if data.groups.iter().enumerate().any(|(j, g)| j != i && eq(&g.name, n)) {
            return Err(name_taken(n));
        }
    }
    let smtp = b.str(p::PRIMARY_SMTP_ADDRESS).map(|s| s.trim().to_string());
    if let Some(s) = &smtp {
        check_smtp(data, s, Some(&data.groups[i].name))?;
    }
    let owners = b.list(p::MANAGED_BY).map(|o| resolve_owners(data, o)).transpose()?;
    let g = &mut data.groups[i];
    let before = g.clone();
    if let Some(n) = name {
        g.name = n;
    }
    if let Some(d) = b.str(p::DISPLAY_NAME) {
        g.display_name = Some(d);
    }
    if let Some(a) = b.str(p::ALIAS) {
        g.alias = Some(a);
    }
    if let Some(s) = smtp {
        g.primary_smtp_address = s;
    }
    if let Some(d) = b.list(p::DESCRIPTION) {
        g.description = description(d);
    }
    if let Some(o) = owners {
        g.managed_by = o;
    }
    let changed = *g != before;
    let mut out = Output { wrote: changed, ..Output::default() };
    if !changed {
        out.warnings.push(text::nothing_modified(&g.name));
    }
    Ok(out)
}

pub(super) fn remove_group(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    require_manager(data, &data.groups[i], ctx, b)?;
    let smtp = data.groups[i].primary_smtp_address.clone();
    let used = data.policies.iter().filter(|x| eq(&x.approver_group, &smtp)).count();
    if used > 0 || (data.pam.enabled && data.pam.admin_group.as_deref().is_some_and(|a| eq(a, &smtp))) {
        return Err(CmdletError::new(
            class::INVALID_OPERATION,
            format!(
                "The group '{smtp}' is an approver group of elevated access control ({used} policies). Remove or change those policies first."
            ),
        ));
    }
    let g = data.groups.remove(i);
    for other in &mut data.groups {
        other.members.remove(&g.id);
    }
    Ok(Output { wrote: true, ..Output::default() })
}

pub(super) fn add_member(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    require_manager(data, &data.groups[i], ctx, b)?;
    let member = b.req(p::MEMBER);
    let id = resolve_member(data, &member)?;
    let g = &mut data.groups[i];
    not_itself(g, &id)?;
    if !g.members.insert(id) {
        return Err(CmdletError::new(class::MEMBER_ALREADY_EXISTS, text::member_already(&member, &g.name)));
    }
    Ok(Output { wrote: true, ..Output::default() })
}

pub(super) fn remove_member(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    require_manager(data, &data.groups[i], ctx, b)?;
    let member = b.req(p::MEMBER);
    let id = match find_user(data, &member) {
        Some(u) => u.id.clone(),
        None => data.groups[find_group(data, &member)?].id.clone(),
    };
    let g = &mut data.groups[i];
    if !g.members.remove(&id) {
        return Err(CmdletError::new(class::MEMBER_NOT_FOUND, text::not_a_member(&member, &g.name)));
    }
    Ok(Output { wrote: true, ..Output::default() })
}

pub(super) fn update_members(data: &mut TenantData, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    require_manager(data, &data.groups[i], ctx, b)?;
    let mut members = BTreeSet::new();
    for m in b.list(p::MEMBERS).unwrap_or_default() {
        let id = resolve_member(data, &m)?;
        not_itself(&data.groups[i], &id)?;
        members.insert(id);
    }
    let g = &mut data.groups[i];
    let changed = g.members != members;
    g.members = members;
    Ok(Output { wrote: changed, ..Output::default() })
}
