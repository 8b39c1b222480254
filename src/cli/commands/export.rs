//! `pamform export [--out DIR] [--force]`: read the tenant's PAM setup and write formatted
//! `*.pam.hcl` files (with import blocks) that reproduce it. The tenant comes from the
//! configuration's tenant block, or from `--tenant` and the endpoint flags.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use crate::cli::connect;
use crate::cli::load::{VarArgs, load_configuration};
use crate::cli::pipeline;
use crate::cli::{CliError, Context, ErrorKind, Outcome};
use crate::config;
use crate::export::{self, TenantBlock, import};
use crate::model::{self, Span, Spanned};
use crate::state::State;
use crate::tenant::{self, RefreshRequest};
use crate::views::export as export_view;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub vars: VarArgs,
    /// Directory to write the configuration to (default: the configuration directory)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite files that already exist
    #[arg(long)]
    pub force: bool,
    /// Tenant id (GUID or initial domain), when the configuration has no tenant block
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Run against an embedded emulated tenant kept in FILE (with --tenant)
    #[arg(long, value_name = "FILE", requires = "tenant")]
    pub emulator: Option<PathBuf>,
    /// Exchange Online endpoint (with --tenant)
    #[arg(long, value_name = "URL", requires = "tenant")]
    pub exchange_url: Option<String>,
    /// Microsoft Graph endpoint (with --tenant)
    #[arg(long, value_name = "URL", requires = "tenant")]
    pub graph_url: Option<String>,
    /// Sign-in endpoint (with --tenant)
    #[arg(long, value_name = "URL", requires = "tenant")]
    pub login_url: Option<String>,
}

/// Where the tenant came from.
struct Source {
    tenant: model::Tenant,
    /// The directory whose configuration holds the tenant block, if it came from one.
    config_dir: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let started = Instant::now();
    let source = source(&args, ctx)?;
    let out = args.out.clone().unwrap_or_else(|| ctx.dir.clone());
    let keep_tenant_block = existing_configuration(&out, &source)?;
    let rt = pipeline::runtime()?;
    let snapshot = rt.block_on(async {
        let conn = connect::connect(&ctx.printer, &source.tenant, tenant::ConnectOptions::default()).await?;
        let snapshot = pipeline::refresh(ctx, &conn, &RefreshRequest::default()).await;
        conn.close().await;
        snapshot
    })?;
    let block = (!keep_tenant_block).then(|| tenant_block(&source.tenant, &out)).transpose()?;
    let exported = export::export(&snapshot, block.as_ref(), &source.tenant.id.value);

    // Check every target before writing any.
    let existing: Vec<String> =
        exported.files.iter().filter(|f| out.join(&f.name).exists()).map(|f| f.name.clone()).collect();
    if !existing.is_empty() && !args.force {
        return Err(CliError::msg(
            ErrorKind::Usage,
            format!(
                "{} already holds {}; nothing was written: pass --force to overwrite, or export into another directory with --out",
                out.display(),
                existing.join(", ")
            ),
        ));
    }
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError::msg(ErrorKind::Usage, format!("cannot create {}: {e}", out.display())))?;
    for f in &exported.files {
        let path = out.join(&f.name);
        std::fs::write(&path, &f.text)
            .map_err(|e| CliError::msg(ErrorKind::Usage, format!("cannot write {}: {e}", path.display())))?;
    }

    export_view::warnings(&ctx.printer, &exported.warnings);
    export_view::summary(&ctx.printer, &exported, &source.tenant.id.value, started.elapsed(), &out);

    // What stays unmanaged once the import blocks are applied.
    let mut state = crate::state::StateStore::new(&out)
        .load()
        .ok()
        .flatten()
        .unwrap_or_else(|| State::new(source.tenant.id.value.clone()));
    let none = model::Configuration::default();
    for e in &exported.objects {
        if let Some(entry) = import::state_entry(&e.address, &e.remote_id, &none, &snapshot) {
            state.upsert(entry);
        }
    }
    super::import::print_unmanaged(ctx, &state, &snapshot);
    export_view::next(&ctx.printer, &out);
    Ok(Outcome::Success)
}

