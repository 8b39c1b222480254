//! One tenant's plan, drift check or apply with the shared configuration, and the driver that
//! runs the selected tenants at most `parallelism` at once. A tenant's failure is its report
//! line, never the others' end. Each tenant has its own client, so the client's per-API
//! concurrency, retries and `Retry-After` handling hold per tenant, as Microsoft throttles
//! per tenant. Nothing here prints: results are [`TenantReport`]s and saved plans.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::file::{Fleet, FleetTenant};
use super::report::{ChangeCounts, DriftCounts, Selection, Status, TenantReport};
use super::shard::Shard;
use crate::apply::{self, executor::TenantExecutor};
use crate::config::{self, Loaded, VarInputs};
use crate::drift::{self, Severity, cache};
use crate::model::TenantSnapshot;
use crate::plan::saved::{SavedPlan, configuration_hash, plan_differences, refusal};
use crate::plan::{self, Plan, PlanMode, PlanOptions};
use crate::state::lock::{self, LockError};
use crate::state::{State, StateStore, Storage};
use crate::tenant::{self, Client, ClientOptions, ConnectOptions, Credential};

/// The folder under the configuration directory that holds every tenant's state.
pub const TENANTS_DIR: &str = "tenants";

/// A tenant's state directory: state file, lock and drift cache.
pub fn state_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(TENANTS_DIR).join(name)
}

/// Opens a tenant's state storage: its local state directory, or its own blob.
pub type OpenStorage = Arc<dyn Fn(&FleetTenant) -> Result<Box<dyn Storage>, String> + Send + Sync>;

/// Lists the names that hold a state under `tenants/` (a state directory, or a blob
/// `tenants/NAME/KEY`), whether or not the fleet file still lists them.
pub type ListStates = Arc<dyn Fn() -> Result<Vec<String>, String> + Send + Sync>;

/// Each tenant's state in its local directory `tenants/NAME/` under `dir`.
pub fn local_storage(dir: &Path) -> OpenStorage {
    let dir = dir.to_path_buf();
    Arc::new(move |t: &FleetTenant| {
        Ok(Box::new(StateStore::new(&state_dir(&dir, &t.name))) as Box<dyn Storage>)
    })
}

/// The command that removes lock `id` from tenant `name`'s state (the per-tenant state of
/// [`local_storage`] or its blob), as a refusal names it: `pamform force-unlock ID` in the
/// configuration directory would act on the directory's own state, not the tenant's.
pub fn force_unlock_command(name: &str, id: &str) -> String {
    format!("pamform fleet force-unlock {name} {id}")
}

/// Tenant `name`'s lock refusal, naming [`force_unlock_command`] in place of the
/// single-tenant command.
pub fn lock_refused(name: &str, e: &LockError) -> String {
    let text = e.to_string();
    match e.holder() {
        Some(info) => {
            text.replace(&lock::force_unlock_command(&info.id), &force_unlock_command(name, &info.id))
        }
        None => text,
    }
}

/// The directories `tenants/NAME/` under `dir` that hold a state file.
pub fn local_states(dir: &Path) -> ListStates {
    let tenants = dir.join(TENANTS_DIR);
    Arc::new(move || {
        let entries = match std::fs::read_dir(&tenants) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot list {}: {e}", tenants.display())),
        };
        let mut names = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().join(crate::state::STATE_FILE).is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    })
}

