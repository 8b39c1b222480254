//! `pamform apply`: plan and apply after an interactive "yes", or apply a saved plan exactly,
//! refusing it when anything moved since it was made. Holds the state lock throughout.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::apply;
use crate::apply::executor::TenantExecutor;
use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::model::Address;
use crate::plan::saved::{SavedPlan, configuration_hash, plan_differences, refusal};
use crate::plan::{Plan, PlanMode, PlanOptions};
use crate::state::State;
use crate::views::Printer;
use crate::views::apply as apply_view;
use crate::views::plan::text as plan_text;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `pamform plan --out` (relative to where you run pamform); applied exactly, or refused if stale
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Apply without asking for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Limit the apply to ADDR and what it depends on (repeatable)
    #[arg(long, value_name = "ADDR", value_parser = pipeline::parse_address)]
    pub target: Vec<Address>,
    /// Destroy everything in state
    #[arg(long)]
    pub destroy: bool,
    /// Record the tenant's current values in state; change nothing in the tenant
    #[arg(long, conflicts_with = "destroy")]
    pub refresh_only: bool,
    /// Wait this long for the state lock (e.g. 30s, 2m) instead of failing at once
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// Operations to run at once (the client also limits requests per API)
    #[arg(long, default_value_t = 4, value_parser = crate::cli::args::parallelism)]
    pub parallelism: usize,
    /// How long to wait for new objects to become visible in the tenant's reads
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "2m")]
    pub visibility_timeout: Duration,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    if args.plan_file.is_some() && (!args.target.is_empty() || args.destroy || args.refresh_only) {
        return Err(CliError::msg(
            ErrorKind::Usage,
            "a saved plan is applied as it is: --target, --destroy and --refresh-only belong to `pamform plan`",
        ));
    }
    let saved = match &args.plan_file {
        Some(p) => Some(SavedPlan::read(p).map_err(|e| CliError::msg(ErrorKind::StalePlan, e))?),
        None => None,
    };
    let (store, _lock) = pipeline::locked_storage(ctx, "pamform apply", args.lock_timeout)?;
    let loaded = pipeline::configuration(ctx, &args.vars)?;
    let state = pipeline::read_state(store.as_ref(), Some(pipeline::tenant_id(&loaded.configuration)))?;
    let config = &loaded.configuration;
    let tenant_id = config.tenant.as_ref().map(|t| t.id.value.clone()).unwrap_or_default();
    if let Some(t) = pipeline::unknown_targets(&args.target, config, state.as_ref()).first() {
        return Err(CliError::msg(
            ErrorKind::Usage,
            format!("--target {t}: no such resource in the configuration or the state"),
        ));
    }
    let rt = pipeline::runtime()?;
    rt.block_on(async {
        let conn = pipeline::connect(ctx, config).await?;
        let snapshot = pipeline::refresh(ctx, &conn, &pipeline::refresh_request(config, state.as_ref())).await?;
        let plan = match saved {
            Some(saved) => {
                // The file is not trusted: the plan is made again from the same inputs and
                // must come out identical; the recomputed plan is the one applied.
                let hash = configuration_hash(loaded.sources(), &crate::config::variable_pairs(config));
                let stale: Vec<String> =
                    saved.staleness(&hash, state.as_ref(), &snapshot).iter().map(ToString::to_string).collect();
                if !stale.is_empty() {
                    let headline = format!("the saved plan {} no longer matches what it was made against", file_name(&args));
                    let msg = refusal(&headline, &stale);
                    return Err(CliError::msg(ErrorKind::StalePlan, msg));
                }
                let options = PlanOptions { mode: saved.plan.mode, targets: saved.plan.targets.clone() };
                let fresh = pipeline::plan(ctx, &loaded, &snapshot, state.as_ref(), &options)?;
                let differences = plan_differences(&saved.plan, &fresh);
                if !differences.is_empty() {
                    let headline = format!(
                        "the saved plan {} differs from the plan its configuration, the state and the tenant give (was the file edited?)",
                        file_name(&args)
                    );
                    let msg = refusal(&headline, &differences);
                    return Err(CliError::msg(ErrorKind::StalePlan, msg));
                }
                fresh
            }
            None => {
                let mode = if args.destroy {
                    PlanMode::Destroy
                } else if args.refresh_only {
                    PlanMode::RefreshOnly
                } else {
                    PlanMode::Normal
                };
                let plan = pipeline::plan(ctx, &loaded, &snapshot, state.as_ref(), &PlanOptions { mode, targets: args.target.clone() })?;
                // `-q --auto-approve` prints only the result; a prompt always shows what it asks.
                if !(ctx.printer.is_quiet() && args.auto_approve) {
                    ctx.printer.write_text(&plan_text::render_redacted(&plan, &config.sensitive));
                }
                if !plan.has_changes() {
                    return write_back_refresh(ctx, &plan, state, store.as_ref());
                }
                if !args.auto_approve {
                    confirm(ctx, &conn.client)?;
                }
                plan
            }
        };
        if !plan.has_changes() {
            apply_view::no_changes(&ctx.printer);
            return write_back_refresh(ctx, &plan, state, store.as_ref());
        }
        let mut state = state.unwrap_or_else(|| State::new(tenant_id.clone()));
        let executor = TenantExecutor::new(&conn.client, args.visibility_timeout);
        let printer = &ctx.printer;
        let options = apply::Options {
            concurrency: args.parallelism,
            live_policies: Some(snapshot.policies.len()),
            ..apply::Options::default()
        };
        let interrupt = Arc::new(apply::Interrupt::default());
        let signals = watch_signals(ctx.printer.clone(), interrupt.clone());
        let result =
            apply::run(&plan, &executor, &mut state, store.as_ref(), &options, &interrupt, &|e| apply_view::event(printer, e)).await;
        signals.abort();
        ctx.printer.exchange_warnings(&conn.client.take_warnings());
        let report = result.map_err(|e| unsaved(ctx, &state, e))?;
        summarize(ctx, &plan, &report)
    })
}

