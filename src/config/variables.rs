//! Input variables: declarations, values from `--var`, `PAMFORM_VAR_name` and
//! `*.pamvars.hcl` files (precedence `--var` > environment > files > default, like
//! Terraform), type conversion and `validation` blocks.

use std::collections::BTreeMap;

use hcl::Value;
use hcl::eval::{Context, Evaluate};
use hcl_edit::structure::Body;

use super::eval::VariableDef;
use super::functions::base_context;
use super::syntax::{BlockRef, did_you_mean, span_of};
use super::values::VarType;
use crate::diagnostic::{Diagnostic, Diagnostics, codes};
use crate::env::VAR_PREFIX;
use crate::model::{Configuration, FileId, Span};

/// Variable values given outside the configuration files.
#[derive(Debug, Clone, Default)]
pub struct VarInputs {
    /// `--var NAME=VALUE`, in order (a later one wins).
    pub cli: Vec<(String, String)>,
    /// `PAMFORM_VAR_name=VALUE` from the environment.
    pub env: Vec<(String, String)>,
    /// `--var-file FILE`, in order (a later file wins). When any is given, these files are
    /// read instead of the directory's `*.pamvars.hcl`.
    pub files: Vec<std::path::PathBuf>,
}

impl VarInputs {
    /// Collects `PAMFORM_VAR_*` from the process environment, with `--var` assignments. The
    /// one place the environment is read for variable values.
    ///
    /// Other variables in the environment are never looked at, whatever their encoding. A
    /// name that is not UTF-8 cannot name a declared variable and is skipped; a value that is
    /// not UTF-8 is read with U+FFFD in place of the bytes that are not, as the configuration
    /// is UTF-8 text.
    pub fn from_env(cli: Vec<(String, String)>) -> Self {
        let env = crate::env::with_prefix(VAR_PREFIX);
        VarInputs { cli, env, files: Vec::new() }
    }

    /// Splits `NAME=VALUE`.
    pub fn parse_assignment(s: &str) -> Result<(String, String), String> {
        match s.split_once('=') {
            Some((name, value)) if crate::model::address::is_identifier(name.trim()) => {
                Ok((name.trim().to_string(), value.to_string()))
            }
            _ => Err(format!("`{s}` is not NAME=VALUE; write e.g. --var domain=contoso.onmicrosoft.com")),
        }
    }
}

/// Each declared variable's value as evaluation uses it, in JSON: the one record of variable
/// values, kept in [`Configuration::variables`] and covered by a saved plan's configuration
/// hash through [`variable_pairs`]. A variable without a value (reported) has none.
pub(super) fn values_used(
    variables: &BTreeMap<String, VariableDef<'_>>,
) -> BTreeMap<String, serde_json::Value> {
    variables
        .iter()
        .filter_map(|(name, def)| {
            let value = def.value.as_ref()?;
            Some((name.clone(), serde_json::to_value(value).expect("an HCL value has a JSON form")))
        })
        .collect()
}

/// Each declared variable's value exactly as evaluation used it, as (name, JSON text) pairs:
/// what a saved plan's configuration hash covers of `--var`, `PAMFORM_VAR_*`,
/// `*.pamvars.hcl` files and defaults, which only evaluation reads.
pub fn variable_pairs(config: &Configuration) -> Vec<(String, String)> {
    config.variables.iter().map(|(name, value)| (name.clone(), value.to_string())).collect()
}

/// Reads a raw string value for a variable of type `ty`: strings stay as they are, other
/// types are parsed as HCL expressions (`["a", "b"]`, `{ a = "b" }`, `true`, `42`).
fn raw_value(raw: &str, ty: VarType) -> Result<Value, String> {
    if matches!(ty, VarType::String | VarType::Any) {
        return Ok(Value::String(raw.to_string()));
    }
    let expr = hcl_edit::parser::parse_expr(raw.trim()).map_err(|e| e.message().to_lowercase())?;
    let expr: hcl::Expression = expr.into();
    expr.evaluate(&base_context()).map_err(|e| e.to_string())
}

/// One value from a `*.pamvars.hcl` file.
pub struct FileValue {
    pub value: Value,
    pub span: Span,
}

