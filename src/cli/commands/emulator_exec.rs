//! `pamform emulator exec -- CMDLET [-PARAM VALUE]...`: one Exchange cmdlet run against an
//! emulated tenant as its admin app, through the same `InvokeCommand` wire and tenant client
//! pamform uses, so an out-of-band change (an admin in PowerShell) needs no hand-written JSON.
//!
//! Which emulator: `--url`; else the configuration in `-C`: the server of its embedded data
//! file when one serves it, else that file in an emulator embedded in this command, else the
//! block's loopback Exchange URL; else `http://127.0.0.1:8740`. Only loopback URLs are used:
//! the well-known credential means nothing anywhere else.

use serde_json::Value;

use super::super::{CliError, Context, ErrorKind, Outcome};
use super::emulator::ExecArgs;
use super::login::has_configuration;
use crate::cli::load::VarArgs;
use crate::cli::pipeline;
use crate::emulator::{self, EmulatorConfig, Faults, Holder, Owner, RunningEmulator, Seed};
use crate::tenant::http::{Outgoing, Transport};
use crate::tenant::retry::Idempotency;
use crate::tenant::{Api, Client, ClientOptions, Credential, Endpoints, RetryPolicy, Secret, TenantError};
use crate::wire::exchange::InvokeCommandRequest;

/// Where `pamform emulator serve` listens unless told otherwise.
const DEFAULT_URL: &str = "http://127.0.0.1:8740";

/// The emulator a cmdlet runs against.
enum Target {
    Served { url: String },
    Embedded { data: std::path::PathBuf },
}

pub fn run(args: ExecArgs, ctx: &Context) -> Result<Outcome, CliError> {
    let input = cmdlet_input(&args.words).map_err(|e| CliError::msg(ErrorKind::Usage, e))?;
    let target = target(&args, ctx)?;
    let rt = pipeline::runtime()?;
    let output = rt.block_on(async {
        match target {
            Target::Served { url } => run_served(ctx, &url, &input).await,
            Target::Embedded { data } => run_embedded(ctx, &data, &input).await,
        }
    })?;
    let name = &input.cmdlet_input.cmdlet_name;
    if args.json {
        crate::views::emulator::exec_json(&ctx.printer, name, &output.value, &output.warnings);
    } else {
        crate::views::emulator::exec_text(&ctx.printer, name, &output.value, &output.warnings);
    }
    Ok(Outcome::Success)
}

fn target(args: &ExecArgs, ctx: &Context) -> Result<Target, CliError> {
    if let Some(url) = &args.url {
        return Ok(Target::Served { url: loopback(url.trim_end_matches('/'))? });
    }
    if !has_configuration(ctx) {
        return Ok(Target::Served { url: DEFAULT_URL.to_string() });
    }
    let loaded = pipeline::configuration(ctx, &VarArgs::default())?;
    let block = loaded.configuration.tenant.as_ref().expect("checked by configuration()");
    if let Some(data) = &block.emulator {
        let data = data.value.clone();
        // A served data file is changed through its server: a second emulator on it would
        // be refused (and would lose writes).
        if let Some(Holder { owner: Owner::Served, url: Some(url), pid }) = emulator::data_lock::holder(&data)
        {
            // The lock file beside the data file says where: anyone who can write there can
            // write it, so it is held to the same rule as --url.
            let url = loopback(url.trim_end_matches('/'))?;
            ctx.printer
                .note(format!("{} is served at {url} (pid {pid}); running the cmdlet there", data.display()));
            return Ok(Target::Served { url });
        }
        return Ok(Target::Embedded { data });
    }
    let endpoints = Endpoints::from_tenant(block).map_err(pipeline::tenant_error)?;
    Ok(Target::Served { url: loopback(endpoints.exchange.trim_end_matches('/'))? })
}

/// `url` when it is on this machine.
fn loopback(url: &str) -> Result<String, CliError> {
    let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string));
    let on_this_machine = match host.as_deref() {
        Some("localhost") => true,
        Some(h) => h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    if on_this_machine {
        Ok(url.to_string())
    } else {
        Err(CliError::msg(
            ErrorKind::Usage,
            format!(
                "`emulator exec` changes an emulator on this machine only, not {url}; pass --url http://127.0.0.1:PORT (what `pamform emulator serve` printed)"
            ),
        ))
    }
}

