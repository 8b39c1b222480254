//! The tenant a configuration most likely names, read before the configuration is: so that a
//! command can sign in and start the reads that need nothing else while the rest of a large
//! configuration parses and evaluates. It is a guess, never an answer: only a `tenant` block
//! whose values are plain strings, in a small file, is read; the caller uses what it started
//! only when the loaded configuration's tenant block says the same ([`same_tenant`]), and a
//! configuration that does not load is reported exactly as without it.

use std::path::Path;

use hcl_edit::expr::Expression;
use hcl_edit::structure::Structure;

use super::{CONFIG_SUFFIX, files_with_suffix, format};
use crate::model::{Span, Spanned, Tenant};

/// Files larger than this are not parsed for the guess (a large generated file holds
/// groups; parsing it twice would cost what the guess saves). A `tenant` block in one makes
/// no guess.
const SMALL_FILE_BYTES: usize = 64 * 1024;

/// What the configuration in `dir` most likely says about its tenant.
#[derive(Debug, Clone)]
pub struct TenantGuess {
    /// The tenant block's values (spans are empty: nothing is reported against them).
    pub tenant: Tenant,
    /// Whether a file mentions `access_policy` (then the plan reads the tenant's catalog).
    pub policies: bool,
}

/// The one `tenant` block of `dir`'s `*.pam.hcl` files when it is found in a small file and
/// every value it sets is a plain string; `None` otherwise (no block, two blocks, a value
/// that needs evaluating, an embedded emulator, a file that cannot be read or parsed).
pub fn guess_tenant(dir: &Path) -> Option<TenantGuess> {
    let mut found = None;
    let mut policies = false;
    for path in files_with_suffix(dir, CONFIG_SUFFIX).ok()? {
        let text = std::fs::read_to_string(&path).ok()?;
        let text = format::strip_bom(&text);
        policies |= text.contains("access_policy");
        // Any mention, not only a line that starts with it: a block written after a comment on
        // its line is still a tenant block, and two of them make no guess.
        if !text.contains("tenant") {
            continue;
        }
        if text.len() > SMALL_FILE_BYTES {
            return None;
        }
        let body = hcl_edit::parser::parse_body(text).ok()?;
        for structure in body.iter() {
            let Structure::Block(block) = structure else { continue };
            if block.ident.as_str() != "tenant" {
                continue;
            }
            if found.is_some() || !block.labels.is_empty() {
                return None;
            }
            found = Some(tenant_of(&block.body)?);
        }
    }
    Some(TenantGuess { tenant: found?, policies })
}

