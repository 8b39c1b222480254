//! Users and groups as Exchange shows them (`Recipient`, `DistributionGroup`), and the
//! recipient cmdlets: `Get-Recipient` and `Get-User`.

use serde_json::{Value, json};

use super::error::{Res, not_found};
use super::listing::listing;
use super::lookup::{find_group, find_user};
use super::params::Bound;
use super::{Ctx, Output, insert, to_value};
use crate::emulator::seed::{SeedGroup, SeedUser};
use crate::emulator::tenant_data::TenantData;
use crate::wire::exchange::{self as wx, DistributionGroup, Recipient, param as p, recipient_type};

fn find_recipient(data: &TenantData, id: &str) -> Option<Value> {
    if let Some(u) = find_user(data, id).filter(|u| recipient_type::is_mail_enabled(u.recipient_type())) {
        return Some(user_json(u));
    }
    find_group(data, id).ok().map(|i| group_recipient_json(&data.groups[i]))
}

pub(super) fn user_json(u: &SeedUser) -> Value {
    let mut v = to_value(&Recipient {
        identity: u.alias().to_string(),
        name: u.alias().to_string(),
        display_name: u.display(),
        primary_smtp_address: u.mail.clone(),
        user_principal_name: Some(u.user_principal_name.clone()),
        external_directory_object_id: u.id.clone(),
        recipient_type_details: u.recipient_type().to_string(),
    });
    insert(&mut v, "Alias", json!(u.alias()));
    v
}

pub(super) fn group_recipient_json(g: &SeedGroup) -> Value {
    let mut v = to_value(&Recipient {
        identity: g.name.clone(),
        name: g.name.clone(),
        display_name: g.display(),
        primary_smtp_address: Some(g.primary_smtp_address.clone()),
        user_principal_name: None,
        external_directory_object_id: g.id.clone(),
        recipient_type_details: group_type_details(g).to_string(),
    });
    insert(&mut v, "Alias", json!(g.alias()));
    v
}

fn group_type_details(g: &SeedGroup) -> &'static str {
    if g.is_security() {
        wx::RECIPIENT_MAIL_UNIVERSAL_SECURITY_GROUP
    } else {
        "MailUniversalDistributionGroup"
    }
}

pub(super) fn group_json(g: &SeedGroup) -> Value {
    to_value(&DistributionGroup {
        identity: g.name.clone(),
        guid: g.guid.clone(),
        external_directory_object_id: g.id.clone(),
        name: g.name.clone(),
        display_name: g.display(),
        alias: g.alias(),
        primary_smtp_address: g.primary_smtp_address.clone(),
        description: g.description.clone(),
        group_type: if g.is_security() {
            wx::GROUP_TYPE_SECURITY.to_string()
        } else {
            "Universal".to_string()
        },
        recipient_type_details: group_type_details(g).to_string(),
    })
}

/// `Get-Recipient`: one recipient, or every mail-enabled user and every group.
pub(super) fn get_recipients(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let items = match b.str(p::IDENTITY) {
        Some(id) => vec![find_recipient(data, &id).ok_or_else(|| not_found(&id))?],
        None => data
            .users
            .iter()
            .filter(|u| recipient_type::is_mail_enabled(u.recipient_type()))
            .map(user_json)
            .chain(data.groups.iter().map(group_recipient_json))
            .collect(),
    };
    listing(items, b)
}

/// `Get-User`: one user, or all of them.
pub(super) fn get_users(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let items = match b.str(p::IDENTITY) {
        Some(id) => vec![user_json(find_user(data, &id).ok_or_else(|| not_found(&id))?)],
        None => data.users.iter().map(user_json).collect(),
    };
    listing(items, b)
}
