//! `pamform fleet plan | apply | drift`: the directory's configuration on every tenant of its
//! fleet file, many tenants at once, one combined report; `pamform fleet report merge`:
//! the reports of `--shard I/N` runs as one. Exit 1 if any tenant failed, else 2 if any
//! differed (drift, or changes with `--detailed-exitcode`), else 0.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::drift::Ignore;
use crate::fleet::report::{self, FleetReport, Operation, Scope, Selection, Status, TenantReport};
use crate::fleet::run::{self, Inputs};
use crate::fleet::{self, Fleet, FleetTenant, Shard};
use crate::plan::saved::SavedPlan;
use crate::tenant::{ClientOptions, RetryPolicy};
use crate::views::fleet as fleet_view;
use crate::views::plan::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Plan every tenant of the fleet; print the combined report
    Plan(PlanArgs),
    /// Check every tenant for drift from its last apply; exit 2 on drift
    Drift(DriftArgs),
    /// Apply to every tenant after one confirmation, or apply saved per-tenant plans
    Apply(ApplyArgs),
    /// Combine reports
    Report(ReportArgs),
    /// Remove a lock left behind on one tenant's state by a crashed run
    ForceUnlock(super::fleet_force_unlock::Args),
}

/// What every fleet run takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The fleet file (default: fleet.hcl in the configuration directory)
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
    /// Only this tenant (repeatable; with --tag, tenants named or tagged)
    #[arg(long = "tenant", value_name = "NAME")]
    pub tenants: Vec<String>,
    /// Only tenants with this tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Take shard I of N: tenants split by a hash of their name
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// What --shard's I counts from: 1, or 0 for a Kubernetes Job's JOB_COMPLETION_INDEX
    #[arg(long, value_name = "0|1", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=1))]
    pub shard_base: u32,
    /// Tenants worked on at once
    #[arg(long, default_value_t = 8, value_parser = crate::cli::args::parallelism)]
    pub parallelism: usize,
    /// Also write the JSON report to FILE (for `fleet report merge`)
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Give up on a tenant's failing or throttled request after this long (e.g. 30s, 2m)
    #[arg(long, value_name = "DURATION", env = "PAMFORM_RETRY_BUDGET", value_parser = crate::cli::args::duration)]
    pub retry_budget: Option<Duration>,
    /// Print the report as JSON (schemas/fleet-report.schema.json; same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,
    /// Save each tenant's plan as DIR/NAME.plan for `pamform fleet apply --plans DIR`
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Exit 2 when any tenant has changes
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub common: Common,
    /// Read everything, ignoring the tenants' delta caches
    #[arg(long)]
    pub no_cache: bool,
    /// Leave ADDR, or one attribute of it (ADDR.ATTR), out of every tenant's check (repeatable)
    #[arg(long, value_name = "ADDR[.ATTR]", value_parser = parse_ignore)]
    pub ignore: Vec<Ignore>,
    /// Leave an unmanaged object out of every tenant's check: a policy's id, or an approver
    /// group's id or address (repeatable)
    #[arg(long, value_name = "ID")]
    pub ignore_unmanaged: Vec<String>,
}

fn parse_ignore(s: &str) -> Result<Ignore, String> {
    s.parse()
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: Common,
    /// Apply the plans `fleet plan --out DIR` saved, exactly (a stale one is refused)
    #[arg(long, value_name = "DIR")]
    pub plans: Option<PathBuf>,
    /// Apply without asking for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Operations at once within one tenant
    #[arg(long, default_value_t = 4, value_parser = crate::cli::args::parallelism)]
    pub operations: usize,
    /// Wait this long for a tenant's state lock (e.g. 30s) instead of failing it at once
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// How long to wait for new objects to become visible in a tenant's reads
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "2m")]
    pub visibility_timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportSub,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportSub {
    /// Merge the JSON reports of `--shard I/N` runs into one report
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard reports written with --report
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Also write the merged JSON report to FILE
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print the report as JSON (same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    match args.command {
        Sub::Plan(a) => plan(a, ctx),
        Sub::Drift(a) => drift(a, ctx),
        Sub::Apply(a) => apply(a, ctx),
        Sub::Report(ReportArgs { command: ReportSub::Merge(a) }) => merge(a, ctx),
        Sub::ForceUnlock(a) => super::fleet_force_unlock::run(a, ctx),
    }
}

impl Common {
    fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }

    fn shard(&self) -> Result<Option<Shard>, CliError> {
        self.shard
            .as_deref()
            .map(|s| Shard::parse(s, self.shard_base))
            .transpose()
            .map_err(|e| CliError::msg(ErrorKind::Usage, format!("--shard {e}")))
    }

    fn selection(&self) -> Selection {
        Selection { tenants: self.tenants.clone(), tags: self.tags.clone() }
    }
}

