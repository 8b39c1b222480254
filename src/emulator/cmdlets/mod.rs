//! The emulated cmdlets of Exchange's admin API: one table of every modelled cmdlet (its
//! name, parameters and handler), and [`invoke`], which runs one for a caller: RBAC and PAM
//! first, then parameter binding, then the handler, producing the typed outputs of
//! [`crate::wire::exchange`]. The handlers live in one file per area.

mod access;
mod error;
mod groups;
mod listing;
mod lookup;
mod pam;
mod params;
mod recipients;
mod requests;
mod roles;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

pub(crate) use self::error::CmdletError;
use self::error::Res;
use self::params::{Bound, Kind, Spec, bind};
use crate::emulator::journal::Journal;
use crate::emulator::tenant_data::TenantData;
use crate::emulator::tokens::Caller;
use crate::wire::exchange::{class, cmdlet as c, documented, param as p};

/// What a cmdlet produced.
#[derive(Debug, Default)]
pub struct Output {
    pub value: Vec<Value>,
    pub warnings: Vec<String>,
    /// The tenant changed.
    pub wrote: bool,
}

/// Context of one invocation.
pub struct Ctx<'a> {
    pub caller: &'a Caller,
    pub now: DateTime<Utc>,
    /// Replication delay before a new policy takes effect.
    pub delay: Duration,
    /// Where policy creations and removals are recorded.
    pub journal: &'a Journal,
}

/// What runs a cmdlet once its parameters are bound.
type Handler = fn(&mut TenantData, &Ctx, &Bound) -> Res<Output>;

/// A modelled cmdlet.
struct Cmdlet {
    name: &'static str,
    params: &'static [Spec],
    /// Checked against RBAC and PAM before it runs. The request cmdlets are not: they need
    /// no Exchange role, only a signed-in user, and PAM never gates them.
    gated: bool,
    /// The cmdlet's other documented parameters: accepted, with no effect in the emulator.
    documented: &'static [&'static str],
    run: Handler,
}

const fn gated(name: &'static str, params: &'static [Spec], run: Handler) -> Cmdlet {
    Cmdlet { name, params, gated: true, documented: &[], run }
}

const fn ungated(name: &'static str, params: &'static [Spec], run: Handler) -> Cmdlet {
    Cmdlet { name, params, gated: false, documented: &[], run }
}

/// A gated cmdlet that also accepts the rest of its documented parameters.
const fn documented(
    name: &'static str,
    params: &'static [Spec],
    documented: &'static [&'static str],
    run: Handler,
) -> Cmdlet {
    Cmdlet { name, params, gated: true, documented, run }
}

use Kind::{Int, List, Size, Str, Switch};

const BYPASS: Spec = (p::BYPASS_SECURITY_GROUP_MANAGER_CHECK, Switch, false);
const IDENTITY: Spec = (p::IDENTITY, Str, false);
const LISTING: &[Spec] = &[IDENTITY, (p::FILTER, Str, false), (p::RESULT_SIZE, Size, false)];
const DECISION: &[Spec] = &[(p::REQUEST_ID, Str, true), (p::COMMENT, Str, false)];

