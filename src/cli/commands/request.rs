//! `pamform request new|list|show|approve|deny|revoke|wait`: the just-in-time request
//! workflow as the signed-in user (`pamform login`).

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;

use super::login::{self, TenantArgs};
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::model::{PolicyTarget, normalize};
use crate::requests::view::{self, RequestView};
use crate::requests::workflow::{self, Approvers, WaitOutcome};
use crate::requests::{Filter, RequestError, Session, SessionStore};
use crate::tenant::Client;

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
    /// Wait until a request is decided: exit 0 when approved, 1 when denied, expired or timed out
    Wait(WaitArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["task", "role", "role_group"])))]
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
    /// How long the access lasts once approved, 1 to 24 hours
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=24))]
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
    /// Only pending requests
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
    /// Give up after this long (e.g. 30m, 2h); exit 1
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
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_string());
    let _ = writeln!(ctx.printer.out(), "{text}");
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
    let mut out = ctx.printer.out();
    match command {
        Sub::New(a) => {
            let target = policy_target(a)?;
            let (v, approvers) =
                workflow::new_request(client, &target, &a.reason, a.hours, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &serde_json::json!({ "request": v, "approvers": approvers }));
            } else {
                let _ = write!(out, "{}", new_text(&v, approvers.as_ref(), now));
            }
        }
        Sub::List(a) => {
            let filter =
                Filter { pending: a.pending, mine: a.mine.then(|| normalize::principal(me)), all: a.all };
            let views: Vec<RequestView> = workflow::all(client, now)
                .await
                .map_err(failure)?
                .into_iter()
                .filter(|v| filter.keeps(v))
                .collect();
            if a.json {
                print_json(ctx, &serde_json::json!({ "signed_in_as": me, "requests": views }));
            } else if views.is_empty() {
                let what = if a.pending {
                    "pending "
                } else if a.all {
                    ""
                } else {
                    "open "
                };
                let _ = writeln!(out, "No {what}requests.");
            } else {
                let _ = write!(out, "{}", view::table(&views, now, &tz));
            }
        }
        Sub::Show(a) => {
            let v = workflow::find(client, &a.id, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &v);
            } else {
                let _ = write!(out, "{}", view::details(&v, now, &tz));
            }
        }
        Sub::Approve(a) | Sub::Deny(a) => {
            let approve = matches!(command, Sub::Approve(_));
            let v = workflow::decide(client, &a.id, approve, &a.comment, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &v);
            } else {
                let verb = if approve { "Approved" } else { "Denied" };
                let _ = writeln!(out, "{verb} request {} ({}).", v.id, summary(&v));
                if approve {
                    let _ = writeln!(out, "Access: {}.", view::when(&v, now, &tz));
                }
            }
        }
        Sub::Revoke(a) => {
            let v = workflow::revoke(client, &a.id, &a.comment, now).await.map_err(failure)?;
            if a.json {
                print_json(ctx, &v);
            } else {
                let _ = writeln!(out, "Revoked the access of request {} ({}).", v.id, summary(&v));
            }
        }
        Sub::Wait(a) => return wait(ctx, client, a).await,
    }
    Ok(Outcome::Success)
}

/// `Exchange\New-MoveRequest for 4 hours`
fn what(v: &RequestView) -> String {
    let task = v.task.as_deref().map(view::task_label).unwrap_or_default();
    let hours = v.duration_hours.map(|h| format!(" for {h} hour{}", if h == 1 { "" } else { "s" }));
    format!("{task}{}", hours.unwrap_or_default())
}

/// `dave@contoso.com: Exchange\New-MoveRequest for 4 hours`
fn summary(v: &RequestView) -> String {
    format!("{}: {}", v.requestor.as_deref().unwrap_or("-"), what(v))
}

fn new_text(v: &RequestView, approvers: Option<&Approvers>, now: chrono::DateTime<Utc>) -> String {
    let tz = chrono::Local;
    let mut s = format!("Requested {} as request {}.\n", what(v), v.id);
    if v.state == view::state::ACTIVE {
        s.push_str(&format!("Approved automatically: access {}.\n", view::when(v, now, &tz)));
        return s;
    }
    s.push_str(&format!("Status: {}.\n", view::when(v, now, &tz)));
    if let Some(a) = approvers {
        match &a.members {
            Some(m) if !m.is_empty() => s.push_str(&format!("Approvers: {} ({})\n", a.group, m.join(", "))),
            _ => s.push_str(&format!("Approvers: members of {}\n", a.group)),
        }
    }
    s.push_str(&format!("Follow it with `pamform request wait {}`.\n", view::short_id(&v.id)));
    s
}

async fn wait(ctx: &Context, client: &Client, a: &WaitArgs) -> Result<Outcome, CliError> {
    let spinner = ctx.printer.show_progress().then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    let mut announced = false;
    let tz = chrono::Local;
    let outcome = workflow::wait(client, &a.id, a.timeout, a.interval, |v| match &spinner {
        Some(s) => {
            s.set_message(format!("request {}: {}", view::short_id(&v.id), view::when(v, Utc::now(), &tz)))
        }
        None if !announced => {
            announced = true;
            ctx.printer.note(format!("waiting for a decision on request {}", v.id));
        }
        None => {}
    })
    .await;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
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
    let by = v.approver.as_deref().map(|x| format!(" by {x}")).unwrap_or_default();
    let comment =
        v.comment.as_deref().filter(|c| !c.is_empty()).map(|c| format!(": {c}")).unwrap_or_default();
    match outcome {
        WaitOutcome::Approved(_) => {
            if !a.json {
                let _ = writeln!(
                    ctx.printer.out(),
                    "Request {} was approved{by}{comment}; access {}.",
                    v.id,
                    view::when(v, Utc::now(), &tz)
                );
            }
            Ok(Outcome::Success)
        }
        WaitOutcome::Denied(_) if v.state == view::state::REVOKED => {
            Err(failure(format!("request {} was approved but its access is already revoked", v.id)))
        }
        WaitOutcome::Denied(_) => Err(failure(format!("request {} was denied{by}{comment}", v.id))),
        WaitOutcome::Expired(_) => Err(failure(format!(
            "request {} expired before anyone decided it (pending requests expire after 24 hours); ask again with `pamform request new`",
            v.id
        ))),
        WaitOutcome::TimedOut(_) => Err(failure(format!(
            "request {} is still {} after {}; wait again or ask an approver",
            v.id,
            v.state,
            humantime::format_duration(a.timeout.unwrap_or_default())
        ))),
    }
}
