//! `pamform login`: delegated sign-in with the device code flow; the session is kept in the
//! user's cache directory for the request commands. Also the tenant selection they share.

use chrono::Utc;

use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::requests::{Session, SessionStore};
use crate::tenant::auth;
use crate::tenant::http::Transport;
use crate::tenant::{ClientOptions, Endpoints};
use crate::views::login as login_view;
use crate::views::progress::Spinner;

/// The tenant when there is no configuration directory.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TenantArgs {
    /// Tenant id or domain, when no configuration in -C names it (Microsoft's endpoints)
    // Listed after each command's own options, not among them.
    #[arg(long, global = true, env = "PAMFORM_TENANT_ID", value_name = "ID", display_order = 100)]
    pub tenant: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// The account you sign in with; used only when the service does not name it
    #[arg(long, value_name = "UPN")]
    pub user: Option<String>,
}

/// A tenant and the endpoints to reach it.
#[derive(Debug, Clone)]
pub struct Target {
    pub tenant: String,
    pub endpoints: Endpoints,
}

/// Whether `-C` holds a configuration (any `*.pam.hcl`).
pub fn has_configuration(ctx: &Context) -> bool {
    std::fs::read_dir(&ctx.dir)
        .is_ok_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".pam.hcl")))
}

/// The tenant of the configuration in `-C` (its id, or --tenant / PAMFORM_TENANT_ID when the
/// block leaves it empty), else --tenant with Microsoft's endpoints; `None` when neither names
/// one.
pub fn target(ctx: &Context, args: &TenantArgs) -> Result<Option<Target>, CliError> {
    let flag = args.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if !has_configuration(ctx) {
        return Ok(flag.map(|t| Target { tenant: t.to_string(), endpoints: Endpoints::default() }));
    }
    let loaded = pipeline::configuration(ctx, &VarArgs::default())?;
    let block = loaded.configuration.tenant.as_ref().expect("checked by configuration()");
    if let Some(data) = &block.emulator {
        return Err(CliError::msg(ErrorKind::Config, embedded_message(&data.value)));
    }
    let endpoints = Endpoints::from_tenant(block).map_err(pipeline::tenant_error)?;
    let id = block.id.value.trim();
    if let Some(other) = flag.filter(|f| !id.is_empty() && !f.eq_ignore_ascii_case(id)) {
        // As plan and apply do: the block wins, and says so.
        ctx.printer.note(format!(
            "warning: --tenant (or PAMFORM_TENANT_ID) is {other} but the tenant block's id is {id}; signing in to {id}"
        ));
    }
    let tenant = if id.is_empty() { flag } else { Some(id) }.ok_or_else(|| {
        CliError::msg(ErrorKind::Config, "no tenant id: set the tenant block's id or PAMFORM_TENANT_ID")
    })?;
    Ok(Some(Target { tenant: tenant.to_string(), endpoints }))
}

/// Why `login` cannot use an embedded emulator, and what to run instead: the server that
/// already has its data file, or one to start on it.
fn embedded_message(data: &std::path::Path) -> String {
    let file = data.display();
    let urls = |url: &str| {
        format!(
            "replace the tenant block's emulator line with login_url, exchange_url and graph_url = \"{url}\""
        )
    };
    match crate::emulator::data_lock::holder(data) {
        Some(
            holder @ crate::emulator::Holder { owner: crate::emulator::Owner::Served, url: Some(_), .. },
        ) => {
            let url = holder.url.clone().unwrap_or_default();
            format!(
                "signing in needs a tenant that outlives one command, not an embedded emulator; {file} is served by {holder}: {}",
                urls(&url)
            )
        }
        _ => format!(
            "signing in needs a tenant that outlives one command, not an embedded emulator; run `pamform emulator serve` on its data file (--data {file}) and {}",
            urls("http://127.0.0.1:8740")
        ),
    }
}

pub fn store() -> Result<SessionStore, CliError> {
    SessionStore::default_location().map_err(|e| CliError::msg(ErrorKind::Config, e))
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let target = target(ctx, &args.tenant)?.ok_or_else(|| {
        CliError::msg(
            ErrorKind::Usage,
            "name the tenant: run in a configuration directory (-C DIR) or pass --tenant ID",
        )
    })?;
    let store = store()?;
    let options = ClientOptions::default();
    let rt = pipeline::runtime()?;
    let signed = rt.block_on(async {
        let transport =
            Transport::new(options.retry, options.ca_cert.as_deref(), target.endpoints.all_loopback())
                .map_err(pipeline::tenant_error)?;
        let login = &target.endpoints.login;
        let prompt = auth::start_device_code(&transport, login, &target.tenant)
            .await
            .map_err(pipeline::tenant_error)?;
        // The prompt is the point of this command: shown even with --quiet.
        login_view::prompt(&ctx.printer, &prompt.message);
        let spinner = Spinner::start(&ctx.printer, Some("waiting for you to sign in"));
        if !spinner.is_drawn() {
            ctx.printer.note("waiting for the sign-in to complete");
        }
        let signed =
            auth::finish_device_code(&transport, login, &target.tenant, &prompt, args.user.as_deref()).await;
        drop(spinner);
        signed.map_err(pipeline::tenant_error)
    })?;
    let now = Utc::now();
    let session = Session::from_sign_in(&target.tenant, &target.endpoints, &signed, now);
    store.save(&session).map_err(|e| CliError::msg(ErrorKind::Config, e))?;
    login_view::signed_in(
        &ctx.printer,
        &session.upn,
        &session.tenant,
        store.path(),
        session.expires_at,
        session.has_refresh_token(),
    );
    Ok(Outcome::Success)
}