/// What every tenant's run shares.
#[derive(Clone)]
pub struct Inputs {
    /// Where each tenant's state is kept.
    pub storage: OpenStorage,
    /// The names holding a state under `tenants/`, and the fleet file's names: a tenant
    /// without a state whose state is kept under a name the fleet no longer lists (renamed in
    /// the fleet file) is refused, not planned afresh beside its orphaned state.
    pub stored: ListStates,
    pub fleet_names: Arc<std::collections::BTreeSet<String>>,
    /// [`ListStates`]' states of names not in the fleet file, read once for the run.
    pub unlisted: Arc<std::sync::OnceLock<Result<Vec<Unlisted>, String>>>,
    /// The configuration directory (and the fleet's state under `tenants/`).
    pub dir: PathBuf,
    /// Variable inputs of the command; each tenant's `vars` come after them and win.
    pub vars: VarInputs,
    pub client: ClientOptions,
    /// Drift: read everything, ignoring the delta cache.
    pub no_cache: bool,
    /// Drift: `--ignore` and `--ignore-unmanaged`, as `pamform drift` takes them, in every
    /// tenant.
    pub ignore: Vec<drift::Ignore>,
    pub ignore_unmanaged: Vec<String>,
    /// Apply: operations at once within one tenant.
    pub operations: usize,
    pub visibility_timeout: Duration,
    pub lock_timeout: Duration,
    /// Apply: set by Ctrl-C (SIGINT) or SIGTERM. Tenants not started yet are not started;
    /// those applying start no new operation and record what they finished.
    pub interrupt: Arc<apply::Interrupt>,
    /// The tenant GUID each tenant of this run signed in to (its token's `tid`) and the
    /// fleet tenant that holds it: two names of one tenant (its domain and its GUID) are
    /// refused, or their states would fight over its objects.
    pub signed_in: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

/// The `tid` claim of an access token (a JWT), read without checking it.
fn token_tid(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(claims.get("tid")?.as_str()?.trim().to_ascii_lowercase())
}

/// Signs `t` in and records the tenant it reached in `reached` (for its report line);
/// refused when another tenant of the fleet already reached the same one (before anything is
/// read or written).
async fn claim(
    inputs: &Inputs,
    t: &FleetTenant,
    client: &Client,
    reached: &mut Option<String>,
) -> Result<(), String> {
    let token = client.token(tenant::Resource::Exchange).await.map_err(|e| e.to_string())?;
    let Some(tid) = token_tid(token.expose()) else { return Ok(()) };
    let mut seen = inputs.signed_in.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match seen.get(&tid) {
        Some(other) if *other != t.name => Err(format!(
            "`{}` ({}) is the same tenant ({tid}) as `{other}` of the fleet: list each tenant once, or their states fight over its objects",
            t.name, t.id
        )),
        _ => {
            seen.insert(tid.clone(), t.name.clone());
            *reached = Some(tid);
            Ok(())
        }
    }
}

/// The tenants of `fleet` a run takes: those `--tenant` names and those with a `--tag`
/// (all without either), then those of the shard.
pub fn select(
    fleet: &Fleet,
    selection: &Selection,
    shard: Option<Shard>,
) -> Result<Vec<FleetTenant>, String> {
    for name in &selection.tenants {
        fleet.tenant(name).map_err(|e| format!("--tenant {name}: {e}"))?;
    }
    for tag in &selection.tags {
        if !fleet.tenants.iter().any(|t| t.tags.iter().any(|x| x.eq_ignore_ascii_case(tag))) {
            return Err(format!("--tag {tag}: no tenant of {} has this tag", fleet.path.display()));
        }
    }
    Ok(fleet
        .tenants
        .iter()
        .filter(|t| {
            selection.is_all()
                || selection.tenants.iter().any(|n| n.eq_ignore_ascii_case(&t.name))
                || selection.tags.iter().any(|g| t.tags.iter().any(|x| x.eq_ignore_ascii_case(g)))
        })
        .filter(|t| shard.is_none_or(|s| s.contains(&t.name)))
        .cloned()
        .collect())
}

/// Runs `work` for every tenant, at most `parallelism` at once, calling `done` as each
/// finishes; the results come back in the tenants' order. A run that panics is that tenant's
/// error.
pub async fn run_all<T, F, Fut>(
    inputs: Arc<Inputs>,
    tenants: Vec<FleetTenant>,
    parallelism: usize,
    work: F,
    failed: impl Fn(&FleetTenant, String) -> T,
    done: &(dyn Fn(&T) + Sync),
) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<Inputs>, FleetTenant) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let started = tenants.clone().into_iter().enumerate().map(|(i, t)| {
        let job = tokio::spawn(work(inputs.clone(), t));
        async move { (i, job.await) }
    });
    let mut results: Vec<Option<T>> = (0..tenants.len()).map(|_| None).collect();
    let mut stream = futures_util::stream::iter(started).buffer_unordered(parallelism.max(1));
    while let Some((i, joined)) = stream.next().await {
        let result = joined.unwrap_or_else(|e| failed(&tenants[i], format!("internal error: {e}")));
        done(&result);
        results[i] = Some(result);
    }
    results.into_iter().flatten().collect()
}

