//! The fleet file (`fleet.hcl` beside the shared configuration): one `tenant "NAME"` block per
//! tenant with its id, display name, tags, variable values and, optionally, the names of the
//! environment variables its credentials are in. Read with hcl-edit, as the configuration is;
//! every problem names the file, line and column.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Attribute, Block, Structure};

use crate::env;

/// The fleet file's name in the configuration directory.
pub const FLEET_FILE: &str = "fleet.hcl";

/// A fleet: tenants sharing the configuration of one directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub path: PathBuf,
    pub tenants: Vec<FleetTenant>,
}

impl Fleet {
    /// The tenant named `name` (in any case); else an error that lists the names it has.
    pub fn tenant(&self, name: &str) -> Result<&FleetTenant, String> {
        self.tenants.iter().find(|t| t.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            let known: Vec<&str> = self.tenants.iter().take(10).map(|t| t.name.as_str()).collect();
            format!(
                "no such tenant in {} (it has {}{})",
                self.path.display(),
                known.join(", "),
                if self.tenants.len() > known.len() { ", ..." } else { "" }
            )
        })
    }
}

/// One tenant of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetTenant {
    /// The block's label: names its state directory (`tenants/NAME/`) and its report line.
    pub name: String,
    /// Tenant id (GUID) or initial domain; replaces the configuration's tenant block id.
    pub id: String,
    pub display_name: Option<String>,
    pub tags: Vec<String>,
    /// Variable values, as `--var NAME=VALUE` would give them (a string as its text, any
    /// other value as its HCL expression).
    pub vars: Vec<(String, String)>,
    /// Where the credentials are, when not in the usual `PAMFORM_CLIENT_*` variables.
    pub credentials: Option<CredentialVars>,
}

/// Environment variable names standing in for `PAMFORM_CLIENT_*` for one tenant (names only:
/// a fleet file never holds a secret).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CredentialVars {
    /// `PAMFORM_CLIENT_ID` and its kin to the variable that holds that value for this tenant.
    pub names: BTreeMap<&'static str, String>,
}

impl CredentialVars {
    /// The value of the usual variable `usual` for this tenant: read from the variable the
    /// block names for it; unset when the block names none.
    pub fn get(&self, usual: &str) -> Option<String> {
        self.names.get(usual).and_then(|name| env::get(name))
    }
}

/// The `credentials` attributes and the usual variable each stands for.
const CREDENTIAL_ATTRIBUTES: &[(&str, &str)] = &[
    ("client_id", env::CLIENT_ID),
    ("client_secret", env::CLIENT_SECRET),
    ("client_certificate", env::CLIENT_CERTIFICATE),
    ("client_certificate_key", env::CLIENT_CERTIFICATE_KEY),
    ("federated_token_file", env::FEDERATED_TOKEN_FILE),
];

const TENANT_ATTRIBUTES: &[&str] = &["id", "display_name", "tags", "vars"];

/// Why a fleet file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("cannot read the fleet file {path}: {source}; write one (docs/fleets.md) or pass --fleet FILE")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    At { path: PathBuf, line: usize, column: usize, message: String },
}

/// Reads and checks a fleet file.
pub fn read(path: &Path) -> Result<Fleet, FleetError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| FleetError::Read { path: path.to_path_buf(), source })?;
    parse(path, &text)
}

/// Parses a fleet file's text (`path` only names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<Fleet, FleetError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let at = |offset: usize, message: String| {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        FleetError::At { path: path.to_path_buf(), line, column, message }
    };
    let body = hcl_edit::parser::parse_body(text).map_err(|e| {
        at(e.location().offset(), format!("syntax error: {}", e.message().trim().to_lowercase()))
    })?;
    let start = |node: &dyn hcl_edit::Span| node.span().map_or(0, |s| s.start);
    let mut tenants = Vec::new();
    let (mut names, mut ids) = (HashSet::new(), HashSet::new());
    for structure in body.iter() {
        let block = match structure {
            Structure::Block(b) if b.ident.as_str() == "tenant" => b,
            Structure::Block(b) => {
                return Err(at(
                    start(&b.ident),
                    format!(
                        "unknown block `{}`: a fleet file holds `tenant \"NAME\"` blocks",
                        b.ident.as_str()
                    ),
                ));
            }
            Structure::Attribute(a) => {
                return Err(at(
                    start(&a.key),
                    format!(
                        "unexpected attribute `{}`: a fleet file holds `tenant \"NAME\"` blocks",
                        a.key.as_str()
                    ),
                ));
            }
        };
        let tenant = tenant(block, &at, &start)?;
        if !names.insert(tenant.name.to_ascii_lowercase()) {
            return Err(at(start(&block.ident), format!("the tenant name `{}` is used twice", tenant.name)));
        }
        if !ids.insert(tenant.id.to_ascii_lowercase()) {
            return Err(at(
                start(&block.ident),
                format!("the tenant id `{}` is in the fleet twice (again as `{}`)", tenant.id, tenant.name),
            ));
        }
        tenants.push(tenant);
    }
    if tenants.is_empty() {
        return Err(at(
            0,
            "the fleet lists no tenant: add a `tenant \"NAME\" { id = \"...\" }` block".into(),
        ));
    }
    Ok(Fleet { path: path.to_path_buf(), tenants })
}

