//! Reading the text: parses one file with hcl-edit (which keeps byte spans), turns parser
//! errors into diagnostics, and checks the shape of every block against the block schemas
//! (known block types, labels, attributes, nested blocks, required and duplicate attributes).

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, Body, Structure};

use crate::diagnostic::{Diagnostic, Diagnostics, codes};
use crate::model::{FileId, Sources, Span};

/// Parses one source file into an hcl-edit body, or a syntax diagnostic.
pub fn parse_file(sources: &Sources, file: FileId) -> Result<Body, Diagnostic> {
    let text = &sources.get(file).text;
    hcl_edit::parser::parse_body(text).map_err(|e| syntax_diagnostic(&e, file, text))
}

/// A piece of a file, parsed.
type Parsed = Result<Body, hcl_edit::parser::Error>;

/// Below this many bytes in all, files are parsed one after another: starting threads
/// would cost more than it saves. It is also the least a file is cut into.
const PARALLEL_PARSE_BYTES: usize = 256 * 1024;

/// Parses `files`, each into its body or its syntax diagnostic, in the order given, exactly
/// as [`parse_file`] does one at a time.
///
/// Parsing is most of the cost of loading a large configuration, and hcl-edit parses on one
/// thread, so the work is shared over the machine's cores: each file is one piece, and a
/// large file (a generated configuration is often one file of thousands of members) is cut
/// into pieces where a top-level block ends. Each thread takes the next piece not yet taken;
/// the pieces of a file are put back together in order, so nothing depends on how they were
/// shared out. Whenever a cut file cannot be put back together exactly (a piece does not
/// parse, or it has top-level attributes, whose duplicates only the whole file shows), it
/// is parsed whole, and its result, error included, is the one-thread result.
pub fn parse_files(sources: &Sources, files: &[FileId]) -> Vec<Result<Body, Diagnostic>> {
    parse_files_on(sources, files, std::thread::available_parallelism().map_or(1, usize::from))
}

/// [`parse_files`] on at most `threads` threads.
fn parse_files_on(sources: &Sources, files: &[FileId], threads: usize) -> Vec<Result<Body, Diagnostic>> {
    let bytes: usize = files.iter().map(|&f| sources.get(f).text.len()).sum();
    if threads < 2 || bytes < PARALLEL_PARSE_BYTES {
        return files.iter().map(|&f| parse_file(sources, f)).collect();
    }
    // (file index, byte range) of every piece, a file's pieces in order.
    let mut pieces: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for (i, &file) in files.iter().enumerate() {
        let text: &str = &sources.get(file).text;
        let cuts = cut_points(text, threads.min(text.len() / PARALLEL_PARSE_BYTES).max(1));
        let mut start = 0;
        for end in cuts.into_iter().chain([text.len()]) {
            pieces.push((i, start..end));
            start = end;
        }
    }
    if pieces.len() < 2 {
        return files.iter().map(|&f| parse_file(sources, f)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let mut parsed = Vec::new();
        loop {
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some((i, range)) = pieces.get(k) else { return parsed };
            parsed.push((k, parse_piece(&sources.get(files[*i]).text, range.clone())));
        }
    };
    let mut slots: Vec<Option<Parsed>> = pieces.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (1..threads.min(pieces.len())).map(|_| scope.spawn(take)).collect();
        let mut all = take();
        for w in workers {
            // A parser that panics on some input panics here, as it would without threads.
            all.extend(w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        for (k, parsed) in all {
            slots[k] = Some(parsed);
        }
    });
    let mut out = Vec::with_capacity(files.len());
    let mut slots = slots.into_iter().zip(pieces).peekable();
    for (i, &file) in files.iter().enumerate() {
        let mut parts = Vec::new();
        while let Some((slot, _)) = slots.next_if(|(_, (f, _))| *f == i) {
            parts.push(slot);
        }
        let result = match parts.len() {
            1 => match parts.pop().flatten() {
                Some(parsed) => parsed.map_err(|e| syntax_diagnostic(&e, file, &sources.get(file).text)),
                None => parse_file(sources, file),
            },
            _ => join_pieces(parts).map_or_else(|| parse_file(sources, file), Ok),
        };
        out.push(result);
    }
    out
}

/// Up to `pieces - 1` byte offsets that cut `text` into pieces of about equal size, each
/// just after a line that is a lone `}` (where a top-level block of formatted HCL ends).
/// They are guesses: [`join_pieces`] accepts only pieces that parse as whole blocks.
fn cut_points(text: &str, pieces: usize) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut from = 0;
    for k in 1..pieces {
        let target = (text.len() * k / pieces).max(from);
        let Some(at) = text.get(target..).and_then(|rest| rest.find("\n}\n")) else { break };
        let cut = target + at + 3;
        if cut >= text.len() {
            break;
        }
        cuts.push(cut);
        from = cut;
    }
    cuts
}