/// The fleet, what the run covers, the tenants this run takes, and what every tenant's run
/// shares.
fn setup(ctx: &Context, common: &Common) -> Result<(Fleet, Scope, Vec<FleetTenant>, Inputs), CliError> {
    let shard = common.shard()?;
    let path = common.fleet.clone().unwrap_or_else(|| ctx.dir.join(fleet::file::FLEET_FILE));
    let fleet = fleet::file::read(&path).map_err(|e| CliError::msg(ErrorKind::Config, e))?;
    let selection = common.selection();
    let selected = run::select(&fleet, &selection, None).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
    let vars = common.vars.inputs();
    let scope = Scope {
        configuration_digest: fleet::digest::configuration(&ctx.dir, &vars, &path)
            .map_err(|e| CliError::msg(ErrorKind::Config, e))?,
        selection,
        selected_tenants: selected.len(),
        shard,
        ignore: Vec::new(),
        ignore_unmanaged: Vec::new(),
    };
    let tenants = selected.into_iter().filter(|t| shard.is_none_or(|s| s.contains(&t.name))).collect();
    let mut client = ClientOptions::default();
    if let Some(budget) = common.retry_budget {
        client.retry = RetryPolicy { max_elapsed: budget, ..RetryPolicy::default() };
    }
    let (storage, stored) = storage(ctx)?;
    let inputs = Inputs {
        storage,
        stored,
        fleet_names: Arc::new(fleet.tenants.iter().map(|t| t.name.clone()).collect()),
        unlisted: Arc::default(),
        dir: ctx.dir.clone(),
        vars,
        client,
        no_cache: false,
        ignore: Vec::new(),
        ignore_unmanaged: Vec::new(),
        operations: 4,
        visibility_timeout: Duration::from_secs(120),
        lock_timeout: Duration::ZERO,
        interrupt: Arc::new(crate::apply::Interrupt::default()),
        signed_in: Arc::default(),
    };
    warn_unlisted(ctx, &inputs, &path);
    Ok((fleet, scope, tenants, inputs))
}

/// States kept under names the fleet file does not list (a tenant removed from it, or
/// renamed): nothing plans or checks their objects any more, which is said, not left silent.
/// A store that cannot be listed (a SAS token without List) is passed over: the run itself
/// does not depend on it.
fn warn_unlisted(ctx: &Context, inputs: &Inputs, fleet_file: &Path) {
    let names = match (inputs.stored)() {
        Ok(names) => names,
        Err(e) => {
            ctx.printer.debug(format_args!("cannot list the fleet's states: {e}"));
            return;
        }
    };
    for name in names.iter().filter(|n| !inputs.fleet_names.contains(*n)) {
        ctx.printer.note(format!(
            "warning: a state is kept for `{name}`, which {} does not list: its objects are no longer planned or checked; list the tenant again, or remove `{}/{name}` if it is gone",
            fleet_file.display(),
            run::TENANTS_DIR
        ));
    }
}

