//! The RBAC reads: `Get-ManagementRoleEntry` and `Get-RoleGroup`, answered from the tenant's
//! catalogue (Exchange Online's roles and built-in role groups plus the seed's own).

use serde_json::{Value, json};

use super::error::{Res, not_found};
use super::listing::{listing, wildcard};
use super::params::Bound;
use super::{Ctx, Output};
use crate::emulator::tenant_data::TenantData;
use crate::wire::exchange::param as p;

/// `Get-ManagementRoleEntry ROLE\CMDLET`, either part with `*` wildcards.
pub(super) fn get_role_entries(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let identity = b.req(p::IDENTITY);
    let (role_pat, cmd_pat) = identity.split_once('\\').unwrap_or((identity.as_str(), "*"));
    let mut value = Vec::new();
    for r in data.roles.iter().filter(|r| wildcard(role_pat.trim(), &r.name)) {
        for cmd in r.cmdlets.iter().filter(|x| wildcard(cmd_pat.trim(), x)) {
            value.push(json!({
                "Identity": format!("{}\\{cmd}", r.name),
                "Name": cmd,
                "Role": r.name,
            }));
        }
    }
    if value.is_empty() && !identity.contains('*') {
        return Err(not_found(&identity));
    }
    Ok(Output { value, ..Output::default() })
}

/// `Get-RoleGroup`: one role group by name, or all of them.
pub(super) fn get_role_groups(data: &mut TenantData, _ctx: &Ctx, b: &Bound) -> Res<Output> {
    let id = b.str(p::IDENTITY);
    let items: Vec<Value> = data
        .role_groups
        .iter()
        .filter(|g| id.as_deref().is_none_or(|i| g.name.eq_ignore_ascii_case(i.trim())))
        .map(|g| json!({ "Identity": g.name, "Name": g.name, "Roles": g.roles, "Members": g.members }))
        .collect();
    if let (Some(i), true) = (&id, items.is_empty()) {
        return Err(not_found(i));
    }
    listing(items, b)
}
