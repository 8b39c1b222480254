//! `pamform whoami [--json]`: the tenant the configuration in `-C` works on, the app that
//! plan and apply sign in as (signed in, to prove the credential works), and the user that
//! `pamform login` keeps for the request workflow.

use chrono::Utc;

use super::login::has_configuration;
use crate::cli::load::VarArgs;
use crate::cli::{CliError, Context, ErrorKind, Outcome, connect, pipeline};
use crate::requests::SessionStore;
use crate::tenant::ConnectOptions;
use crate::views::Printer;
use crate::views::whoami::{AppSignIn, UserSignIn, WhoAmI};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the answer as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let mut who = WhoAmI::default();
    if has_configuration(ctx) {
        let loaded = pipeline::configuration(ctx, &VarArgs::default())?;
        let block = loaded.configuration.tenant.as_ref().expect("checked by configuration()");
        who.tenant = Some(block.id.value.clone());
        who.emulated_in = block.emulator.as_ref().map(|p| p.value.display().to_string());
        let rt = pipeline::runtime()?;
        who.app = Some(rt.block_on(async {
            // Quietly: the answer is printed below, once.
            match connect::connect(&Printer::plain(), block, ConnectOptions::default()).await {
                Ok(conn) => {
                    let signed = conn.client.sign_in().await;
                    let app = AppSignIn {
                        identity: connect::signed_in_as(&conn.client),
                        endpoint: (block.emulator.is_none()).then(|| conn.client.endpoints().login.clone()),
                        error: signed.err().map(|e| e.to_string()),
                    };
                    conn.close().await;
                    app
                }
                Err(e) => {
                    AppSignIn { identity: String::new(), endpoint: None, error: Some(e.report.to_string()) }
                }
            }
        }));
    }
    let store = SessionStore::default_location().map_err(|e| CliError::msg(ErrorKind::Config, e))?;
    who.user = match store.load() {
        Ok(Some(s)) => Some(UserSignIn {
            upn: s.upn.clone(),
            tenant: s.tenant.clone(),
            usable: s.usable(Utc::now()),
            expires_at: s.expires_at,
            renews: s.has_refresh_token(),
        }),
        Ok(None) => None,
        Err(e) => {
            ctx.printer
                .note(format!("warning: the kept sign-in cannot be read ({e}); `pamform login` replaces it"));
            None
        }
    };
    let text = if args.json { crate::views::whoami::json(&who) } else { crate::views::whoami::text(&who) };
    ctx.printer.write_out(text.as_bytes());
    match who.app.as_ref().and_then(|a| a.error.as_ref()) {
        Some(_) => Err(CliError::reported(ErrorKind::Tenant)),
        None => Ok(Outcome::Success),
    }
}