/// The state could not be saved (the lock was lost, the blob changed, the service went away)
/// after the apply may have changed the tenant: what this run recorded is kept in a local file,
/// never dropped, and the message says how to bring it back.
fn unsaved(ctx: &Context, state: &State, e: crate::state::StateError) -> CliError {
    let path = ctx.dir.join(UNSAVED_FILE);
    let kept = match crate::files::write_atomic(&path, &state.to_bytes()) {
        Ok(()) => format!(
            "the apply stopped, and what it recorded (serial {}) is kept in {}: check the stored state with `pamform state pull`, then bring this in with `pamform state push {}` (it is refused if someone else wrote the state since), and run `pamform plan`",
            state.serial,
            path.display(),
            path.display()
        ),
        Err(io) => format!(
            "the apply stopped, and what it recorded could not be kept in {} either ({io}): run `pamform plan`, which finds the objects it made by their natural keys",
            path.display()
        ),
    };
    CliError::msg(ErrorKind::State, format!("{e}\n{kept}"))
}

/// Where an apply keeps the state it could not save.
pub const UNSAVED_FILE: &str = "pamform.state.json.unsaved";

/// The saved plan file as the user named it.
fn file_name(args: &Args) -> String {
    args.plan_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}

/// With nothing to apply, still records what the refresh found (new ids of objects recreated
/// outside pamform, current values, objects gone), as Terraform's apply does.
fn write_back_refresh(
    ctx: &Context,
    plan: &Plan,
    state: Option<State>,
    store: &dyn crate::state::Storage,
) -> Result<Outcome, CliError> {
    let Some(mut state) = state else { return Ok(Outcome::Success) };
    let n = apply::record_refresh(plan, &mut state);
    if n == 0 {
        return Ok(Outcome::Success);
    }
    store.save(&mut state).map_err(|e| CliError::msg(ErrorKind::State, e))?;
    apply_view::refreshed(&ctx.printer, n);
    Ok(Outcome::Success)
}

/// First SIGINT or SIGTERM: stop starting operations and let those in flight finish, as
/// Terraform does. Second: exit at once; state is consistent, as it is saved after every
/// write. The handlers are installed before this returns, so that a signal that arrives as
/// soon as the first operation starts is never the default one that kills the process.
pub(crate) fn watch_signals(
    printer: Printer,
    interrupt: Arc<apply::Interrupt>,
) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
        tokio::spawn(async move {
            let (Ok(mut int), Ok(mut term)) = handlers else { return };
            watch_unix(&printer, &interrupt, &mut int, &mut term).await
        })
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(watch_ctrl_c(printer, interrupt))
    }
}

#[cfg(unix)]
async fn watch_unix(
    printer: &Printer,
    interrupt: &apply::Interrupt,
    int: &mut tokio::signal::unix::Signal,
    term: &mut tokio::signal::unix::Signal,
) {
    let mut received = 0;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        received += 1;
        if received == 1 {
            apply_view::interrupted(printer);
            interrupt.trigger();
        } else {
            apply_view::interrupted_again(printer);
            std::process::exit(1);
        }
    }
}

#[cfg(not(unix))]
async fn watch_ctrl_c(printer: Printer, interrupt: Arc<apply::Interrupt>) {
    let mut received = 0;
    while tokio::signal::ctrl_c().await.is_ok() {
        received += 1;
        if received == 1 {
            apply_view::interrupted_plain(&printer);
            interrupt.trigger();
        } else {
            std::process::exit(1);
        }
    }
}

/// Asks for "yes"; refuses to ask without a terminal.
fn confirm(ctx: &Context, client: &crate::tenant::Client) -> Result<(), CliError> {
    if !ctx.printer.stdin_is_terminal() {
        return Err(CliError::msg(
            ErrorKind::Usage,
            "apply needs confirmation but there is no terminal to ask on; review with `pamform plan --out FILE` and run `pamform apply FILE`, or pass --auto-approve",
        ));
    }
    apply_view::ask(&ctx.printer, client.tenant(), &crate::cli::connect::signed_in_as(client));
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
    if line.trim() != "yes" {
        return Err(CliError::msg(ErrorKind::Usage, "apply cancelled: nothing was changed"));
    }
    apply_view::answered(&ctx.printer);
    Ok(())
}

fn summarize(ctx: &Context, plan: &Plan, report: &apply::Report) -> Result<Outcome, CliError> {
    apply_view::summary(&ctx.printer, plan, report);
    if report.is_success() {
        return Ok(Outcome::Success);
    }
    Err(CliError::msg(ErrorKind::Tenant, apply_view::unfinished(report)))
}
