//! Users and groups as Exchange shows them, serialised by the emulator itself from its own
//! representation (property names and odata annotations from [`crate::wire::exchange`]), and
//! the recipient cmdlets: `Get-Recipient` and `Get-User`.

use serde_json::{Map, Value, json};

use super::error::{Res, not_found};
use super::listing::listing;
use super::lookup::{find_group, find_user, group_dn, user_dn, user_guid};
use super::params::Bound;
use super::{Ctx, Output};
use crate::emulator::seed::{SeedGroup, SeedUser};
use crate::emulator::tenant_data::TenantData;
use crate::wire::exchange::{
    GROUP_TYPE_DISTRIBUTION, GROUP_TYPE_SECURITY, odata, param as p, prop, recipient_type,
};

/// An output object under construction: properties in the service's order, a type
/// annotation before each typed one.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }

    /// A multi-valued string property: `<Key>@odata.type` then the array.
    fn strings(self, key: &str, values: Vec<String>) -> Self {
        self.set(&odata::type_of(key), odata::COLLECTION_OF_STRING).set(key, values)
    }

    fn guid(self, key: &str, value: &str) -> Self {
        self.set(&odata::type_of(key), odata::GUID).set(key, value)
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn find_recipient(data: &TenantData, id: &str) -> Option<Value> {
    if let Some(u) = find_user(data, id).filter(|u| recipient_type::is_mail_enabled(u.recipient_type())) {
        return Some(user_json(data, u));
    }
    find_group(data, id).ok().map(|i| group_recipient_json(data, &data.groups[i]))
}

/// `SMTP:` for the primary address, as `EmailAddresses` lists it. (**observed**)
fn proxy(smtp: &str) -> String {
    format!("SMTP:{smtp}")
}

/// A user as a recipient (`Get-Recipient`, `Get-User`, `Get-DistributionGroupMember`).
pub(super) fn user_json(data: &TenantData, u: &SeedUser) -> Value {
    let details = u.recipient_type();
    Obj::default()
        .set(prop::IDENTITY, u.alias())
        .set(prop::NAME, u.alias())
        .set(prop::DISPLAY_NAME, u.display())
        .set(prop::ALIAS, u.alias())
        .set(prop::PRIMARY_SMTP_ADDRESS, u.mail.clone().map_or(Value::Null, Value::String))
        .strings(prop::EMAIL_ADDRESSES, u.mail.iter().map(|m| proxy(m)).collect())
        .set(prop::USER_PRINCIPAL_NAME, u.user_principal_name.clone())
        .set(prop::DISTINGUISHED_NAME, user_dn(data, u))
        .guid(prop::GUID, &user_guid(u))
        .set(prop::EXTERNAL_DIRECTORY_OBJECT_ID, u.id.clone())
        .set(prop::RECIPIENT_TYPE, recipient_type::recipient_type(details))
        .set(prop::RECIPIENT_TYPE_DETAILS, details)
        .done()
}

fn group_type_details(g: &SeedGroup) -> &'static str {
    if g.is_security() {
        recipient_type::MAIL_UNIVERSAL_SECURITY_GROUP
    } else {
        recipient_type::MAIL_UNIVERSAL_DISTRIBUTION_GROUP
    }
}

/// The properties a group shares as a recipient and as a distribution group.
fn group_base(data: &TenantData, g: &SeedGroup) -> Obj {
    let details = group_type_details(g);
    Obj::default()
        .set(prop::IDENTITY, g.name.clone())
        .set(prop::NAME, g.name.clone())
        .set(prop::DISPLAY_NAME, g.display())
        .set(prop::ALIAS, g.alias())
        .set(prop::PRIMARY_SMTP_ADDRESS, g.primary_smtp_address.clone())
        .strings(prop::EMAIL_ADDRESSES, vec![proxy(&g.primary_smtp_address)])
        .set(prop::DISTINGUISHED_NAME, group_dn(data, g))
        .guid(prop::GUID, &g.guid)
        .set(prop::EXTERNAL_DIRECTORY_OBJECT_ID, g.id.clone())
        .set(prop::RECIPIENT_TYPE, recipient_type::recipient_type(details))
        .set(prop::RECIPIENT_TYPE_DETAILS, details)
}

/// A group as a recipient (`Get-Recipient`, `Get-DistributionGroupMember`).
pub(super) fn group_recipient_json(data: &TenantData, g: &SeedGroup) -> Value {
    group_base(data, g).done()
}

/// A group as `Get-`/`New-DistributionGroup` output it: `Description` and `ManagedBy` are
/// multi-valued.
pub(super) fn group_json(data: &TenantData, g: &SeedGroup) -> Value {
    group_base(data, g)
        .set(prop::GROUP_TYPE, if g.is_security() { GROUP_TYPE_SECURITY } else { GROUP_TYPE_DISTRIBUTION })
        .strings(prop::DESCRIPTION, g.description.iter().cloned().collect())
        .strings(prop::MANAGED_BY, g.managed_by.clone())
        .done()
}

/// `Get-Recipient`: one recipient, or every mail-enabled user and every group.
pub(super) fn get_recipients(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    if let Some(id) = b.str(p::IDENTITY) {
        return listing([find_recipient(data, &id).ok_or_else(|| not_found(&id))?], b);
    }
    let users = data.users.iter().filter(|u| recipient_type::is_mail_enabled(u.recipient_type()));
    listing(
        users.map(|u| user_json(data, u)).chain(data.groups.iter().map(|g| group_recipient_json(data, g))),
        b,
    )
}

/// `Get-User`: one user, or all of them.
pub(super) fn get_users(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let items = match b.str(p::IDENTITY) {
        Some(id) => vec![user_json(data, find_user(data, &id).ok_or_else(|| not_found(&id))?)],
        None => data.users.iter().map(|u| user_json(data, u)).collect(),
    };
    listing(items, b)
}

/// `Get-OrganizationConfig` output: the PAM switch, its approver group and system accounts.
pub(super) fn org_config_json(data: &TenantData, pam_state: &str) -> Value {
    Obj::default()
        .set(prop::IDENTITY, data.tenant.domain.clone())
        .set(prop::NAME, data.tenant.domain.clone())
        .set(prop::ELEVATED_ACCESS_CONTROL, pam_state)
        .set(prop::ELEVATED_ACCESS_APPROVERS, json!(data.pam.admin_group))
        .strings(prop::ELEVATED_ACCESS_SYSTEM_ACCOUNTS, data.pam.system_accounts.clone())
        .done()
}
