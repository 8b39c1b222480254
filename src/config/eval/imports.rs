//! `import` and `moved` blocks: existing objects to bring under management and addresses
//! that changed. They sit outside the reference graph: an import id may use variables and
//! locals only, and addresses are written as references or strings.

use super::expr::eval_expr;
use super::meta::address_of;
use super::{Declarations, Evaluator};
use crate::config::syntax::BlockRef;
use crate::config::values;
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{Address, Configuration, Import, Moved, Spanned};

/// Reads the `import` and `moved` blocks into `config`.
pub(super) fn build_imports_and_moves(
    decls: &Declarations<'_>,
    ev: &Evaluator<'_, '_>,
    config: &mut Configuration,
    diags: &mut Diagnostics,
) {
    for block in &decls.imports {
        let to = block_address(*block, "to", diags);
        let id = import_id(*block, ev, diags);
        if let (Some(to), Some(id)) = (to, id) {
            config.imports.push(Import { span: block.header(), to, id });
        }
    }
    for block in &decls.moves {
        let from = block_address(*block, "from", diags);
        let to = block_address(*block, "to", diags);
        if let (Some(from), Some(to)) = (from, to) {
            config.moves.push(Moved { span: block.header(), from, to });
        }
    }
}

/// The id of the object an `import` block brings in: a string, which may use variables and
/// locals.
fn import_id(
    block: BlockRef<'_>,
    ev: &Evaluator<'_, '_>,
    diags: &mut Diagnostics,
) -> Option<Spanned<String>> {
    let attr = block.attribute("id")?;
    let span = block.expr_span(&attr.value);
    let ctx = ev.context_with(&attr.value, &ev.base);
    match eval_expr(&attr.value, &ctx, span) {
        Ok(v) => values::string("id", &v, span).map_err(|d| diags.push(d)).ok(),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// An address attribute (`to`, `from`): a reference or a string naming a resource.
fn block_address(block: BlockRef<'_>, attr: &str, diags: &mut Diagnostics) -> Option<Spanned<Address>> {
    let a = block.attribute(attr)?;
    let span = block.expr_span(&a.value);
    match address_of(&a.value) {
        Some(address) => Some(Spanned::new(address, span)),
        None => {
            diags.push(
                Diagnostic::error(codes::INVALID_ADDRESS, format!("`{attr}` must be a resource address"))
                    .with_label(span, "not an address")
                    .with_help("write e.g. `approver_group.NAME` or `access_policy.NAME[\"KEY\"]`"),
            );
            None
        }
    }
}
