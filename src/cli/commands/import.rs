//! `pamform import ADDR ID`: adopt an existing tenant object into state without changing it.
//! ADDR must be in the configuration; ID names the object (group: email or object id;
//! policy: Identity, task, role or role group; privileged_access: any id, e.g. the tenant)
//! and no other address may manage the object already.
//! Holds the state lock; on any error the state is left as it was.

use std::time::Duration;

use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::drift;
use crate::export::import::{self, ImportError};
use crate::model::{Address, ResourceType, TenantSnapshot};
use crate::state::State;
use crate::views::import as import_view;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configured address to import into, e.g. approver_group.default
    #[arg(value_name = "ADDR", value_parser = pipeline::parse_address)]
    pub address: Address,
    /// The object's id in the tenant: group email or object id, policy Identity or task, ...
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Wait this long for the state lock (e.g. 30s, 2m) instead of failing at once
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
    pub lock_timeout: Duration,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let (store, _lock) = pipeline::locked_storage(ctx, "pamform import", args.lock_timeout)?;
    // Listening as soon as the lock is held (a Ctrl-C while waiting for it still ends the
    // command at once): from here a Ctrl-C ends the command through the `select!` below,
    // which releases the lock, never by the default action.
    let rt = pipeline::runtime()?;
    let interrupt = rt.block_on(async { Interrupt::listen() });
    let loaded = pipeline::configuration(ctx, &args.vars)?;
    let state = pipeline::read_state(store.as_ref(), Some(pipeline::tenant_id(&loaded.configuration)))?;
    let config = &loaded.configuration;
    let address = &args.address;
    let usage = |e: ImportError| CliError::msg(ErrorKind::Usage, e);
    if !config.contains(address) {
        return Err(usage(ImportError::NotConfigured(address.clone())));
    }
    // An entry without an id is a create an interrupted apply left pending: importing the
    // object it made is what the next plan would do too.
    if state.as_ref().is_some_and(|s| s.get(address).is_some_and(|r| !r.id.is_empty())) {
        return Err(usage(ImportError::AlreadyManaged(address.clone())));
    }
    let tenant_id = config.tenant.as_ref().map(|t| t.id.value.clone()).unwrap_or_default();
    let work = async {
        let conn = pipeline::connect(ctx, config).await?;
        let snapshot =
            pipeline::refresh(ctx, &conn, &pipeline::refresh_request(config, state.as_ref())).await?;
        let found = match import::find(address, &args.id, config, &snapshot) {
            Ok(id) => id,
            // A group the configuration does not name is not in the snapshot: look it up to
            // tell a group with another email from one that does not exist.
            Err(ImportError::NotFound { .. }) if address.kind == ResourceType::ApproverGroup => {
                let other = conn.client.get_group(args.id.trim()).await.map_err(pipeline::tenant_error)?;
                let configured =
                    config.groups.get(address).map(|g| g.email.value.clone()).unwrap_or_default();
                return Err(match other {
                    Some(g) => usage(ImportError::email_differs(
                        &args.id,
                        &g.primary_smtp_address,
                        address,
                        &configured,
                    )),
                    None => usage(import::find(address, &args.id, config, &snapshot).unwrap_err()),
                });
            }
            Err(e) => return Err(usage(e)),
        };
        if let Some(state) = &state {
            crate::plan::import::check_owner(state, address, &args.id, &found).map_err(usage)?;
        }
        conn.close().await;
        let entry = import::state_entry(address, &found, config, &snapshot).ok_or_else(|| {
            CliError::msg(
                ErrorKind::Tenant,
                format!("{address}: the object `{found}` vanished while reading it; run the import again"),
            )
        })?;
        Ok::<_, CliError>((entry, snapshot))
    };
    // Nothing is written before the tenant is read: Ctrl-C ends the command at once, and the
    // state lock (a blob lease, with a backend) is released as `_lock` drops, not left to
    // expire.
    let (entry, snapshot) = rt.block_on(async {
        tokio::select! {
            done = work => done,
            _ = interrupt.received() => Err(CliError::msg(
                ErrorKind::Tenant,
                "interrupted: nothing was imported, and the state lock is released",
            )),
        }
    })?;
    let mut state = state.unwrap_or_else(|| State::new(tenant_id));
    let id = entry.id.clone();
    state.upsert(entry);
    store.save(&mut state).map_err(|e| CliError::msg(ErrorKind::State, e))?;
    import_view::imported(&ctx.printer, address, &id);
    print_unmanaged(ctx, &state, &snapshot);
    Ok(Outcome::Success)
}

/// Lists the tenant's PAM objects that `state` does not manage, as drift reports them.
pub fn print_unmanaged(ctx: &Context, state: &State, snapshot: &TenantSnapshot) {
    import_view::unmanaged(&ctx.printer, &drift::unmanaged(state, snapshot));
}

/// Ctrl-C (and, on Unix, SIGTERM), listened for from the moment it is made.
struct Interrupt {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Interrupt {
    fn listen() -> Interrupt {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::interrupt()).ok().zip(signal(SignalKind::terminate()).ok());
            Interrupt { signals }
        }
        #[cfg(not(unix))]
        Interrupt {}
    }

    async fn received(mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = self.signals.as_mut() {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
