//! `pamform request new|list|show|approve|deny|revoke|wait`: the just-in-time request
//! workflow as the signed-in user (`pamform login`).

use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;

use super::login::{self, TenantArgs};
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::model::{PolicyTarget, normalize};
use crate::requests::explain::{Membership, membership};
use crate::requests::status::{RequestView, state};
use crate::requests::workflow::{self, WaitOutcome};
use crate::requests::{Filter, RequestError, Session, SessionStore};
use crate::tenant::Client;
use crate::views::progress::Spinner;
use crate::views::requests as view;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub tenant: TenantArgs,
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Ask for time-limited access to a task, role or role group
    New(NewArgs),
    /// List requests: open ones by default
    List(ListArgs),
    /// Show one request
    Show(ShowArgs),
    /// Approve a pending request (approver group members only)
    Approve(DecideArgs),
    /// Deny a pending request (approver group members only)
    Deny(DecideArgs),
    /// End the approved access of a request early
    Revoke(DecideArgs),
    /// Wait until a request is decided: exit 0 approved, 3 denied or revoked, 4 expired, 5 timed out, 1 on error
    Wait(WaitArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["task", "role", "role_group"])))]
// One usage line per target: clap's own puts the three on one line, wider than a terminal.
#[command(override_usage = "pamform request new [OPTIONS] --reason <REASON> --task <TASK>\n       \
    pamform request new [OPTIONS] --reason <REASON> --role <NAME>\n       \
    pamform request new [OPTIONS] --reason <REASON> --role-group <NAME>")]
pub struct NewArgs {
    /// The cmdlet, as `Exchange\New-MoveRequest` (or just `New-MoveRequest`)
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    /// A management role (access to all its cmdlets)
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,
    /// A role group (access to all cmdlets of its roles)
    #[arg(long, value_name = "NAME")]
    pub role_group: Option<String>,
    /// How long the access lasts once approved, in hours (Microsoft sets no upper limit)
    #[arg(long, default_value_t = crate::wire::exchange::DEFAULT_REQUEST_HOURS, value_parser = clap::value_parser!(u32).range(1..))]
    pub hours: u32,
    /// Why you need access (the approvers read it)
    #[arg(long, value_parser = non_empty)]
    pub reason: String,
    /// Print the request as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only pending requests you can decide (not your own; your approver groups)
    #[arg(long)]
    pub pending: bool,
    /// Only your own requests
    #[arg(long)]
    pub mine: bool,
    /// Closed requests too (denied, expired, ended, revoked)
    #[arg(long)]
    pub all: bool,
    /// Print the requests as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Request id, or a unique start of it
    pub id: String,
    /// Print the request as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// Request id, or a unique start of it
    pub id: String,
    /// A note for the record
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Print the request as JSON afterwards
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    /// Request id, or a unique start of it
    pub id: String,
    /// Give up after this long (e.g. 30m, 2h) and exit 5
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration)]
    pub timeout: Option<Duration>,
    /// How often to ask
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::positive_duration, default_value = "5s")]
    pub interval: Duration,
    /// Print the request as JSON at the end
    #[arg(long)]
    pub json: bool,
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() { Err("say why you need access".to_string()) } else { Ok(s.to_string()) }
}

fn failure(e: impl std::fmt::Display) -> CliError {
    CliError::msg(ErrorKind::Tenant, e)
}

/// The policy target `new` asks for.
fn policy_target(args: &NewArgs) -> Result<PolicyTarget, CliError> {
    if let Some(t) = &args.task {
        let cmdlet = normalize::task_cmdlet(t);
        if !normalize::is_cmdlet_name(cmdlet) {
            return Err(CliError::msg(
                ErrorKind::Usage,
                format!("--task `{t}` is not a cmdlet; write it like 'Exchange\\New-MoveRequest'"),
            ));
        }
        return Ok(PolicyTarget::Task(cmdlet.to_string()));
    }
    if let Some(r) = args.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        return Ok(PolicyTarget::Role(r.to_string()));
    }
    match args.role_group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
        Some(g) => Ok(PolicyTarget::RoleGroup(g.to_string())),
        None => Err(CliError::msg(ErrorKind::Usage, "name what you need: --task, --role or --role-group")),
    }
}

/// The signed-in session, checked against the tenant the configuration or --tenant names.
fn signed_in(ctx: &Context, tenant: &TenantArgs) -> Result<(SessionStore, Session), CliError> {
    let store = login::store()?;
    let session = store.require(Utc::now()).map_err(failure)?;
    if let Some(target) = login::target(ctx, tenant)? {
        session.check_target(&target.tenant, &target.endpoints).map_err(failure)?;
    }
    Ok((store, session))
}

fn print_json(ctx: &Context, value: &impl serde::Serialize) {
    ctx.printer.write_out(view::json(value).as_bytes());
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    if let Sub::New(n) = &args.command {
        policy_target(n)?;
    }
    let (store, mut session) = signed_in(ctx, &args.tenant)?;
    let rt = pipeline::runtime()?;
    rt.block_on(async {
        let client = session.client(Utc::now()).await.map_err(pipeline::tenant_error)?;
        let result = dispatch(&args.command, ctx, &client, &session.upn).await;
        // Keep renewed tokens for the next command, whatever the outcome.
        if session.absorb(&client, Utc::now()).await
            && let Err(e) = store.save(&session)
        {
            ctx.printer.note(format!("warning: {e}"));
        }
        result
    })
}