/// Where each tenant's state is: `tenants/NAME/` locally, or with a `backend "azurerm"` block
/// one blob per tenant, `tenants/NAME/KEY` in its container; and the names that hold one.
pub(super) fn storage(ctx: &Context) -> Result<(run::OpenStorage, run::ListStates), CliError> {
    let backend = match crate::config::backend::read(&ctx.dir) {
        Ok(b) => b,
        Err(e) => {
            crate::cli::load::render_diagnostics(ctx, &e.diagnostics, &e.sources);
            return Err(CliError::reported(ErrorKind::Config));
        }
    };
    let Some(backend) = backend else {
        return Ok((run::local_storage(&ctx.dir), run::local_states(&ctx.dir)));
    };
    if backend.use_azuread_auth {
        return Err(CliError::msg(
            ErrorKind::Config,
            "a fleet keeps each tenant's state in the backend's container, signed with ARM_ACCESS_KEY or ARM_SAS_TOKEN; use_azuread_auth signs in to one tenant and is not used by fleets",
        ));
    }
    // Checked once here, so that a missing storage credential is one clear error.
    let container = crate::cli::backend::remote(&backend, None)?;
    let key = backend.key.clone();
    let stored: run::ListStates = Arc::new(move || {
        let prefix = format!("{}/", run::TENANTS_DIR);
        let suffix = format!("/{key}");
        let names = container.list_names(&prefix).map_err(|e| e.to_string())?;
        Ok(names
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix)?.strip_suffix(&suffix))
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .map(str::to_string)
            .collect())
    });
    let open: run::OpenStorage = Arc::new(move |t: &FleetTenant| {
        let mut own = backend.clone();
        own.key = format!("{}/{}/{}", run::TENANTS_DIR, t.name, backend.key);
        crate::cli::backend::remote(&own, None)
            .map(|b| Box::new(b) as Box<dyn crate::state::Storage>)
            .map_err(|e| e.report.to_string())
    });
    Ok((open, stored))
}

/// Prints the report (and writes `--report`), and decides the exit.
fn finish(
    ctx: &Context,
    report: &FleetReport,
    format: Format,
    report_file: Option<&Path>,
    differences_exit: bool,
) -> Result<Outcome, CliError> {
    let internal = |e: &dyn std::fmt::Display| {
        CliError::msg(ErrorKind::Internal, format!("cannot write the report: {e}"))
    };
    // The report is shown even when its file cannot be written: after an apply it is the one
    // account of what was done to each tenant.
    let written = match report_file {
        Some(path) => {
            let json = fleet_view::report(report, Format::Json).map_err(|e| internal(&e))?;
            crate::files::write_atomic(path, json.as_bytes()).map_err(|e| {
                CliError::msg(ErrorKind::Usage, format!("cannot write the report {}: {e}", path.display()))
            })
        }
        None => Ok(()),
    };
    let text = fleet_view::report(report, format).map_err(|e| internal(&e))?;
    if format == Format::Text {
        ctx.printer.write_text(&text);
    } else {
        ctx.printer.write_out(text.as_bytes());
    }
    written?;
    if report.failed() {
        return Err(CliError::reported(ErrorKind::Tenant));
    }
    Ok(if differences_exit && report.differs() { Outcome::Differences } else { Outcome::Success })
}

fn drift(args: DriftArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let (fleet, mut scope, tenants, mut inputs) = setup(ctx, &args.common)?;
    inputs.no_cache = args.no_cache;
    inputs.ignore = args.ignore.clone();
    inputs.ignore_unmanaged = args.ignore_unmanaged.clone();
    scope.ignore = args.ignore.iter().map(ignore_text).collect();
    scope.ignore_unmanaged = args.ignore_unmanaged.clone();
    let rt = pipeline::runtime()?;
    let printer = ctx.printer.clone();
    let checked = rt.block_on(run::run_all(
        Arc::new(inputs),
        tenants,
        args.common.parallelism,
        run::drift_tenant,
        |t, e| (run::error_line(t, e), run::IgnoresUsed::default()),
        &|(t, _): &(TenantReport, run::IgnoresUsed)| fleet_view::progress(&printer, t),
    ));
    let (lines, used): (Vec<TenantReport>, Vec<run::IgnoresUsed>) = checked.into_iter().unzip();
    // Once for the run, as `pamform drift` says it for its one tenant: a value that names
    // nothing in any tenant checked is most likely mistyped.
    let unused = |known: &dyn Fn(&run::IgnoresUsed) -> Option<&Vec<bool>>, i: usize| {
        let known: Vec<&Vec<bool>> = used.iter().filter_map(known).collect();
        !known.is_empty() && !known.iter().any(|v| v.get(i).copied().unwrap_or(false))
    };
    for (i, ignore) in args.ignore.iter().enumerate() {
        if unused(&|u| u.ignore.as_ref(), i) {
            ctx.printer.note(format!(
                "warning: --ignore {} names no resource of the configuration in any tenant; check the address",
                ignore_text(ignore)
            ));
        }
    }
    for (i, name) in args.ignore_unmanaged.iter().enumerate() {
        if unused(&|u| u.unmanaged.as_ref(), i) {
            ctx.printer.note(format!(
                "warning: --ignore-unmanaged {name} names no unmanaged object in any tenant; check the id"
            ));
        }
    }
    let report = FleetReport::new(Operation::Drift, &fleet, &scope, lines);
    finish(ctx, &report, args.common.format(), args.common.report.as_deref(), true)
}