/// Parses the piece `range` of `text` where it stands in the file: the text before it is
/// replaced by as many spaces, so that every span is a span of the whole file.
fn parse_piece(text: &str, range: std::ops::Range<usize>) -> Parsed {
    if range.start == 0 {
        return hcl_edit::parser::parse_body(&text[range]);
    }
    let mut padded = String::with_capacity(range.end);
    padded.extend(std::iter::repeat_n(' ', range.start));
    padded.push_str(&text[range.clone()]);
    let mut body = hcl_edit::parser::parse_body(&padded)?;
    // The first structure's leading whitespace is what the file has there, not the padding.
    if let Some(mut first) = body.iter_mut().next() {
        use hcl_edit::Decorate;
        let prefix = first.decor().prefix().map(|p| p.get(range.start..).unwrap_or_default().to_string());
        if let Some(prefix) = prefix {
            first.decor_mut().set_prefix(prefix);
        }
    }
    Ok(body)
}

/// The body of a file cut in pieces from their bodies, in order; `None` when it cannot be
/// the body of the whole file (a piece did not parse or has top-level attributes).
fn join_pieces(parts: Vec<Option<Parsed>>) -> Option<Body> {
    let mut bodies = Vec::with_capacity(parts.len());
    for slot in parts {
        let body = slot?.ok()?;
        if body.iter().any(|s| matches!(s, Structure::Attribute(_))) {
            return None;
        }
        bodies.push(body);
    }
    let mut bodies = bodies.into_iter();
    let mut whole = bodies.next()?;
    for body in bodies {
        use hcl_edit::Decorate;
        // The file's trailing whitespace, and whether it ends without a newline, are the last
        // piece's.
        let suffix = body.decor().suffix().cloned();
        whole.set_prefer_omit_trailing_newline(body.prefer_omit_trailing_newline());
        for structure in body {
            whole.push(structure);
        }
        match suffix {
            Some(suffix) => whole.decor_mut().set_suffix(suffix),
            None => whole.decor_mut().clear(),
        }
    }
    Some(whole)
}

/// Parses a text that is not (yet) part of any [`Sources`]; used by `fmt`.
pub fn parse_text(text: &str) -> Result<Body, hcl_edit::parser::Error> {
    hcl_edit::parser::parse_body(text)
}

/// The diagnostic for a parser error: the span covers the offending character.
pub fn syntax_diagnostic(error: &hcl_edit::parser::Error, file: FileId, text: &str) -> Diagnostic {
    let start = error.location().offset().min(text.len());
    let end = text[start..].chars().next().map_or(start, |c| start + c.len_utf8());
    let message = error.message().trim();
    let message = if message.is_empty() { "invalid syntax".to_string() } else { message.to_lowercase() };
    let span = Span::new(file, start..end);
    if message.contains("redefined attribute") {
        return Diagnostic::error(codes::DUPLICATE_ATTRIBUTE, "this attribute is set twice in its block")
            .with_label(span, "set again here")
            .with_help("remove one of the two");
    }
    Diagnostic::error(codes::SYNTAX, format!("syntax error: {message}"))
        .with_label(span, "here")
        .with_help("fix the syntax at this position; the configuration language is HCL")
}

/// The span of any hcl-edit node in `file` (empty at 0 for nodes built outside the parser).
pub fn span_of(file: FileId, node: &dyn hcl_edit::Span) -> Span {
    Span::new(file, node.span().unwrap_or(0..0))
}

/// A block with its file and the spans diagnostics point at.
#[derive(Debug, Clone, Copy)]
pub struct BlockRef<'a> {
    pub file: FileId,
    pub block: &'a Block,
}

