//! The pamform language: reads `*.pam.hcl` files, evaluates them into the desired model
//! ([`crate::model::Configuration`]) and checks them offline, reporting every problem as a
//! diagnostic with its source span.

// Errors here are diagnostics, built on the cold path only; boxing them would add noise to
// every signature for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod backend;
mod checks;
pub mod early;
mod eval;
pub mod format;
mod functions;
pub mod outline;
mod refs;
mod syntax;
mod values;
mod variables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use checks::move_destinations;
pub use outline::{Outline, outline};
// The language reports in diagnostics; re-exported for the callers of `load`.
pub use crate::diagnostic::{
    Diagnostic, Diagnostics, JsonDiagnostic, Label, Severity, codes, render_plain, to_json, to_json_list,
    to_report,
};
pub use syntax::{parse_file, parse_text};
pub use variables::{VarInputs, variable_pairs};

use crate::model::{Configuration, Sources};

/// Configuration files end with this.
pub const CONFIG_SUFFIX: &str = ".pam.hcl";
/// Variable value files end with this.
pub const VARS_SUFFIX: &str = ".pamvars.hcl";

/// A successfully loaded configuration, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub configuration: Configuration,
    pub warnings: Diagnostics,
}

impl Loaded {
    pub fn sources(&self) -> &Sources {
        &self.configuration.sources
    }
}

/// A configuration that has errors: every independent problem (and the warnings), with the
/// sources to render them against.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the configuration has {} error(s)", diagnostics.error_count())]
pub struct LoadError {
    pub sources: Sources,
    pub diagnostics: Diagnostics,
}

/// The files of one kind in `dir`, in name order.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(suffix)))
        .collect();
    out.sort();
    Ok(out)
}

/// The path as users would write it: without a leading `./`.
fn display_path(path: &Path) -> PathBuf {
    path.strip_prefix(".").map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads, evaluates and checks the configuration in `dir`.
pub fn load(dir: &Path, inputs: &VarInputs) -> Result<Loaded, LoadError> {
    let mut sources = Sources::new();
    let mut diags = Diagnostics::new();
    let mut config_files = Vec::new();
    let mut var_files = Vec::new();
    // `--var-file` names the value files; without it, every `*.pamvars.hcl` of the directory.
    let value_files =
        if inputs.files.is_empty() { files_with_suffix(dir, VARS_SUFFIX) } else { Ok(inputs.files.clone()) };
    match (files_with_suffix(dir, CONFIG_SUFFIX), value_files) {
        (Ok(c), Ok(v)) => {
            for (paths, ids) in [(c, &mut config_files), (v, &mut var_files)] {
                for path in paths {
                    match std::fs::read_to_string(&path) {
                        Ok(text) => {
                            // A byte order mark and CRLF line endings (files written on
                            // Windows) read as the same configuration as UTF-8 with LF: a
                            // heredoc's value never carries a carriage return. Positions
                            // in diagnostics are unchanged (lines and columns).
                            let text = match format::strip_bom(&text) {
                                stripped if stripped.len() == text.len() && !text.contains('\r') => text,
                                stripped => stripped.replace("\r\n", "\n"),
                            };
                            ids.push(sources.add(display_path(&path), text))
                        }
                        Err(e) => diags.push(
                            Diagnostic::error(codes::IO, format!("cannot read {}: {e}", path.display()))
                                .with_help("check the file's permissions and encoding (UTF-8)"),
                        ),
                    }
                }
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            diags.push(
                Diagnostic::error(codes::IO, format!("cannot read the directory {}: {e}", dir.display()))
                    .with_help("pass the configuration directory with -C DIR"),
            );
            return Err(LoadError { sources, diagnostics: diags });
        }
    }
    if config_files.is_empty() && diags.is_empty() {
        diags.push(
            Diagnostic::error(
                codes::NO_CONFIGURATION,
                format!(
                    "no *.pam.hcl files in {}",
                    if dir.as_os_str().is_empty() { Path::new(".") } else { dir }.display()
                ),
            )
            .with_help("write a configuration file such as main.pam.hcl, or pass its directory with -C DIR"),
        );
    }
    let config = evaluate_sources(sources, &config_files, &var_files, dir, inputs, &mut diags);
    diags.sort();
    if diags.has_errors() {
        Err(LoadError { sources: config.sources, diagnostics: diags })
    } else {
        Ok(Loaded { configuration: config, warnings: diags })
    }
}

fn evaluate_sources(
    sources: Sources,
    config_files: &[crate::model::FileId],
    var_files: &[crate::model::FileId],
    dir: &Path,
    inputs: &VarInputs,
    diags: &mut Diagnostics,
) -> Configuration {
    let mut bodies = Vec::new();
    let mut complete = true;
    // Every file is parsed at once (in parallel when it pays); the results are taken in
    // file order, so diagnostics come out as they would one file at a time.
    let all_files: Vec<_> = config_files.iter().chain(var_files).copied().collect();
    let mut parsed = syntax::parse_files(&sources, &all_files).into_iter();
    for (&file, result) in config_files.iter().zip(parsed.by_ref()) {
        match result {
            Ok(body) => bodies.push((file, body)),
            Err(d) => {
                diags.push(d);
                complete = false;
            }
        }
    }
    let mut file_values = BTreeMap::new();
    let mut value_spans = BTreeMap::new();
    for (&file, result) in var_files.iter().zip(parsed) {
        match result {
            Ok(body) => variables::read_pamvars(
                file,
                &body,
                !inputs.files.is_empty(),
                &mut file_values,
                &mut value_spans,
                diags,
            ),
            Err(d) => {
                // Its lines are still drawn under the syntax error.
                variables::value_lines(file, &sources.get(file).text, &mut value_spans);
                diags.push(d)
            }
        }
    }
    let mut blocks = Vec::new();
    for (file, body) in &bodies {
        blocks.extend(syntax::top_level_blocks(*file, body, diags));
    }
    let of = |kind: &str| blocks.iter().filter(|b| b.kind() == kind).copied().collect::<Vec<_>>();
    backend::check(&of("backend"), diags);
    // Before anything is reported about them: snippets of these files never draw the value
    // of a sensitive variable, whichever diagnostic they belong to.
    variables::hide_sensitive_values(&of("variable"), &value_spans, diags);
    let variables = variables::resolve(&of("variable"), inputs, &file_values, diags);
    let decls = eval::Declarations {
        variables,
        locals_blocks: of("locals"),
        resources: blocks
            .iter()
            .filter(|b| crate::model::ResourceType::from_name(b.kind()).is_some())
            .copied()
            .collect(),
        tenants: of("tenant"),
        imports: of("import"),
        moves: of("moved"),
        complete,
        first_line: config_files.first().map(|&file| {
            let text = &sources.get(file).text;
            crate::model::Span::new(file, 0..text.find(['\r', '\n']).unwrap_or(text.len()))
        }),
    };
    let mut config = Configuration {
        sources: sources.clone(),
        variables: variables::values_used(&decls.variables),
        ..Configuration::default()
    };
    eval::evaluate(&decls, dir, &mut config, diags);
    checks::run(&config, diags);
    // A value from a sensitive variable never shows in a message: they reach terminals, logs
    // and pull request comments. The plan's checks redact theirs with the same texts.
    config.sensitive_texts = eval::sensitive_texts(&decls, inputs.cli.iter().chain(&inputs.env));
    diags.redact(&config.sensitive_texts);
    config
}
