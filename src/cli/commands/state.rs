//! `pamform state list|show|rm`: inspect and edit state.

use std::time::Duration;

use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::model::Address;
use crate::state::StateError;
use crate::state::lock::LockGuard;
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
            let _lock = LockGuard::acquire(&ctx.dir, "pamform state mv", lock_timeout)
                .map_err(|e| CliError::msg(ErrorKind::Lock, e))?;
            let (store, state) = pipeline::load_state(ctx, None)?;
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
            let _lock = LockGuard::acquire(&ctx.dir, "pamform state rm", lock_timeout)
                .map_err(|e| CliError::msg(ErrorKind::Lock, e))?;
            let (store, state) = pipeline::load_state(ctx, None)?;
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
    }
    Ok(Outcome::Success)
}
