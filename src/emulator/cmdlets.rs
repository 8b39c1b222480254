//! The emulated cmdlets: Exchange RBAC, PAM enforcement, and each cmdlet pamform runs with
//! the service's rules (unique addresses, mail-enabled members, 30 policies, approver-group
//! approval, request expiry, revocation), producing the typed outputs of [`crate::wire::exchange`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::journal::{Journal, JournalAction};
use super::params::{Bound, Kind, Spec, bind};
use super::seed::{Seed, SeedAuthorization, SeedGroup, SeedPolicy, SeedRequest, SeedUser};
use super::tokens::Caller;
use crate::model::{PolicyTarget, normalize};
use crate::wire::exchange::task;
use crate::wire::exchange::{
    self as wx, ApprovalPolicy, Authorization, DistributionGroup, ElevatedAccessRequest, OrganizationConfig,
    Recipient, RoleEntry, RoleGroup, class, cmdlet as c, param as p, recipient_type, request_status,
    request_type,
};

/// A cmdlet failure: the exception class and message of the error envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct CmdletError {
    pub class: &'static str,
    pub message: String,
}

impl CmdletError {
    pub fn new(class: &'static str, message: impl Into<String>) -> Self {
        CmdletError { class, message: message.into() }
    }
}

type Res<T> = Result<T, CmdletError>;

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

/// Request cmdlets: never gated, no Exchange role needed, only a signed-in user.
const REQUEST_CMDLETS: &[&str] = &[
    c::NEW_REQUEST,
    c::GET_REQUEST,
    c::APPROVE_REQUEST,
    c::DENY_REQUEST,
    c::REVOKE_AUTHORIZATION,
    c::GET_AUTHORIZATION,
];

const BYPASS: Spec = (p::BYPASS_SECURITY_GROUP_MANAGER_CHECK, Kind::Switch, false);

/// Parameters of each modelled cmdlet.
fn spec(cmdlet: &str) -> Option<&'static [Spec]> {
    use Kind::*;
    Some(match cmdlet {
        c::GET_ORGANIZATION_CONFIG | c::DISABLE_ELEVATED_ACCESS_CONTROL => &[],
        c::ENABLE_ELEVATED_ACCESS_CONTROL => {
            &[(p::ADMIN_GROUP, Str, true), (p::SYSTEM_ACCOUNTS, List, false)]
        }
        c::GET_POLICY | c::GET_REQUEST | c::GET_AUTHORIZATION => &[(p::IDENTITY, Str, false)],
        c::NEW_POLICY => {
            &[(p::TASK, Str, true), (p::APPROVAL_TYPE, Str, true), (p::APPROVER_GROUP, Str, false)]
        }
        c::REMOVE_POLICY => &[(p::IDENTITY, Str, true)],
        c::NEW_REQUEST => &[(p::TASK, Str, true), (p::REASON, Str, true), (p::DURATION_HOURS, Int, false)],
        c::APPROVE_REQUEST | c::DENY_REQUEST | c::REVOKE_AUTHORIZATION => {
            &[(p::REQUEST_ID, Str, true), (p::COMMENT, Str, false)]
        }
        c::NEW_GROUP => &[
            (p::NAME, Str, true),
            (p::ALIAS, Str, false),
            (p::DISPLAY_NAME, Str, false),
            (p::PRIMARY_SMTP_ADDRESS, Str, false),
            (p::TYPE, Str, false),
            (p::MEMBERS, List, false),
            (p::DESCRIPTION, Str, false),
            (p::NOTES, Str, false),
        ],
        c::SET_GROUP => &[
            (p::IDENTITY, Str, true),
            (p::NAME, Str, false),
            (p::DISPLAY_NAME, Str, false),
            (p::DESCRIPTION, Str, false),
            (p::NOTES, Str, false),
            BYPASS,
        ],
        c::REMOVE_GROUP => &[(p::IDENTITY, Str, true), BYPASS],
        c::GET_GROUP | c::GET_RECIPIENT | c::GET_USER => {
            &[(p::IDENTITY, Str, false), (p::FILTER, Str, false), (p::RESULT_SIZE, Size, false)]
        }
        c::GET_GROUP_MEMBER => &[(p::IDENTITY, Str, true), (p::RESULT_SIZE, Size, false)],
        c::ADD_GROUP_MEMBER | c::REMOVE_GROUP_MEMBER => {
            &[(p::IDENTITY, Str, true), (p::MEMBER, Str, true), BYPASS]
        }
        c::UPDATE_GROUP_MEMBER => &[(p::IDENTITY, Str, true), (p::MEMBERS, List, true), BYPASS],
        c::GET_ROLE_ENTRY => &[(p::IDENTITY, Str, true)],
        c::GET_ROLE_GROUP => &[(p::IDENTITY, Str, false), (p::RESULT_SIZE, Size, false)],
        _ => return None,
    })
}

/// The canonical spelling of a modelled cmdlet name.
fn canonical(name: &str) -> Option<&'static str> {
    const ALL: &[&str] = &[
        c::GET_ORGANIZATION_CONFIG,
        c::ENABLE_ELEVATED_ACCESS_CONTROL,
        c::DISABLE_ELEVATED_ACCESS_CONTROL,
        c::GET_POLICY,
        c::NEW_POLICY,
        c::REMOVE_POLICY,
        c::NEW_REQUEST,
        c::GET_REQUEST,
        c::APPROVE_REQUEST,
        c::DENY_REQUEST,
        c::REVOKE_AUTHORIZATION,
        c::GET_AUTHORIZATION,
        c::NEW_GROUP,
        c::SET_GROUP,
        c::REMOVE_GROUP,
        c::GET_GROUP,
        c::GET_GROUP_MEMBER,
        c::ADD_GROUP_MEMBER,
        c::REMOVE_GROUP_MEMBER,
        c::UPDATE_GROUP_MEMBER,
        c::GET_RECIPIENT,
        c::GET_USER,
        c::GET_ROLE_ENTRY,
        c::GET_ROLE_GROUP,
    ];
    ALL.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}