impl<'a> BlockRef<'a> {
    pub fn kind(&self) -> &'a str {
        self.block.ident.as_str()
    }

    /// The header: the block type through its last label.
    pub fn header(&self) -> Span {
        let start = span_of(self.file, &self.block.ident);
        let end = self.block.labels.last().map_or(start, |l| span_of(self.file, l));
        Span::new(self.file, start.start..end.end.max(start.end))
    }

    pub fn label(&self) -> Option<&'a str> {
        self.block.labels.first().map(|l| l.as_str())
    }

    pub fn attribute(&self, name: &str) -> Option<&'a Attribute> {
        self.block.body.get_attribute(name)
    }

    pub fn attributes(&self) -> impl Iterator<Item = &'a Attribute> {
        self.block.body.attributes()
    }

    pub fn blocks(&self, kind: &'a str) -> impl Iterator<Item = BlockRef<'a>> + 'a {
        let file = self.file;
        self.block.body.get_blocks(kind).map(move |block| BlockRef { file, block })
    }

    pub fn expr_span(&self, expr: &Expression) -> Span {
        span_of(self.file, expr)
    }

    pub fn key_span(&self, attr: &Attribute) -> Span {
        span_of(self.file, &attr.key)
    }
}

/// What a block type may contain.
pub struct Schema {
    pub kind: &'static str,
    /// The exact number of labels.
    pub labels: usize,
    pub label_name: &'static str,
    pub attributes: &'static [&'static str],
    pub required: &'static [&'static str],
    pub blocks: &'static [&'static Schema],
    /// Any attribute name is allowed (`locals`).
    pub open: bool,
}

const VALIDATION: Schema = Schema {
    kind: "validation",
    labels: 0,
    label_name: "",
    attributes: &["condition", "error_message"],
    required: &["condition", "error_message"],
    blocks: &[],
    open: false,
};

const LIFECYCLE: Schema = Schema {
    kind: "lifecycle",
    labels: 0,
    label_name: "",
    attributes: &["prevent_destroy", "ignore_changes"],
    required: &[],
    blocks: &[],
    open: false,
};

pub const GROUP_ATTRIBUTES: &[&str] = &["name", "email", "alias", "description", "members", "membership"];
pub const POLICY_ATTRIBUTES: &[&str] = &["task", "role", "role_group", "approval", "approver_group"];

/// Every top-level block type of the language.
pub const SCHEMAS: &[Schema] = &[
    Schema {
        kind: "tenant",
        labels: 0,
        label_name: "",
        attributes: &["id", "exchange_url", "graph_url", "login_url", "emulator"],
        required: &["id"],
        blocks: &[],
        open: false,
    },
    Schema {
        kind: "variable",
        labels: 1,
        label_name: "a variable name",
        attributes: &["type", "default", "description", "sensitive", "nullable"],
        required: &[],
        blocks: &[&VALIDATION],
        open: false,
    },
    Schema {
        kind: "locals",
        labels: 0,
        label_name: "",
        attributes: &[],
        required: &[],
        blocks: &[],
        open: true,
    },
    Schema {
        kind: "approver_group",
        labels: 1,
        label_name: "a group name",
        attributes: &[
            "name",
            "email",
            "alias",
            "description",
            "members",
            "membership",
            "for_each",
            "depends_on",
        ],
        required: &["name", "email"],
        blocks: &[&LIFECYCLE],
        open: false,
    },
    Schema {
        kind: "privileged_access",
        labels: 0,
        label_name: "",
        attributes: &["enabled", "default_approver_group", "system_accounts"],
        required: &["enabled"],
        blocks: &[],
        open: false,
    },
    Schema {
        kind: "access_policy",
        labels: 1,
        label_name: "a policy name",
        attributes: &["task", "role", "role_group", "approval", "approver_group", "for_each", "depends_on"],
        required: &["approver_group"],
        blocks: &[&LIFECYCLE],
        open: false,
    },
    Schema {
        kind: "import",
        labels: 0,
        label_name: "",
        attributes: &["to", "id"],
        required: &["to", "id"],
        blocks: &[],
        open: false,
    },
    Schema {
        kind: "backend",
        labels: 1,
        label_name: "a backend type",
        attributes: &["storage_account_name", "container_name", "key", "endpoint", "use_azuread_auth"],
        required: &["storage_account_name", "container_name", "key"],
        blocks: &[],
        open: false,
    },
    Schema {
        kind: "moved",
        labels: 0,
        label_name: "",
        attributes: &["from", "to"],
        required: &["from", "to"],
        blocks: &[],
        open: false,
    },
];

pub fn schema(kind: &str) -> Option<&'static Schema> {
    SCHEMAS.iter().find(|s| s.kind == kind)
}

/// The closest candidate to a misspelt name, if one is close enough to suggest.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn hint(name: &str, candidates: &[&str], what: &str) -> String {
    match did_you_mean(name, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("{what}: {}", candidates.join(", ")),
    }
}

