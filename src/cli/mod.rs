//! The command-line edge: flags (clap), one module per command under [`commands`], and the
//! single mapping from outcomes and error kinds to exit codes ([`error`]).

pub mod args;
pub mod backend;
pub mod commands;
pub mod connect;
pub mod error;
pub mod exit;
pub mod load;
pub mod pipeline;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::views::{self, ColorMode, Printer};
pub use error::{CliError, ErrorKind, Outcome};

/// What `pamform --version` and `pamform version` print after the name: the crate version and
/// the commit it was built from (set by build.rs; "unknown" when no commit could be found).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("PAMFORM_COMMIT"), ")");

/// The help heading of the options every command takes, apart from each command's own (as
/// cargo and uv print them).
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(name = "pamform", version = VERSION, about = "Microsoft 365 privileged access management as code")]
pub struct Cli {
    /// Configuration directory
    #[arg(
        short = 'C',
        long = "chdir",
        global = true,
        value_name = "DIR",
        default_value = ".",
        help_heading = GLOBAL
    )]
    pub chdir: PathBuf,
    /// When to use colour (NO_COLOR is honoured in auto mode)
    #[arg(long, global = true, value_enum, default_value_t = ColorMode::Auto, help_heading = GLOBAL)]
    pub color: ColorMode,
    /// Print only results and errors
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,
    /// Log each HTTP request (secrets redacted)
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration offline
    Validate(commands::validate::Args),
    /// Rewrite configuration files in the canonical format
    Fmt(commands::fmt::Args),
    /// Refresh the tenant and show what apply would change
    Plan(commands::plan::Args),
    /// Apply the changes a plan proposes
    Apply(commands::apply::Args),
    /// Compare the tenant with the last apply; exit 2 on drift
    Drift(commands::drift::Args),
    /// Plan, check or apply every tenant of the directory's fleet file
    Fleet(commands::fleet::Args),
    /// Render a saved plan, or the state
    Show(commands::show::Args),
    /// Inspect and edit state
    State(commands::state::Args),
    /// Remove a lock left behind by a crashed run
    ForceUnlock(commands::force_unlock::Args),
    /// Run the emulated Microsoft 365 tenant
    Emulator(commands::emulator::Args),
    /// Write configuration (with import blocks) that reproduces the tenant's PAM setup
    Export(commands::export::Args),
    /// Adopt an existing tenant object into state without changing it
    Import(commands::import::Args),
    /// Sign in as a user (device code flow) for the request workflow
    Login(commands::login::Args),
    /// Remove the cached sign-in
    Logout(commands::logout::Args),
    /// Just-in-time access requests: new, list, show, approve, deny, revoke, wait
    Request(commands::request::Args),
    /// Show the tenant this configuration works on, as whom, and who is signed in for requests
    Whoami(commands::whoami::Args),
    /// Print the version and the commit pamform was built from
    Version,
    /// Print shell completions
    Completions(commands::completions::Args),
}

/// Global context every command receives.
pub struct Context {
    pub dir: PathBuf,
    pub printer: Printer,
    pub verbose: bool,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are successes; every usage error exits 1, never clap's 2,
            // because scripts read 2 as "changes".
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let printer = Printer::new(cli.color, cli.quiet, cli.verbose);
    views::diagnostics::install(&printer);
    connect::install_log(&printer);
    let ctx = Context { dir: cli.chdir.clone(), printer, verbose: cli.verbose };
    let result = run(cli.command, &ctx);
    error::exit_code(result, &ctx.printer)
}

fn run(command: Command, ctx: &Context) -> Result<Outcome, CliError> {
    match command {
        Command::Completions(args) => commands::completions::run(args, ctx),
        Command::Validate(args) => commands::validate::run(args, ctx),
        Command::Fmt(args) => commands::fmt::run(args, ctx),
        Command::Plan(args) => commands::plan::run(args, ctx),
        Command::Apply(args) => commands::apply::run(args, ctx),
        Command::Drift(args) => commands::drift::run(args, ctx),
        Command::Fleet(args) => commands::fleet::run(args, ctx),
        Command::Show(args) => commands::show::run(args, ctx),
        Command::State(args) => commands::state::run(args, ctx),
        Command::ForceUnlock(args) => commands::force_unlock::run(args, ctx),
        Command::Emulator(args) => commands::emulator::run(args, ctx),
        Command::Export(args) => commands::export::run(args, ctx),
        Command::Import(args) => commands::import::run(args, ctx),
        Command::Login(args) => commands::login::run(args, ctx),
        Command::Logout(args) => commands::logout::run(args, ctx),
        Command::Request(args) => commands::request::run(args, ctx),
        Command::Whoami(args) => commands::whoami::run(args, ctx),
        Command::Version => {
            ctx.printer.write_out(format!("pamform {VERSION}\n").as_bytes());
            Ok(Outcome::Success)
        }
    }
}