/// Runs one cmdlet for a caller: RBAC, PAM, parameters, then the cmdlet itself.
pub fn invoke(seed: &mut Seed, ctx: &Ctx, name: &str, params: &Map<String, Value>) -> Res<Output> {
    let modelled = canonical(name);
    let in_roles =
        seed.roles.iter().find_map(|r| r.cmdlets.iter().find(|x| x.eq_ignore_ascii_case(name)).cloned());
    let Some(cmd) = modelled.map(str::to_string).or(in_roles) else {
        return Err(CmdletError::new(
            class::UNKNOWN_CMDLET,
            format!(
                "The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program."
            ),
        ));
    };
    if !REQUEST_CMDLETS.contains(&cmd.as_str()) {
        authorize_rbac(seed, ctx.caller, &cmd)?;
        enforce_pam(seed, ctx, &cmd)?;
    }
    let Some(spec) = spec(&cmd) else {
        // A cmdlet of the tenant's roles that the emulator does not model: it succeeds
        // without output once RBAC and PAM let it through.
        return Ok(Output::default());
    };
    let b = bind(params, spec)?;
    run(seed, ctx, &cmd, &b)
}

fn run(seed: &mut Seed, ctx: &Ctx, cmd: &str, b: &Bound) -> Res<Output> {
    match cmd {
        c::GET_ORGANIZATION_CONFIG => Ok(one(org_config(seed))),
        c::ENABLE_ELEVATED_ACCESS_CONTROL => enable_pam(seed, b),
        c::DISABLE_ELEVATED_ACCESS_CONTROL => {
            let mut out = Output { wrote: seed.pam.enabled, ..Output::default() };
            if !seed.pam.enabled {
                out.warnings.push("Elevated access control is already disabled.".into());
            }
            seed.pam.enabled = false;
            Ok(out)
        }
        c::GET_POLICY => get_policies(seed, ctx, b),
        c::NEW_POLICY => new_policy(seed, ctx, b),
        c::REMOVE_POLICY => {
            let id = b.req(p::IDENTITY);
            let i = seed
                .policies
                .iter()
                .position(|x| x.identity.eq_ignore_ascii_case(id.trim()))
                .ok_or_else(|| not_found(&id))?;
            let removed = seed.policies.remove(i);
            ctx.journal.record(ctx.now, JournalAction::Removed, &removed.task, &removed.identity);
            Ok(Output { wrote: true, ..Output::default() })
        }
        c::NEW_REQUEST => new_request(seed, ctx, b),
        c::GET_REQUEST => get_requests(seed, ctx, b),
        c::APPROVE_REQUEST => decide(seed, ctx, b, true),
        c::DENY_REQUEST => decide(seed, ctx, b, false),
        c::REVOKE_AUTHORIZATION => revoke(seed, ctx, b),
        c::GET_AUTHORIZATION => {
            let id = b.str(p::IDENTITY);
            let value: Vec<Value> = seed
                .authorizations
                .iter()
                .filter(|a| !a.revoked && a.end > ctx.now)
                .filter(|a| {
                    id.as_deref().is_none_or(|i| {
                        a.identity.eq_ignore_ascii_case(i) || a.request_id.eq_ignore_ascii_case(i)
                    })
                })
                .map(authorization_json)
                .collect();
            Ok(Output { value, ..Output::default() })
        }
        c::NEW_GROUP => new_group(seed, b),
        c::SET_GROUP => set_group(seed, b),
        c::REMOVE_GROUP => remove_group(seed, b),
        c::GET_GROUP => {
            let items: Vec<Value> = match b.str(p::IDENTITY) {
                Some(id) => vec![group_json(&seed.groups[find_group(seed, &id)?])],
                None => seed.groups.iter().map(group_json).collect(),
            };
            listing(items, b)
        }
        c::GET_GROUP_MEMBER => {
            let g = &seed.groups[find_group(seed, &b.req(p::IDENTITY))?];
            // One pass over the users, not one per member.
            let members: HashSet<&str> = g.members.iter().map(String::as_str).collect();
            let users: HashMap<&str, &SeedUser> = seed
                .users
                .iter()
                .filter(|u| members.contains(u.id.as_str()))
                .map(|u| (u.id.as_str(), u))
                .collect();
            let items = g
                .members
                .iter()
                .filter_map(|id| match users.get(id.as_str()) {
                    Some(u) => Some(user_json(u)),
                    None => seed.groups.iter().find(|g| g.id == *id).map(group_recipient_json),
                })
                .collect();
            listing(items, b)
        }
        c::ADD_GROUP_MEMBER => add_member(seed, b),
        c::REMOVE_GROUP_MEMBER => remove_member(seed, b),
        c::UPDATE_GROUP_MEMBER => update_members(seed, b),
        c::GET_RECIPIENT => {
            let items = match b.str(p::IDENTITY) {
                Some(id) => vec![find_recipient(seed, &id).ok_or_else(|| not_found(&id))?],
                None => seed
                    .users
                    .iter()
                    .filter(|u| recipient_type::is_mail_enabled(u.recipient_type()))
                    .map(user_json)
                    .chain(seed.groups.iter().map(group_recipient_json))
                    .collect(),
            };
            listing(items, b)
        }
        c::GET_USER => {
            let items = match b.str(p::IDENTITY) {
                Some(id) => vec![user_json(find_user(seed, &id).ok_or_else(|| not_found(&id))?)],
                None => seed.users.iter().map(user_json).collect(),
            };
            listing(items, b)
        }
        c::GET_ROLE_ENTRY => role_entries(seed, &b.req(p::IDENTITY)),
        c::GET_ROLE_GROUP => {
            let id = b.str(p::IDENTITY);
            let items: Vec<Value> = seed
                .role_groups
                .iter()
                .filter(|g| id.as_deref().is_none_or(|i| g.name.eq_ignore_ascii_case(i.trim())))
                .map(|g| {
                    let mut v = to_value(&RoleGroup { name: g.name.clone(), roles: g.roles.clone() });
                    insert(&mut v, "Identity", json!(g.name));
                    insert(&mut v, "Members", json!(g.members));
                    v
                })
                .collect();
            if let (Some(i), true) = (&id, items.is_empty()) {
                return Err(not_found(i));
            }
            listing(items, b)
        }
        other => {
            Err(CmdletError::new(class::UNKNOWN_CMDLET, format!("The term '{other}' is not recognized.")))
        }
    }
}