/// The cmdlet against a served emulator at `url`, signed in with PAMFORM_CLIENT_ID and
/// PAMFORM_CLIENT_SECRET when set, else the default seed's well-known app.
async fn run_served(
    ctx: &Context,
    url: &str,
    input: &InvokeCommandRequest,
) -> Result<crate::tenant::CmdletOutput, CliError> {
    let (tenant, tenant_id) = served_tenant(url).await?;
    let credential = match Credential::from_env().map_err(pipeline::tenant_error)? {
        Some(c) => c,
        None => {
            let seed = Seed::default_seed().map_err(|e| CliError::msg(ErrorKind::Internal, e))?;
            let (client_id, secret) = seed.app_secret().unwrap_or_default();
            Credential::Secret { client_id, secret: Secret::new(secret) }
        }
    };
    ctx.printer
        .note(format!("Emulator {url}, tenant {tenant} ({tenant_id}), as app {}", credential.client_id()));
    let endpoints = Endpoints { login: url.to_string(), exchange: url.to_string(), graph: url.to_string() };
    invoke(&tenant, endpoints, credential, input)
        .await
        .map_err(|e| explain(e, &format!("the emulator at {url}")))
}

/// The cmdlet against an emulator embedded in this command on `data`.
async fn run_embedded(
    ctx: &Context,
    data: &std::path::Path,
    input: &InvokeCommandRequest,
) -> Result<crate::tenant::CmdletOutput, CliError> {
    let cfg = EmulatorConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data: Some(data.to_path_buf()),
        seed: None,
        faults: Faults::default(),
        tls: false,
    };
    let owner = Owner::Embedded { command: "pamform emulator exec".to_string() };
    let emu: RunningEmulator = emulator::start_owned(cfg, false, owner)
        .await
        .map_err(|e| CliError::msg(ErrorKind::Tenant, format!("cannot start the emulator: {e}")))?;
    ctx.printer.note(format!(
        "Emulator embedded on {}, tenant {} ({}), as app {}",
        data.display(),
        emu.tenant_domain,
        emu.tenant_id,
        emu.app.client_id
    ));
    let base = emu.base_url.clone();
    let endpoints = Endpoints { login: base.clone(), exchange: base.clone(), graph: base };
    let credential = Credential::Secret {
        client_id: emu.app.client_id.clone(),
        secret: Secret::new(emu.app.client_secret.clone()),
    };
    let out = invoke(&emu.tenant_domain, endpoints, credential, input).await;
    let what = format!("the emulator on {}", data.display());
    emu.shutdown().await;
    out.map_err(|e| explain(e, &what))
}

async fn invoke(
    tenant: &str,
    endpoints: Endpoints,
    credential: Credential,
    input: &InvokeCommandRequest,
) -> Result<crate::tenant::CmdletOutput, TenantError> {
    // A local emulator answers at once or not at all: no long retries.
    let options = ClientOptions { retry: quick_retry(), ..ClientOptions::default() };
    let client = Client::new(tenant, endpoints, credential, options)?;
    client.invoke(input).await
}

fn quick_retry() -> RetryPolicy {
    RetryPolicy { max_attempts: 2, max_elapsed: std::time::Duration::from_secs(5), ..RetryPolicy::default() }
}

/// The tenant an emulator at `url` serves (`/_emulator/health`), which also proves it is one.
async fn served_tenant(url: &str) -> Result<(String, String), CliError> {
    let unreachable = |why: String| {
        CliError::msg(
            ErrorKind::Tenant,
            format!(
                "cannot reach an emulator at {url}: {why}; start one with `pamform emulator serve` or pass --url with the base_url it printed"
            ),
        )
    };
    let transport = Transport::new(quick_retry(), None, true).map_err(|e| unreachable(e.to_string()))?;
    let req =
        Outgoing::new(Api::Login, reqwest::Method::GET, format!("{url}/_emulator/health"), Idempotency::Read);
    let incoming = transport.send(&req, None, None).await.map_err(|e| unreachable(e.to_string()))?;
    let health: Value = serde_json::from_slice(&incoming.body).unwrap_or(Value::Null);
    match (incoming.is_success(), health["tenant"].as_str(), health["tenant_id"].as_str()) {
        (true, Some(domain), Some(id)) => Ok((domain.to_string(), id.to_string())),
        _ => {
            Err(unreachable(format!("it answered status {} without the emulator's health", incoming.status)))
        }
    }
}

/// A failure, said in terms of the emulator: a refused sign-in means the credential is not
/// one of its seed's apps.
fn explain(e: TenantError, emulator: &str) -> CliError {
    let message = match &e {
        TenantError::SignIn { .. } => format!(
            "{e}; {emulator} does not know this app: set PAMFORM_CLIENT_ID and PAMFORM_CLIENT_SECRET to an app of its seed"
        ),
        TenantError::Connection { .. } | TenantError::OutcomeUnknown { .. } => {
            format!("cannot reach {emulator}: {e}")
        }
        _ => e.to_string(),
    };
    CliError::msg(ErrorKind::Tenant, message)
}