async fn dispatch(command: &Sub, ctx: &Context, client: &Client, me: &str) -> Result<Outcome, CliError> {
    let now = Utc::now();
    let tz = chrono::Local;
    // Lines for people wrap at a terminal's width; the list table is fitted to it instead.
    let out = |text: String| ctx.printer.write_text(&text);
    match command {
        Sub::New(a) => {
            let target = policy_target(a)?;
            let (v, approvers) =
                workflow::new_request(client, me, &target, &a.reason, a.hours, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &serde_json::json!({ "request": v, "approvers": approvers }));
            } else {
                out(view::created(&v, approvers.as_ref(), now, &tz));
            }
        }
        Sub::List(a) => {
            let filter =
                Filter { pending: a.pending, mine: a.mine.then(|| normalize::principal(me)), all: a.all };
            let mut views: Vec<RequestView> = workflow::all(client, now)
                .await
                .map_err(failure)?
                .into_iter()
                .filter(|v| filter.keeps(v))
                .collect();
            if a.pending {
                views = decidable_by(client, me, views).await;
            }
            if a.json {
                print_json(ctx, &serde_json::json!({ "signed_in_as": me, "requests": views }));
            } else if views.is_empty() {
                out(view::none(a.pending, a.all));
            } else {
                let width = ctx
                    .printer
                    .stdout_is_terminal()
                    .then(|| ctx.printer.stdout_width().unwrap_or(view::TABLE_WIDTH));
                ctx.printer.write_out(view::table(&views, now, &tz, width).as_bytes());
            }
        }
        Sub::Show(a) => {
            let v = workflow::find(client, &a.id, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &v);
            } else {
                out(view::details(&v, now, &tz));
            }
        }
        Sub::Approve(a) | Sub::Deny(a) => {
            let approve = matches!(command, Sub::Approve(_));
            let v = workflow::decide(client, me, &a.id, approve, &a.comment, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &v);
            } else {
                out(view::decided(&v, approve, now, &tz));
            }
        }
        Sub::Revoke(a) => {
            let v = workflow::revoke(client, me, &a.id, &a.comment, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &v);
            } else {
                out(view::revoked(&v));
            }
        }
        Sub::Wait(a) => return wait(ctx, client, a).await,
    }
    Ok(Outcome::Success)
}

/// The pending requests `me` can decide: not their own, and in an approver group that lists
/// them as a member who is no guest. A group whose members cannot be read, or that holds a group (nested approvers),
/// keeps its requests: the service decides.
async fn decidable_by(client: &Client, me: &str, views: Vec<RequestView>) -> Vec<RequestView> {
    let me = normalize::principal(me);
    // Per approver group: whether `me` may approve; `None` when that cannot be told.
    let mut verdicts: std::collections::HashMap<String, Option<bool>> = Default::default();
    let mut out = Vec::new();
    for v in views {
        if v.requestor.as_deref().is_some_and(|r| normalize::principal(r) == me) {
            continue;
        }
        let Some(group) = v.approver_group.as_deref().map(normalize::principal) else {
            out.push(v);
            continue;
        };
        if !verdicts.contains_key(&group) {
            let verdict = client.get_group_members(&group).await.ok().and_then(|members| {
                match membership(&me, &members) {
                    // Guests decide nothing, even when listed.
                    Membership::Listed { guest } => Some(!guest),
                    Membership::NotListed => Some(false),
                    Membership::Unknown => None,
                }
            });
            verdicts.insert(group.clone(), verdict);
        }
        if verdicts[&group] != Some(false) {
            out.push(v);
        }
    }
    out
}

async fn wait(ctx: &Context, client: &Client, a: &WaitArgs) -> Result<Outcome, CliError> {
    let spinner = Spinner::start(&ctx.printer, None);
    let mut announced = false;
    let tz = chrono::Local;
    let outcome = workflow::wait(client, &a.id, a.timeout, a.interval, |v| {
        if spinner.is_drawn() {
            spinner.set_message(view::waiting(v, Utc::now(), &tz));
        } else if !announced {
            announced = true;
            ctx.printer.note(format!("waiting for a decision on request {}", v.id));
        }
    })
    .await;
    drop(spinner);
    let outcome = outcome.map_err(|e: RequestError| failure(e))?;
    let v = match &outcome {
        WaitOutcome::Approved(v)
        | WaitOutcome::Denied(v)
        | WaitOutcome::Expired(v)
        | WaitOutcome::TimedOut(v) => v,
    };
    if a.json {
        print_json(ctx, v);
    }
    match outcome {
        WaitOutcome::Approved(_) => {
            if !a.json {
                ctx.printer.write_out(view::approved(v, Utc::now(), &tz).as_bytes());
            }
            Ok(Outcome::Success)
        }
        WaitOutcome::Denied(_) if v.state == state::REVOKED => Err(CliError::msg(
            ErrorKind::Denied,
            format!("request {} was approved but its access is already revoked", v.id),
        )),
        WaitOutcome::Denied(_) => {
            Err(CliError::msg(ErrorKind::Denied, format!("request {} was denied{}", v.id, view::decision(v))))
        }
        WaitOutcome::Expired(_) => Err(CliError::msg(
            ErrorKind::Expired,
            format!(
                "request {} expired before anyone decided it (pending requests expire after 24 hours); ask again with `pamform request new`",
                v.id
            ),
        )),
        WaitOutcome::TimedOut(_) => Err(CliError::msg(
            ErrorKind::TimedOut,
            format!(
                "request {} is still {} after {}; wait again or ask an approver",
                v.id,
                v.state,
                humantime::format_duration(a.timeout.unwrap_or_default())
            ),
        )),
    }
}