// ---- helpers -------------------------------------------------------------------------

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn insert(v: &mut Value, key: &str, val: Value) {
    if let Value::Object(m) = v {
        m.insert(key.to_string(), val);
    }
}

fn one(v: Value) -> Output {
    Output { value: vec![v], ..Output::default() }
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn not_found(id: &str) -> CmdletError {
    CmdletError::new(
        class::NOT_FOUND,
        format!(
            "The operation couldn't be performed because object '{id}' couldn't be found on '{}'.",
            "emulator"
        ),
    )
}

fn denied(message: impl Into<String>) -> CmdletError {
    CmdletError::new(class::ACCESS_DENIED, message)
}

fn argument(message: impl Into<String>) -> CmdletError {
    CmdletError::new(class::ARGUMENT, message)
}

fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a.is_ascii() && b.is_ascii() {
        // The same answer as comparing `normalize::principal`, without allocating.
        return a.eq_ignore_ascii_case(b);
    }
    normalize::principal(a) == normalize::principal(b)
}

fn find_user<'s>(seed: &'s Seed, id: &str) -> Option<&'s SeedUser> {
    let id = id.trim();
    seed.users
        .iter()
        .find(|u| {
            eq(&u.id, id) || eq(&u.user_principal_name, id) || u.mail.as_deref().is_some_and(|m| eq(m, id))
        })
        .or_else(|| seed.users.iter().find(|u| eq(u.alias(), id) || eq(&u.display(), id)))
}

fn find_group(seed: &Seed, id: &str) -> Res<usize> {
    let key = id.trim();
    seed.groups
        .iter()
        .position(|g| eq(&g.id, key) || eq(&g.guid, key) || eq(&g.primary_smtp_address, key))
        .or_else(|| {
            seed.groups.iter().position(|g| eq(&g.name, key) || eq(&g.alias(), key) || eq(&g.display(), key))
        })
        .ok_or_else(|| not_found(id))
}

fn find_recipient(seed: &Seed, id: &str) -> Option<Value> {
    if let Some(u) = find_user(seed, id).filter(|u| recipient_type::is_mail_enabled(u.recipient_type())) {
        return Some(user_json(u));
    }
    find_group(seed, id).ok().map(|i| group_recipient_json(&seed.groups[i]))
}

