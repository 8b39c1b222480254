//! The steps plan, apply and drift share: configuration, state, a signed-in tenant client,
//! the refresh, the plan-time checks and the diff. Each step turns library errors into
//! diagnostics for the user.

use std::collections::BTreeSet;
use std::io::Write;

use crate::cli::connect::{self, Connection};
use crate::cli::load::{VarArgs, load_configuration, render_diagnostics};
use crate::cli::{CliError, Context, ErrorKind};
use crate::config::{Diagnostic, Diagnostics, Loaded};
use crate::model::{Address, Configuration, GroupRef, PolicyTarget, TenantSnapshot, normalize};
use crate::plan::attributes::Attrs;
use crate::plan::{self, Plan, PlanOptions};
use crate::state::{State, StateStore};
use crate::tenant::{self, RefreshRequest};

/// A tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::msg(ErrorKind::Internal, format!("cannot start the async runtime: {e}")))
}

pub fn tenant_error(e: tenant::TenantError) -> CliError {
    CliError::new(ErrorKind::Tenant, miette::Report::msg(e.to_string()))
}

/// Loads the configuration; it must have a tenant block.
pub fn configuration(ctx: &Context, vars: &VarArgs) -> Result<Loaded, CliError> {
    let loaded = load_configuration(ctx, vars)?;
    if loaded.configuration.tenant.is_none() {
        return Err(CliError::msg(
            ErrorKind::Config,
            "the configuration has no tenant block; add one naming the tenant id",
        ));
    }
    Ok(loaded)
}

/// Loads the state of `-C DIR`, validated whole. With `tenant` (the configuration's tenant
/// id), a state recorded for another tenant is refused.
pub fn load_state(ctx: &Context, tenant: Option<&str>) -> Result<(StateStore, Option<State>), CliError> {
    let store = StateStore::new(&ctx.dir);
    let state = match tenant {
        Some(t) => store.load_for(t),
        None => store.load(),
    }
    .map_err(|e| CliError::msg(ErrorKind::State, e))?;
    Ok((store, state))
}

/// The tenant id of a configuration's tenant block (empty without one).
pub fn tenant_id(config: &Configuration) -> &str {
    config.tenant.as_ref().map_or("", |t| t.id.value.as_str())
}

/// Connects to the configuration's tenant (starting its embedded emulator, if it names one).
pub async fn connect(ctx: &Context, config: &Configuration) -> Result<Connection, CliError> {
    let tenant = config.tenant.as_ref().expect("checked by configuration()");
    connect::connect(&ctx.printer, tenant, tenant::ConnectOptions::default()).await
}

/// Everything a plan for `config` and `state` needs to read.
pub fn refresh_request(config: &Configuration, state: Option<&State>) -> RefreshRequest {
    let mut req = RefreshRequest::default();
    for g in config.groups.values() {
        req.groups.insert(normalize::principal(&g.email.value));
        req.principals.extend(g.members.iter().map(|m| normalize::principal(&m.value)));
        // Exchange keeps `Name` and alias unique: whoever holds them blocks a new group.
        req.recipient_names.insert(g.name.value.trim().to_string());
        req.recipient_names.insert(g.effective_alias().trim().to_string());
    }
    // Tasks, roles and role groups are checked against what the tenant has.
    req.catalog = !config.policies.is_empty();
    let mut group_ref = |r: &GroupRef| {
        if let Some(email) = config.group_email(r) {
            req.groups.insert(normalize::principal(&email));
        }
    };
    for p in config.policies.values() {
        group_ref(&p.approver_group.value);
    }
    if let Some(p) = &config.privileged_access {
        if let Some(g) = &p.default_approver_group {
            group_ref(&g.value);
        }
        req.principals.extend(p.system_accounts.iter().map(|s| normalize::principal(&s.value)));
    }
    for p in config.policies.values() {
        match &p.target.value {
            PolicyTarget::Role(r) => {
                req.roles.insert(r.clone());
            }
            PolicyTarget::RoleGroup(g) => {
                req.role_groups.insert(g.clone());
            }
            PolicyTarget::Task(_) => {}
        }
    }
    if let Some(state) = state {
        for r in &state.resources {
            if let Some(Attrs::Group(g)) = Attrs::from_value(r.address.kind, &r.attributes) {
                req.groups.insert(g.email);
            }
        }
    }
    // System accounts may be application ids, which the directory lookup does not know.
    req.principals.retain(|p| normalize::is_email_like(p));
    req
}

pub async fn refresh(
    ctx: &Context,
    conn: &Connection,
    req: &RefreshRequest,
) -> Result<TenantSnapshot, CliError> {
    connect::refresh(&ctx.printer, &conn.client, req).await.map_err(tenant_error)
}

/// Diffs, runs the plan-time checks and prints their diagnostics; errors end the command.
pub fn plan(
    ctx: &Context,
    loaded: &Loaded,
    snapshot: &TenantSnapshot,
    state: Option<&State>,
    options: &PlanOptions,
) -> Result<Plan, CliError> {
    let config = &loaded.configuration;
    let mut diagnostics = Diagnostics::new();
    let plan = match plan::build(config, snapshot, state, options) {
        Ok(mut p) => {
            plan::checks::order_after_exemption(config, snapshot, &mut p);
            Some(p)
        }
        Err(errors) => {
            for e in errors {
                let mut d = Diagnostic::error(e.code, e.message);
                if let Some(span) = e.span {
                    d = d.with_label(span, "here");
                }
                if let Some(h) = e.help {
                    d = d.with_help(h);
                }
                diagnostics.push(d);
            }
            None
        }
    };
    if let Some(p) = &plan
        && options.mode == plan::PlanMode::Normal
    {
        diagnostics.extend(plan::checks::check(config, snapshot, state, p));
    }
    render_diagnostics(ctx, &diagnostics, loaded.sources());
    match plan {
        Some(p) if !diagnostics.has_errors() => Ok(p),
        _ => {
            let n = diagnostics.error_count();
            let _ = writeln!(
                ctx.printer.err(),
                "the plan was rejected: {n} error{}",
                if n == 1 { "" } else { "s" }
            );
            Err(CliError::reported(ErrorKind::Config))
        }
    }
}

/// A path the user gave, relative to the configuration directory (`-C`), as Terraform's
/// `-chdir` treats every relative path.
pub fn in_dir(ctx: &Context, path: &std::path::Path) -> std::path::PathBuf {
    ctx.dir.join(path)
}

/// Parses `--target` values.
pub fn parse_address(s: &str) -> Result<Address, String> {
    s.parse::<Address>().map_err(|e| e.to_string())
}

/// Addresses that `--target` names but neither configuration nor state knows.
pub fn unknown_targets(targets: &[Address], config: &Configuration, state: Option<&State>) -> Vec<Address> {
    let known: BTreeSet<&Address> = config
        .addresses()
        .chain(state.into_iter().flat_map(|s| s.resources.iter().map(|r| &r.address)))
        .collect();
    targets.iter().filter(|t| !known.iter().any(|k| t.selects(k))).cloned().collect()
}

/// Each declared variable's value as evaluation used it, as (name, JSON) pairs, for the
/// configuration hash of a saved plan: `--var`, `PAMFORM_VAR_*`, `*.pamvars.hcl` and defaults
/// are read once, by the evaluation.
pub fn variable_pairs(config: &Configuration) -> Vec<(String, String)> {
    config.variables.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
}