/// The tenant a block body sets, when every attribute is a known one set to a plain string
/// and there is no embedded emulator.
fn tenant_of(body: &hcl_edit::structure::Body) -> Option<Tenant> {
    let [mut id, mut exchange_url, mut graph_url, mut login_url] = [None, None, None, None];
    for structure in body.iter() {
        let Structure::Attribute(attr) = structure else { return None };
        let Expression::String(value) = &attr.value else { return None };
        let slot = match attr.key.as_str() {
            "id" => &mut id,
            "exchange_url" => &mut exchange_url,
            "graph_url" => &mut graph_url,
            "login_url" => &mut login_url,
            _ => return None,
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(Spanned::new(value.as_str().to_string(), Span::default()));
    }
    Some(Tenant { span: Span::default(), id: id?, exchange_url, graph_url, login_url, emulator: None })
}

/// Whether two tenant blocks reach the same tenant the same way: the same id, endpoints and
/// embedded emulator (spans aside).
pub fn same_tenant(a: &Tenant, b: &Tenant) -> bool {
    let value = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.value.clone());
    a.id.value == b.id.value
        && value(&a.exchange_url) == value(&b.exchange_url)
        && value(&a.graph_url) == value(&b.graph_url)
        && value(&a.login_url) == value(&b.login_url)
        && a.emulator.as_ref().map(|e| &e.value) == b.emulator.as_ref().map(|e| &e.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("file written");
        }
        dir
    }

    const TENANT: &str =
        "tenant {\n  id        = \"contoso.onmicrosoft.com\"\n  graph_url = \"http://127.0.0.1:1\"\n}\n";

    #[test]
    fn a_tenant_block_of_plain_strings_is_guessed() {
        let dir = dir_with(&[
            ("main.pam.hcl", TENANT),
            ("policies.pam.hcl", "access_policy \"p\" {\n  approver_group = \"x\"\n}\n"),
        ]);
        let guess = guess_tenant(dir.path()).expect("a guess");
        assert_eq!(guess.tenant.id.value, "contoso.onmicrosoft.com");
        assert_eq!(guess.tenant.graph_url.as_ref().map(|u| u.value.as_str()), Some("http://127.0.0.1:1"));
        assert!(guess.tenant.exchange_url.is_none() && guess.tenant.emulator.is_none());
        assert!(guess.policies);
        let loaded = crate::config::load(dir.path(), &crate::config::VarInputs::default());
        // The configuration does not load (the policy's group is not declared); the guess
        // still names the block's tenant, and nothing but the caller's comparison uses it.
        assert!(loaded.is_err());
    }

    #[test]
    fn no_guess_where_the_block_needs_evaluating_or_is_not_the_only_one() {
        for files in [
            vec![("main.pam.hcl", "tenant {\n  id = var.tenant\n}\n")],
            vec![("main.pam.hcl", "tenant {\n  id = \"${local.t}.onmicrosoft.com\"\n}\n")],
            vec![("main.pam.hcl", "tenant {\n  id = \"x\"\n  emulator = \"tenant.json\"\n}\n")],
            vec![("main.pam.hcl", "tenant {\n  id = \"x\"\n  unknown = \"y\"\n}\n")],
            vec![("main.pam.hcl", "tenant \"label\" {\n  id = \"x\"\n}\n")],
            vec![("main.pam.hcl", "tenant {\n  exchange_url = \"https://e\"\n}\n")],
            vec![("a.pam.hcl", TENANT), ("b.pam.hcl", TENANT)],
            vec![("a.pam.hcl", TENANT), ("b.pam.hcl", &format!("/* another */ {TENANT}"))],
            vec![("main.pam.hcl", "tenant {\n  id = \n}\n")],
            vec![("main.pam.hcl", "locals {\n  a = 1\n}\n")],
        ] {
            let dir = dir_with(&files);
            assert!(guess_tenant(dir.path()).is_none(), "{files:?}");
        }
        // In a large file, the block is not looked for.
        let large = format!("{TENANT}locals {{\n  pad = \"{}\"\n}}\n", "x".repeat(SMALL_FILE_BYTES));
        assert!(guess_tenant(dir_with(&[("main.pam.hcl", &large)]).path()).is_none());
    }

    #[test]
    fn the_guess_is_used_only_for_the_same_tenant_block() {
        let dir = dir_with(&[("main.pam.hcl", TENANT)]);
        let guess = guess_tenant(dir.path()).expect("a guess").tenant;
        let loaded = crate::config::load(dir.path(), &crate::config::VarInputs::default()).expect("loads");
        let tenant = loaded.configuration.tenant.expect("a tenant block");
        assert!(same_tenant(&guess, &tenant));
        let mut other = tenant.clone();
        other.login_url = Some(Spanned::new("http://127.0.0.1:2".to_string(), Span::default()));
        assert!(!same_tenant(&guess, &other));
        let mut other = tenant.clone();
        other.id.value = "fabrikam.onmicrosoft.com".to_string();
        assert!(!same_tenant(&guess, &other));
        let mut other = tenant;
        other.emulator = Some(Spanned::new(dir.path().join("tenant.json"), Span::default()));
        assert!(!same_tenant(&guess, &other));
    }
}