/// Every modelled cmdlet, by area: its name, parameters (name, kind, mandatory) and handler.
const CMDLETS: &[Cmdlet] = &[
    // PAM switch and approval policies
    gated(c::GET_ORGANIZATION_CONFIG, &[], pam::get_org_config),
    gated(
        c::ENABLE_ELEVATED_ACCESS_CONTROL,
        &[(p::ADMIN_GROUP, Str, true), (p::SYSTEM_ACCOUNTS, List, false)],
        pam::enable_pam,
    ),
    gated(c::DISABLE_ELEVATED_ACCESS_CONTROL, &[], pam::disable_pam),
    gated(c::GET_POLICY, &[IDENTITY], pam::get_policies),
    gated(
        c::NEW_POLICY,
        &[(p::TASK, Str, true), (p::APPROVAL_TYPE, Str, true), (p::APPROVER_GROUP, Str, false)],
        pam::new_policy,
    ),
    gated(c::REMOVE_POLICY, &[(p::IDENTITY, Str, true)], pam::remove_policy),
    // Requests and authorizations
    ungated(
        c::NEW_REQUEST,
        &[(p::TASK, Str, true), (p::REASON, Str, true), (p::DURATION_HOURS, Int, false)],
        requests::new_request,
    ),
    ungated(c::GET_REQUEST, &[IDENTITY, (p::REQUEST_ID, Str, false)], requests::get_requests),
    ungated(c::APPROVE_REQUEST, DECISION, requests::approve),
    ungated(c::DENY_REQUEST, DECISION, requests::deny),
    ungated(c::REVOKE_AUTHORIZATION, DECISION, requests::revoke),
    ungated(c::GET_AUTHORIZATION, &[IDENTITY], requests::get_authorizations),
    // Distribution groups and their members
    documented(
        c::NEW_GROUP,
        &[
            (p::NAME, Str, true),
            (p::ALIAS, Str, false),
            (p::DISPLAY_NAME, Str, false),
            (p::PRIMARY_SMTP_ADDRESS, Str, false),
            (p::TYPE, Str, false),
            (p::MEMBERS, List, false),
            (p::MANAGED_BY, List, false),
            (p::DESCRIPTION, List, false),
            (p::NOTES, Str, false),
        ],
        documented::NEW_GROUP,
        groups::new_group,
    ),
    documented(
        c::SET_GROUP,
        &[
            (p::IDENTITY, Str, true),
            (p::NAME, Str, false),
            (p::DISPLAY_NAME, Str, false),
            (p::ALIAS, Str, false),
            (p::PRIMARY_SMTP_ADDRESS, Str, false),
            (p::MANAGED_BY, List, false),
            (p::DESCRIPTION, List, false),
            BYPASS,
        ],
        documented::SET_GROUP,
        groups::set_group,
    ),
    documented(
        c::REMOVE_GROUP,
        &[(p::IDENTITY, Str, true), BYPASS],
        documented::REMOVE_GROUP,
        groups::remove_group,
    ),
    gated(c::GET_GROUP, LISTING, groups::get_groups),
    gated(
        c::GET_GROUP_MEMBER,
        &[(p::IDENTITY, Str, true), (p::RESULT_SIZE, Size, false)],
        groups::get_members,
    ),
    documented(
        c::ADD_GROUP_MEMBER,
        &[(p::IDENTITY, Str, true), (p::MEMBER, Str, true), BYPASS],
        documented::MEMBER,
        groups::add_member,
    ),
    documented(
        c::REMOVE_GROUP_MEMBER,
        &[(p::IDENTITY, Str, true), (p::MEMBER, Str, true), BYPASS],
        documented::MEMBER,
        groups::remove_member,
    ),
    documented(
        c::UPDATE_GROUP_MEMBER,
        &[(p::IDENTITY, Str, true), (p::MEMBERS, List, true), BYPASS],
        documented::UPDATE_MEMBERS,
        groups::update_members,
    ),
    // Recipients
    gated(c::GET_RECIPIENT, LISTING, recipients::get_recipients),
    gated(c::GET_USER, LISTING, recipients::get_users),
    // RBAC
    gated(c::GET_ROLE_ENTRY, &[(p::IDENTITY, Str, true)], roles::get_role_entries),
    gated(c::GET_ROLE_GROUP, &[IDENTITY, (p::RESULT_SIZE, Size, false)], roles::get_role_groups),
];

/// Runs one cmdlet for a caller: RBAC, PAM, parameters, then the cmdlet itself.
pub fn invoke(data: &mut TenantData, ctx: &Ctx, name: &str, params: &Map<String, Value>) -> Res<Output> {
    if let Some(cmdlet) = CMDLETS.iter().find(|x| x.name.eq_ignore_ascii_case(name)) {
        if cmdlet.gated {
            access::authorize_rbac(data, ctx.caller, cmdlet.name)?;
            access::enforce_pam(data, ctx, cmdlet.name)?;
        }
        let bound = bind(params, cmdlet.params, cmdlet.documented)?;
        return (cmdlet.run)(data, ctx, &bound);
    }
    let in_roles =
        data.roles.iter().find_map(|r| r.cmdlets.iter().find(|x| x.eq_ignore_ascii_case(name)).cloned());
    let Some(cmd) = in_roles else {
        return Err(CmdletError::new(
            class::UNKNOWN_CMDLET,
            format!(
                "The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program."
            ),
        ));
    };
    // A cmdlet of the tenant's roles that the emulator does not model: it succeeds without
    // output once RBAC and PAM let it through.
    access::authorize_rbac(data, ctx.caller, &cmd)?;
    access::enforce_pam(data, ctx, &cmd)?;
    Ok(Output::default())
}

// ---- output helpers shared by the areas ------------------------------------------------

fn one(v: Value) -> Output {
    Output { value: vec![v], ..Output::default() }
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cmdlet_is_in_the_table_once() {
        let mut names: Vec<String> = CMDLETS.iter().map(|x| x.name.to_ascii_lowercase()).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
        assert_eq!(count, 24);
    }
}
