//! `pamform fmt [--check] [--diff] [PATHS]`: canonical formatting of `*.pam.hcl` (and
//! `*.pamvars.hcl`) files, keeping comments.

use std::path::{Path, PathBuf};

use super::super::load::render_diagnostics;
use super::super::{CliError, Context, ErrorKind, Outcome};
use crate::config::{self, format::format_source};
use crate::diagnostic::{Diagnostic, Diagnostics, codes};
use crate::model::Sources;
use crate::views::fmt as fmt_view;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not write; exit 1 and name the files that would change
    #[arg(long)]
    pub check: bool,
    /// Show a unified diff of the changes
    #[arg(long)]
    pub diff: bool,
    /// Files or directories to format (default: the configuration directory)
    pub paths: Vec<PathBuf>,
}

/// The files to format: given files as they are, directories expanded to their
/// configuration and variable files.
fn collect(args: &Args, ctx: &Context) -> Result<Vec<PathBuf>, CliError> {
    let roots = if args.paths.is_empty() { vec![ctx.dir.clone()] } else { args.paths.clone() };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            for suffix in [config::CONFIG_SUFFIX, config::VARS_SUFFIX] {
                let found = config::files_with_suffix(&root, suffix).map_err(|e| {
                    CliError::msg(ErrorKind::Usage, format!("cannot read {}: {e}", root.display()))
                })?;
                files.extend(found);
            }
        } else if root.is_file() {
            files.push(root);
        } else {
            return Err(CliError::msg(
                ErrorKind::Usage,
                format!("{} does not exist; pass a file or a directory", root.display()),
            ));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn shown(path: &Path) -> String {
    path.strip_prefix(".").unwrap_or(path).display().to_string()
}

pub fn run(args: Args, ctx: &Context) -> Result<Outcome, CliError> {
    let files = collect(&args, ctx)?;
    let mut failed = false;
    let mut changed = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::msg(ErrorKind::Usage, format!("cannot read {}: {e}", path.display())))?;
        let formatted = match format_source(&text) {
            Ok(f) => f,
            Err(e) => {
                let mut sources = Sources::new();
                let file = sources.add(shown(path), config::format::strip_bom(&text));
                let d = config::parse_file(&sources, file).err().unwrap_or_else(|| {
                    Diagnostic::error(codes::SYNTAX, format!("syntax error: {}", e.message()))
                });
                render_diagnostics(ctx, &Diagnostics::from(d), &sources);
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        changed.push(path.clone());
        if args.diff {
            fmt_view::diff(&ctx.printer, &shown(path), &text, &formatted);
        }
        if !args.check {
            std::fs::write(path, &formatted).map_err(|e| {
                CliError::msg(ErrorKind::Usage, format!("cannot write {}: {e}", path.display()))
            })?;
        }
        fmt_view::changed(&ctx.printer, &shown(path));
    }
    if failed {
        return Err(CliError::reported(ErrorKind::Config));
    }
    if args.check && !changed.is_empty() {
        fmt_view::unformatted(&ctx.printer, changed.len());
        return Err(CliError::reported(ErrorKind::Config));
    }
    Ok(Outcome::Success)
}