/// A report line for `tenant` with `status` and nothing else yet.
pub fn line(tenant: &FleetTenant, status: Status) -> TenantReport {
    TenantReport {
        name: tenant.name.clone(),
        id: tenant.id.clone(),
        display_name: tenant.display_name.clone(),
        tags: tenant.tags.clone(),
        status,
        changes: None,
        drift: None,
        error: None,
        signed_in_tenant_id: None,
    }
}

/// The error line of a tenant.
pub fn error_line(tenant: &FleetTenant, message: impl Into<String>) -> TenantReport {
    TenantReport { error: Some(message.into()), ..line(tenant, Status::Error) }
}

/// A tenant's configuration and state, loaded.
struct Prepared {
    loaded: Loaded,
    /// The tenant's local directory: its drift cache (and its state, when local).
    dir: PathBuf,
    store: Box<dyn Storage>,
    state: Option<State>,
}

/// Loads the shared configuration with the tenant's values and its id, and its state.
fn prepare(inputs: &Inputs, t: &FleetTenant) -> Result<Prepared, String> {
    prepare_in(inputs, t, (inputs.storage)(t)?)
}

/// [`prepare`] with the tenant's state in `store`: the store that holds its lock, when the
/// run takes one (a blob's lease is known only to the store that took it, so another store
/// of the same blob cannot write it).
fn prepare_in(inputs: &Inputs, t: &FleetTenant, store: Box<dyn Storage>) -> Result<Prepared, String> {
    let mut vars = inputs.vars.clone();
    vars.cli.extend(t.vars.iter().cloned());
    let mut loaded = match config::load(&inputs.dir, &vars) {
        Ok(l) => l,
        Err(e) => {
            let errors: Vec<_> = e.diagnostics.iter().filter(|d| d.is_error()).collect();
            let first = errors.first().map(|d| d.message.clone()).unwrap_or_default();
            return Err(format!(
                "the configuration has {} error{} with this tenant's values: {first} (check with `pamform fleet plan --tenant {}`, or `pamform validate` with its vars)",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                t.name
            ));
        }
    };
    let Some(block) = loaded.configuration.tenant.as_mut() else {
        return Err("the configuration has no tenant block; add one (its id is each tenant's)".into());
    };
    if block.emulator.is_some() {
        return Err(
            "the tenant block names an embedded emulator (`emulator`), which is one tenant; a fleet connects to served tenants: use login_url, exchange_url and graph_url"
                .into(),
        );
    }
    block.id.value = t.id.clone();
    let dir = state_dir(&inputs.dir, &t.name);
    let state = store.load_for(&t.id).map_err(|e| e.to_string())?;
    if state.is_none() {
        kept_elsewhere(inputs, t, store.as_ref())?;
    }
    Ok(Prepared { loaded, dir, store, state })
}

/// A state kept under a name the fleet file does not list: its name, its tenant id and where
/// it is.
#[derive(Debug, Clone)]
pub struct Unlisted {
    name: String,
    tenant: String,
    store: String,
}

