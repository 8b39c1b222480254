//! The steps plan, apply and drift share: configuration, state, a signed-in tenant client,
//! the refresh, the plan-time checks and the diff. Each step turns library errors into
//! diagnostics for the user.

use std::collections::BTreeSet;

use crate::cli::connect::{self, Connection};
use crate::cli::load::{VarArgs, load_configuration, render_diagnostics};
use crate::cli::{CliError, Context, ErrorKind};
use crate::config::Loaded;
use crate::diagnostic::Diagnostics;
use crate::model::{Address, Configuration, TenantSnapshot};
use crate::plan::{self, Plan, PlanOptions};
use crate::state::{State, StateLock, StateStore, Storage};
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

/// Loads the state of `-C DIR` (the local file, or the configuration's backend), validated
/// whole. With `tenant` (the configuration's tenant id), a state recorded for another tenant
/// is refused.
pub fn load_state(
    ctx: &Context,
    tenant: Option<&str>,
) -> Result<(Box<dyn Storage>, Option<State>), CliError> {
    let store = crate::cli::backend::storage(ctx)?;
    let state = read_state(store.as_ref(), tenant)?;
    Ok((store, state))
}

/// Reads the state from `store` (after taking its lock, for commands that write).
pub fn read_state(store: &dyn Storage, tenant: Option<&str>) -> Result<Option<State>, CliError> {
    match tenant {
        Some(t) => store.load_for(t),
        None => store.load(),
    }
    .map_err(|e| CliError::msg(ErrorKind::State, e))
}

/// A state storage and its lock, held until dropped.
pub type LockedStorage = (Box<dyn Storage>, Box<dyn StateLock>);

/// The state storage of `-C DIR` with its lock taken for `command`.
pub fn locked_storage(
    ctx: &Context,
    command: &str,
    timeout: std::time::Duration,
) -> Result<LockedStorage, CliError> {
    let store = crate::cli::backend::storage(ctx)?;
    let lock = store.lock(command, timeout).map_err(|e| CliError::msg(ErrorKind::Lock, e))?;
    Ok((store, lock))
}

/// The state being read on a thread of its own, so that its parsing and checksum overlap the
/// configuration's load (both take a good share of a large directory's time). Only local
/// state is read ahead: a backend is known once its block is read, and a remote read waits
/// for it.
pub struct StateRead {
    local: Option<(std::path::PathBuf, StateThread)>,
}

type StateThread = std::thread::JoinHandle<Result<Option<State>, crate::state::StateError>>;

/// Starts reading the state of `-C DIR`; [`StateRead::finish`] returns it as [`load_state`]
/// would have.
pub fn start_state_read(ctx: &Context) -> StateRead {
    if crate::config::backend::mentioned(&ctx.dir) {
        return StateRead { local: None };
    }
    let store = StateStore::new(&ctx.dir);
    let path = store.path().to_path_buf();
    StateRead { local: Some((path, std::thread::spawn(move || store.load()))) }
}