/// Reads assignments from a `*.pamvars.hcl` body. With `later_wins` (files named by
/// `--var-file`, in order) a later file overrides an earlier one; otherwise (the directory's
/// files, read in name order) a variable set in two files is an error naming both, since
/// neither is meant more than the other.
pub fn read_pamvars(
    file: FileId,
    body: &Body,
    later_wins: bool,
    out: &mut BTreeMap<String, FileValue>,
    spans: &mut BTreeMap<String, Vec<Span>>,
    diags: &mut Diagnostics,
) {
    let ctx = base_context();
    for structure in body.iter() {
        match structure {
            hcl_edit::structure::Structure::Attribute(attr) => {
                let span = span_of(file, &attr.value);
                spans.entry(attr.key.to_string()).or_default().push(span);
                let expr: hcl::Expression = attr.value.clone().into();
                match expr.evaluate(&ctx) {
                    Ok(value) => {
                        let name = attr.key.to_string();
                        if let Some(earlier) = out.get(&name)
                            && !later_wins
                        {
                            diags.push(
                                Diagnostic::error(
                                    codes::DUPLICATE_VARIABLE_VALUE,
                                    format!("variable `{name}` is set in two *.pamvars.hcl files"),
                                )
                                .with_label(earlier.span, "set here")
                                .with_label(span, "and here")
                                .with_help(
                                    "keep one, or keep each environment's values in its own file and pick it with --var-file FILE",
                                ),
                            );
                            continue;
                        }
                        out.insert(name, FileValue { value, span });
                    }
                    Err(e) => diags.push(
                        Diagnostic::error(codes::EVALUATION, format!("cannot evaluate this value: {e}"))
                            .with_label(span, "evaluation failed here")
                            .with_help("values in *.pamvars.hcl files are constants: no references"),
                    ),
                }
            }
            hcl_edit::structure::Structure::Block(b) => diags.push(
                Diagnostic::error(codes::UNKNOWN_BLOCK, "*.pamvars.hcl files hold only `NAME = value` lines")
                    .with_label(span_of(file, &b.ident), "a block")
                    .with_help("write variable values as `NAME = value`"),
            ),
        }
    }
}

/// The value of each `NAME = value` line of a `*.pamvars.hcl` file that does not parse
/// (from after the `=` to the end of the line), by name: a syntax error draws the file's
/// lines all the same.
pub fn value_lines(file: FileId, text: &str, spans: &mut BTreeMap<String, Vec<Span>>) {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                let value_start = start + line.find('=').unwrap_or(0) + 1;
                let value_end = start + line.trim_end().len();
                if value_start < value_end {
                    spans.entry(name.to_string()).or_default().push(Span::new(file, value_start..value_end));
                }
            }
        }
        start += line.len();
    }
}