/// The states kept under names the fleet file does not list, read once for the run.
fn unlisted(inputs: &Inputs, t: &FleetTenant) -> Result<Vec<Unlisted>, String> {
    inputs
        .unlisted
        .get_or_init(|| {
            let mut found = Vec::new();
            for name in (inputs.stored)()?.into_iter().filter(|n| !inputs.fleet_names.contains(n)) {
                let store = (inputs.storage)(&FleetTenant { name: name.clone(), ..t.clone() })?;
                // A state that cannot be read is its own name's problem, not this tenant's.
                if let Ok(Some(state)) = store.load() {
                    found.push(Unlisted { name, tenant: state.tenant, store: store.name() });
                }
            }
            Ok(found)
        })
        .clone()
}

/// Refuses a tenant that has no state under its name while a name the fleet file no longer
/// lists (its old name, or the same in another case) holds a state of the same tenant id: a
/// run from no state would adopt its objects afresh and leave the state that manages them
/// behind, silently.
fn kept_elsewhere(inputs: &Inputs, t: &FleetTenant, store: &dyn Storage) -> Result<(), String> {
    let found = unlisted(inputs, t)?;
    if let Some(old) = found.iter().find(|u| u.tenant.trim().eq_ignore_ascii_case(t.id.trim())) {
        return Err(format!(
            "this tenant ({}) has no state under the name `{}` ({}), but its state is kept under `{}` ({}), a name the fleet file no longer lists: was the tenant renamed? Move that state to {} (or give the tenant its old name back) and run again; nothing was written, so that its objects are not adopted afresh beside the state that manages them",
            t.id,
            t.name,
            store.name(),
            old.name,
            old.store,
            store.name()
        ));
    }
    Ok(())
}

/// A signed-in client for the tenant, with its credentials.
fn connect(inputs: &Inputs, t: &FleetTenant, p: &Prepared) -> Result<Client, String> {
    let credential = match &t.credentials {
        // Its messages name the usual variables: say the ones this tenant's block names.
        Some(c) => Credential::from_vars(|name| c.get(name)).map_err(|e| {
            let mut names: Vec<_> = c.names.iter().collect();
            // The longer first: PAMFORM_CLIENT_CERTIFICATE_KEY before PAMFORM_CLIENT_CERTIFICATE.
            names.sort_by_key(|(usual, _)| std::cmp::Reverse(usual.len()));
            names.into_iter().fold(e.to_string(), |m, (usual, own)| m.replace(usual, own))
                + " (the environment variables named by the tenant's credentials block)"
        }),
        None => Credential::from_env().map_err(|e| e.to_string()),
    }?;
    let credential = credential.ok_or_else(|| match &t.credentials {
        Some(c) => format!(
            "no credentials: the environment variable {} named by the tenant's credentials block is not set",
            c.names.get(crate::env::CLIENT_ID).map(String::as_str).unwrap_or("")
        ),
        None => "no credentials: set PAMFORM_CLIENT_ID and one of PAMFORM_CLIENT_SECRET, PAMFORM_CLIENT_CERTIFICATE or PAMFORM_FEDERATED_TOKEN_FILE, or give the tenant a credentials block".to_string(),
    })?;
    let block = p.loaded.configuration.tenant.as_ref().ok_or("the configuration has no tenant block")?;
    let opts = ConnectOptions { client: inputs.client.clone(), credential: Some(credential) };
    tenant::connect(block, opts).map_err(|e| e.to_string())
}

/// The plan of the normal mode, with the plan-time checks; their errors are the tenant's.
fn make_plan(p: &Prepared, snapshot: &TenantSnapshot, options: &PlanOptions) -> Result<Plan, String> {
    let config = &p.loaded.configuration;
    let mut planned = plan::build(config, snapshot, p.state.as_ref(), options).map_err(|errors| {
        let first = errors.iter().find(|d| d.is_error()).map(|d| d.message.clone()).unwrap_or_default();
        format!("the plan was refused: {first}")
    })?;
    plan::checks::order_after_exemption(config, snapshot, &mut planned);
    if options.mode == PlanMode::Normal {
        let checks = plan::checks::check(config, snapshot, p.state.as_ref(), &planned);
        if let Some(d) = checks.iter().find(|d| d.is_error()) {
            return Err(format!("the plan was refused: {}", d.message));
        }
    }
    Ok(planned)
}

