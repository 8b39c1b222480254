//! `pamform apply`: plan and apply after an interactive "yes", or apply a saved plan exactly,
//! refusing it when anything moved since it was made. Holds the state lock throughout.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::apply::executor::TenantExecutor;
use crate::apply::{self, Event};
use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::model::{Address, ResourceType};
use crate::output::plan_text;
use crate::output::style::{self, paint};
use crate::plan::saved::{SavedPlan, configuration_hash};
use crate::plan::{Action, Plan, PlanMode, PlanOptions};
use crate::state::State;
use crate::state::lock::LockGuard;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `pamform plan --out`; applied exactly, or refused if stale
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
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// Operations to run at once (the client also limits requests per API)
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    /// How long to wait for new objects to become visible in the tenant's reads
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "2m")]
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
        Some(p) => Some(
            SavedPlan::read(&pipeline::in_dir(ctx, p)).map_err(|e| CliError::msg(ErrorKind::StalePlan, e))?,
        ),
        None => None,
    };
    let _lock = LockGuard::acquire(&ctx.dir, "pamform apply", args.lock_timeout)
        .map_err(|e| CliError::msg(ErrorKind::Lock, e))?;
    let loaded = pipeline::configuration(ctx, &args.vars)?;
    let (store, state) = pipeline::load_state(ctx)?;
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
        let snapshot = pipeline::refresh(&conn, &pipeline::refresh_request(config, state.as_ref())).await?;
        let plan = match saved {
            Some(saved) => {
                let hash = configuration_hash(loaded.sources(), &pipeline::variable_pairs(&args.vars));
                let stale = saved.staleness(&hash, state.as_ref(), &snapshot);
                if !stale.is_empty() {
                    let list: Vec<String> = stale.iter().map(|s| format!("  - {s}")).collect();
                    return Err(CliError::msg(
                        ErrorKind::StalePlan,
                        format!(
                            "stale plan: the saved plan no longer matches what it was made against\n{}\nrun `pamform plan --out` again and review the new plan",
                            list.join("\n")
                        ),
                    ));
                }
                saved.plan
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
                let _ = ctx.printer.out().write_all(plan_text::render(&plan).as_bytes());
                if !plan.has_changes() {
                    return Ok(Outcome::Success);
                }
                if !args.auto_approve {
                    confirm(ctx)?;
                }
                plan
            }
        };
        if !plan.has_changes() {
            let _ = writeln!(ctx.printer.out(), "No changes. The tenant matches the configuration.");
            return Ok(Outcome::Success);
        }
        let mut state = state.unwrap_or_else(|| State::new(tenant_id.clone()));
        let executor = TenantExecutor::new(&conn.client, args.visibility_timeout);
        let printer = &ctx.printer;
        let report = apply::run(&plan, &executor, &mut state, &store, args.parallelism, &|e| progress(printer, e))
            .await
            .map_err(|e| CliError::msg(ErrorKind::State, e))?;
        summarize(ctx, &plan, &report)
    })
}

/// Asks for "yes"; refuses to ask without a terminal.
fn confirm(ctx: &Context) -> Result<(), CliError> {
    if !ctx.printer.stdin_is_terminal() {
        return Err(CliError::msg(
            ErrorKind::Usage,
            "apply needs confirmation but there is no terminal to ask on; review with `pamform plan --out FILE` and run `pamform apply FILE`, or pass --auto-approve",
        ));
    }
    let mut err = ctx.printer.err();
    let _ = write!(
        err,
        "\n{}\n  pamform will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
        paint(style::BOLD, "Do you want to perform these actions?")
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
    if line.trim() != "yes" {
        return Err(CliError::msg(ErrorKind::Usage, "apply cancelled: nothing was changed"));
    }
    let _ = writeln!(err);
    Ok(())
}

fn verb(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create => ("Creating...", "Creation complete"),
        Action::Update => ("Modifying...", "Modifications complete"),
        Action::Replace => ("Replacing...", "Replacement complete"),
        Action::Delete => ("Destroying...", "Destruction complete"),
        Action::NoOp => ("Recording in state...", "Recorded"),
    }
}

fn progress(printer: &crate::output::Printer, event: Event<'_>) {
    match event {
        Event::Started(c) => {
            printer.note(format!("{}: {}", paint(style::BOLD, &c.address), verb(c.action).0))
        }
        Event::Finished(c, took, id) => {
            let id = id.filter(|_| c.address.kind != ResourceType::PrivilegedAccess);
            let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
            printer.note(format!(
                "{}: {} after {}s{id}",
                paint(style::BOLD, &c.address),
                verb(c.action).1,
                took.as_secs()
            ))
        }
        Event::Failed(c, e) => {
            let _ = writeln!(
                printer.err(),
                "{}: {} {e}",
                paint(style::BOLD, &c.address),
                paint(style::ERROR, "failed:")
            );
        }
        Event::Skipped(c, because) => printer.note(format!(
            "{}: {} because {because} failed",
            paint(style::BOLD, &c.address),
            paint(style::WARNING, "skipped")
        )),
    }
}

fn summarize(ctx: &Context, plan: &Plan, report: &apply::Report) -> Result<Outcome, CliError> {
    let added = report.count(|a| matches!(a, Action::Create | Action::Replace));
    let changed = report.count(|a| a == Action::Update);
    let destroyed = report.count(|a| matches!(a, Action::Delete | Action::Replace));
    let imported = report
        .succeeded
        .iter()
        .filter(|(a, _)| plan.change(a).is_some_and(|c| c.importing.is_some()))
        .count();
    let mut line = String::new();
    if plan.mode == PlanMode::RefreshOnly {
        line.push_str("Apply complete! The state now records the tenant's values.");
    } else {
        if imported > 0 {
            line.push_str(&format!("{imported} imported, "));
        }
        line.push_str(&format!("{added} added, {changed} changed, {destroyed} destroyed."));
        line = if report.is_success() {
            format!("Apply complete! Resources: {line}")
        } else {
            format!("Apply incomplete. Resources: {line}")
        };
    }
    if report.is_success() {
        let _ = writeln!(ctx.printer.out(), "\n{}", paint(style::OK, line));
        return Ok(Outcome::Success);
    }
    let _ = writeln!(ctx.printer.out(), "\n{}", paint(style::WARNING, line));
    let mut msg = String::from("apply failed; state records everything that succeeded\n");
    for (a, e) in &report.failed {
        msg.push_str(&format!("  - {a} failed: {e}\n"));
    }
    for (a, because) in &report.skipped {
        msg.push_str(&format!("  - {a} skipped because {because} failed\n"));
    }
    msg.push_str("fix the cause and run `pamform apply` again: it picks up where this one stopped");
    Err(CliError::msg(ErrorKind::Tenant, msg))
}
