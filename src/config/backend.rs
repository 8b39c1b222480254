//! The `backend` block: where the state lives when it is not `pamform.state.json` beside the
//! configuration. One type today, `azurerm` (Azure Blob Storage), with Terraform's attribute
//! names. Values are literals (as in Terraform, a backend is read before anything is
//! evaluated), and no attribute holds a secret: an account key or SAS token comes from the
//! environment (`ARM_ACCESS_KEY`, `ARM_SAS_TOKEN`), an Entra token from pamform's credentials.
//!
//! [`read`] reads only the backend blocks of a directory, so that commands which never
//! evaluate the configuration (`state list`, `force-unlock`) find the state where `apply`
//! writes it; `check` reports the same problems when the whole configuration is loaded.

use hcl_edit::expr::Expression;

use super::syntax::{self, BlockRef};
use super::{CONFIG_SUFFIX, LoadError, files_with_suffix};
use crate::diagnostic::{Diagnostic, Diagnostics, codes};
use crate::model::{Sources, Span};

/// The block's name.
const BLOCK: &str = "backend";

/// Whether a configuration file in `dir` may hold a backend block: false when none contains
/// the word (files that cannot be read count as maybe, so [`read`] reports them).
pub fn mentioned(dir: &std::path::Path) -> bool {
    files_with_suffix(dir, CONFIG_SUFFIX).is_ok_and(|files| {
        files.iter().any(|path| std::fs::read_to_string(path).map_or(true, |text| text.contains(BLOCK)))
    })
}

/// The one backend type.
pub const AZURERM: &str = "azurerm";

/// A validated `backend "azurerm"` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub storage_account_name: String,
    pub container_name: String,
    /// The blob's name, e.g. `prod.pamform.state.json`.
    pub key: String,
    /// The Blob service endpoint, for sovereign clouds and Azurite; `None`: the public cloud's
    /// `https://{account}.blob.core.windows.net`.
    pub endpoint: Option<String>,
    /// Sign requests with an Entra token for Storage instead of a key or SAS token.
    pub use_azuread_auth: bool,
    pub span: Span,
}

/// The backend of the configuration in `dir`: `None` for local state. Only the backend
/// blocks are read; files that fail to parse are reported.
pub fn read(dir: &std::path::Path) -> Result<Option<Backend>, LoadError> {
    let mut sources = Sources::new();
    let mut diags = Diagnostics::new();
    let files = match files_with_suffix(dir, CONFIG_SUFFIX) {
        Ok(f) => f,
        // No directory: no backend; the command reports the directory itself if it needs it.
        Err(_) => return Ok(None),
    };
    let mut texts = Vec::new();
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => texts.push((path, text)),
            Err(e) => {
                diags.push(Diagnostic::error(codes::IO, format!("cannot read {}: {e}", path.display())))
            }
        }
    }
    // A block named `backend` needs the word: without it anywhere (the common case) the files
    // are not parsed a second time, which on a large directory costs as much as the load.
    if !diags.has_errors() && !texts.iter().any(|(_, text)| text.contains(BLOCK)) {
        return Ok(None);
    }
    let ids: Vec<_> =
        texts.into_iter().map(|(path, text)| sources.add(super::display_path(&path), text)).collect();
    let mut bodies = Vec::new();
    for &file in &ids {
        match syntax::parse_file(&sources, file) {
            Ok(body) => bodies.push((file, body)),
            Err(d) => diags.push(d),
        }
    }
    let blocks: Vec<BlockRef<'_>> = bodies
        .iter()
        .flat_map(|(file, body)| body.get_blocks(BLOCK).map(move |block| BlockRef { file: *file, block }))
        .collect();
    if let Some(s) = syntax::schema(BLOCK) {
        for b in &blocks {
            syntax::check_block(*b, s, &mut diags);
        }
    }
    let backend = check(&blocks, &mut diags);
    if diags.has_errors() {
        diags.sort();
        return Err(LoadError { sources, diagnostics: diags });
    }
    Ok(backend)
}

