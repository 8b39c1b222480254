//! `pamform state list|show|mv|rm|pull|push|versions|restore|migrate`: inspect and edit state,
//! wherever it lives (the local file or the configuration's backend). Every command that
//! writes takes the state lock first and writes through [`crate::state::Storage`], so a
//! remote write is conditional on what was read.

use std::time::Duration;

use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::model::Address;
use crate::state::{State, StateError, StateStore, Storage};
use crate::views::state as state_view;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: StateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// List the addresses in state
    List,
    /// Show one resource as recorded in state
    Show {
        /// The resource's address, as `state list` prints it (e.g. access_policy.move_request)
        #[arg(value_name = "ADDRESS", value_parser = pipeline::parse_address)]
        address: Address,
    },
    /// Move a resource to another address without touching the tenant (as a `moved` block would)
    Mv {
        /// The address the resource has in state now
        #[arg(value_name = "SOURCE", value_parser = pipeline::parse_address)]
        source: Address,
        /// The address it should have (same type; not in state yet)
        #[arg(value_name = "DESTINATION", value_parser = pipeline::parse_address)]
        destination: Address,
        /// Wait this long for the state lock
        #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
        lock_timeout: Duration,
    },
    /// Forget resources without touching the tenant (they become unmanaged)
    Rm {
        /// Addresses of the resources to forget, as `state list` prints them
        #[arg(required = true, value_name = "ADDRESS", value_parser = pipeline::parse_address)]
        addresses: Vec<Address>,
        /// Wait this long for the state lock
        #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
        lock_timeout: Duration,
    },
    /// Print the current state (as stored, checksum included) to stdout
    Pull,
    /// Replace the state with a state file, refused if it is of another lineage or older
    Push {
        /// A state file, e.g. one written by `pamform state pull`
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
        /// Push even when the lineage differs or the stored state is newer
        #[arg(long)]
        force: bool,
        /// Wait this long for the state lock
        #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
        lock_timeout: Duration,
    },
    /// List the previous versions kept (blob snapshots, or the local `.backup`)
    Versions,
    /// Make a previous version the current state again (as a new serial)
    Restore {
        /// The version, as `state versions` prints it
        #[arg(value_name = "VERSION")]
        version: String,
        /// Wait this long for the state lock
        #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
        lock_timeout: Duration,
    },
    /// Move the state between the local file and the configuration's backend
    Migrate {
        /// Where the state goes: `backend` (from pamform.state.json) or `local` (from the backend)
        #[arg(long, value_name = "WHERE", value_parser = ["backend", "local"])]
        to: String,
        /// Overwrite a destination state of another lineage or a newer serial
        #[arg(long)]
        force: bool,
        /// Wait this long for the state locks
        #[arg(long, value_name = "DURATION", value_parser = crate::cli::args::duration, default_value = "0s")]
        lock_timeout: Duration,
    },
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    match args.command {
        StateCommand::List => {
            let (_, state) = pipeline::load_state(ctx, None)?;
            ctx.printer.write_out(state_view::list(state.as_ref()).as_bytes());
        }
        StateCommand::Show { address } => {
            let (_, state) = pipeline::load_state(ctx, None)?;
            let r = state
                .as_ref()
                .and_then(|s| s.get(&address))
                .ok_or_else(|| CliError::msg(ErrorKind::Usage, StateError::NotFound(address.clone())))?;
            ctx.printer.write_out(state_view::render_resource(r).as_bytes());
        }
        StateCommand::Mv { source, destination, lock_timeout } => {
            let (store, _lock) = pipeline::locked_storage(ctx, "pamform state mv", lock_timeout)?;
            let state = pipeline::read_state(store.as_ref(), None)?;
            let mut state =
                state.ok_or_else(|| CliError::msg(ErrorKind::Usage, "no state file: nothing to move"))?;
            if source.kind != destination.kind {
                return Err(CliError::msg(
                    ErrorKind::Usage,
                    format!(
                        "cannot move {source} to {destination}: a {} stays a {}; give the destination the same type",
                        source.kind.as_str(),
                        source.kind.as_str()
                    ),
                ));
            }
            if state.get(&destination).is_some() {
                return Err(CliError::msg(
                    ErrorKind::Usage,
                    format!(
                        "{destination} is already in state; remove it first (`pamform state rm {destination}`) or choose another address"
                    ),
                ));
            }
            if !state.rename(&source, &destination) {
                return Err(CliError::msg(ErrorKind::Usage, StateError::NotFound(source.clone())));
            }
            store.save(&mut state).map_err(|e| CliError::msg(ErrorKind::State, e))?;
            ctx.printer.write_out(state_view::moved(&source, &destination).as_bytes());
        }
        StateCommand::Rm { addresses, lock_timeout } => {
            let (store, _lock) = pipeline::locked_storage(ctx, "pamform state rm", lock_timeout)?;
            let state = pipeline::read_state(store.as_ref(), None)?;
            let mut state =
                state.ok_or_else(|| CliError::msg(ErrorKind::Usage, "no state file: nothing to remove"))?;
            let mut removed = Vec::new();
            for a in &addresses {
                let matching: Vec<Address> =
                    state.resources.iter().map(|r| r.address.clone()).filter(|r| a.selects(r)).collect();
                if matching.is_empty() {
                    return Err(CliError::msg(ErrorKind::Usage, StateError::NotFound(a.clone())));
                }
                for m in matching {
                    state.remove(&m);
                    removed.push(m);
                }
            }
            store.save(&mut state).map_err(|e| CliError::msg(ErrorKind::State, e))?;
            ctx.printer.write_out(state_view::removed(&removed).as_bytes());
        }
        StateCommand::Pull => {
            let (store, state) = pipeline::load_state(ctx, None)?;
            let state = state.ok_or_else(|| {
                CliError::msg(ErrorKind::Usage, format!("no state in {}: nothing to pull", store.name()))
            })?;
            ctx.printer.write_data(&state.to_bytes());
        }
        StateCommand::Push { file, force, lock_timeout } => {
            let bytes = std::fs::read(&file).map_err(|e| {
                CliError::msg(ErrorKind::Usage, format!("cannot read {}: {e}", file.display()))
            })?;
            let mut pushed = State::from_bytes(&file, &bytes).map_err(state_error)?;
            let (store, _lock) = pipeline::locked_storage(ctx, "pamform state push", lock_timeout)?;
            let current = match store.load() {
                Ok(s) => s,
                // --force replaces a damaged state (kept as a version).
                Err(e) if force && e.is_damaged() => None,
                Err(e) => return Err(state_error(e)),
            };
            replace(store.as_ref(), current.as_ref(), &mut pushed, force, &file.display().to_string())?;
            ctx.printer.write_out(state_view::written("Pushed to", &store.name(), &pushed).as_bytes());
        }
        StateCommand::Versions => {
            let store = crate::cli::backend::storage(ctx)?;
            let versions = store.versions().map_err(state_error)?;
            ctx.printer.write_out(state_view::versions(&store.name(), &versions).as_bytes());
        }
        StateCommand::Restore { version, lock_timeout } => {
            let (store, _lock) = pipeline::locked_storage(ctx, "pamform state restore", lock_timeout)?;
            // A damaged state is what a restore is for: it is replaced (and kept as a version).
            let (current, damaged) = match store.load() {
                Ok(s) => (s, false),
                Err(e) if e.is_damaged() => (None, true),
                Err(e) => return Err(state_error(e)),
            };
            let mut old = store.load_version(&version).map_err(state_error)?;
            if damaged {
                // The damaged state's serial is unknown; the last state written is at most one
                // past every version kept (each write keeps the state it replaces): continue
                // past that.
                let kept = store.versions().map_err(state_error)?;
                old.serial = kept.iter().filter_map(|v| v.serial).fold(old.serial, u64::max) + 1;
            }
            // An older version of the same lineage is the point: only the lineage is checked.
            if let Some(c) = &current
                && c.lineage != old.lineage
            {
                return Err(CliError::msg(
                    ErrorKind::State,
                    format!(
                        "version {version} is of lineage {}, the current state of lineage {}: it belongs to another configuration; nothing was changed",
                        old.lineage, c.lineage
                    ),
                ));
            }
            old.serial = current.as_ref().map_or(old.serial, |c| c.serial.max(old.serial));
            store.save(&mut old).map_err(state_error)?;
            ctx.printer.write_out(
                state_view::written(&format!("Restored version {version} to"), &store.name(), &old)
                    .as_bytes(),
            );
        }
        StateCommand::Migrate { to, force, lock_timeout } => migrate(ctx, &to, force, lock_timeout)?,
    }
    Ok(Outcome::Success)
}