fn counts(plan: &Plan) -> ChangeCounts {
    let s = plan.summary();
    ChangeCounts { add: s.add, change: s.change, destroy: s.destroy, import: s.import, moved: s.moved }
}

/// `fleet plan` for one tenant: its line, and the plan to save when it could be made.
pub async fn plan_tenant(inputs: Arc<Inputs>, t: FleetTenant) -> (TenantReport, Option<SavedPlan>) {
    let mut reached = None;
    let (line, saved) = match plan_inner(&inputs, &t, &mut reached).await {
        Ok((plan, saved)) => {
            let c = counts(&plan);
            let status = if plan.has_changes() { Status::Changes } else { Status::InSync };
            (TenantReport { changes: Some(c), ..line(&t, status) }, Some(saved))
        }
        Err(e) => (error_line(&t, e), None),
    };
    (TenantReport { signed_in_tenant_id: reached, ..line }, saved)
}

async fn plan_inner(
    inputs: &Inputs,
    t: &FleetTenant,
    reached: &mut Option<String>,
) -> Result<(Plan, SavedPlan), String> {
    let p = prepare(inputs, t)?;
    let client = connect(inputs, t, &p)?;
    claim(inputs, t, &client, reached).await?;
    let config = &p.loaded.configuration;
    let snapshot = client.refresh(&plan::reads(config, p.state.as_ref())).await.map_err(|e| e.to_string())?;
    let planned = make_plan(&p, &snapshot, &PlanOptions::default())?;
    let hash = configuration_hash(p.loaded.sources(), &config::variable_pairs(config));
    let mut saved = SavedPlan::new(planned.clone(), &t.id, hash, p.state.as_ref(), &snapshot);
    saved.sensitive = config.sensitive.clone();
    Ok((planned, saved))
}

/// Which of a run's `--ignore` and `--ignore-unmanaged` values (by position) named
/// something in one tenant; `None` when the tenant failed before that could be known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoresUsed {
    /// `--ignore`: a resource of the tenant's configuration or state.
    pub ignore: Option<Vec<bool>>,
    /// `--ignore-unmanaged`: an unmanaged object of the tenant.
    pub unmanaged: Option<Vec<bool>>,
}

/// `fleet drift` for one tenant, as `pamform drift` checks it (delta cache in its state
/// directory), and which of the ignores named something in it.
pub async fn drift_tenant(inputs: Arc<Inputs>, t: FleetTenant) -> (TenantReport, IgnoresUsed) {
    let mut reached = None;
    let mut used = IgnoresUsed::default();
    let line = drift_inner(&inputs, &t, &mut reached, &mut used).await.unwrap_or_else(|e| error_line(&t, e));
    (TenantReport { signed_in_tenant_id: reached, ..line }, used)
}

