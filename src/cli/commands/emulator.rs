//! `pamform emulator serve`: run the emulated tenant (token endpoint, Exchange admin API,
//! Graph reads) on a loopback port until Ctrl-C, or many tenants from a multi-tenant seed;
//! `pamform emulator seed`: write such a seed. `pamform emulator exec`: change the emulated
//! tenant out of band, one Exchange cmdlet run as the tenant's admin app through the real
//! `InvokeCommand` wire, as an admin with PowerShell would (to try drift).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::super::{CliError, Context, ErrorKind, Outcome, args};
use crate::emulator::{self, EmulatorConfig, Faults, Owner, tenancy};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Serve the emulated tenant until Ctrl-C
    Serve(ServeArgs),
    /// Write a multi-tenant seed (JSON) for `emulator serve --seed`
    Seed(SeedArgs),
    /// Run one Exchange cmdlet against the emulated tenant as its admin app (an out-of-band change)
    #[command(
        after_help = EXEC_EXAMPLES,
        override_usage = "pamform emulator exec [OPTIONS] -- CMDLET [-PARAM VALUE]..."
    )]
    Exec(ExecArgs),
}

const EXEC_EXAMPLES: &str = "\
Examples:
  pamform emulator exec -- Get-DistributionGroupMember -Identity pam-approvers
  pamform emulator exec -- Add-DistributionGroupMember \\
      -Identity pam-approvers -Member mallory@contoso.onmicrosoft.com
  pamform emulator exec --url http://127.0.0.1:8740 -- \\
      Disable-ElevatedAccessControl

Parameters are written as in PowerShell: -Name VALUE, -Name:VALUE, or -Switch
alone. $true, $false and $null are those values, a,b is a list, and a value
starting with [, { or \" is JSON.";

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The served emulator (default: the one the configuration in -C uses, else http://127.0.0.1:8740)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Print the cmdlet's output and warnings as one JSON object
    #[arg(long)]
    pub json: bool,
    /// The cmdlet and its parameters, after `--`
    #[arg(value_name = "CMDLET", required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// Number of tenants (tenant0001.onmicrosoft.com, ...)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tenants: u32,
    /// Mailbox users per tenant (user001@..., besides admin and svc-pamform)
    #[arg(long, value_name = "U", default_value_t = 20)]
    pub users: u32,
    /// Give each tenant an approver group of M of its users, with PAM on
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub approver_members: u32,
    /// Give each tenant P access policies the approver group approves
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub policies: u32,
    /// Write the seed to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Loopback address and port to listen on (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8740")]
    pub listen: SocketAddr,
    /// Keep the tenant in this JSON file (created on the first write, loaded when present)
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Start from this seed file instead of the default tenant
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate; its PEM path is printed
    #[arg(long)]
    pub tls: bool,
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Fault options; see docs/emulator.md.
#[derive(Debug, clap::Args)]
pub struct FaultArgs {
    /// Latency added to every Exchange admin API answer
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = args::millis)]
    pub exchange_latency_ms: u64,
    /// Latency added to every Graph answer
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = args::millis)]
    pub graph_latency_ms: u64,
    /// Latency added to every token and device-code answer
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = args::millis)]
    pub login_latency_ms: u64,
    /// Concurrent Exchange requests per tenant before the concurrency message (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = args::limit)]
    pub exchange_concurrency_limit: usize,
    /// Status of an answer over the concurrency limit (429 or 503)
    #[arg(long, value_name = "STATUS", default_value_t = 429)]
    pub concurrency_limit_status: u16,
    /// Share of Exchange and Graph requests answered 429 (0 to 1)
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = args::rate)]
    pub throttle_rate: f64,
    /// Retry-After of throttled answers
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = args::millis)]
    pub retry_after_ms: u64,
    /// Share of Exchange and Graph requests answered 503 (0 to 1)
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = args::rate)]
    pub server_error_rate: f64,
    /// Share of Exchange and Graph requests whose connection is dropped (0 to 1)
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = args::rate)]
    pub drop_rate: f64,
    /// Delay before a write shows in Graph and a new policy takes effect
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = args::millis)]
    pub replication_delay_ms: u64,
    /// Lifetime of issued access tokens
    #[arg(long, value_name = "SECS", default_value_t = 3599, value_parser = args::token_secs)]
    pub token_lifetime_secs: u64,
    /// Graph resource units per app per 10 s (default: Microsoft's quota for the tenant's size; 0: none)
    #[arg(long, value_name = "UNITS")]
    pub graph_resource_unit_quota: Option<u64>,
    /// Seed of the random fault choices, for reproducible runs
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
}

