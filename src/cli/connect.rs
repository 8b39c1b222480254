//! The CLI's side of the tenant client: connecting (starting the embedded emulator when the
//! tenant block names a data file), refreshing with the spinner of
//! [`crate::views::progress::RefreshProgress`], and the `log` bridge that prints the client's
//! request log at `-v`. The client itself draws and prints nothing.

use std::sync::OnceLock;

use crate::cli::pipeline::tenant_error;
use crate::cli::{CliError, ErrorKind};
use crate::emulator::{self, EmulatorConfig, EmulatorError, Faults, Holder, Owner, RunningEmulator};
use crate::model::{self, TenantSnapshot};
use crate::tenant::{
    self, Client, ConnectOptions, Credential, Endpoints, Prefetch, RefreshRequest, Secret, TenantError,
};
use crate::views::Printer;
use crate::views::progress::RefreshProgress;

/// A signed-in client for one tenant; keeps an embedded emulator running while it lives.
#[derive(Debug)]
pub struct Connection {
    pub client: Client,
    emulator: Option<RunningEmulator>,
}

impl Connection {
    /// Stops an embedded emulator gracefully (open requests finish, the data file is saved).
    pub async fn close(self) {
        if let Some(emu) = self.emulator {
            emu.shutdown().await;
        }
    }
}

/// Connects to the tenant the block names: the block's endpoints (or Microsoft's) and app-only
/// credentials from the environment; or, when the block has `emulator`, an emulator started on
/// 127.0.0.1 with that data file, signed in as the emulator's app unless PAMFORM_CLIENT_* are set.
pub async fn connect(
    printer: &Printer,
    tenant: &model::Tenant,
    mut opts: ConnectOptions,
) -> Result<Connection, CliError> {
    warn_other_tenant_id(printer, tenant);
    let Some(data) = &tenant.emulator else {
        let client = tenant::connect(tenant, opts).map_err(tenant_error)?;
        announce(printer, &client, None);
        return Ok(Connection { client, emulator: None });
    };
    let env_credential = opts.credential_or_env().map_err(tenant_error)?;
    let emu = start_embedded(printer, &data.value).await?;
    let id = tenant.id.value.trim();
    if !id.is_empty()
        && !id.eq_ignore_ascii_case(&emu.tenant_domain)
        && !id.eq_ignore_ascii_case(&emu.tenant_id)
    {
        let message = format!(
            "the tenant block's id `{id}` is not the emulated tenant ({} / {}); set id to one of them",
            emu.tenant_domain, emu.tenant_id
        );
        emu.shutdown().await;
        return Err(failure(message));
    }
    let base = emu.base_url.clone();
    let endpoints = Endpoints { login: base.clone(), exchange: base.clone(), graph: base };
    let credential = env_credential.unwrap_or_else(|| Credential::Secret {
        client_id: emu.app.client_id.clone(),
        secret: Secret::new(emu.app.client_secret.clone()),
    });
    printer.debug(format_args!("emulator for {} on {}", emu.tenant_domain, emu.base_url));
    let client = Client::new(&emu.tenant_domain, endpoints, credential, opts.client).map_err(tenant_error)?;
    announce(printer, &client, Some(&data.value.display().to_string()));
    Ok(Connection { client, emulator: Some(emu) })
}