async fn drift_inner(
    inputs: &Inputs,
    t: &FleetTenant,
    reached: &mut Option<String>,
    used: &mut IgnoresUsed,
) -> Result<TenantReport, String> {
    let p = prepare(inputs, t)?;
    let in_state = |i: &drift::Ignore| {
        p.state.as_ref().is_some_and(|s| s.resources.iter().any(|r| i.address.selects(&r.address)))
    };
    used.ignore = Some(
        inputs
            .ignore
            .iter()
            .map(|i| p.loaded.configuration.addresses().any(|a| i.address.selects(a)) || in_state(i))
            .collect(),
    );
    let Some(state) = &p.state else {
        return Err(format!(
            "no state in {}: nothing has been applied to this tenant yet; run `pamform fleet apply --tenant {}` first",
            p.store.name(),
            t.name
        ));
    };
    let client = connect(inputs, t, &p)?;
    claim(inputs, t, &client, reached).await?;
    let config = &p.loaded.configuration;
    let request = plan::reads(config, Some(state));
    let cached = if inputs.no_cache {
        Err(cache::Unusable::Missing)
    } else {
        cache::load(&p.dir, client.tenant(), &client.endpoints().graph)
    };
    let read = drift::refresh::read(&client, &request, cached, &|_| {}).await.map_err(|e| e.to_string())?;
    if let Some(fresh) = &read.cache {
        // A cache that cannot be written only makes the next check read everything.
        let _ = std::fs::create_dir_all(&p.dir).and_then(|()| cache::save(&p.dir, fresh));
    }
    let snapshot = &read.snapshot;
    let (planned, pending) = match plan::build(config, snapshot, Some(state), &PlanOptions::default()) {
        Ok(normal) => {
            let pending = normal.changes.iter().filter(|c| c.is_actionable()).count();
            (normal, pending)
        }
        Err(_) => {
            let refresh_only = PlanOptions { mode: PlanMode::RefreshOnly, targets: vec![] };
            (make_plan(&p, snapshot, &refresh_only)?, 0)
        }
    };
    let ignore_changes = |a: &crate::model::Address| -> Vec<String> {
        config
            .meta(a)
            .map(|m| m.lifecycle.ignore_changes.iter().map(|s| s.value.clone()).collect())
            .unwrap_or_default()
    };
    if !inputs.ignore_unmanaged.is_empty() {
        let all = drift::unmanaged(state, snapshot);
        used.unmanaged = Some(
            inputs.ignore_unmanaged.iter().map(|n| all.iter().any(|u| u.named_by(n, snapshot))).collect(),
        );
    } else {
        used.unmanaged = Some(Vec::new());
    }
    let report = drift::report(
        &planned.drift,
        state,
        snapshot,
        &inputs.ignore,
        &inputs.ignore_unmanaged,
        &ignore_changes,
        chrono::Utc::now(),
    );
    let s = &report.summary;
    let highest = Severity::ALL.into_iter().find(|sev| s.get(*sev) > 0);
    let counts = DriftCounts {
        differences: report.differences.len(),
        unmanaged: report.unmanaged.len(),
        highest_severity: highest,
        critical: s.critical,
        high: s.high,
        medium: s.medium,
        info: s.info,
        pending_changes: pending,
    };
    let status = if report.in_sync { Status::InSync } else { Status::Drift };
    Ok(TenantReport { drift: Some(counts), ..line(t, status) })
}

/// `fleet apply` for one tenant: plan and apply, or apply `saved` exactly (refused when
/// anything moved since it was made), holding the tenant's state lock throughout.
pub async fn apply_tenant(inputs: Arc<Inputs>, t: FleetTenant, saved: Option<SavedPlan>) -> TenantReport {
    let mut reached = None;
    let line = apply_inner(&inputs, &t, saved, &mut reached).await.unwrap_or_else(|e| error_line(&t, e));
    TenantReport { signed_in_tenant_id: reached, ..line }
}