/// Validates the backend blocks (at most one) and reads the first.
pub(crate) fn check(blocks: &[BlockRef<'_>], diags: &mut Diagnostics) -> Option<Backend> {
    if let Some(extra) = blocks.get(1) {
        diags.push(
            Diagnostic::error(codes::INVALID_VALUE, "more than one `backend` block")
                .with_label(extra.header(), "second backend")
                .with_extra_label(blocks[0].header(), "first backend")
                .with_help("a configuration keeps its state in one place: keep one `backend` block"),
        );
    }
    let b = blocks.first()?;
    if b.label() != Some(AZURERM) {
        diags.push(
            Diagnostic::error(
                codes::BLOCK_LABELS,
                format!("unknown backend type `{}`", b.label().unwrap_or_default()),
            )
            .with_label(b.header(), "unknown backend")
            .with_help("the backend pamform supports is `backend \"azurerm\"` (Azure Blob Storage); leave the block out for local state"),
        );
        return None;
    }
    let before = diags.error_count();
    let account = string(b, "storage_account_name", diags);
    let container = string(b, "container_name", diags);
    let key = string(b, "key", diags);
    let endpoint = string(b, "endpoint", diags);
    let use_azuread_auth = boolean(b, "use_azuread_auth", diags).unwrap_or(false);
    if let Some((value, span)) = &account
        && !(3..=24).contains(&value.len())
            | !value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        diags.push(
            Diagnostic::error(codes::INVALID_VALUE, "`storage_account_name` is not a storage account name")
                .with_label(*span, "3 to 24 lower-case letters and digits")
                .with_help("write the account's name, e.g. `contosopamstate`, not its URL"),
        );
    }
    if let Some((value, span)) = &container
        && !valid_container(value)
    {
        diags.push(
            Diagnostic::error(codes::INVALID_VALUE, "`container_name` is not a container name")
                .with_label(*span, "3 to 63 lower-case letters, digits and single hyphens")
                .with_help("create the container first, e.g. `tfstate`, and name it here"),
        );
    }
    if let Some((value, span)) = &key
        && (value.is_empty()
            || value.len() > 1024
            || value.ends_with('/')
            || value.contains('\\')
            // A URL drops `.` and `..` segments: `../x` would name another blob (for a fleet,
            // one blob for every tenant, outside its `tenants/NAME/`).
            || value.split('/').any(|s| s == "." || s == ".."))
    {
        diags.push(
            Diagnostic::error(codes::INVALID_VALUE, "`key` is not a blob name")
                .with_label(*span, "1 to 1024 characters, not ending in `/`, no `.` or `..` segment")
                .with_help("name the state blob, e.g. `prod.pamform.state.json`"),
        );
    }
    if let Some((value, span)) = &endpoint {
        match url::Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.query().is_none() => {}
            _ => diags.push(
                Diagnostic::error(codes::INVALID_VALUE, "`endpoint` must be an http(s) URL without a query")
                    .with_label(*span, "not a Blob service URL")
                    .with_help(
                        "write e.g. `https://contosopamstate.blob.core.usgovcloudapi.net`, or `http://127.0.0.1:10000/devstoreaccount1` for Azurite; a SAS token goes in ARM_SAS_TOKEN, never here",
                    ),
            ),
        }
    }
    if diags.error_count() > before {
        return None;
    }
    Some(Backend {
        storage_account_name: account?.0,
        container_name: container?.0,
        key: key?.0,
        endpoint: endpoint.map(|(v, _)| v.trim_end_matches('/').to_string()),
        use_azuread_auth,
        span: b.header(),
    })
}

