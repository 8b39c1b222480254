//! `pamform plan`: refresh the tenant, diff, print the plan; optionally save it.

use std::path::PathBuf;

use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::model::Address;
use crate::plan::saved::{SavedPlan, configuration_hash};
use crate::plan::{PlanMode, PlanOptions};
use crate::views::plan::{self as plan_view, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Save the plan to FILE for a later `pamform apply FILE` (relative to where you run pamform)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0 when none, 1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Only compare state with the tenant; propose recording the tenant's values
    #[arg(long, conflicts_with = "destroy")]
    pub refresh_only: bool,
    /// Plan to destroy everything in state
    #[arg(long)]
    pub destroy: bool,
    /// Limit the plan to ADDR and what it depends on (repeatable)
    #[arg(long, value_name = "ADDR", value_parser = pipeline::parse_address)]
    pub target: Vec<Address>,
    /// Print the plan as Terraform-style JSON (same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl Args {
    pub fn options(&self) -> PlanOptions {
        let mode = if self.destroy {
            PlanMode::Destroy
        } else if self.refresh_only {
            PlanMode::RefreshOnly
        } else {
            PlanMode::Normal
        };
        PlanOptions { mode, targets: self.target.clone() }
    }

    pub fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let markdown = args.format() == Format::Markdown;
    let result = plan(args, ctx);
    // A pull-request comment must say that the plan failed, and why, not stay empty. A plan
    // refused for its diagnostics has printed its own comment; anything else is said here.
    if markdown
        && let Err(e) = &result
        && !e.reported
    {
        ctx.printer
            .write_out(crate::views::markdown::render_failed_message(&e.report.to_string()).as_bytes());
    }
    result
}

fn plan(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let markdown = args.format() == Format::Markdown;
    // The sign-in and the reads that need no configuration start first, and overlap its
    // load; a command that ends before its refresh stops them.
    let mut early = pipeline::EarlyRefresh::start(ctx);
    let (loaded, state) = prepare(&args, ctx)?;
    let config = &loaded.configuration;
    let rt = pipeline::runtime()?;
    let (planned, snapshot) = rt.block_on(async {
        let (conn, prefetch) = pipeline::connect_early(ctx, config, early.as_mut()).await?;
        let req = pipeline::refresh_request(config, state.as_ref());
        let snapshot = pipeline::refresh_prefetched(ctx, &conn, &req, prefetch).await?;
        ctx.printer.exchange_warnings(&conn.client.take_warnings());
        let planned = pipeline::plan(ctx, &loaded, &snapshot, state.as_ref(), &args.options());
        Ok::<_, CliError>((planned, snapshot))
    })?;
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => {
            if markdown {
                let options = args.options();
                let mut diagnostics = crate::diagnostic::Diagnostics::new();
                match crate::plan::build(config, &snapshot, state.as_ref(), &options) {
                    Err(errors) => diagnostics.extend(errors),
                    Ok(p) => {
                        diagnostics.extend(crate::plan::checks::check(config, &snapshot, state.as_ref(), &p))
                    }
                }
                let tenant = config.tenant.as_ref().map(|t| t.id.value.as_str()).filter(|t| !t.is_empty());
                let text = crate::views::markdown::render_failed(tenant, &diagnostics, loaded.sources());
                ctx.printer.write_out(text.as_bytes());
            }
            // A rejected plan still gives JSON readers a document, marked errored (neither
            // applyable nor complete), with the changes as far as they could be worked out.
            if args.format() == Format::Json {
                let options = args.options();
                let partial =
                    crate::plan::build(config, &snapshot, state.as_ref(), &options).unwrap_or_else(|_| {
                        crate::plan::Plan {
                            mode: options.mode,
                            targets: options.targets.clone(),
                            changes: vec![],
                            drift: vec![],
                        }
                    });
                let recorded = recorded(config, state.as_ref());
                ctx.printer.write_out(
                    plan_view::plan_json_errored(&partial, &config.sensitive, &recorded).as_bytes(),
                );
            }
            return Err(e);
        }
    };
    // Only the JSON plan and a saved plan show it; working it out parses the configuration
    // again, which on a large one costs as much as loading it.
    let recorded = if args.format() == Format::Json || args.out.is_some() {
        recorded(config, state.as_ref())
    } else {
        plan_view::Recorded::default()
    };
    if let Some(out) = &args.out {
        let tenant = config.tenant.as_ref().map(|t| t.id.value.clone()).unwrap_or_default();
        let parts = crate::plan::saved::sensitive_parts(&config.sensitive, &recorded.outline);
        if !parts.is_empty() {
            let e = crate::plan::saved::SavedPlanError::Sensitive { path: out.clone(), parts };
            return Err(CliError::msg(ErrorKind::Usage, e));
        }
        let hash = configuration_hash(loaded.sources(), &crate::config::variable_pairs(config));
        let mut saved = SavedPlan::new(plan.clone(), &tenant, hash, state.as_ref(), &snapshot);
        saved.sensitive = config.sensitive.clone();
        saved.outline = Some(recorded.outline.clone());
        saved.in_state = Some(recorded.in_state.clone());
        saved.write(out).map_err(|e| CliError::msg(ErrorKind::State, e))?;
    }
    let plan_file = args.out.as_deref().and_then(|p| p.to_str());
    let tenant = config.tenant.as_ref().map(|t| t.id.value.as_str()).filter(|t| !t.is_empty());
    let text =
        plan_view::plan_redacted(&plan, args.format(), plan_file, tenant, &config.sensitive, &recorded);
    if args.format() == Format::Text {
        ctx.printer.write_text(&text);
    } else {
        ctx.printer.write_out(text.as_bytes());
    }
    // After the plan, where it is read last (as Terraform prints it), not scrolled away.
    if let Some(out) = &args.out {
        ctx.printer.note(format!(
            "\nSaved the plan to: {0}\n\nTo perform exactly these actions, run:\n    pamform apply {0}",
            out.display()
        ));
    }
    let outcome =
        if args.detailed_exitcode && plan.has_changes() { Outcome::Differences } else { Outcome::Success };
    crate::cli::exit::keep_until_exit((loaded, state, snapshot, plan));
    Ok(outcome)
}