/// Splits a file's top level into blocks, reporting top-level attributes and unknown blocks.
pub fn top_level_blocks<'a>(file: FileId, body: &'a Body, diags: &mut Diagnostics) -> Vec<BlockRef<'a>> {
    let kinds: Vec<&str> = SCHEMAS.iter().map(|s| s.kind).collect();
    let mut out = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_ATTRIBUTE,
                    format!("attribute `{}` is not allowed at the top level", attr.key.as_str()),
                )
                .with_label(span_of(file, &attr.key), "not inside a block")
                .with_help("put values in a `locals` block, or inside the block they belong to"),
            ),
            Structure::Block(block) => {
                let b = BlockRef { file, block };
                if let Some(s) = schema(b.kind()) {
                    check_block(b, s, diags);
                    out.push(b);
                } else {
                    diags.push(
                        Diagnostic::error(codes::UNKNOWN_BLOCK, format!("unknown block type `{}`", b.kind()))
                            .with_label(span_of(file, &block.ident), "unknown block type")
                            .with_help(hint(b.kind(), &kinds, "block types are")),
                    );
                }
            }
        }
    }
    out
}

/// Checks labels, attributes and nested blocks of one block against its schema.
pub fn check_block(b: BlockRef<'_>, schema: &Schema, diags: &mut Diagnostics) {
    check_labels(b, schema, diags);
    check_body(b, schema, diags);
    for required in schema.required {
        if b.attribute(required).is_none() {
            diags.push(
                Diagnostic::error(
                    codes::MISSING_ATTRIBUTE,
                    format!("`{}` blocks need the attribute `{required}`", schema.kind),
                )
                .with_label(b.header(), format!("`{required}` is missing"))
                .with_help(format!("add `{required} = ...` to this block")),
            );
        }
    }
}

/// The number of labels the schema asks for, each a valid name.
fn check_labels(b: BlockRef<'_>, schema: &Schema, diags: &mut Diagnostics) {
    if b.block.labels.len() != schema.labels {
        let span = b.header();
        let d = if schema.labels == 0 {
            Diagnostic::error(codes::BLOCK_LABELS, format!("`{}` blocks take no label", schema.kind))
                .with_label(span, "remove the label")
                .with_help(format!("write `{} {{ ... }}`", schema.kind))
        } else {
            Diagnostic::error(
                codes::BLOCK_LABELS,
                format!("`{}` blocks take exactly one label, {}", schema.kind, schema.label_name),
            )
            .with_label(span, "wrong number of labels")
            .with_help(format!("write `{} \"NAME\" {{ ... }}`", schema.kind))
        };
        diags.push(d);
    }
    for label in &b.block.labels {
        if schema.labels > 0 && !crate::model::address::is_identifier(label.as_str()) {
            diags.push(
                Diagnostic::error(codes::BLOCK_LABELS, format!("`{}` is not a valid name", label.as_str()))
                    .with_label(span_of(b.file, label), "invalid name")
                    .with_help("use letters, digits, `_` and `-`, starting with a letter or `_`"),
            );
        }
    }
}