/// Marks the text of every value given for a sensitive variable in `blocks` (each
/// `*.pamvars.hcl` value in `spans`, and its default) as hidden from diagnostic snippets.
pub fn hide_sensitive_values(
    blocks: &[BlockRef<'_>],
    spans: &BTreeMap<String, Vec<Span>>,
    diags: &mut Diagnostics,
) {
    for block in blocks.iter().filter(|b| is_sensitive(b)) {
        let Some(name) = block.label() else { continue };
        if let Some(attr) = block.attribute("default") {
            diags.hide(block.expr_span(&attr.value));
        }
        for span in spans.get(name).into_iter().flatten() {
            diags.hide(*span);
        }
    }
}

/// Resolves every declared variable's value and runs its validations.
pub fn resolve<'a>(
    blocks: &[BlockRef<'a>],
    inputs: &VarInputs,
    files: &BTreeMap<String, FileValue>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, VariableDef<'a>> {
    let mut out: BTreeMap<String, VariableDef<'a>> = BTreeMap::new();
    for block in blocks {
        let Some(name) = block.label() else { continue };
        if let Some(first) = out.get(name) {
            diags.push(
                Diagnostic::error(codes::DUPLICATE_VARIABLE, format!("variable `{name}` is declared twice"))
                    .with_label(block.header(), "declared again here")
                    .with_extra_label(first.block.header(), "first declared here")
                    .with_help("remove one of the declarations"),
            );
            continue;
        }
        check_sensitive(block, name, diags);
        let value =
            Declared::read(block, name, diags).and_then(|declared| declared.value(inputs, files, diags));
        if let Ok(v) = &value {
            validate(block, name, v, diags);
        }
        out.insert(name.to_string(), VariableDef { block: *block, value: value.ok() });
    }
    report_undeclared(inputs, files, &out, diags);
    out
}

/// One `variable` block: what a value given for it must be.
struct Declared<'b, 'a> {
    block: &'b BlockRef<'a>,
    name: &'b str,
    ty: VarType,
    /// Like Terraform: null is a value of every type (the variable then holds null and an
    /// argument set from it counts as left out), unless `nullable = false`.
    nullable: bool,
    /// Declared sensitive: why a value is wrong is said without the parser's or converter's
    /// words, which may quote it (a short value is not scrubbed from texts by its content).
    sensitive: bool,
}

impl<'b, 'a> Declared<'b, 'a> {
    /// Reads `type` and `nullable`; `Err` when the type is not supported (reported).
    fn read(block: &'b BlockRef<'a>, name: &'b str, diags: &mut Diagnostics) -> Result<Self, ()> {
        let ty = match block.attribute("type") {
            None => VarType::Any,
            Some(attr) => VarType::parse(&attr.value).ok_or_else(|| {
                diags.push(
                    Diagnostic::error(codes::VARIABLE_TYPE, "unsupported variable type")
                        .with_label(block.expr_span(&attr.value), "not a type")
                        .with_help("use string, number, bool, list(string), map(string) or set(string)"),
                )
            })?,
        };
        let nullable = nullable(block, name, diags);
        Ok(Declared { block, name, ty, nullable, sensitive: is_sensitive(block) })
    }

    /// The value by precedence: `--var` (the last one), the environment, a `*.pamvars.hcl`
    /// file, the default; `Err` when there is none or it is wrong (reported).
    fn value(
        &self,
        inputs: &VarInputs,
        files: &BTreeMap<String, FileValue>,
        diags: &mut Diagnostics,
    ) -> Result<Value, ()> {
        let name = self.name;
        if let Some((_, raw)) = inputs.cli.iter().rev().find(|(n, _)| n == name) {
            return self.text_value(raw, "--var", diags);
        }
        if let Some((_, raw)) = inputs.env.iter().rev().find(|(n, _)| n == name) {
            return self.text_value(raw, &format!("{VAR_PREFIX}{name}"), diags);
        }
        if let Some(fv) = files.get(name) {
            return self.convert(fv.value.clone(), Some(fv.span), "a .pamvars.hcl file", diags);
        }
        if let Some(attr) = self.block.attribute("default") {
            let span = self.block.expr_span(&attr.value);
            let expr: hcl::Expression = attr.value.clone().into();
            return match expr.evaluate(&base_context()) {
                Ok(v) => self.convert(v, Some(span), "its default", diags),
                Err(e) => {
                    diags.push(
                        Diagnostic::error(codes::EVALUATION, format!("cannot evaluate the default: {e}"))
                            .with_label(span, "evaluation failed here")
                            .with_help("defaults are constants: they cannot refer to other values"),
                    );
                    Err(())
                }
            };
        }
        diags.push(
            Diagnostic::error(codes::MISSING_VARIABLE, format!("variable `{name}` has no value"))
                .with_label(self.block.header(), "declared here without a default")
                .with_help(format!(
                    "pass --var {name}=VALUE, set {VAR_PREFIX}{name}, add it to a .pamvars.hcl file, or give it a default"
                )),
        );
        Err(())
    }

    /// A value given as text (`--var`, the environment), from `origin`.
    fn text_value(&self, raw: &str, origin: &str, diags: &mut Diagnostics) -> Result<Value, ()> {
        raw_value(raw, self.ty)
            .map_err(|e| {
                let e = if self.sensitive { self.not_of_type() } else { e };
                diags_str(diags, self.name, origin, &e, self.block.header())
            })
            .and_then(|v| self.convert(v, None, origin, diags))
    }

    /// Why a sensitive variable's value is wrong, in words that cannot quote it.
    fn not_of_type(&self) -> String {
        format!("not a value of type {}", self.ty.as_str())
    }

    /// Converts a value from `origin` (at `span`, if it has one) to the declared type.
    fn convert(
        &self,
        value: Value,
        span: Option<Span>,
        origin: &str,
        diags: &mut Diagnostics,
    ) -> Result<Value, ()> {
        let (name, header) = (self.name, self.block.header());
        if value.is_null() {
            if self.nullable {
                return Ok(Value::Null);
            }
            let mut d = Diagnostic::error(
                codes::VARIABLE_TYPE,
                format!("invalid value for variable `{name}` from {origin}: null is not allowed"),
            )
            .with_help("the variable says `nullable = false`: give it a value, or remove `nullable = false`");
            d = match span {
                Some(s) => d.with_label(s, "null").with_extra_label(header, "declared here"),
                None => d.with_label(header, "declared here"),
            };
            diags.push(d);
            return Err(());
        }
        self.ty.convert(value).map_err(|e| {
            let e = if self.sensitive { self.not_of_type() } else { e.to_string() };
            let mut d = Diagnostic::error(
                codes::VARIABLE_TYPE,
                format!("invalid value for variable `{name}` from {origin}: {e}"),
            )
            .with_help(format!("give a value of type {}", self.ty.as_str()));
            d = match span {
                Some(s) => d.with_label(s, "this value").with_extra_label(header, "declared here"),
                None => d.with_label(header, "declared here"),
            };
            diags.push(d);
        })
    }
}

/// `sensitive` as declared: false when left out, else the bool it evaluates to, or why it
/// is not one.
fn declared_sensitive(block: &BlockRef<'_>) -> Result<bool, String> {
    let Some(attr) = block.attribute("sensitive") else { return Ok(false) };
    let expr: hcl::Expression = attr.value.clone().into();
    match expr.evaluate(&base_context()).map_err(|e| e.to_string())? {
        Value::Bool(b) => Ok(b),
        other => Err(format!("expected true or false, got {}", super::values::type_name(&other))),
    }
}

/// Whether a variable's value must be kept out of what pamform prints: declared
/// `sensitive = true` (written in any way that evaluates to true), or with a `sensitive`
/// that is not a bool (an error, reported by [`resolve`]: its value is still kept hidden).
pub(super) fn is_sensitive(block: &BlockRef<'_>) -> bool {
    !matches!(declared_sensitive(block), Ok(false))
}

/// Reports a `sensitive` that is not a bool: Terraform refuses one, and reading it as false
/// would print the value the author meant to hide.
fn check_sensitive(block: &BlockRef<'_>, name: &str, diags: &mut Diagnostics) {
    let (Some(attr), Err(e)) = (block.attribute("sensitive"), declared_sensitive(block)) else { return };
    diags.push(
        Diagnostic::error(codes::VARIABLE_TYPE, format!("invalid `sensitive` for variable `{name}`: {e}"))
            .with_label(block.expr_span(&attr.value), "not a bool")
            .with_help("write `sensitive = true` or `sensitive = false`"),
    );
}

/// `nullable`: true unless the block says `nullable = false`; a value that is not a bool is
/// reported and read as true.
fn nullable(block: &BlockRef<'_>, name: &str, diags: &mut Diagnostics) -> bool {
    let Some(attr) = block.attribute("nullable") else { return true };
    let span = block.expr_span(&attr.value);
    let expr: hcl::Expression = attr.value.clone().into();
    match expr.evaluate(&base_context()).map_err(|e| e.to_string()).and_then(|v| match v {
        Value::Bool(b) => Ok(b),
        other => Err(format!("expected true or false, got {}", super::values::type_name(&other))),
    }) {
        Ok(b) => b,
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    codes::VARIABLE_TYPE,
                    format!("invalid `nullable` for variable `{name}`: {e}"),
                )
                .with_label(span, "not a bool")
                .with_help("write `nullable = true` or `nullable = false`"),
            );
            true
        }
    }
}