fn valid_container(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// A string literal attribute (no interpolation: a backend is read before evaluation).
fn string(b: &BlockRef<'_>, name: &str, diags: &mut Diagnostics) -> Option<(String, Span)> {
    let attr = b.attribute(name)?;
    let span = b.expr_span(&attr.value);
    let literal = match &attr.value {
        Expression::String(s) => Some(s.value().to_string()),
        Expression::StringTemplate(t) => {
            let mut out = String::new();
            let mut plain = true;
            for element in t.iter() {
                match element {
                    hcl_edit::template::Element::Literal(l) => out.push_str(l.value()),
                    _ => plain = false,
                }
            }
            plain.then_some(out)
        }
        _ => None,
    };
    match literal {
        Some(v) => Some((v, span)),
        None => {
            diags.push(
                Diagnostic::error(codes::TYPE_MISMATCH, format!("`{name}` must be a literal string"))
                    .with_label(span, "not a literal string")
                    .with_help(
                        "a backend is read before variables are evaluated: write the value itself, in quotes",
                    ),
            );
            None
        }
    }
}

fn boolean(b: &BlockRef<'_>, name: &str, diags: &mut Diagnostics) -> Option<bool> {
    let attr = b.attribute(name)?;
    match &attr.value {
        Expression::Bool(v) => Some(*v.value()),
        other => {
            diags.push(
                Diagnostic::error(codes::TYPE_MISMATCH, format!("`{name}` must be true or false"))
                    .with_label(b.expr_span(other), "not a literal bool")
                    .with_help("write `true` or `false`"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Option<Backend>, LoadError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
        read(dir.path())
    }

    fn first_error(text: &str) -> String {
        let err = read_text(text).unwrap_err();
        err.diagnostics.iter().next().unwrap().message.clone()
    }

    #[test]
    fn no_block_is_local_state() {
        assert_eq!(read_text("tenant { id = \"x\" }\n").unwrap(), None);
    }

    #[test]
    fn an_azurerm_block_is_read() {
        let b = read_text(
            "backend \"azurerm\" {\n  storage_account_name = \"contosopam\"\n  container_name = \"tfstate\"\n  key = \"prod.pamform.state.json\"\n  endpoint = \"http://127.0.0.1:10000/devstoreaccount1/\"\n  use_azuread_auth = true\n}\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(b.storage_account_name, "contosopam");
        assert_eq!(b.container_name, "tfstate");
        assert_eq!(b.key, "prod.pamform.state.json");
        assert_eq!(b.endpoint.as_deref(), Some("http://127.0.0.1:10000/devstoreaccount1"));
        assert!(b.use_azuread_auth);
    }

    #[test]
    fn bad_values_are_reported_with_their_span() {
        let text = "backend \"azurerm\" {\n  storage_account_name = \"Contoso_PAM\"\n  container_name = \"tfstate\"\n  key = \"k\"\n}\n";
        let err = read_text(text).unwrap_err();
        let d = err.diagnostics.iter().next().unwrap();
        assert!(d.message.contains("storage_account_name"), "{}", d.message);
        let span = d.primary.as_ref().expect("a label").span;
        assert_eq!(&text[span.start..span.end], "\"Contoso_PAM\"");
    }

    #[test]
    fn secrets_and_references_are_refused() {
        assert!(first_error(
            "backend \"azurerm\" {\n  storage_account_name = \"a12\"\n  container_name = \"c12\"\n  key = \"k\"\n  access_key = \"x\"\n}\n"
        )
        .contains("access_key"));
        assert!(first_error(
            "backend \"azurerm\" {\n  storage_account_name = var.account\n  container_name = \"c12\"\n  key = \"k\"\n}\n"
        )
        .contains("literal string"));
        assert!(first_error("backend \"s3\" {\n  bucket = \"x\"\n}\n").contains("backend"));
    }

    #[test]
    fn missing_attributes_are_reported() {
        assert!(
            first_error("backend \"azurerm\" {\n  storage_account_name = \"a12\"\n}\n")
                .contains("container_name")
        );
    }
}