/// The configuration (its diagnostics printed, and again as a comment in Markdown when it
/// does not load), the state, and `--target` checked against both.
fn prepare(
    args: &Args,
    ctx: &Context,
) -> Result<(crate::config::Loaded, Option<crate::state::State>), CliError> {
    let markdown = args.format() == Format::Markdown;
    let state_read = pipeline::start_state_read(ctx);
    let loaded = match pipeline::configuration(ctx, &args.vars) {
        Ok(l) => l,
        Err(e) => {
            if markdown && e.reported {
                // The configuration's diagnostics, again, for the comment.
                if let Err(failed) = crate::config::load(&ctx.dir, &args.vars.inputs()) {
                    let text =
                        crate::views::markdown::render_failed(None, &failed.diagnostics, &failed.sources);
                    ctx.printer.write_out(text.as_bytes());
                }
            }
            return Err(e);
        }
    };
    let (_, state) = state_read.finish(ctx, Some(pipeline::tenant_id(&loaded.configuration)))?;
    let unknown = pipeline::unknown_targets(&args.target, &loaded.configuration, state.as_ref());
    if let Some(t) = unknown.first() {
        return Err(CliError::msg(
            ErrorKind::Usage,
            format!("--target {t}: no such resource in the configuration or the state"),
        ));
    }
    Ok((loaded, state))
}

/// What the JSON plan shows besides the plan: the configuration as written and the addresses
/// in state.
fn recorded(
    config: &crate::model::Configuration,
    state: Option<&crate::state::State>,
) -> plan_view::Recorded {
    plan_view::Recorded {
        outline: crate::config::outline(config),
        in_state: state.map(|s| s.resources.iter().map(|r| r.address.clone()).collect()).unwrap_or_default(),
    }
}