/// Values for variables nobody declared: an error on the command line, a warning in files.
fn report_undeclared(
    inputs: &VarInputs,
    files: &BTreeMap<String, FileValue>,
    declared: &BTreeMap<String, VariableDef<'_>>,
    diags: &mut Diagnostics,
) {
    for (n, _) in &inputs.cli {
        if !declared.contains_key(n) {
            let mut d = Diagnostic::error(
                codes::UNDECLARED_VARIABLE,
                format!("--var sets `{n}`, which is not declared"),
            );
            d = match did_you_mean(n, declared.keys().map(String::as_str)) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help(format!("declare it with `variable \"{n}\" {{}}` or drop the --var")),
            };
            diags.push(d);
        }
    }
    for (n, fv) in files {
        if !declared.contains_key(n) {
            diags.push(
                Diagnostic::warning(
                    codes::UNDECLARED_VARIABLE,
                    format!("a value for `{n}` is given, but no variable is declared"),
                )
                .with_label(fv.span, "unused value")
                .with_help(format!("declare it with `variable \"{n}\" {{}}` or remove the value")),
            );
        }
    }
}

fn diags_str(diags: &mut Diagnostics, name: &str, origin: &str, e: &str, header: Span) {
    diags.push(
        Diagnostic::error(
            codes::VARIABLE_TYPE,
            format!("invalid value for variable `{name}` from {origin}: {e}"),
        )
        .with_label(header, "declared here")
        .with_help("values of non-string variables are HCL expressions, e.g. '[\"a\", \"b\"]'"),
    );
}