type At<'a> = dyn Fn(usize, String) -> FleetError + 'a;
type Start<'a> = dyn Fn(&dyn hcl_edit::Span) -> usize + 'a;

/// A name usable as a directory and a report key: letters, digits, `-`, `_` and `.`, not
/// starting or ending with a dot (Windows drops a trailing dot from a directory name, and Azure
/// Storage asks that no segment of a blob name end with one: `a.` would share `a`'s state).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn tenant(block: &Block, at: &At<'_>, start: &Start<'_>) -> Result<FleetTenant, FleetError> {
    let [label] = block.labels.as_slice() else {
        return Err(at(
            start(&block.ident),
            "a tenant block has one label, its name: `tenant \"contoso\" { ... }`".into(),
        ));
    };
    let name = label.as_str().to_string();
    if !valid_name(&name) {
        return Err(at(
            start(label),
            format!(
                "the tenant name `{name}` may hold only letters, digits, `-`, `_` and `.`, and may not start or end with `.` (it names a directory)"
            ),
        ));
    }
    let mut t = FleetTenant {
        name,
        id: String::new(),
        display_name: None,
        tags: Vec::new(),
        vars: Vec::new(),
        credentials: None,
    };
    for structure in block.body.iter() {
        match structure {
            Structure::Attribute(a) => match a.key.as_str() {
                // Read as the sign-in reads it, so that ` x` and `x` are one tenant.
                "id" => t.id = string(a, at, start)?.trim().to_string(),
                "display_name" => t.display_name = Some(string(a, at, start)?),
                "tags" => t.tags = strings(a, at, start)?,
                "vars" => t.vars = vars(a, at, start)?,
                other => {
                    return Err(at(
                        start(&a.key),
                        format!(
                            "unknown attribute `{other}` in tenant `{}`; use {}",
                            t.name,
                            TENANT_ATTRIBUTES.join(", ")
                        ),
                    ));
                }
            },
            Structure::Block(b) if b.ident.as_str() == "credentials" => {
                t.credentials = Some(credentials(b, at, start)?);
            }
            Structure::Block(b) => {
                return Err(at(
                    start(&b.ident),
                    format!(
                        "unknown block `{}` in tenant `{}`; the one block is `credentials`",
                        b.ident.as_str(),
                        t.name
                    ),
                ));
            }
        }
    }
    if t.id.trim().is_empty() {
        return Err(at(
            start(&block.ident),
            format!("tenant `{}` needs an id (tenant GUID or initial domain)", t.name),
        ));
    }
    Ok(t)
}

fn string(a: &Attribute, at: &At<'_>, start: &Start<'_>) -> Result<String, FleetError> {
    match &a.value {
        Expression::String(s) => Ok(s.value().to_string()),
        other => Err(at(start(other), format!("`{}` must be a string in quotes", a.key.as_str()))),
    }
}

fn strings(a: &Attribute, at: &At<'_>, start: &Start<'_>) -> Result<Vec<String>, FleetError> {
    let Expression::Array(items) = &a.value else {
        return Err(at(
            start(&a.value),
            format!("`{}` must be a list of strings, e.g. [\"eu\", \"prod\"]", a.key.as_str()),
        ));
    };
    items
        .iter()
        .map(|e| match e {
            Expression::String(s) => Ok(s.value().to_string()),
            other => Err(at(
                start(other),
                format!("every item of `{}` must be a string in quotes", a.key.as_str()),
            )),
        })
        .collect()
}