/// Resolves a member reference to an object id; refuses non-mail-enabled users.
fn resolve_member(seed: &Seed, id: &str) -> Res<String> {
    if let Some(u) = find_user(seed, id) {
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
    let i = find_group(seed, id).map_err(|_| {
        CmdletError::new(class::NOT_FOUND, format!("Couldn't find object \"{id}\". Please make sure that it was spelled correctly or specify a different object."))
    })?;
    Ok(seed.groups[i].id.clone())
}

fn user_json(u: &SeedUser) -> Value {
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

fn group_recipient_json(g: &SeedGroup) -> Value {
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

fn group_json(g: &SeedGroup) -> Value {
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

/// Applies `Filter` and `ResultSize` to a listing; a cut list carries the warning.
fn listing(items: Vec<Value>, b: &Bound) -> Res<Output> {
    let items = match b.str(p::FILTER) {
        Some(f) => {
            let filter = Filter::parse(&f)?;
            items.into_iter().filter(|v| filter.matches(v)).collect()
        }
        None => items,
    };
    let mut out = Output::default();
    match b.size(p::RESULT_SIZE, wx::MAX_PAGE_SIZE) {
        Some(n) if items.len() > n => {
            out.value = items.into_iter().take(n).collect();
            out.warnings.push(wx::MORE_RESULTS_WARNING.to_string());
        }
        _ => out.value = items,
    }
    Ok(out)
}

// ---- RBAC and PAM ----------------------------------------------------------------------

fn role_has(seed: &Seed, role: &str, cmdlet: &str) -> bool {
    seed.roles.iter().any(|r| {
        r.name.eq_ignore_ascii_case(role) && r.cmdlets.iter().any(|x| x.eq_ignore_ascii_case(cmdlet))
    })
}

fn role_group_has(seed: &Seed, group: &str, cmdlet: &str) -> bool {
    seed.role_groups
        .iter()
        .any(|g| g.name.eq_ignore_ascii_case(group) && g.roles.iter().any(|r| role_has(seed, r, cmdlet)))
}

fn authorize_rbac(seed: &Seed, caller: &Caller, cmdlet: &str) -> Res<()> {
    let (who, groups): (String, Vec<String>) = match caller {
        Caller::App { client_id, .. } => (
            client_id.clone(),
            seed.apps
                .iter()
                .find(|a| eq(&a.client_id, client_id))
                .map(|a| a.role_groups.clone())
                .unwrap_or_default(),
        ),
        Caller::User { upn } => (
            upn.clone(),
            seed.role_groups
                .iter()
                .filter(|g| g.members.iter().any(|m| eq(m, upn)))
                .map(|g| g.name.clone())
                .collect(),
        ),
    };
    if groups.iter().any(|g| role_group_has(seed, g, cmdlet)) {
        Ok(())
    } else {
        Err(denied(format!(
            "The user \"{who}\" isn't assigned to any management roles that allow running '{cmdlet}'. Add it to a role group that contains a role with this cmdlet."
        )))
    }
}

/// Whether a policy target covers a cmdlet: the task itself, a role containing it, or a
/// role group with such a role.
fn covers(seed: &Seed, target: &PolicyTarget, cmdlet: &str) -> bool {
    match target {
        PolicyTarget::Task(t) => t.eq_ignore_ascii_case(cmdlet),
        PolicyTarget::Role(r) => role_has(seed, r, cmdlet),
        PolicyTarget::RoleGroup(g) => role_group_has(seed, g, cmdlet),
    }
}

fn effective(ctx: &Ctx, policy: &SeedPolicy) -> bool {
    policy.created.is_none_or(|t| t + ctx.delay <= ctx.now)
}

fn enforce_pam(seed: &Seed, ctx: &Ctx, cmdlet: &str) -> Res<()> {
    if !seed.pam.enabled {
        return Ok(());
    }
    let me = ctx.caller.principal();
    if seed.pam.system_accounts.iter().any(|s| normalize::principal(s) == me) {
        return Ok(());
    }
    let gating: Vec<&SeedPolicy> = seed
        .policies
        .iter()
        .filter(|pol| {
            effective(ctx, pol) && task::decode(&pol.task).is_some_and(|t| covers(seed, &t, cmdlet))
        })
        .collect();
    let Some(first) = gating.first() else { return Ok(()) };
    let authorized = matches!(ctx.caller, Caller::User { .. })
        && seed.authorizations.iter().any(|a| {
            eq(&a.user, &me)
                && !a.revoked
                && a.start <= ctx.now
                && ctx.now < a.end
                && task::decode(&a.task).is_some_and(|t| covers(seed, &t, cmdlet))
        });
    if authorized {
        return Ok(());
    }
    Err(CmdletError::new(
        class::ELEVATION_REQUIRED,
        format!(
            "The cmdlet '{cmdlet}' requires elevated access: it is covered by the approval policy for '{}'. Request access with New-ElevatedAccessRequest and run it again once the request is approved.",
            first.task
        ),
    ))
}

// ---- organization config and policies -------------------------------------------------

fn org_config(seed: &Seed) -> Value {
    to_value(&OrganizationConfig {
        identity: seed.tenant.domain.clone(),
        elevated_access_control: if seed.pam.enabled { wx::PAM_ENABLED } else { wx::PAM_DISABLED }
            .to_string(),
        elevated_access_approvers: seed.pam.admin_group.clone(),
        elevated_access_system_accounts: seed.pam.system_accounts.clone(),
    })
}

fn enable_pam(seed: &mut Seed, b: &Bound) -> Res<Output> {
    let gi = find_group(seed, &b.req(p::ADMIN_GROUP))?;
    let group = seed.groups[gi].primary_smtp_address.clone();
    let mut accounts = Vec::new();
    for a in b.list(p::SYSTEM_ACCOUNTS).unwrap_or_default() {
        let resolved = if let Some(u) = find_user(seed, &a) {
            u.user_principal_name.clone()
        } else if let Some(app) = seed.apps.iter().find(|x| eq(&x.client_id, &a)) {
            app.client_id.clone()
        } else {
            return Err(not_found(&a));
        };
        if !accounts.iter().any(|x: &String| eq(x, &resolved)) {
            accounts.push(resolved);
        }
    }
    let mut out = Output { wrote: true, ..Output::default() };
    if seed.pam.enabled {
        out.warnings.push(
            "Elevated access control is already enabled; the approver group and system accounts were updated.".into(),
        );
    }
    seed.pam.enabled = true;
    seed.pam.admin_group = Some(group);
    seed.pam.system_accounts = accounts;
    Ok(out)
}

fn policy_json(seed: &Seed, pol: &SeedPolicy) -> Value {
    let policy_type = match task::decode(&pol.task) {
        Some(PolicyTarget::Role(_)) => wx::POLICY_TYPE_ROLE,
        Some(PolicyTarget::RoleGroup(_)) => wx::POLICY_TYPE_ROLE_GROUP,
        _ => wx::POLICY_TYPE_TASK,
    };
    let _ = seed;
    to_value(&ApprovalPolicy {
        identity: pol.identity.clone(),
        task: pol.task.clone(),
        approval_type: pol.approval_type.clone(),
        approver_group: pol.approver_group.clone(),
        policy_type: policy_type.to_string(),
    })
}

fn get_policies(seed: &Seed, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let visible = seed.policies.iter().filter(|x| effective(ctx, x));
    match b.str(p::IDENTITY) {
        Some(id) => {
            let pol = visible
                .into_iter()
                .find(|x| {
                    x.identity.eq_ignore_ascii_case(id.trim()) || x.task.eq_ignore_ascii_case(id.trim())
                })
                .ok_or_else(|| not_found(&id))?;
            Ok(one(policy_json(seed, pol)))
        }
        None => Ok(Output { value: visible.map(|x| policy_json(seed, x)).collect(), ..Output::default() }),
    }
}

fn same_target(a: &str, b: &PolicyTarget) -> bool {
    match (task::decode(a), b) {
        (Some(PolicyTarget::Task(x)), PolicyTarget::Task(y))
        | (Some(PolicyTarget::Role(x)), PolicyTarget::Role(y))
        | (Some(PolicyTarget::RoleGroup(x)), PolicyTarget::RoleGroup(y)) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

fn new_policy(seed: &mut Seed, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let raw = b.req(p::TASK);
    let target = task::decode(&raw).ok_or_else(|| {
        argument(format!("The task '{raw}' isn't valid. Use 'Exchange\\<Cmdlet>', 'Role:<RoleName>' or 'RoleGroup:<GroupName>'."))
    })?;
    let exists = match &target {
        PolicyTarget::Task(t) => {
            seed.roles.iter().any(|r| r.cmdlets.iter().any(|x| x.eq_ignore_ascii_case(t)))
        }
        PolicyTarget::Role(r) => seed.roles.iter().any(|x| x.name.eq_ignore_ascii_case(r)),
        PolicyTarget::RoleGroup(g) => seed.role_groups.iter().any(|x| x.name.eq_ignore_ascii_case(g)),
    };
    if !exists {
        return Err(argument(format!(
            "The task '{raw}' doesn't name a cmdlet, role or role group of this organization."
        )));
    }
    let approval = b.req(p::APPROVAL_TYPE);
    let approval = [wx::APPROVAL_MANUAL, wx::APPROVAL_AUTO]
        .into_iter()
        .find(|a| a.eq_ignore_ascii_case(approval.trim()))
        .ok_or_else(|| {
            argument(format!("The approval type '{approval}' isn't valid. Use 'Manual' or 'Auto'."))
        })?;
    let approver_group = match b.str(p::APPROVER_GROUP) {
        Some(g) => {
            let g = &seed.groups[find_group(seed, &g)?];
            if !g.is_security() {
                return Err(argument(format!(
                    "The approver group '{}' must be a mail-enabled security group.",
                    g.primary_smtp_address
                )));
            }
            g.primary_smtp_address.clone()
        }
        None if approval == wx::APPROVAL_MANUAL => {
            return Err(CmdletError::new(
                class::INVALID_PARAMETER,
                "Cannot process command because of one or more missing mandatory parameters: ApproverGroup.",
            ));
        }
        None => String::new(),
    };
    if seed.policies.iter().any(|x| same_target(&x.task, &target)) {
        return Err(CmdletError::new(
            class::ALREADY_EXISTS,
            format!(
                "An approval policy for '{}' already exists. Remove it before creating a new one.",
                task::encode(&target)
            ),
        ));
    }
    if seed.policies.len() >= wx::MAX_POLICIES {
        return Err(CmdletError::new(
            class::LIMIT_EXCEEDED,
            format!(
                "The organization already has {} approval policies, the maximum. Remove one first.",
                wx::MAX_POLICIES
            ),
        ));
    }
    let pol = SeedPolicy {
        identity: uuid::Uuid::new_v4().to_string(),
        task: task::encode(&target),
        approval_type: approval.to_string(),
        approver_group,
        created: Some(ctx.now),
    };
    let v = policy_json(seed, &pol);
    ctx.journal.record(ctx.now, JournalAction::Created, &pol.task, &pol.identity);
    seed.policies.push(pol);
    Ok(Output { value: vec![v], wrote: true, ..Output::default() })
}

// ---- requests and authorizations ------------------------------------------------------

fn user_of(ctx: &Ctx, cmdlet: &str) -> Res<String> {
    match ctx.caller {
        Caller::User { upn } => Ok(upn.clone()),
        Caller::App { .. } => Err(CmdletError::new(
            class::INVALID_OPERATION,
            format!(
                "'{cmdlet}' needs a signed-in user; app-only callers cannot use it. Sign in with the device code flow."
            ),
        )),
    }
}

fn status_of(r: &SeedRequest, now: DateTime<Utc>) -> &str {
    if r.status == request_status::PENDING
        && now > r.requested + Duration::hours(wx::PENDING_REQUEST_EXPIRY_HOURS)
    {
        request_status::EXPIRED
    } else {
        &r.status
    }
}

fn request_json(r: &SeedRequest, now: DateTime<Utc>) -> Value {
    to_value(&ElevatedAccessRequest {
        identity: r.identity.clone(),
        request_status: Some(status_of(r, now).to_string()),
        requestor: Some(r.requestor.clone()),
        task: Some(r.task.clone()),
        reason: Some(r.reason.clone()),
        duration_hours: Some(r.duration_hours),
        requested_date_time: Some(time(&r.requested)),
        request_type: Some(request_type::ELEVATED_ACCESS.to_string()),
        approver: r.approver.clone(),
        approval_date_time: r.decided.as_ref().map(time),
        comment: r.comment.clone(),
        approver_group: Some(r.approver_group.clone()),
    })
}

fn authorization_json(a: &SeedAuthorization) -> Value {
    to_value(&Authorization {
        identity: a.identity.clone(),
        request_id: Some(a.request_id.clone()),
        user: Some(a.user.clone()),
        task: Some(a.task.clone()),
        start_time_utc: Some(time(&a.start)),
        end_time_utc: Some(time(&a.end)),
        revoked: a.revoked,
        revoked_by: a.revoked_by.clone(),
        revocation_date_time_utc: a.revoked_at.as_ref().map(time),
    })
}

fn new_request(seed: &mut Seed, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let upn = user_of(ctx, c::NEW_REQUEST)?;
    if !seed.pam.enabled {
        return Err(CmdletError::new(
            class::INVALID_OPERATION,
            "Elevated access control isn't enabled for this organization, so there is nothing to request.",
        ));
    }
    let raw = b.req(p::TASK);
    let target = task::decode(&raw)
        .ok_or_else(|| argument(format!("The task '{raw}' isn't valid. Use 'Exchange\\<Cmdlet>'.")))?;
    let pol = seed
        .policies
        .iter()
        .find(|x| effective(ctx, x) && same_target(&x.task, &target))
        .ok_or_else(|| {
            argument(format!(
                "No approval policy exists for '{}'; there is nothing to request.",
                task::encode(&target)
            ))
        })?
        .clone();
    let hours = b.int(p::DURATION_HOURS).unwrap_or(i64::from(wx::DEFAULT_REQUEST_HOURS));
    if !(1..=i64::from(wx::MAX_REQUEST_HOURS)).contains(&hours) {
        return Err(argument(format!(
            "DurationHours must be between 1 and {}, got {hours}.",
            wx::MAX_REQUEST_HOURS
        )));
    }
    let reason = b.req(p::REASON);
    if reason.trim().is_empty() {
        return Err(argument("Reason can't be empty; say why you need access."));
    }
    let mut req = SeedRequest {
        identity: uuid::Uuid::new_v4().to_string(),
        requestor: upn.clone(),
        task: pol.task.clone(),
        reason,
        duration_hours: hours as u32,
        requested: ctx.now,
        status: request_status::PENDING.to_string(),
        approver_group: pol.approver_group.clone(),
        approver: None,
        decided: None,
        comment: None,
    };
    if pol.approval_type == wx::APPROVAL_AUTO {
        req.status = request_status::APPROVED.to_string();
        req.decided = Some(ctx.now);
        req.approver = Some("Auto".into());
        seed.authorizations.push(grant(&req, ctx.now));
    }
    let v = request_json(&req, ctx.now);
    seed.requests.push(req);
    Ok(Output { value: vec![v], wrote: true, ..Output::default() })
}

fn grant(r: &SeedRequest, now: DateTime<Utc>) -> SeedAuthorization {
    SeedAuthorization {
        identity: uuid::Uuid::new_v4().to_string(),
        request_id: r.identity.clone(),
        user: r.requestor.clone(),
        task: r.task.clone(),
        start: now,
        end: now + Duration::hours(i64::from(r.duration_hours)),
        revoked: false,
        revoked_by: None,
        revoked_at: None,
    }
}

fn get_requests(seed: &Seed, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let foreign = seed.foreign_requests.iter().map(|f| {
        to_value(&ElevatedAccessRequest {
            identity: f.identity.clone(),
            request_status: f.request_status.clone(),
            requestor: f.requestor.clone(),
            task: None,
            reason: f.reason.clone(),
            duration_hours: None,
            requested_date_time: f.requested_date_time.clone(),
            request_type: Some(f.request_type.clone()),
            approver: None,
            approval_date_time: None,
            comment: None,
            approver_group: None,
        })
    });
    let all: Vec<Value> = seed.requests.iter().map(|r| request_json(r, ctx.now)).chain(foreign).collect();
    match b.str(p::IDENTITY) {
        Some(id) => {
            let v = all
                .into_iter()
                .find(|v| v["Identity"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id.trim())))
                .ok_or_else(|| not_found(&id))?;
            Ok(one(v))
        }
        None => Ok(Output { value: all, ..Output::default() }),
    }
}

/// Whether a user is a (non-guest) member of the group with this address.
fn approver_member(seed: &Seed, group: &str, upn: &str) -> bool {
    let Some(user) = find_user(seed, upn) else { return false };
    !user.guest
        && seed
            .groups
            .iter()
            .find(|g| eq(&g.primary_smtp_address, group))
            .is_some_and(|g| g.members.contains(&user.id))
}

fn decide(seed: &mut Seed, ctx: &Ctx, b: &Bound, approve: bool) -> Res<Output> {
    let cmd = if approve { c::APPROVE_REQUEST } else { c::DENY_REQUEST };
    let upn = user_of(ctx, cmd)?;
    let id = b.req(p::REQUEST_ID);
    let i = seed
        .requests
        .iter()
        .position(|r| r.identity.eq_ignore_ascii_case(id.trim()))
        .ok_or_else(|| not_found(&id))?;
    let r = &seed.requests[i];
    let status = status_of(r, ctx.now);
    if status != request_status::PENDING {
        return Err(CmdletError::new(
            class::INVALID_OPERATION,
            format!("The request '{}' is {status} and can no longer be approved or denied.", r.identity),
        ));
    }
    if eq(&r.requestor, &upn) {
        return Err(denied(
            "You can't approve or deny your own request. Ask another member of the approver group.",
        ));
    }
    if find_user(seed, &upn).is_some_and(|u| u.guest) {
        return Err(denied("Guest users can't approve or deny elevated access requests."));
    }
    if !approver_member(seed, &r.approver_group, &upn) {
        return Err(denied(format!(
            "Only members of the approver group '{}' can approve or deny this request.",
            r.approver_group
        )));
    }
    let r = &mut seed.requests[i];
    r.status = if approve { request_status::APPROVED } else { request_status::DENIED }.to_string();
    r.approver = Some(upn);
    r.decided = Some(ctx.now);
    r.comment = b.str(p::COMMENT);
    let r = r.clone();
    if approve {
        seed.authorizations.push(grant(&r, ctx.now));
    }
    Ok(Output { value: vec![request_json(&r, ctx.now)], wrote: true, ..Output::default() })
}

fn revoke(seed: &mut Seed, ctx: &Ctx, b: &Bound) -> Res<Output> {
    let upn = user_of(ctx, c::REVOKE_AUTHORIZATION)?;
    let id = b.req(p::REQUEST_ID);
    let i = seed
        .authorizations
        .iter()
        .position(|a| {
            a.request_id.eq_ignore_ascii_case(id.trim()) || a.identity.eq_ignore_ascii_case(id.trim())
        })
        .ok_or_else(|| not_found(&id))?;
    let a = &seed.authorizations[i];
    if a.revoked {
        return Err(CmdletError::new(
            class::INVALID_OPERATION,
            format!("The authorization for request '{id}' is already revoked."),
        ));
    }
    let group = seed.requests.iter().find(|r| r.identity == a.request_id).map(|r| r.approver_group.clone());
    let allowed = eq(&a.user, &upn) || group.is_some_and(|g| approver_member(seed, &g, &upn));
    if !allowed {
        return Err(denied(
            "Only the requestor or a member of the approver group can revoke this authorization.",
        ));
    }
    let a = &mut seed.authorizations[i];
    a.revoked = true;
    a.revoked_by = Some(upn);
    a.revoked_at = Some(ctx.now);
    Ok(Output { value: vec![authorization_json(a)], wrote: true, ..Output::default() })
}

// ---- groups ---------------------------------------------------------------------------

fn address_owner(seed: &Seed, smtp: &str) -> Option<String> {
    seed.users
        .iter()
        .find(|u| eq(&u.user_principal_name, smtp) || u.mail.as_deref().is_some_and(|m| eq(m, smtp)))
        .map(|u| u.user_principal_name.clone())
        .or_else(|| seed.groups.iter().find(|g| eq(&g.primary_smtp_address, smtp)).map(|g| g.name.clone()))
}

fn new_group(seed: &mut Seed, b: &Bound) -> Res<Output> {
    let name = b.req(p::NAME).trim().to_string();
    if name.is_empty() {
        return Err(argument("The Name parameter can't be empty."));
    }
    if seed.groups.iter().any(|g| eq(&g.name, &name)) {
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
    let smtp = b.str(p::PRIMARY_SMTP_ADDRESS).unwrap_or_else(|| format!("{alias}@{}", seed.tenant.domain));
    if !normalize::is_email_like(&smtp) {
        return Err(argument(format!(
            "The email address \"{smtp}\" isn't correct. Please use this format: user name, the @ sign, followed by the domain name."
        )));
    }
    if let Some(owner) = address_owner(seed, &smtp) {
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
    let mut members = std::collections::BTreeSet::new();
    for m in b.list(p::MEMBERS).unwrap_or_default() {
        members.insert(resolve_member(seed, &m)?);
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
    seed.groups.push(g);
    Ok(Output { value: vec![v], wrote: true, ..Output::default() })
}

fn set_group(seed: &mut Seed, b: &Bound) -> Res<Output> {
    let i = find_group(seed, &b.req(p::IDENTITY))?;
    let name = b.str(p::NAME).map(|n| n.trim().to_string());
    if let Some(n) = &name {
        if n.is_empty() {
            return Err(argument("The Name parameter can't be empty."));
        }
        if seed.groups.iter().enumerate().any(|(j, g)| j != i && eq(&g.name, n)) {
            return Err(CmdletError::new(
                class::ALREADY_EXISTS,
                format!("The name \"{n}\" is already being used. Please try another name."),
            ));
        }
    }
    let g = &mut seed.groups[i];
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

fn remove_group(seed: &mut Seed, b: &Bound) -> Res<Output> {
    let i = find_group(seed, &b.req(p::IDENTITY))?;
    let smtp = seed.groups[i].primary_smtp_address.clone();
    let used = seed.policies.iter().filter(|x| eq(&x.approver_group, &smtp)).count();
    if used > 0 || (seed.pam.enabled && seed.pam.admin_group.as_deref().is_some_and(|a| eq(a, &smtp))) {
        return Err(CmdletError::new(
            class::INVALID_OPERATION,
            format!(
                "The group '{smtp}' is an approver group of elevated access control ({used} policies). Remove or change those policies first."
            ),
        ));
    }
    let g = seed.groups.remove(i);
    for other in &mut seed.groups {
        other.members.remove(&g.id);
    }
    Ok(Output { wrote: true, ..Output::default() })
}

fn add_member(seed: &mut Seed, b: &Bound) -> Res<Output> {
    let i = find_group(seed, &b.req(p::IDENTITY))?;
    let member = b.req(p::MEMBER);
    let id = resolve_member(seed, &member)?;
    let g = &mut seed.groups[i];
    if !g.members.insert(id) {
        return Err(CmdletError::new(
            class::MEMBER_ALREADY_EXISTS,
            format!("The recipient \"{member}\" is already a member of the group \"{}\".", g.name),
        ));
    }
    Ok(Output { wrote: true, ..Output::default() })
}

fn remove_member(seed: &mut Seed, b: &Bound) -> Res<Output> {
    let i = find_group(seed, &b.req(p::IDENTITY))?;
    let member = b.req(p::MEMBER);
    let id = match find_user(seed, &member) {
        Some(u) => u.id.clone(),
        None => seed.groups[find_group(seed, &member)?].id.clone(),
    };
    let g = &mut seed.groups[i];
    if !g.members.remove(&id) {
        return Err(CmdletError::new(
            class::MEMBER_NOT_FOUND,
            format!("The recipient \"{member}\" isn't a member of the group \"{}\".", g.name),
        ));
    }
    Ok(Output { wrote: true, ..Output::default() })
}

fn update_members(seed: &mut Seed, b: &Bound) -> Res<Output> {
    let i = find_group(seed, &b.req(p::IDENTITY))?;
    let mut members = std::collections::BTreeSet::new();
    for m in b.list(p::MEMBERS).unwrap_or_default() {
        members.insert(resolve_member(seed, &m)?);
    }
    let g = &mut seed.groups[i];
    let changed = g.members != members;
    g.members = members;
    Ok(Output { wrote: changed, ..Output::default() })
}

// ---- roles ----------------------------------------------------------------------------

fn role_entries(seed: &Seed, identity: &str) -> Res<Output> {
    let (role_pat, cmd_pat) = identity.split_once('\\').unwrap_or((identity, "*"));
    let mut value = Vec::new();
    for r in seed.roles.iter().filter(|r| wildcard(role_pat.trim(), &r.name)) {
        for cmd in r.cmdlets.iter().filter(|x| wildcard(cmd_pat.trim(), x)) {
            let mut v = to_value(&RoleEntry { name: cmd.clone(), role: r.name.clone() });
            insert(&mut v, "Identity", json!(format!("{}\\{cmd}", r.name)));
            value.push(v);
        }
    }
    if value.is_empty() && !identity.contains('*') {
        return Err(not_found(identity));
    }
    Ok(Output { value, ..Output::default() })
}

/// Case-insensitive match with `*` wildcards.
fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The OPATH subset the emulator understands: `Prop -eq|-ne|-like|-notlike 'value'`,
/// joined by `-and` and `-or` (`-and` binds tighter).
struct Filter {
    /// Alternatives (`-or`), each a list of clauses that must all hold (`-and`).
    any: Vec<Vec<(String, String, String)>>,
}

impl Filter {
    fn parse(text: &str) -> Res<Filter> {
        let bad = || {
            CmdletError::new(
                class::INVALID_PARAMETER,
                format!(
                    "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"Invalid filter syntax '{text}'. The emulator understands Property -eq|-ne|-like|-notlike 'value' joined by -and or -or.\""
                ),
            )
        };
        let t = text.trim().trim_start_matches('{').trim_end_matches('}').trim();
        let tokens = tokenize(t).ok_or_else(bad)?;
        let mut any = Vec::new();
        let mut clauses = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            if i > 0 {
                if tokens[i].eq_ignore_ascii_case("-or") {
                    any.push(std::mem::take(&mut clauses));
                } else if !tokens[i].eq_ignore_ascii_case("-and") {
                    return Err(bad());
                }
                i += 1;
            }
            let (Some(prop), Some(op), Some(val)) = (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
            else {
                return Err(bad());
            };
            let op = op.to_lowercase();
            if !matches!(op.as_str(), "-eq" | "-ne" | "-like" | "-notlike") {
                return Err(bad());
            }
            clauses.push((prop.clone(), op, val.clone()));
            i += 3;
        }
        if clauses.is_empty() {
            return Err(bad());
        }
        any.push(clauses);
        Ok(Filter { any })
    }

    fn matches(&self, v: &Value) -> bool {
        self.any.iter().any(|clauses| Self::all_hold(clauses, v))
    }

    fn all_hold(clauses: &[(String, String, String)], v: &Value) -> bool {
        clauses.iter().all(|(prop, op, want)| {
            let got = v
                .as_object()
                .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(prop)).map(|(_, x)| x.clone()))
                .map(|x| match x {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .unwrap_or_default();
            match op.as_str() {
                "-eq" => got.eq_ignore_ascii_case(want),
                "-ne" => !got.eq_ignore_ascii_case(want),
                "-like" => wildcard(want, &got),
                _ => !wildcard(want, &got),
            }
        })
    }
}

fn tokenize(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&ch) = chars.peek() {
        if ch.is_whitespace() {
            chars.next();
        } else if ch == '\'' || ch == '"' {
            chars.next();
            let mut tok = String::new();
            loop {
                match chars.next()? {
                    q if q == ch => {
                        if chars.peek() == Some(&ch) {
                            chars.next();
                            tok.push(ch);
                        } else {
                            break;
                        }
                    }
                    other => tok.push(other),
                }
            }
            out.push(tok);
        } else {
            let mut tok = String::new();
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() {
                    break;
                }
                tok.push(x);
                chars.next();
            }
            out.push(tok);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_filters() {
        assert!(wildcard("pam-*", "PAM-approvers"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("a*c", "abd"));
        let f = Filter::parse("PrimarySmtpAddress -eq 'x@y.com' -and Name -like 'pam*'").unwrap();
        assert!(f.matches(&json!({"PrimarySmtpAddress": "X@y.com", "Name": "pam-a"})));
        let or = Filter::parse("Name -eq 'a' -or Alias -eq 'b' -and Name -eq 'c'").unwrap();
        assert!(or.matches(&json!({"Name": "A", "Alias": "x"})));
        assert!(or.matches(&json!({"Name": "c", "Alias": "B"})));
        assert!(!or.matches(&json!({"Name": "d", "Alias": "b"})));
        assert!(Filter::parse("Name -eq 'a' -or").is_err());
        assert!(!f.matches(&json!({"PrimarySmtpAddress": "x@y.com", "Name": "other"})));
        assert!(Filter::parse("Name -foo 'x'").is_err());
        assert!(Filter::parse("Name -eq 'unterminated").is_err());
    }
}
