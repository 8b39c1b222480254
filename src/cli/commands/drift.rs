//! `pamform drift`: read the tenant, compare it with the last applied state (and with the
//! configuration), report each difference with its severity and the unmanaged PAM objects.
//! Exit 0 in sync, 2 on drift, 1 on any error (a failed read is an error, never drift).
//! Never writes state and takes no lock; it keeps a delta cache beside the state.

use std::time::Duration;

use crate::cli::connect;
use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::drift::refresh::ReadKind;
use crate::drift::{self, Ignore, cache};
use crate::model::Address;
use crate::plan::{PlanMode, PlanOptions};
use crate::tenant::{ClientOptions, ConnectOptions, RetryPolicy};
use crate::views::plan::Format;
use crate::views::progress::RefreshProgress;
use crate::views::{drift as drift_view, sensitive};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Print the report as JSON (schemas/drift.schema.json; same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Leave ADDR, or one attribute of it (ADDR.ATTR), out of the report (repeatable)
    #[arg(long, value_name = "ADDR[.ATTR]", value_parser = parse_ignore)]
    pub ignore: Vec<Ignore>,
    /// Leave an unmanaged object out of the report: a policy's id, or an approver group's id
    /// or address (repeatable)
    #[arg(long, value_name = "ID")]
    pub ignore_unmanaged: Vec<String>,
    /// Read everything, ignoring the delta cache (the cache is written afresh)
    #[arg(long)]
    pub no_cache: bool,
    /// Give up on a failing or throttled request after this long (e.g. 30s, 2m)
    #[arg(long, value_name = "DURATION", env = "PAMFORM_RETRY_BUDGET", value_parser = crate::cli::args::duration)]
    pub retry_budget: Option<Duration>,
}

fn parse_ignore(s: &str) -> Result<Ignore, String> {
    s.parse()
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let state_read = pipeline::start_state_read(ctx);
    let loaded = pipeline::configuration(ctx, &args.vars)?;
    let config = &loaded.configuration;
    let (_, state) = state_read.finish(ctx, Some(pipeline::tenant_id(config)))?;
    let Some(state) = state else {
        return Err(CliError::msg(
            ErrorKind::State,
            format!(
                "no state in {}: nothing has been applied here yet; run `pamform apply` first",
                ctx.dir.display()
            ),
        ));
    };
    let tenant_block = config.tenant.as_ref().expect("checked by configuration()");
    let mut client = ClientOptions::default();
    if let Some(budget) = args.retry_budget {
        client.retry = RetryPolicy { max_elapsed: budget, ..RetryPolicy::default() };
    }
    let options = ConnectOptions { client, ..ConnectOptions::default() };
    let request = pipeline::refresh_request(config, Some(&state));

    let rt = pipeline::runtime()?;
    let mut read = rt.block_on(async {
        let conn = connect::connect(&ctx.printer, tenant_block, options).await?;
        let cached = if args.no_cache {
            Err(cache::Unusable::Missing)
        } else {
            cache::load(&ctx.dir, conn.client.tenant(), &conn.client.endpoints().graph)
        };
        let progress = RefreshProgress::new(&ctx.printer);
        let read = drift::refresh::read(&conn.client, &request, cached, &|e| progress.show(e))
            .await
            .map_err(pipeline::tenant_error);
        drop(progress);
        let stats = conn.client.stats();
        ctx.printer.debug(format_args!("drift read: {} requests", stats.total()));
        read
    })?;
    match &read.kind {
        ReadKind::Full(why) => ctx.printer.debug(format_args!("read the whole tenant: {why}")),
        ReadKind::Delta { changed_groups, reread_groups } => ctx.printer.debug(format_args!(
            "read changes through the delta cache: {changed_groups} group changes, {reread_groups} groups read again"
        )),
    }
    // A cache brought up to date with no change is left as it is on disk. Written, it is
    // dropped before the plan is built.
    if let Some(fresh) = read.cache.take()
        && let Err(e) = cache::save(&ctx.dir, &fresh)
    {
        ctx.printer.note(format!(
            "warning: cannot write the drift cache {}: {e}; the next check reads everything again",
            cache::path(&ctx.dir).display()
        ));
    }

    let snapshot = &read.snapshot;
    // One plan: its drift is what a refresh-only plan finds, and its changes say whether the
    // configuration is applied. A configuration that cannot be planned still gets its drift
    // from a refresh-only plan, which never refuses.
    let (plan, pending) = match crate::plan::build(config, snapshot, Some(&state), &PlanOptions::default()) {
        Ok(normal) => {
            let pending = normal.changes.iter().filter(|c| c.is_actionable()).count();
            (normal, pending)
        }
        Err(_) => {
            let refresh_only = PlanOptions { mode: PlanMode::RefreshOnly, targets: vec![] };
            (pipeline::plan(ctx, &loaded, snapshot, Some(&state), &refresh_only)?, 0)
        }
    };
    let ignore_changes = |a: &Address| -> Vec<String> {
        config
            .meta(a)
            .map(|m| m.lifecycle.ignore_changes.iter().map(|s| s.value.clone()).collect())
            .unwrap_or_default()
    };
    let all_unmanaged = drift::unmanaged(&state, snapshot);
    for name in &args.ignore_unmanaged {
        if !all_unmanaged.iter().any(|u| u.named_by(name, snapshot)) {
            ctx.printer.note(format!(
                "warning: --ignore-unmanaged {name} names no unmanaged object; check the id in the report"
            ));
        }
    }
    let mut report = drift::report(
        &plan.drift,
        &state,
        snapshot,
        &args.ignore,
        &args.ignore_unmanaged,
        &ignore_changes,
        chrono::Utc::now(),
    );
    sensitive::redact_differences(&mut report.differences, &config.sensitive);

    let format = if args.json { Format::Json } else { args.format };
    let text = drift_view::report(&report, format)
        .map_err(|e| CliError::msg(ErrorKind::Internal, format!("cannot write the report: {e}")))?;
    if format == Format::Text {
        ctx.printer.write_text(&text);
    } else {
        ctx.printer.write_out(text.as_bytes());
    }
    // The configuration side: changes a plan would make that are not yet applied. After the
    // report, where it is read last on a terminal, not above it.
    if pending > 0 {
        ctx.printer.note(format!(
            "the configuration differs from the tenant in {pending} resource{}; run `pamform plan` to see how",
            if pending == 1 { "" } else { "s" }
        ));
    }
    let outcome = if report.in_sync { Outcome::Success } else { Outcome::Differences };
    crate::cli::exit::keep_until_exit((loaded, state, read, plan, report));
    Ok(outcome)
}