/// `CMDLET -Name VALUE -Name:VALUE -Switch ...` as the cmdlet input of `InvokeCommand`.
pub fn cmdlet_input(words: &[String]) -> Result<InvokeCommandRequest, String> {
    let Some((name, rest)) = words.split_first() else {
        return Err("name the cmdlet to run, such as `-- Get-DistributionGroup`".to_string());
    };
    let verb_noun = name.split_once('-').is_some_and(|(verb, noun)| {
        !verb.is_empty()
            && !noun.is_empty()
            && verb.chars().all(|c| c.is_ascii_alphabetic())
            && noun.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if !verb_noun {
        return Err(format!(
            "`{name}` is not a cmdlet name; write Verb-Noun first, such as `-- Add-DistributionGroupMember -Identity pam-approvers -Member mallory@contoso.onmicrosoft.com`"
        ));
    }
    let mut input = InvokeCommandRequest::new(name);
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let word = &rest[i];
        let Some(param) = word.strip_prefix('-').filter(|p| !p.is_empty()) else {
            return Err(format!("`{word}` has no parameter name before it; write -Name VALUE"));
        };
        let (param, value) = match param.split_once(':') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => match rest.get(i + 1).filter(|next| !is_parameter(next)) {
                Some(next) => {
                    i += 1;
                    (param, Some(next.clone()))
                }
                None => (param, None),
            },
        };
        if param.is_empty() || !param.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "`-{param}` is not a parameter name; names are letters and digits, such as -Identity"
            ));
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(param)) {
            return Err(format!("-{param} is given twice; give it once (a list is written a,b)"));
        }
        seen.push(param.to_string());
        let value = match value {
            Some(v) => parse_value(&v).map_err(|e| format!("-{param}: {e}"))?,
            None => Value::Bool(true),
        };
        input = input.param(param, value);
        i += 1;
    }
    Ok(input)
}

/// A word that names a parameter (`-Name`), not a negative number.
fn is_parameter(word: &str) -> bool {
    word.strip_prefix('-').and_then(|r| r.chars().next()).is_some_and(|c| c.is_ascii_alphabetic())
}

/// A value as PowerShell reads a bare argument: `$true`, `$false`, `$null`, `a,b` (a list),
/// JSON when it starts with `[`, `{` or `"`, else the text.
fn parse_value(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if trimmed.starts_with(['[', '{', '"']) {
        return serde_json::from_str(trimmed).map_err(|e| format!("`{text}` is not valid JSON: {e}"));
    }
    Ok(match trimmed.to_ascii_lowercase().as_str() {
        "$true" => Value::Bool(true),
        "$false" => Value::Bool(false),
        "$null" => Value::Null,
        _ if text.contains(',') => {
            Value::Array(text.split(',').map(|s| Value::String(s.trim().to_string())).collect())
        }
        _ => Value::String(text.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    fn params(line: &str) -> Value {
        serde_json::to_value(cmdlet_input(&words(line)).unwrap()).unwrap()["CmdletInput"]["Parameters"]
            .clone()
    }

    #[test]
    fn parameters_read_as_in_powershell() {
        assert_eq!(
            params(
                "Add-DistributionGroupMember -Identity pam-approvers -Member mallory@contoso.onmicrosoft.com"
            ),
            json!({"Identity": "pam-approvers", "Member": "mallory@contoso.onmicrosoft.com"})
        );
        assert_eq!(
            params("Set-X -Confirm:$false -Force -Members a,b -Count -3 -Json [1,2] -Null $null"),
            json!({"Confirm": false, "Force": true, "Members": ["a", "b"], "Count": "-3", "Json": [1, 2], "Null": null})
        );
        assert_eq!(params("Disable-ElevatedAccessControl"), json!({}));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |line: &str| cmdlet_input(&words(line)).unwrap_err();
        assert!(err("pam-approvers!").contains("is not a cmdlet name"));
        assert!(err("Get-Thing Identity").contains("`Identity` has no parameter name"));
        assert!(err("Get-Thing -Identity a -identity b").contains("-identity is given twice"));
        assert!(err("Get-Thing -Id.x a").contains("`-Id.x` is not a parameter name"));
        assert!(err("Get-Thing -Members [1,").contains("-Members: `[1,` is not valid JSON"));
        assert!(cmdlet_input(&[]).unwrap_err().contains("name the cmdlet"));
    }
}