/// Plans every selected tenant; the lines and the plans that could be made.
fn plan_all(
    ctx: &Context,
    rt: &tokio::runtime::Runtime,
    inputs: Arc<Inputs>,
    tenants: Vec<FleetTenant>,
    parallelism: usize,
) -> Vec<(TenantReport, Option<SavedPlan>)> {
    let printer = ctx.printer.clone();
    rt.block_on(run::run_all(
        inputs,
        tenants,
        parallelism,
        run::plan_tenant,
        |t, e| (run::error_line(t, e), None),
        &|(t, _): &(TenantReport, Option<SavedPlan>)| fleet_view::progress(&printer, t),
    ))
}

/// Where `fleet plan --out DIR` saves a tenant's plan.
fn plan_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.plan"))
}

fn plan(args: PlanArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let (fleet, scope, tenants, inputs) = setup(ctx, &args.common)?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).map_err(|e| {
            CliError::msg(
                ErrorKind::Usage,
                format!("cannot create the plan directory {}: {e}", out.display()),
            )
        })?;
    }
    let rt = pipeline::runtime()?;
    let planned = plan_all(ctx, &rt, Arc::new(inputs), tenants, args.common.parallelism);
    let mut lines = Vec::with_capacity(planned.len());
    for (mut line, saved) in planned {
        if let Some(out) = &args.out {
            let path = plan_path(out, &line.name);
            let written = match saved {
                Some(saved) => saved.write(&path).map_err(|e| e.to_string()),
                // No plan now: an earlier run's file must not be applied in its place.
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(format!("cannot remove the earlier plan {}: {e}", path.display()))
                    }
                    _ => Ok(()),
                },
            };
            if let Err(e) = written {
                let error = match line.error {
                    Some(first) => format!("{first}; {e}"),
                    None => e,
                };
                line = TenantReport { status: Status::Error, error: Some(error), ..line };
            }
        }
        lines.push(line);
    }
    let report = FleetReport::new(Operation::Plan, &fleet, &scope, lines);
    let outcome =
        finish(ctx, &report, args.common.format(), args.common.report.as_deref(), args.detailed_exitcode);
    if let Some(out) = &args.out {
        ctx.printer.note(format!(
            "\nSaved each tenant's plan in {0}\n\nTo perform exactly these actions, run:\n    pamform fleet apply --plans {0}",
            out.display()
        ));
    }
    outcome
}