impl FaultArgs {
    pub fn to_faults(&self) -> Faults {
        Faults {
            exchange_latency_ms: self.exchange_latency_ms,
            graph_latency_ms: self.graph_latency_ms,
            login_latency_ms: self.login_latency_ms,
            exchange_concurrency_limit: self.exchange_concurrency_limit,
            concurrency_limit_status: self.concurrency_limit_status,
            throttle_rate: self.throttle_rate,
            retry_after_ms: self.retry_after_ms,
            server_error_rate: self.server_error_rate,
            drop_rate: self.drop_rate,
            drop_after_write: false,
            replication_delay_ms: self.replication_delay_ms,
            token_lifetime_secs: self.token_lifetime_secs,
            graph_resource_unit_quota: self.graph_resource_unit_quota,
            fault_seed: self.fault_seed,
            ..Faults::default()
        }
    }
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    match args.command {
        Sub::Serve(a) => serve(a, ctx),
        Sub::Seed(a) => seed(a, ctx),
        Sub::Exec(a) => super::emulator_exec::run(a, ctx),
    }
}

fn seed(args: SeedArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let opts = tenancy::Generate {
        tenants: args.tenants as usize,
        users: args.users as usize,
        approver_members: args.approver_members as usize,
        policies: args.policies as usize,
    };
    let seed = tenancy::generate(&opts).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
    let text = serde_json::to_vec(&seed)
        .map_err(|e| CliError::msg(ErrorKind::Internal, format!("cannot write the seed: {e}")))?;
    match &args.out {
        Some(path) => crate::files::write_atomic(path, &text).map_err(|e| {
            CliError::msg(ErrorKind::Usage, format!("cannot write the seed file {}: {e}", path.display()))
        })?,
        None => ctx.printer.write_out(&text),
    }
    Ok(Outcome::Success)
}

fn serve(args: ServeArgs, ctx: &Context) -> Result<Outcome, CliError> {
    if !args.listen.ip().is_loopback() {
        return Err(CliError::msg(
            ErrorKind::Usage,
            format!(
                "the emulator listens on loopback only, not {}; use --listen 127.0.0.1:PORT",
                args.listen
            ),
        ));
    }
    let faults = args.faults.to_faults();
    faults.validate().map_err(|e| CliError::msg(ErrorKind::Usage, format!("{e}; fix the fault option")))?;
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::msg(
                    ErrorKind::Usage,
                    format!("could not read the seed file {}: {e}", path.display()),
                )
            })?;
            Some(tenancy::parse_seed_file(&text).map_err(|e| {
                CliError::msg(
                    ErrorKind::Config,
                    format!("the seed file {} is not usable: {e}", path.display()),
                )
            })?)
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::msg(ErrorKind::Internal, format!("could not start the async runtime: {e}")))?;
    runtime.block_on(async {
        let started = match seed {
            Some((seeds, true)) => {
                let cfg = EmulatorConfig {
                    listen: args.listen,
                    data: args.data,
                    seed: None,
                    faults,
                    tls: args.tls,
                };
                tenancy::start_tenants(cfg, seeds, ctx.verbose).await
            }
            one => {
                let seed = one.and_then(|(mut seeds, _)| seeds.pop());
                let cfg =
                    EmulatorConfig { listen: args.listen, data: args.data, seed, faults, tls: args.tls };
                emulator::start_owned(cfg, ctx.verbose, Owner::Served).await
            }
        };
        let running = started.map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
        crate::views::emulator::serving(&ctx.printer, &running);
        running.run_until_ctrl_c().await.map_err(|e| CliError::msg(ErrorKind::Internal, e))?;
        Ok(Outcome::Success)
    })
}
