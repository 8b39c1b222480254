//! The `tenant` block: the one tenant a configuration manages, and the endpoints and
//! emulator to reach it. It sits outside the reference graph: its values may use variables
//! and locals only.

use std::path::Path;

use hcl::Value;

use super::expr::eval_expr;
use super::{Declarations, Evaluator};
use crate::config::syntax::BlockRef;
use crate::config::values;
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{Configuration, Spanned, Tenant};

/// Reads the `tenant` block into `config`, reporting a second one, or a missing one when
/// every file parsed.
pub(super) fn build_tenant(
    decls: &Declarations<'_>,
    dir: &Path,
    ev: &Evaluator<'_, '_>,
    config: &mut Configuration,
    diags: &mut Diagnostics,
) {
    let Some(block) = the_tenant_block(decls, diags) else { return };
    let reader = TenantBlock { block, ev };
    let Some(id) = reader.string("id", diags) else { return };
    let exchange_url = reader.url("exchange_url", diags);
    let graph_url = reader.url("graph_url", diags);
    let login_url = reader.url("login_url", diags);
    let emulator = reader.string("emulator", diags).map(|e| e.map(|p| dir.join(p)));
    config.tenant = Some(Tenant { span: block.header(), id, exchange_url, graph_url, login_url, emulator });
}

/// The first `tenant` block; reports the others, and a missing one unless a file that
/// failed to parse may hold it.
fn the_tenant_block<'a>(decls: &Declarations<'a>, diags: &mut Diagnostics) -> Option<BlockRef<'a>> {
    if let Some(extra) = decls.tenants.get(1) {
        diags.push(
            Diagnostic::error(codes::DUPLICATE_TENANT, "more than one `tenant` block")
                .with_label(extra.header(), "second block")
                .with_extra_label(decls.tenants[0].header(), "first block")
                .with_help("a configuration manages one tenant: keep one `tenant` block"),
        );
    }
    if let Some(block) = decls.tenants.first() {
        return Some(*block);
    }
    if !decls.complete {
        // A file failed to parse: its tenant block may be the missing one.
        return None;
    }
    let mut d = Diagnostic::error(codes::MISSING_TENANT, "the configuration has no `tenant` block")
        .with_help("add `tenant { id = \"contoso.onmicrosoft.com\" }` to this file (or to a file of its own, such as tenant.pam.hcl, beside it)");
    if let Some(b) = decls.resources.first() {
        d = d.with_label(b.header(), "this configuration names no tenant");
    } else if let Some(span) = decls.first_line {
        d = d.with_label(span, "a tenant block would go in this file");
    }
    diags.push(d);
    None
}

/// The `tenant` block with what its values may reference.
struct TenantBlock<'b, 'e, 'a, 'd> {
    block: BlockRef<'b>,
    ev: &'e Evaluator<'a, 'd>,
}

impl TenantBlock<'_, '_, '_, '_> {
    /// A string attribute; `None` when absent, null, or wrong (reported).
    fn string(&self, name: &str, diags: &mut Diagnostics) -> Option<Spanned<String>> {
        let attr = self.block.attribute(name)?;
        let span = self.block.expr_span(&attr.value);
        let ctx = self.ev.context_with(&attr.value, &self.ev.base);
        match eval_expr(&attr.value, &ctx, span) {
            Ok(Value::Null) => None,
            Ok(v) => values::string(name, &v, span).map_err(|d| diags.push(d)).ok(),
            Err(d) => {
                diags.push(d);
                None
            }
        }
    }

    /// An http(s) URL attribute.
    fn url(&self, name: &str, diags: &mut Diagnostics) -> Option<Spanned<String>> {
        let value = self.string(name, diags)?;
        match url::Url::parse(&value.value) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => Some(value),
            _ => {
                diags.push(
                    Diagnostic::error(codes::INVALID_VALUE, format!("`{name}` must be an http(s) URL"))
                        .with_label(value.span, "not a URL")
                        .with_help(
                            "write e.g. `https://graph.microsoft.com`, or leave it out for the public cloud",
                        ),
                );
                None
            }
        }
    }
}