fn state_error(e: StateError) -> CliError {
    CliError::msg(ErrorKind::State, e)
}

/// Writes `new` over `current` in `store`: refused when `current` is of another lineage or
/// newer than `new`, unless `force`. The serial continues from the higher of the two.
fn replace(
    store: &dyn Storage,
    current: Option<&State>,
    new: &mut State,
    force: bool,
    from: &str,
) -> Result<(), CliError> {
    if let Some(c) = current {
        if c.lineage != new.lineage && !force {
            return Err(CliError::msg(
                ErrorKind::State,
                format!(
                    "{from} is of lineage {}, but {} holds lineage {}: they are states of different configurations; nothing was changed (add --force to replace it anyway)",
                    new.lineage,
                    store.name(),
                    c.lineage
                ),
            ));
        }
        if c.serial > new.serial && !force {
            return Err(CliError::msg(
                ErrorKind::State,
                format!(
                    "{} holds serial {}, newer than {from}'s serial {}: writing it would lose changes; nothing was changed (add --force to replace it anyway)",
                    store.name(),
                    c.serial,
                    new.serial
                ),
            ));
        }
        // Two different states under one serial: one of them was written without the other
        // being read, so pushing would silently drop changes (Terraform refuses this too).
        if c.serial == new.serial && !force && c.to_bytes() != new.to_bytes() {
            return Err(CliError::msg(
                ErrorKind::State,
                format!(
                    "{} holds serial {} with different contents than {from}, which has the same serial: one of them was written without the other; nothing was changed (pull the state, merge by hand and push a higher serial, or add --force to replace it anyway)",
                    store.name(),
                    c.serial,
                ),
            ));
        }
        new.serial = new.serial.max(c.serial);
    }
    store.save(new).map_err(state_error)
}

