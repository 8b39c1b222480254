//! The distribution group cmdlets: `Get-`, `New-`, `Set-`, `Remove-DistributionGroup` and
//! their members, with the service's rules (unique names and addresses, mail-enabled
//! members, approver groups kept while policies use them).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::error::{CmdletError, Res, argument};
use super::listing::listing;
use super::lookup::{eq, find_group, find_user};
use super::params::Bound;
use super::recipients::{group_json, group_recipient_json, user_json};
use super::{Ctx, Output};
use crate::emulator::seed::{SeedGroup, SeedUser};
use crate::emulator::tenant_data::TenantData;
use crate::model::normalize;
use crate::wire::exchange::{class, param as p, recipient_type};

/// `Get-DistributionGroup`: one group, or all of them.
pub(super) fn get_groups(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let items: Vec<Value> = match b.str(p::IDENTITY) {
        Some(id) => vec![group_json(&data.groups[find_group(data, &id)?])],
        None => data.groups.iter().map(group_json).collect(),
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
    let items = g
        .members
        .iter()
        .filter_map(|id| match users.get(id.as_str()) {
            Some(u) => Some(user_json(u)),
            None => data.groups.iter().find(|g| g.id == *id).map(group_recipient_json),
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
                format!(
                    "The user '{}' isn't mail-enabled and can't be added as a member. Only mail-enabled recipients can be members of a distribution group.",
                    u.user_principal_name
                ),
            ));
        }
        return Ok(u.id.clone());
    }
    let i = find_group(data, id).map_err(|_| {
        CmdletError::new(class::NOT_FOUND, format!("Couldn't find object \"{id}\". Please make sure that it was spelled correctly or specify a different object."))
    })?;
    Ok(data.groups[i].id.clone())
}

fn address_owner(data: &TenantData, smtp: &str) -> Option<String> {
    data.users
        .iter()
        .find(|u| eq(&u.user_principal_name, smtp) || u.mail.as_deref().is_some_and(|m| eq(m, smtp)))
        .map(|u| u.user_principal_name.clone())
        .or_else(|| data.groups.iter().find(|g| eq(&g.primary_smtp_address, smtp)).map(|g| g.name.clone()))
}

pub(super) fn new_group(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let name = b.req(p::NAME).trim().to_string();
    if name.is_empty() {
        return Err(argument("The Name parameter can't be empty."));
    }
    if data.groups.iter().any(|g| eq(&g.name, &name)) {
        return Err(CmdletError::new(
            class::ALREADY_EXISTS,
            format!("The name \"{name}\" is already being used. Please try another name."),
        ));
    }
    let alias = b.str(p::ALIAS).unwrap_or_else(|| {
        b.str(p::PRIMARY_SMTP_ADDRESS).and_then(|s| s.split('@').next().map(str::to_string)).unwrap_or_else(
            || name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect(),
        )
    });
    let smtp = b.str(p::PRIMARY_SMTP_ADDRESS).unwrap_or_else(|| format!("{alias}@{}", data.tenant.domain));
    if !normalize::is_email_like(&smtp) {
        return Err(argument(format!(
            "The email address \"{smtp}\" isn't correct. Please use this format: user name, the @ sign, followed by the domain name."
        )));
    }
    if let Some(owner) = address_owner(data, &smtp) {
        return Err(CmdletError::new(
            class::ALREADY_EXISTS,
            format!(
                "The proxy address \"SMTP:{smtp}\" is already being used by the proxy addresses or LegacyExchangeDN of \"{owner}\". Please choose another proxy address."
            ),
        ));
    }
    let kind = b.str(p::TYPE).unwrap_or_else(|| "Distribution".into());
    let kind =
        ["Security", "Distribution"].into_iter().find(|k| k.eq_ignore_ascii_case(kind.trim())).ok_or_else(
            || argument(format!("The group type '{kind}' isn't valid. Use 'Security' or 'Distribution'.")),
        )?;
    let mut members = BTreeSet::new();
    for m in b.list(p::MEMBERS).unwrap_or_default() {
        members.insert(resolve_member(data, &m)?);
    }
    let g = SeedGroup {
        id: uuid::Uuid::new_v4().to_string(),
        guid: uuid::Uuid::new_v4().to_string(),
        name,
        display_name: b.str(p::DISPLAY_NAME),
        alias: Some(alias),
        primary_smtp_address: smtp,
        description: b.str(p::DESCRIPTION).or_else(|| b.str(p::NOTES)),
        r#type: kind.to_string(),
        members,
    };
    let v = group_json(&g);
    data.groups.push(g);
    Ok(Output { value: vec![v], wrote: true, ..Output::default() })
}

pub(super) fn set_group(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    let name = b.str(p::NAME).map(|n| n.trim().to_string());
    if let Some(n) = &name {
        if n.is_empty() {
            return Err(argument("The Name parameter can't be empty."));
        }
        if data.groups.iter().enumerate().any(|(j, g)| j != i && eq(&g.name, n)) {
            return Err(CmdletError::new(
                class::ALREADY_EXISTS,
                format!("The name \"{n}\" is already being used. Please try another name."),
            ));
        }
    }
    let g = &mut data.groups[i];
    let mut changed = false;
    if let Some(n) = name
        && g.name != n
    {
        g.name = n;
        changed = true;
    }
    if let Some(d) = b.str(p::DISPLAY_NAME)
        && g.display_name.as_deref() != Some(d.as_str())
    {
        g.display_name = Some(d);
        changed = true;
    }
    if let Some(d) = b.str(p::DESCRIPTION).or_else(|| b.str(p::NOTES))
        && g.description.as_deref() != Some(d.as_str())
    {
        g.description = Some(d);
        changed = true;
    }
    let mut out = Output { wrote: changed, ..Output::default() };
    if !changed {
        out.warnings.push(format!(
            "The command completed successfully but no settings of '{}' have been modified.",
            g.name
        ));
    }
    Ok(out)
}

pub(super) fn remove_group(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
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

pub(super) fn add_member(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    let member = b.req(p::MEMBER);
    let id = resolve_member(data, &member)?;
    let g = &mut data.groups[i];
    if !g.members.insert(id) {
        return Err(CmdletError::new(
            class::MEMBER_ALREADY_EXISTS,
            format!("The recipient \"{member}\" is already a member of the group \"{}\".", g.name),
        ));
    }
    Ok(Output { wrote: true, ..Output::default() })
}

pub(super) fn remove_member(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    let member = b.req(p::MEMBER);
    let id = match find_user(data, &member) {
        Some(u) => u.id.clone(),
        None => data.groups[find_group(data, &member)?].id.clone(),
    };
    let g = &mut data.groups[i];
    if !g.members.remove(&id) {
        return Err(CmdletError::new(
            class::MEMBER_NOT_FOUND,
            format!("The recipient \"{member}\" isn't a member of the group \"{}\".", g.name),
        ));
    }
    Ok(Output { wrote: true, ..Output::default() })
}

pub(super) fn update_members(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let i = find_group(data, &b.req(p::IDENTITY))?;
    let mut members = BTreeSet::new();
    for m in b.list(p::MEMBERS).unwrap_or_default() {
        members.insert(resolve_member(data, &m)?);
    }
    let g = &mut data.groups[i];
    let changed = g.members != members;
    g.members = members;
    Ok(Output { wrote: changed, ..Output::default() })
}
