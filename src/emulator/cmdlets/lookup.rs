//! Finding users and groups by the names Exchange accepts for them (an `Identity` value):
//! object id (`ExternalDirectoryObjectId`), `Guid`, distinguished name, email address,
//! principal name, `Name` and `Alias`, compared the service's way. `DisplayName` is not an
//! identity (**doc**: the Identity parameter of Set-DistributionGroup lists Name, Alias, DN,
//! canonical DN, email address and GUID).

use super::error::{Res, not_found};
use crate::emulator::seed::{SeedGroup, SeedUser};
use crate::emulator::tenant_data::TenantData;
use crate::model::normalize;
use crate::wire::exchange as wx;

/// Whether two names are the same: trimmed, case-insensitive, normalized.
pub(super) fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        // The same answer as comparing `normalize::principal`, without allocating.
        return a.eq_ignore_ascii_case(b);
    }
    normalize::principal(a) == normalize::principal(b)
}

/// A user's Exchange `Guid`: derived from its object id, so it is stable across restarts.
pub(super) fn user_guid(u: &SeedUser) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(u.id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

pub(super) fn user_dn(data: &TenantData, u: &SeedUser) -> String {
    wx::distinguished_name(u.alias(), &data.tenant.domain)
}

pub(super) fn group_dn(data: &TenantData, g: &SeedGroup) -> String {
    wx::distinguished_name(&g.name, &data.tenant.domain)
}

pub(super) fn find_user<'s>(data: &'s TenantData, id: &str) -> Option<&'s SeedUser> {
    let id = id.trim();
    data.users
        .iter()
        .find(|u| {
            eq(&u.id, id)
                || eq(&u.user_principal_name, id)
                || u.mail.as_deref().is_some_and(|m| eq(m, id))
                || eq(&user_guid(u), id)
        })
        .or_else(|| data.users.iter().find(|u| eq(u.alias(), id) || eq(&user_dn(data, u), id)))
}

pub(super) fn find_group(data: &TenantData, id: &str) -> Res<usize> {
    let key = id.trim();
    data.groups
        .iter()
        .position(|g| eq(&g.id, key) || eq(&g.guid, key) || eq(&g.primary_smtp_address, key))
        .or_else(|| {
            data.groups
                .iter()
                .position(|g| eq(&g.name, key) || eq(&g.alias(), key) || eq(&group_dn(data, g), key))
        })
        .ok_or_else(|| not_found(id))
}