/// The tenant to read: the configuration's tenant block, else the flags.
fn source(args: &Args, ctx: &Context) -> Result<Source, CliError> {
    let has_config = config::files_with_suffix(&ctx.dir, config::CONFIG_SUFFIX).is_ok_and(|f| !f.is_empty());
    let configured =
        if has_config { load_configuration(ctx, &args.vars)?.configuration.tenant } else { None };
    match (configured, &args.tenant) {
        (Some(_), Some(_)) => Err(CliError::msg(
            ErrorKind::Usage,
            format!(
                "the configuration in {} has a tenant block and --tenant names another; drop --tenant, or run in a directory without a tenant block",
                ctx.dir.display()
            ),
        )),
        (Some(tenant), None) => Ok(Source { tenant, config_dir: Some(ctx.dir.clone()) }),
        (None, Some(id)) => {
            let spanned = |v: String| Spanned::new(v, Span::new(model::FileId(0), 0..0));
            Ok(Source {
                tenant: model::Tenant {
                    span: Span::new(model::FileId(0), 0..0),
                    id: spanned(id.clone()),
                    exchange_url: args.exchange_url.clone().map(spanned),
                    graph_url: args.graph_url.clone().map(spanned),
                    login_url: args.login_url.clone().map(spanned),
                    emulator: args
                        .emulator
                        .clone()
                        .map(|p| Spanned::new(p, Span::new(model::FileId(0), 0..0))),
                },
                config_dir: None,
            })
        }
        (None, None) => Err(CliError::msg(
            ErrorKind::Usage,
            format!(
                "no tenant to export: {} has no tenant block; write one (a directory holding just a tenant block is enough), or pass --tenant ID",
                ctx.dir.display()
            ),
        )),
    }
}

/// Checks what `out` already holds: only a tenant block (and variables or locals) may stay
/// next to the exported files. Returns whether the tenant block there is kept, which is
/// the case when `out` is the configuration the tenant came from.
fn existing_configuration(out: &Path, source: &Source) -> Result<bool, CliError> {
    let Ok(files) = config::files_with_suffix(out, config::CONFIG_SUFFIX) else { return Ok(false) };
    let same_dir = source.config_dir.as_deref().is_some_and(|d| same_path(d, out));
    let mut keep = false;
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let Ok(body) = hcl_edit::parser::parse_body(&text) else { continue };
        let kinds: Vec<String> = body.blocks().map(|b| b.ident.as_str().to_string()).collect();
        let has_tenant = kinds.iter().any(|k| k == "tenant");
        let others: Vec<&String> =
            kinds.iter().filter(|k| !matches!(k.as_str(), "tenant" | "variable" | "locals")).collect();
        // The files export writes are replaced (with --force) and cannot conflict.
        let replaced = export::FILES.contains(&name) && !(has_tenant && same_dir);
        if replaced {
            continue;
        }
        if let Some(kind) = others.first() {
            return Err(CliError::msg(
                ErrorKind::Usage,
                format!(
                    "{} already holds configuration ({kind} blocks in {name}); export into an empty directory, or one that holds only a tenant block",
                    out.display()
                ),
            ));
        }
        if has_tenant {
            if !same_dir {
                return Err(CliError::msg(
                    ErrorKind::Usage,
                    format!(
                        "{} has a tenant block of its own ({name}); export into a directory without one, or run `pamform -C {} export`",
                        out.display(),
                        out.display()
                    ),
                ));
            }
            keep = true;
        }
    }
    Ok(keep)
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The tenant block for the exported configuration: the same tenant, with an emulator data
/// file's path made relative to `out`.
fn tenant_block(t: &model::Tenant, out: &Path) -> Result<TenantBlock, CliError> {
    let emulator = match &t.emulator {
        Some(p) => Some(relative_path(&p.value, out)?),
        None => None,
    };
    Ok(TenantBlock {
        id: t.id.value.clone(),
        exchange_url: t.exchange_url.as_ref().map(|u| u.value.clone()),
        graph_url: t.graph_url.as_ref().map(|u| u.value.clone()),
        login_url: t.login_url.as_ref().map(|u| u.value.clone()),
        emulator,
    })
}

/// `path` as seen from the directory `base`, with `/` separators.
fn relative_path(path: &Path, base: &Path) -> Result<String, CliError> {
    let abs = |p: &Path| {
        std::path::absolute(p).map(|p| normalize_dots(&p)).map_err(|e| {
            CliError::msg(ErrorKind::Usage, format!("cannot resolve the path {}: {e}", p.display()))
        })
    };
    let (path, base) = (abs(path)?, abs(base)?);
    let (p, b): (Vec<Component>, Vec<Component>) = (path.components().collect(), base.components().collect());
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(p[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Ok(if parts.is_empty() { ".".to_string() } else { parts.join("/") })
}

/// Removes `.` and resolves `..` lexically.
fn normalize_dots(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_paths_are_relative_to_the_out_directory() {
        let rel = |p: &str, b: &str| relative_path(Path::new(p), Path::new(b)).unwrap();
        assert_eq!(rel("/a/b/tenant.json", "/a/b"), "tenant.json");
        assert_eq!(rel("/a/b/tenant.json", "/a/c/d"), "../../b/tenant.json");
        assert_eq!(rel("/a/./b/../b/t.json", "/a"), "b/t.json");
    }
}