/// How long an embedded emulator waits for another command's embedded emulator to finish
/// with the same data file before refusing: commands run one after another (or a script's
/// overlapping ones) share the file; a served emulator is never waited for.
const EMBEDDED_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts the emulator a tenant block embeds, on 127.0.0.1 with the data file `data`,
/// waiting up to [`EMBEDDED_WAIT`] while another command's embedded emulator has the file.
async fn start_embedded(printer: &Printer, data: &std::path::Path) -> Result<RunningEmulator, CliError> {
    let owner = Owner::Embedded { command: command_name() };
    let started = std::time::Instant::now();
    let mut told = false;
    loop {
        let cfg = EmulatorConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data: Some(data.to_path_buf()),
            seed: None,
            faults: Faults::default(),
            tls: false,
        };
        match emulator::start_owned(cfg, false, owner.clone()).await {
            Err(EmulatorError::DataInUse { holder, .. })
                if started.elapsed() < EMBEDDED_WAIT
                    && matches!(&holder, None | Some(Holder { owner: Owner::Embedded { .. }, .. })) =>
            {
                if !told {
                    let who = holder.map(|h| h.to_string()).unwrap_or_else(|| "another emulator".to_string());
                    printer.note(format!("waiting for {who} to finish with {}", data.display()));
                    told = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(failure(format!("cannot start the emulator: {e}"))),
            Ok(emu) => return Ok(emu),
        }
    }
}

/// `pamform SUBCOMMAND` of this process, for the holder of a data file: the first argument
/// that names a subcommand, never an option's value (which may be a secret variable).
fn command_name() -> String {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    let sub = std::env::args().skip(1).find(|a| names.contains(&a.as_str()));
    match sub {
        Some(sub) => format!("pamform {sub}"),
        None => "pamform".to_string(),
    }
}

/// Says which tenant the command works on and as whom, before anything is read or changed.
fn announce(printer: &Printer, client: &Client, emulated_in: Option<&str>) {
    let place = emulated_in.map(|f| format!(" (emulated, {f})")).unwrap_or_default();
    printer.note(format!("Tenant {}{place}, signed in as {}", client.tenant(), signed_in_as(client)));
}

/// Who the client acts as, for people: `app <client id>` or the user's UPN.
pub fn signed_in_as(client: &Client) -> String {
    if client.is_app_only() { format!("app {}", client.identity()) } else { client.identity().to_string() }
}

/// PAMFORM_TENANT_ID names another tenant than the block: the block wins, and says so.
fn warn_other_tenant_id(printer: &Printer, tenant: &model::Tenant) {
    let block = tenant.id.value.trim();
    if let Some(env) = crate::env::get(crate::env::TENANT_ID)
        && !block.is_empty()
        && !env.trim().eq_ignore_ascii_case(block)
    {
        printer.note(format!(
            "warning: {} is {} but the tenant block's id is {block}; pamform works on {block}",
            crate::env::TENANT_ID,
            env.trim()
        ));
    }
}

/// A connection failure, read like a tenant error.
fn failure(message: String) -> CliError {
    CliError::new(ErrorKind::Tenant, miette::Report::msg(message))
}

/// Refreshes with the spinner on stderr, taking over what `prefetch` read.
pub async fn refresh(
    printer: &Printer,
    client: &Client,
    req: &RefreshRequest,
    prefetch: Option<Prefetch>,
) -> Result<TenantSnapshot, TenantError> {
    let progress = RefreshProgress::new(printer);
    client.refresh_prefetched(req, prefetch, &|e| progress.show(e)).await
}

/// The printer the `log` bridge writes through, set once per process.
static LOG_PRINTER: OnceLock<Printer> = OnceLock::new();

/// Writes pamform's own `log` lines (the tenant client's request log) as `-v` lines and its
/// warnings as notes; the log of the libraries underneath (reqwest, rustls) is not shown.
struct PrinterLog;

impl log::Log for PrinterLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let target = metadata.target();
        metadata.level() <= log::Level::Debug && (target == "pamform" || target.starts_with("pamform::"))
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata())
            && let Some(printer) = LOG_PRINTER.get()
        {
            if record.level() <= log::Level::Warn {
                printer.note(format_args!("warning: {}", record.args()));
            } else {
                printer.debug(record.args());
            }
        }
    }

    fn flush(&self) {}
}

/// Shows pamform's `log` lines through `printer`: warnings always (unless `--quiet`), as
/// `warning:` lines, such as a state lock whose renewal failed while a command still runs;
/// everything else only with `-v`. The first call in a process decides.
pub fn install_log(printer: &Printer) {
    if LOG_PRINTER.set(printer.clone()).is_err() {
        return;
    }
    if log::set_logger(&PrinterLog).is_ok() {
        let level = if printer.is_verbose() { log::LevelFilter::Debug } else { log::LevelFilter::Warn };
        log::set_max_level(level);
    }
}
