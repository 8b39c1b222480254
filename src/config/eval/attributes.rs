//! Reading one instance's attributes: evaluated in the instance's context, typed (string,
//! list of strings, group reference), null read as absent, and skipped without a second
//! report when they use a value that failed.

use hcl::Value;
use hcl_edit::expr::{Expression, TraversalOperator};

use super::Node;
use super::expr::eval_expr;
use super::instances::Instance;
use crate::config::values;
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::normalize::is_email_like;
use crate::model::{Address, GroupRef, ResourceType, Span, Spanned};

/// An attribute's evaluated value with its expression, `None` when absent or null.
type Evaluated<'a> = Option<(Value, Span, &'a Expression)>;

impl<'a> Instance<'_, 'a, '_, '_> {
    pub(super) fn get(&self, name: &str, diags: &mut Diagnostics) -> Result<Evaluated<'a>, ()> {
        let Some(attr) = self.block.attribute(name) else { return Ok(None) };
        let span = self.block.expr_span(&attr.value);
        if self.degraded && self.ev.touches_failed(&attr.value, self.block.attribute("for_each").is_some()) {
            return Err(());
        }
        match eval_expr(&attr.value, self.ctx, span) {
            Ok(Value::Null) => Ok(None),
            Ok(v) => Ok(Some((v, span, &attr.value))),
            Err(d) => {
                diags.push(d);
                Err(())
            }
        }
    }

    pub(super) fn string(&self, name: &str, diags: &mut Diagnostics) -> Result<Option<Spanned<String>>, ()> {
        match self.get(name, diags)? {
            None => Ok(None),
            Some((v, span, _)) => values::string(name, &v, span).map(Some).map_err(|d| diags.push(d)),
        }
    }

    pub(super) fn required_string(&self, name: &str, diags: &mut Diagnostics) -> Result<Spanned<String>, ()> {
        match self.string(name, diags)? {
            Some(s) => Ok(s),
            None => {
                // Absent attributes are reported by the schema check; this is an explicit null.
                if let Some(attr) = self.block.attribute(name) {
                    diags.push(
                        Diagnostic::error(codes::MISSING_ATTRIBUTE, format!("`{name}` must not be null"))
                            .with_label(self.block.expr_span(&attr.value), "null")
                            .with_help(format!("give `{name}` a value")),
                    );
                }
                Err(())
            }
        }
    }

    pub(super) fn list(&self, name: &str, diags: &mut Diagnostics) -> Result<Vec<Spanned<String>>, ()> {
        match self.get(name, diags)? {
            None => Ok(Vec::new()),
            Some((v, _, expr)) => {
                values::string_list(name, v, expr, self.block.file).map_err(|d| diags.push(d))
            }
        }
    }

    /// A group where one is expected: a reference to an `approver_group` block (instance), or
    /// an email address.
    pub(super) fn group_ref(
        &self,
        name: &str,
        diags: &mut Diagnostics,
    ) -> Result<Option<Spanned<GroupRef>>, ()> {
        let Some(attr) = self.block.attribute(name) else { return Ok(None) };
        let span = self.block.expr_span(&attr.value);
        if let Some((group, index)) = group_traversal(&attr.value) {
            let address = self.group_address(group, index, span, diags)?;
            return Ok(Some(Spanned::new(GroupRef::Resource(address), span)));
        }
        let Some((v, span, _)) = self.get(name, diags)? else { return Ok(None) };
        let email = values::string(name, &v, span).map_err(|d| {
            diags.push(d.with_help(format!("write `{name} = approver_group.NAME` or an email address")))
        })?;
        if !is_email_like(&email.value) {
            diags.push(invalid_email(name, &email.value, span));
            return Err(());
        }
        Ok(Some(Spanned::new(GroupRef::Email(email.value), span)))
    }

    /// The address of the group instance `approver_group.GROUP[INDEX]` names: a key exactly
    /// when the group has `for_each`, and one of its keys.
    fn group_address(
        &self,
        group: String,
        index: Option<&Expression>,
        span: Span,
        diags: &mut Diagnostics,
    ) -> Result<Address, ()> {
        let node = Node::Resource(ResourceType::ApproverGroup, group.clone());
        let keys = self.ev.instance_keys.get(&node);
        match (keys, index) {
            (Some(None), None) => Ok(Address::group(group)),
            (Some(Some(keys)), Some(index)) => {
                let key = eval_expr(index, self.ctx, span).map_err(|d| diags.push(d))?;
                let key = values::as_string(&key).unwrap_or_default();
                if !keys.contains(&key) {
                    diags.push(
                        Diagnostic::error(
                            codes::UNKNOWN_REFERENCE,
                            format!("`approver_group.{group}` has no instance `{key}`"),
                        )
                        .with_label(span, "no such instance")
                        .with_help(format!("instances are: {}", keys.join(", "))),
                    );
                    return Err(());
                }
                Ok(Address::with_key(ResourceType::ApproverGroup, group, key))
            }
            (Some(Some(_)), None) => {
                diags.push(
                    Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!("`approver_group.{group}` uses `for_each`: pick one instance"),
                    )
                    .with_label(span, "a collection of groups")
                    .with_help(format!(
                        "write `approver_group.{group}[\"KEY\"]` or `approver_group.{group}[each.key]`"
                    )),
                );
                Err(())
            }
            (Some(None), Some(_)) => {
                diags.push(
                    Diagnostic::error(
                        codes::TYPE_MISMATCH,
                        format!("`approver_group.{group}` has no `for_each`, so it takes no key"),
                    )
                    .with_label(span, "remove the key")
                    .with_help(format!("write `approver_group.{group}`")),
                );
                Err(())
            }
            // The group failed to evaluate: already reported.
            (None, _) => Err(()),
        }
    }
}

/// `approver_group.NAME` or `approver_group.NAME[KEY]`, with nothing after.
fn group_traversal(expr: &Expression) -> Option<(String, Option<&Expression>)> {
    let Expression::Traversal(t) = expr else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    if root.as_str() != "approver_group" {
        return None;
    }
    match t.operators.iter().map(|o| &**o).collect::<Vec<_>>().as_slice() {
        [TraversalOperator::GetAttr(name)] => Some((name.to_string(), None)),
        [TraversalOperator::GetAttr(name), TraversalOperator::Index(i)] => Some((name.to_string(), Some(i))),
        _ => None,
    }
}

pub(super) fn invalid_email(attr: &str, value: &str, span: Span) -> Diagnostic {
    Diagnostic::error(codes::INVALID_EMAIL, format!("`{value}` in `{attr}` is not an email address or UPN"))
        .with_label(span, "malformed address")
        .with_help("write a full address such as `alice@contoso.onmicrosoft.com`")
}
