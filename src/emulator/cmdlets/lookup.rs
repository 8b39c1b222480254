//! Finding users and groups by any name Exchange accepts for them: object id, principal
//! name, address, alias or display name, compared the service's way.

use super::error::{Res, not_found};
use crate::emulator::seed::SeedUser;
use crate::emulator::tenant_data::TenantData;
use crate::model::normalize;

/// Whether two names are the same: trimmed, case-insensitive, normalized.
pub(super) fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        // The same answer as comparing `normalize::principal`, without allocating.
        return a.eq_ignore_ascii_case(b);
    }
    normalize::principal(a) == normalize::principal(b)
}

pub(super) fn find_user<'s>(data: &'s TenantData, id: &str) -> Option<&'s SeedUser> {
    let id = id.trim();
    data.users
        .iter()
        .find(|u| {
            eq(&u.id, id) || eq(&u.user_principal_name, id) || u.mail.as_deref().is_some_and(|m| eq(m, id))
        })
        .or_else(|| data.users.iter().find(|u| eq(u.alias(), id) || eq(&u.display(), id)))
}

pub(super) fn find_group(data: &TenantData, id: &str) -> Res<usize> {
    let key = id.trim();
    data.groups
        .iter()
        .position(|g| eq(&g.id, key) || eq(&g.guid, key) || eq(&g.primary_smtp_address, key))
        .or_else(|| {
            data.groups.iter().position(|g| eq(&g.name, key) || eq(&g.alias(), key) || eq(&g.display(), key))
        })
        .ok_or_else(|| not_found(id))
}