/// `vars = { name = value, ... }`: strings as their text, other values as their HCL source
/// (the configuration checks them against the variable's type).
fn vars(a: &Attribute, at: &At<'_>, start: &Start<'_>) -> Result<Vec<(String, String)>, FleetError> {
    let Expression::Object(object) = &a.value else {
        return Err(at(
            start(&a.value),
            "`vars` must be an object: vars = { domain = \"contoso.com\" }".into(),
        ));
    };
    let mut out = Vec::new();
    for (key, value) in object.iter() {
        let name = match key {
            ObjectKey::Ident(i) => i.as_str().to_string(),
            ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
            ObjectKey::Expression(e) => return Err(at(start(e), "a variable name is a plain name".into())),
        };
        let expr = value.expr();
        let text = match expr {
            Expression::String(s) => s.value().to_string(),
            other => {
                use hcl_edit::repr::Decorate as _;
                let mut e = other.clone();
                e.decor_mut().clear();
                e.to_string().trim().to_string()
            }
        };
        out.push((name, text));
    }
    Ok(out)
}

fn credentials(b: &Block, at: &At<'_>, start: &Start<'_>) -> Result<CredentialVars, FleetError> {
    let mut c = CredentialVars::default();
    for structure in b.body.iter() {
        let Structure::Attribute(a) = structure else {
            return Err(at(start(structure), "a credentials block holds attributes only".into()));
        };
        let Some((_, usual)) = CREDENTIAL_ATTRIBUTES.iter().find(|(k, _)| *k == a.key.as_str()) else {
            let known: Vec<&str> = CREDENTIAL_ATTRIBUTES.iter().map(|(k, _)| *k).collect();
            return Err(at(
                start(&a.key),
                format!("unknown credential `{}`; use {}", a.key.as_str(), known.join(", ")),
            ));
        };
        let name = string(a, at, start)?;
        let is_env_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_env_name {
            return Err(at(
                start(&a.value),
                format!(
                    "`{}` names the environment variable that holds the value (e.g. \"CONTOSO_CLIENT_SECRET\"), never the value itself",
                    a.key.as_str()
                ),
            ));
        }
        c.names.insert(usual, name);
    }
    if !c.names.contains_key(env::CLIENT_ID) {
        return Err(at(start(&b.ident), "a credentials block names at least `client_id`".into()));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Fleet, String> {
        parse(Path::new("fleet.hcl"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_tenants_with_their_values() {
        let f = parse_str(
            r#"
tenant "contoso" {
  id           = "contoso.onmicrosoft.com"
  display_name = "Contoso"
  tags         = ["eu", "prod"]
  vars = {
    domain  = "contoso.onmicrosoft.com"
    members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
    count   = 3
  }
  credentials {
    client_id     = "CONTOSO_CLIENT_ID"
    client_secret = "CONTOSO_CLIENT_SECRET"
  }
}
tenant "fabrikam" {
  id = "fabrikam.onmicrosoft.com"
}
"#,
        )
        .unwrap();
        assert_eq!(f.tenants.len(), 2);
        let c = &f.tenants[0];
        assert_eq!(c.tags, ["eu", "prod"]);
        assert_eq!(c.vars[0], ("domain".into(), "contoso.onmicrosoft.com".into()));
        assert_eq!(c.vars[1].1, r#"["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]"#);
        assert_eq!(c.vars[2].1, "3");
        assert_eq!(c.credentials.as_ref().unwrap().names[env::CLIENT_SECRET], "CONTOSO_CLIENT_SECRET");
    }

    #[test]
    fn refuses_with_the_position() {
        let e = parse_str("tenant \"a\" {\n  id = \"x\"\n  colour = \"red\"\n}\n").unwrap_err();
        assert!(e.starts_with("fleet.hcl:3:3: unknown attribute `colour`"), "{e}");
        let e = parse_str("tenant \"a\" { id = \"x\" }\ntenant \"A\" { id = \"y\" }\n").unwrap_err();
        assert!(e.contains("fleet.hcl:2:1") && e.contains("used twice"), "{e}");
        let e = parse_str(
            "tenant \"a\" {\n  id = \"x\"\n  credentials {\n    client_id = \"abc-secret!\"\n  }\n}\n",
        )
        .unwrap_err();
        assert!(e.contains("fleet.hcl:4:17") && e.contains("never the value"), "{e}");
        let e = parse_str("tenant \"../up\" { id = \"x\" }").unwrap_err();
        assert!(e.contains("names a directory"), "{e}");
        let e = parse_str("tenant \"a.\" { id = \"x\" }").unwrap_err();
        assert!(e.contains("end with `.`"), "{e}");
        assert!(parse_str("").unwrap_err().contains("no tenant"));
        assert!(parse_str("tenant \"a\" {}").unwrap_err().contains("needs an id"));
    }
}