async fn apply_inner(
    inputs: &Inputs,
    t: &FleetTenant,
    saved: Option<SavedPlan>,
    reached: &mut Option<String>,
) -> Result<TenantReport, String> {
    if inputs.interrupt.is_set() {
        return Err("not applied: the fleet apply was interrupted before this tenant started".into());
    }
    let store = (inputs.storage)(t)?;
    // Before the lock, which leaves a lock file or a placeholder blob behind: a renamed tenant
    // writes nothing.
    if store.load().map_err(|e| e.to_string())?.is_none() {
        kept_elsewhere(inputs, t, store.as_ref())?;
    }
    let dir = state_dir(&inputs.dir, &t.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _lock =
        store.lock("pamform fleet apply", inputs.lock_timeout).map_err(|e| lock_refused(&t.name, &e))?;
    let p = prepare_in(inputs, t, store)?;
    let client = connect(inputs, t, &p)?;
    claim(inputs, t, &client, reached).await?;
    let config = &p.loaded.configuration;
    let snapshot = client.refresh(&plan::reads(config, p.state.as_ref())).await.map_err(|e| e.to_string())?;
    let planned = match saved {
        Some(saved) => {
            if !saved.tenant.eq_ignore_ascii_case(&t.id) {
                return Err(format!("the saved plan is for tenant {}, not {}", saved.tenant, t.id));
            }
            let hash = configuration_hash(p.loaded.sources(), &config::variable_pairs(config));
            let stale: Vec<String> =
                saved.staleness(&hash, p.state.as_ref(), &snapshot).iter().map(ToString::to_string).collect();
            if !stale.is_empty() {
                return Err(refusal("the saved plan no longer matches what it was made against", &stale));
            }
            let options = PlanOptions { mode: saved.plan.mode, targets: saved.plan.targets.clone() };
            let fresh = make_plan(&p, &snapshot, &options)?;
            let differences = plan_differences(&saved.plan, &fresh);
            if !differences.is_empty() {
                return Err(refusal("the saved plan differs from the plan made now", &differences));
            }
            fresh
        }
        None => make_plan(&p, &snapshot, &PlanOptions::default())?,
    };
    if !planned.has_changes() {
        if let Some(mut state) = p.state
            && apply::record_refresh(&planned, &mut state) > 0
        {
            p.store.save(&mut state).map_err(|e| e.to_string())?;
        }
        return Ok(TenantReport { changes: Some(ChangeCounts::default()), ..line(t, Status::InSync) });
    }
    let mut state = p.state.unwrap_or_else(|| State::new(t.id.clone()));
    let executor = TenantExecutor::new(&client, inputs.visibility_timeout);
    let options = apply::Options {
        concurrency: inputs.operations,
        live_policies: Some(snapshot.policies.len()),
        ..apply::Options::default()
    };
    let report =
        apply::run(&planned, &executor, &mut state, p.store.as_ref(), &options, &inputs.interrupt, &|_| {})
            .await
            .map_err(|e| e.to_string())?;
    let c = counts(&planned);
    if report.is_success() {
        return Ok(TenantReport { changes: Some(c), ..line(t, Status::Applied) });
    }
    let first = report.failed.first().map(|(a, m)| format!("; first: {a}: {m}")).unwrap_or_default();
    Ok(TenantReport {
        changes: Some(c),
        error: Some(format!(
            "apply unfinished: {} failed, {} skipped, {} done{first}",
            report.failed.len(),
            report.skipped.len(),
            report.succeeded.len()
        )),
        ..line(t, Status::Error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::lock::LockInfo;

    #[test]
    fn a_tenant_lock_refusal_names_the_fleet_command_for_that_tenant() {
        let holder = |id: &str| LockInfo {
            id: id.into(),
            pid: 7,
            host: "runner".into(),
            command: "pamform fleet apply".into(),
            created: "2026-11-30T10:00:00Z".into(),
            who: String::new(),
        };
        let local = LockError::Held(Box::new(holder("lock-1")));
        let remote = LockError::HeldRemote {
            name: "azurerm:acct/state/tenants/t2/k".into(),
            info: Box::new(holder("lease-7")),
            lease_seconds: 60,
        };
        for (e, id) in [(&local, "lock-1"), (&remote, "lease-7")] {
            assert!(e.to_string().contains(&lock::force_unlock_command(id)), "{e}");
            let m = lock_refused("t2", e);
            assert!(m.contains(&format!("`pamform fleet force-unlock t2 {id}`")), "{m}");
            assert!(!m.contains("`pamform force-unlock"), "{m}");
        }
        // A refusal without a holder names no command to change.
        assert_eq!(lock_refused("t2", &LockError::HeldUnknown), LockError::HeldUnknown.to_string());
    }
}