impl StateRead {
    /// The state, validated whole; with `tenant`, a state recorded for another tenant is
    /// refused.
    pub fn finish(
        self,
        ctx: &Context,
        tenant: Option<&str>,
    ) -> Result<(Box<dyn Storage>, Option<State>), CliError> {
        let Some((path, read)) = self.local else {
            return load_state(ctx, tenant);
        };
        let state = read.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let state = match (state, tenant) {
            (Ok(Some(s)), Some(t)) => s.check_tenant(&path, t).map(|()| Some(s)),
            (other, _) => other,
        }
        .map_err(|e| CliError::msg(ErrorKind::State, e))?;
        Ok((Box::new(StateStore::at(path)), state))
    }
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

/// Everything a plan for `config` and `state` needs to read (decided by the plan).
pub fn refresh_request(config: &Configuration, state: Option<&State>) -> RefreshRequest {
    plan::reads(config, state)
}

pub async fn refresh(
    ctx: &Context,
    conn: &Connection,
    req: &RefreshRequest,
) -> Result<TenantSnapshot, CliError> {
    connect::refresh(&ctx.printer, &conn.client, req, None).await.map_err(tenant_error)
}

/// The sign-in and the reads that need only the tenant (the PAM setting, the policies, the
/// catalog), started while the configuration loads: on a large configuration, loading it
/// takes as long as a round of Exchange reads, which would otherwise wait for it.
///
/// Nothing of it shows: it prints nothing (so it is not started at `-v`, whose request log
/// would come before the configuration's diagnostics), and what it found is used only once
/// the configuration has loaded, the state has been read and the configuration's tenant
/// block turns out to be the one it guessed ([`crate::config::early`]). Otherwise it is
/// dropped, its reads stopped, and the command goes on as without it: a configuration or
/// state error is reported the same, and a failed early read is read again by the refresh.
/// It is never started for an embedded emulator, which must not be started for a
/// configuration that does not load.
///
/// Its reads run on a client and a runtime of their own, on one thread, kept until it is
/// dropped; the command's client takes over its tokens and what it read, but not its
/// connections. So the command's runtime is made after the load, as without it, and its
/// threads (which read and decode every answer) take over the memory the load's threads
/// freed.
pub struct EarlyRefresh {
    tenant: crate::model::Tenant,
    started: Option<tenant::Prefetch>,
    // Dropped last, after the reads it serves are stopped.
    _runtime: EarlyRuntime,
}

impl EarlyRefresh {
    /// Starts it when the configuration's tenant can be guessed.
    pub fn start(ctx: &Context) -> Option<EarlyRefresh> {
        if ctx.printer.is_verbose() {
            return None;
        }
        let guess = crate::config::early::guess_tenant(&ctx.dir)?;
        let client = tenant::connect(&guess.tenant, tenant::ConnectOptions::default()).ok()?;
        let runtime = EarlyRuntime::start()?;
        let prefetch = client.prefetch(&runtime.handle, guess.policies);
        Some(EarlyRefresh { tenant: guess.tenant, started: Some(prefetch), _runtime: runtime })
    }
}

/// A one-thread runtime on a thread of its own, running until dropped.
struct EarlyRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl EarlyRuntime {
    fn start() -> Option<EarlyRuntime> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("early-refresh".to_string())
            .spawn(move || {
                let _ = rt.block_on(stopped);
                // Not waiting for what is still open (a name lookup): the command is done.
                rt.shutdown_background();
            })
            .ok()?;
        Some(EarlyRuntime { handle, stop: Some(stop) })
    }
}

impl Drop for EarlyRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// [`connect()`]; with what `early` read, for [`refresh_prefetched`], when it was started for
/// the configuration's tenant block. The connection then shares the early client's
/// concurrency limits: its reads and the early reads still in flight are the tenant's, and
/// together stay within what one client sends. Started for another tenant block, the early
/// reads are stopped here.
pub async fn connect_early(
    ctx: &Context,
    config: &Configuration,
    early: Option<&mut EarlyRefresh>,
) -> Result<(Connection, Option<tenant::Prefetch>), CliError> {
    let tenant = config.tenant.as_ref().expect("checked by configuration()");
    let prefetch = early.and_then(|e| {
        let started = e.started.take();
        started.filter(|_| crate::config::early::same_tenant(&e.tenant, tenant))
    });
    let mut opts = tenant::ConnectOptions::default();
    opts.client.shared_limits = prefetch.as_ref().map(tenant::Prefetch::concurrency_limits);
    let conn = connect::connect(&ctx.printer, tenant, opts).await?;
    Ok((conn, prefetch))
}

/// [`refresh`], taking over what `prefetch` read.
pub async fn refresh_prefetched(
    ctx: &Context,
    conn: &Connection,
    req: &RefreshRequest,
    prefetch: Option<tenant::Prefetch>,
) -> Result<TenantSnapshot, CliError> {
    connect::refresh(&ctx.printer, &conn.client, req, prefetch).await.map_err(tenant_error)
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
            diagnostics.extend(errors);
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
            crate::views::diagnostics::plan_rejected(&ctx.printer, diagnostics.error_count());
            Err(CliError::reported(ErrorKind::Config))
        }
    }
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