/// Attributes set once and known to the schema; nested blocks known to it, checked in turn.
fn check_body(b: BlockRef<'_>, schema: &Schema, diags: &mut Diagnostics) {
    let mut seen: Vec<&Attribute> = Vec::new();
    let nested: Vec<&str> = schema.blocks.iter().map(|s| s.kind).collect();
    for structure in b.block.body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let name = attr.key.as_str();
                if let Some(first) = seen.iter().find(|a| a.key.as_str() == name) {
                    diags.push(
                        Diagnostic::error(
                            codes::DUPLICATE_ATTRIBUTE,
                            format!("attribute `{name}` is set twice"),
                        )
                        .with_label(b.key_span(attr), "set again here")
                        .with_extra_label(b.key_span(first), "first set here")
                        .with_help("remove one of the two"),
                    );
                    continue;
                }
                seen.push(attr);
                if !schema.open && !schema.attributes.contains(&name) {
                    let mut d = Diagnostic::error(
                        codes::UNKNOWN_ATTRIBUTE,
                        format!("`{}` blocks have no attribute `{name}`", schema.kind),
                    )
                    .with_label(b.key_span(attr), "unknown attribute");
                    d = if nested.contains(&name) {
                        d.with_help(format!("`{name}` is a block: write `{name} {{ ... }}`"))
                    } else {
                        d.with_help(hint(name, schema.attributes, "attributes are"))
                    };
                    diags.push(d);
                }
            }
            Structure::Block(inner) => {
                let kind = inner.ident.as_str();
                match schema.blocks.iter().find(|s| s.kind == kind) {
                    Some(s) => check_block(BlockRef { file: b.file, block: inner }, s, diags),
                    None => {
                        let mut d = Diagnostic::error(
                            codes::UNKNOWN_BLOCK,
                            format!("`{}` blocks contain no `{kind}` block", schema.kind),
                        )
                        .with_label(span_of(b.file, &inner.ident), "unknown block");
                        d = if schema.attributes.contains(&kind) {
                            d.with_help(format!("`{kind}` is an attribute: write `{kind} = ...`"))
                        } else if nested.is_empty() {
                            d.with_help(format!("`{}` blocks take no nested blocks", schema.kind))
                        } else {
                            d.with_help(hint(kind, &nested, "nested blocks are"))
                        };
                        diags.push(d);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated configuration of `groups` blocks of 2,000 members.
    fn large(groups: usize) -> String {
        let mut text = String::new();
        for g in 0..groups {
            text.push_str(&format!("approver_group \"g{g}\" {{\n  name  = \"G {g}\"\n  members = [\n"));
            for m in 0..2000 {
                text.push_str(&format!("    \"user{m:05}@contoso.onmicrosoft.com\",\n"));
            }
            text.push_str("  ]\n}\n\n");
        }
        text
    }

    /// Parses `texts` as files on `threads` threads: the bodies (with their text, decor
    /// included) or the diagnostics' messages and spans.
    fn parsed(texts: &[String], threads: usize) -> Vec<Result<(Body, String), String>> {
        let mut sources = Sources::new();
        let files: Vec<FileId> =
            texts.iter().enumerate().map(|(i, t)| sources.add(format!("f{i}.pam.hcl"), t.as_str())).collect();
        parse_files_on(&sources, &files, threads)
            .into_iter()
            .map(|r| {
                r.map(|b| {
                    let text = b.to_string();
                    (b, text)
                })
                .map_err(|d| format!("{d:?}"))
            })
            .collect()
    }

    #[test]
    fn a_file_cut_in_pieces_parses_as_the_whole_file() {
        let text = large(16);
        let one = parsed(std::slice::from_ref(&text), 1);
        assert!(text.len() > 4 * PARALLEL_PARSE_BYTES);
        let cuts = cut_points(&text, 4);
        assert_eq!(cuts.len(), 3);
        // The pieces are put back together (not parsed again whole), into the same body.
        let ranges = [0, cuts[0], cuts[1], cuts[2], text.len()];
        let parts = ranges.windows(2).map(|w| Some(parse_piece(&text, w[0]..w[1]))).collect();
        let joined = join_pieces(parts).expect("the pieces join");
        assert_eq!(Ok((joined.clone(), joined.to_string())), one[0]);
        assert_eq!(parsed(std::slice::from_ref(&text), 4), one);
        assert_eq!(one[0].as_ref().map(|(_, t)| t.as_str()), Ok(text.as_str()), "round trip");
        // Several files, some small, one ending without a newline and with trailing space.
        let texts = vec![
            "tenant {\n  id = \"x\"\n}\n".to_string(),
            format!("# generated\n\n{}", large(6)),
            format!("{}  \n\n", large(5).trim_end()),
        ];
        assert_eq!(parsed(&texts, 3), parsed(&texts, 1));
    }

    #[test]
    fn a_file_cut_where_no_block_ends_gives_the_whole_files_result() {
        // A heredoc holding lines that look like a block's end, at every cut point.
        let mut text = String::from("locals {\n  text = <<EOT\n");
        while text.len() < 3 * PARALLEL_PARSE_BYTES {
            text.push_str("}\napprover_group \"x\" {\n");
        }
        text.push_str("EOT\n}\n");
        let texts = vec![text.clone(), large(4)];
        assert_eq!(parsed(&texts, 4), parsed(&texts, 1));
        assert!(parsed(&texts, 4)[0].is_ok());
        // Syntax errors, late in the file, and a top-level attribute set twice far apart.
        let broken = format!("{}approver_group \"y\" {{\n  name = \n}}\n", large(6));
        let twice = format!("a = 1\n{}a = 2\n", large(6));
        for texts in [vec![broken], vec![twice]] {
            let one = parsed(&texts, 1);
            assert!(one[0].is_err());
            assert_eq!(parsed(&texts, 4), one);
        }
    }
}