fn apply(args: ApplyArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let (fleet, scope, tenants, mut inputs) = setup(ctx, &args.common)?;
    inputs.operations = args.operations;
    inputs.lock_timeout = args.lock_timeout;
    inputs.visibility_timeout = args.visibility_timeout;
    let inputs = Arc::new(inputs);
    let parallelism = args.common.parallelism;
    let rt = pipeline::runtime()?;
    let printer = ctx.printer.clone();
    let progress = move |t: &TenantReport| fleet_view::progress(&printer, t);

    // What to apply to each tenant: nothing (a plan failed or found nothing), a plan made
    // now and confirmed, a saved plan, or (with --auto-approve) whatever its plan is.
    let mut settled: Vec<TenantReport> = Vec::new();
    let work: Vec<(FleetTenant, Option<SavedPlan>)> = match (&args.plans, args.auto_approve) {
        (Some(dir), _) => {
            let mut work = Vec::new();
            for t in tenants {
                match SavedPlan::read(&plan_path(dir, &t.name)) {
                    Ok(saved) => work.push((t, Some(saved))),
                    Err(e) => settled.push(run::error_line(&t, format!("no usable saved plan: {e}"))),
                }
            }
            work
        }
        (None, true) => tenants.into_iter().map(|t| (t, None)).collect(),
        (None, false) => {
            let planned = plan_all(ctx, &rt, inputs.clone(), tenants.clone(), parallelism);
            let lines: Vec<TenantReport> = planned.iter().map(|(l, _)| l.clone()).collect();
            let combined = FleetReport::new(Operation::Plan, &fleet, &scope, lines);
            ctx.printer.write_text(&fleet_view::text(&combined));
            let mut work = Vec::new();
            for (t, (line, saved)) in tenants.into_iter().zip(planned) {
                match (line.status, saved) {
                    (Status::Changes, Some(saved)) => work.push((t, Some(saved))),
                    _ => settled.push(line),
                }
            }
            if !work.is_empty() {
                confirm(ctx, work.len())?;
            }
            work
        }
    };
    let (tenants, saved): (Vec<FleetTenant>, Vec<Option<SavedPlan>>) = work.into_iter().unzip();
    let plans: Arc<std::collections::HashMap<String, SavedPlan>> =
        Arc::new(tenants.iter().zip(saved).filter_map(|(t, s)| s.map(|s| (t.name.clone(), s))).collect());
    let interrupt = inputs.interrupt.clone();
    let applied = rt.block_on(async {
        // As `pamform apply`: the first Ctrl-C (or SIGTERM) lets the operations in flight
        // finish and be recorded, starts nothing more and releases every lock.
        let signals = super::apply::watch_signals(ctx.printer.clone(), interrupt);
        let applied = run::run_all(
            inputs,
            tenants,
            parallelism,
            move |inputs, t| {
                let saved = plans.get(&t.name).cloned();
                run::apply_tenant(inputs, t, saved)
            },
            run::error_line,
            &progress,
        )
        .await;
        signals.abort();
        applied
    });
    settled.extend(applied);
    let report = FleetReport::new(Operation::Apply, &fleet, &scope, settled);
    finish(ctx, &report, args.common.format(), args.common.report.as_deref(), false)
}

/// An `--ignore` value as it is written: `ADDR` or `ADDR.ATTR`.
fn ignore_text(i: &Ignore) -> String {
    match &i.attribute {
        Some(a) => format!("{}.{a}", i.address),
        None => i.address.to_string(),
    }
}

/// Asks once for "yes"; refuses to ask without a terminal.
fn confirm(ctx: &Context, tenants: usize) -> Result<(), CliError> {
    if !ctx.printer.stdin_is_terminal() {
        return Err(CliError::msg(
            ErrorKind::Usage,
            "fleet apply needs confirmation but there is no terminal to ask on; review with `pamform fleet plan --out DIR` and run `pamform fleet apply --plans DIR`, or pass --auto-approve",
        ));
    }
    fleet_view::ask(&ctx.printer, tenants);
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
    if line.trim() != "yes" {
        return Err(CliError::msg(ErrorKind::Usage, "fleet apply cancelled: nothing was changed"));
    }
    Ok(())
}

fn merge(args: MergeArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let mut reports = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::msg(ErrorKind::Usage, format!("cannot read the report {name}: {e}")))?;
        let r = report::parse(&name, &text).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
        reports.push((name, r));
    }
    let merged = report::merge(reports).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
    let format = if args.json { Format::Json } else { args.format };
    let differences_exit = merged.operation == Operation::Drift;
    finish(ctx, &merged, format, args.report.as_deref(), differences_exit)
}