/// `state migrate --to backend|local`: copies the state between the local file and the
/// configuration's backend under both locks. The local file moved to the backend is renamed
/// `pamform.state.json.migrated`, so that it cannot be mistaken for the current state.
fn migrate(ctx: &Context, to: &str, force: bool, lock_timeout: Duration) -> Result<(), CliError> {
    let backend = match crate::config::backend::read(&ctx.dir) {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Err(CliError::msg(
                ErrorKind::Usage,
                "the configuration has no backend block: add `backend \"azurerm\" { ... }` (docs/remote-state.md) before migrating",
            ));
        }
        Err(e) => {
            crate::cli::load::render_diagnostics(ctx, &e.diagnostics, &e.sources);
            return Err(CliError::reported(ErrorKind::Config));
        }
    };
    let entra = if backend.use_azuread_auth { Some(crate::cli::backend::entra(ctx)?) } else { None };
    let remote = crate::cli::backend::remote(&backend, entra)?;
    let local = StateStore::new(&ctx.dir);
    let lock = |s: &dyn Storage| {
        s.lock("pamform state migrate", lock_timeout).map_err(|e| CliError::msg(ErrorKind::Lock, e))
    };
    let _local_lock = lock(&local)?;
    let _remote_lock = lock(&remote)?;
    let (from, into): (&dyn Storage, &dyn Storage) =
        if to == "backend" { (&local, &remote) } else { (&remote, &local) };
    let mut state = from.load().map_err(state_error)?.ok_or_else(|| {
        CliError::msg(ErrorKind::Usage, format!("no state in {}: nothing to migrate", from.name()))
    })?;
    let current = into.load().map_err(state_error)?;
    replace(into, current.as_ref(), &mut state, force, &from.name())?;
    if to == "backend" {
        let moved = local.path().with_extension("json.migrated");
        std::fs::read(local.path())
            .and_then(|bytes| crate::files::write_atomic(&moved, &bytes))
            .and_then(|()| std::fs::remove_file(local.path()))
            .map_err(|e| {
                CliError::msg(
                    ErrorKind::State,
                    format!(
                        "the state is in {}, but {} could not be renamed: {e}; delete it by hand",
                        remote.name(),
                        local.path().display()
                    ),
                )
            })?;
    }
    ctx.printer.write_out(state_view::written("Migrated to", &into.name(), &state).as_bytes());
    Ok(())
}
