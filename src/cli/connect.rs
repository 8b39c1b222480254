//! The CLI's side of the tenant client: connecting (starting the embedded emulator when the
//! tenant block names a data file), the spinner that shows a refresh's [`RefreshEvent`]s, and
//! the `log` bridge that prints the client's request log at `-v`. The client itself draws
//! and prints nothing.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::cli::pipeline::tenant_error;
use crate::cli::{CliError, ErrorKind};
use crate::emulator::{self, EmulatorConfig, Faults, RunningEmulator};
use crate::model::{self, TenantSnapshot};
use crate::output::Printer;
use crate::tenant::{
    self, Client, ConnectOptions, Credential, Endpoints, RefreshEvent, RefreshRequest, Secret, TenantError,
};

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
    let Some(data) = &tenant.emulator else {
        let client = tenant::connect(tenant, opts).map_err(tenant_error)?;
        return Ok(Connection { client, emulator: None });
    };
    let env_credential = opts.credential_or_env().map_err(tenant_error)?;
    let emu = emulator::start(EmulatorConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data: Some(data.value.clone()),
        seed: None,
        faults: Faults::default(),
        tls: false,
    })
    .await
    .map_err(|e| failure(format!("cannot start the emulator: {e}")))?;
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
    Ok(Connection { client, emulator: Some(emu) })
}

/// A connection failure, read like a tenant error.
fn failure(message: String) -> CliError {
    CliError::new(ErrorKind::Tenant, miette::Report::msg(message))
}

/// Refreshes with the spinner on stderr.
pub async fn refresh(
    printer: &Printer,
    client: &Client,
    req: &RefreshRequest,
) -> Result<TenantSnapshot, TenantError> {
    let progress = RefreshProgress::new(printer);
    client.refresh_observed(req, &|e| progress.show(e)).await
}

/// A spinner on stderr while a refresh runs, when stderr is a terminal and neither `--quiet`
/// nor `-v` is given (the request log would tear it). Drawn from the refresh's first event,
/// cleared at its last or when this is dropped.
pub struct RefreshProgress {
    enabled: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl RefreshProgress {
    pub fn new(printer: &Printer) -> Self {
        RefreshProgress { enabled: printer.show_progress() && !printer.is_verbose(), bar: Mutex::new(None) }
    }

    /// Updates the spinner for one refresh event.
    pub fn show(&self, event: RefreshEvent) {
        if !self.enabled {
            return;
        }
        let Ok(mut bar) = self.bar.lock() else { return };
        let message = match event {
            RefreshEvent::Started => "refreshing the tenant",
            RefreshEvent::PolicyTargets => "reading groups and roles the policies name",
            RefreshEvent::RoleContents => "reading role contents",
            RefreshEvent::Finished => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                return;
            }
        };
        bar.get_or_insert_with(spinner).set_message(message);
    }
}

fn spinner() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

impl Drop for RefreshProgress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.get_mut().ok().and_then(Option::take) {
            b.finish_and_clear();
        }
    }
}

/// The printer the `log` bridge writes through, set once per process.
static LOG_PRINTER: OnceLock<Printer> = OnceLock::new();

/// Writes pamform's own `log` lines (the tenant client's request log) as `-v` lines; the log
/// of the libraries underneath (reqwest, rustls) is not shown.
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
            printer.debug(record.args());
        }
    }

    fn flush(&self) {}
}

/// Shows pamform's `log` lines through `printer` when it is verbose; without `-v` nothing is
/// logged. The first call in a process decides.
pub fn install_log(printer: &Printer) {
    if !printer.is_verbose() || LOG_PRINTER.set(printer.clone()).is_err() {
        return;
    }
    if log::set_logger(&PrinterLog).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
}