/// Runs the `validation` blocks of one variable against its value.
fn validate(block: &BlockRef<'_>, name: &str, value: &Value, diags: &mut Diagnostics) {
    let mut ctx: Context = base_context();
    let mut var = hcl::Map::new();
    var.insert(name.to_string(), value.clone());
    ctx.declare_var("var", Value::Object(var));
    for v in block.blocks("validation") {
        let (Some(cond), Some(msg)) = (v.attribute("condition"), v.attribute("error_message")) else {
            continue;
        };
        let span = v.expr_span(&cond.value);
        let expr: hcl::Expression = cond.value.clone().into();
        let message = {
            let m: hcl::Expression = msg.value.clone().into();
            m.evaluate(&ctx)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "invalid value".into())
        };
        match expr.evaluate(&ctx) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => diags.push(
                Diagnostic::error(
                    codes::VARIABLE_VALIDATION,
                    format!("invalid value for variable `{name}`: {message}"),
                )
                .with_label(span, "this condition is false")
                .with_help(format!("give `{name}` a value that satisfies the condition")),
            ),
            Ok(other) => diags.push(
                Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    format!(
                        "a validation condition must be a bool, not {}",
                        super::values::type_name(&other)
                    ),
                )
                .with_label(span, "not a bool")
                .with_help("write a comparison or a function that returns true or false"),
            ),
            Err(e) => diags.push(
                Diagnostic::error(codes::EVALUATION, format!("cannot evaluate the condition: {e}"))
                    .with_label(span, "evaluation failed here")
                    .with_help(format!("a condition may refer only to `var.{name}`")),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The saved plan's configuration hash covers the values after precedence and type
    /// conversion, not the text they were given as.
    #[test]
    fn pairs_are_the_values_evaluation_used() {
        let dir = tempfile::tempdir().unwrap();
        let config = r#"tenant { id = "contoso.onmicrosoft.com" }
variable "count" { type = number }
variable "tasks" { type = list(string) }
variable "who" { default = "default" }
variable "nothing" { default = null }
"#;
        std::fs::write(dir.path().join("main.pam.hcl"), config).unwrap();
        std::fs::write(dir.path().join("a.pamvars.hcl"), "who = \"file\"\n").unwrap();
        let inputs = VarInputs {
            files: vec![],
            cli: vec![("count".into(), " 42 ".into()), ("tasks".into(), r#"[ "a",  "b" ]"#.into())],
            env: vec![("who".into(), "env".into())],
        };
        let loaded = crate::config::load(dir.path(), &inputs).unwrap();
        let pairs = variable_pairs(&loaded.configuration);
        let expected = [("count", "42"), ("nothing", "null"), ("tasks", r#"["a","b"]"#), ("who", r#""env""#)];
        assert_eq!(pairs, expected.map(|(n, v)| (n.to_string(), v.to_string())));
    }
}
