//! Canonical formatting of configuration text, keeping every comment: two-space indentation
//! by nesting, `=` aligned within a run of consecutive single-line attributes (as
//! `terraform fmt` does), one blank line between blocks and never more than one anywhere, no
//! trailing whitespace, one final newline.
//!
//! hcl-edit has no formatter of its own (it round-trips text, decor and all), and hcl-rs's
//! formatter drops comments. So this is a careful line-level formatter over a small scanner
//! that knows strings, interpolations, heredocs and comments; text is only formatted after
//! hcl-edit parsed it, and the result is parsed again before it is returned.

/// Formats a configuration (or `.pamvars.hcl`) text, or returns the parser error.
///
/// A file keeps its encoding and line endings as found: a UTF-8 byte order mark (which
/// Windows PowerShell 5.1 and several Windows editors write) stays at the start, and a file
/// whose first line ends in CRLF is written with CRLF throughout.
pub fn format_source(text: &str) -> Result<String, hcl_edit::parser::Error> {
    let body = strip_bom(text);
    let bom = &text[..text.len() - body.len()];
    let crlf = body.find('\n').is_some_and(|i| body[..i].ends_with('\r'));
    let lf;
    let body = if body.contains('\r') {
        lf = body.replace("\r\n", "\n");
        lf.as_str()
    } else {
        body
    };
    hcl_edit::parser::parse_body(body)?;
    let formatted = format_lines(body);
    // The scanner only moves whitespace; should it ever produce something the parser
    // rejects, keep the text as it was rather than write a broken file.
    if hcl_edit::parser::parse_body(&formatted).is_err() {
        return Ok(text.to_string());
    }
    let formatted = if crlf { formatted.replace('\n', "\r\n") } else { formatted };
    Ok(format!("{bom}{formatted}"))
}

/// The text without a leading UTF-8 byte order mark, which HCL's grammar does not allow but
/// Windows tools write; Terraform accepts it too.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// The body of a block.
    Block,
    /// An object literal: its `key = value` lines align like attributes.
    Object,
    /// A list or parenthesis.
    Other,
    /// `${` or `%{` inside a string: not indentation.
    Interp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Code,
    Str,
}

/// What the scanner knows about one line.
#[derive(Debug)]
struct Line<'a> {
    text: &'a str,
    /// Inside a heredoc, block comment or string: kept byte for byte.
    verbatim: bool,
    /// Open brackets (not interpolations) at the start of the line.
    depth: usize,
    /// Closing brackets at the start of the trimmed line.
    closers: usize,
    /// The innermost open bracket at the start is a block body (or the top level).
    body_level: bool,
    /// The innermost open bracket at the start is an object literal.
    in_object: bool,
    /// The line's first closer ends a block body.
    closes_block: bool,
    /// Depth at the end of the line.
    end_depth: usize,
    /// The line starts a heredoc, so its value continues on later lines.
    heredoc: bool,
    /// The line closes a heredoc: kept, but without trailing whitespace.
    heredoc_end: bool,
}

struct Scanner {
    brackets: Vec<Open>,
    modes: Vec<Mode>,
    heredoc: Option<String>,
    block_comment: bool,
}

impl Scanner {
    fn depth(&self) -> usize {
        self.brackets.iter().filter(|b| **b != Open::Interp).count()
    }

    fn body_level(&self) -> bool {
        matches!(self.brackets.iter().rev().find(|b| **b != Open::Interp), None | Some(Open::Block))
            && !self.brackets.contains(&Open::Interp)
    }

    fn mode(&self) -> Mode {
        self.modes.last().copied().unwrap_or(Mode::Code)
    }

    fn scan<'a>(&mut self, text: &'a str) -> Line<'a> {
        let verbatim = self.heredoc.is_some() || self.block_comment || self.mode() == Mode::Str;
        let mut line = Line {
            text,
            verbatim,
            depth: self.depth(),
            closers: 0,
            body_level: self.body_level(),
            in_object: self.brackets.last() == Some(&Open::Object),
            closes_block: false,
            end_depth: 0,
            heredoc: false,
            heredoc_end: false,
        };
        let mut i = 0;
        if let Some(marker) = &self.heredoc {
            let t = text.trim_start();
            let rest = t.strip_prefix(marker.as_str());
            let closes = rest.is_some_and(|r| !r.starts_with(|c: char| c.is_alphanumeric() || c == '_'));
            if !closes {
                line.end_depth = self.depth();
                return line;
            }
            // The marker ends the heredoc; whatever follows it on the line is code again.
            self.heredoc = None;
            line.heredoc_end = true;
            i = text.len() - rest.map_or(0, str::len);
        }
        if !verbatim {
            self.leading_closers(text, &mut line);
        }
        let bytes = text.as_bytes();
        // Whether an `=` has been seen at this line's body level: a `{` after one opens an
        // object, not a block.
        let mut assigned = false;
        while i < bytes.len() {
            let c = bytes[i];
            let next = bytes.get(i + 1).copied();
            if self.block_comment {
                if c == b'*' && next == Some(b'/') {
                    self.block_comment = false;
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            let step = match self.mode() {
                Mode::Str => Some(self.string_byte(c, next)),
                Mode::Code => self.code_byte(text, i, &mut assigned, &mut line),
            };
            match step {
                Some(n) => i += n,
                None => break,
            }
        }
        line.end_depth = self.depth();
        line
    }

    /// Counts the closing brackets that start a line (they dedent it), and whether the first
    /// closes a block.
    fn leading_closers(&self, text: &str, line: &mut Line<'_>) {
        for c in text.trim_start().chars() {
            match c {
                '}' | ']' | ')' => {
                    if line.closers == 0 {
                        line.closes_block = c == '}' && self.brackets.last() == Some(&Open::Block);
                    }
                    line.closers += 1;
                }
                ' ' | '\t' => {}
                _ => break,
            }
        }
    }

    /// One byte inside a quoted string: how far to advance.
    fn string_byte(&mut self, c: u8, next: Option<u8>) -> usize {
        match c {
            b'\\' => 2,
            b'"' => {
                self.modes.pop();
                1
            }
            b'$' | b'%' if next == Some(c) => 2,
            b'$' | b'%' if next == Some(b'{') => {
                self.brackets.push(Open::Interp);
                self.modes.push(Mode::Code);
                2
            }
            _ => 1,
        }
    }

    /// The byte at `i` of code: how far to advance, or `None` when the rest of the line is
    /// a comment or a heredoc's body starts. `assigned` is whether an `=` has been seen at
    /// this line's body level.
    fn code_byte(&mut self, text: &str, i: usize, assigned: &mut bool, line: &mut Line<'_>) -> Option<usize> {
        let bytes = text.as_bytes();
        let (c, next) = (bytes[i], bytes.get(i + 1).copied());
        match c {
            b'#' => return None,
            b'/' if next == Some(b'/') => return None,
            b'/' if next == Some(b'*') => {
                self.block_comment = true;
                return Some(2);
            }
            b'"' => self.modes.push(Mode::Str),
            b'<' if next == Some(b'<') => {
                let rest = &text[i + 2..];
                let rest = rest.strip_prefix('-').unwrap_or(rest);
                let marker: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !marker.is_empty() && rest[marker.len()..].trim().is_empty() {
                    self.heredoc = Some(marker);
                    line.heredoc = true;
                    return None;
                }
            }
            b'=' => *assigned = true,
            b'{' => {
                let block = !*assigned && self.body_level();
                self.brackets.push(if block { Open::Block } else { Open::Object });
                if block {
                    // A new body starts: its attributes are new statements.
                    *assigned = false;
                }
            }
            b'[' | b'(' => self.brackets.push(Open::Other),
            b'}' if self.brackets.last() == Some(&Open::Interp) => {
                self.brackets.pop();
                self.modes.pop();
            }
            b'}' | b']' | b')' => {
                let was_block = self.brackets.pop() == Some(Open::Block);
                if was_block {
                    *assigned = false;
                }
            }
            _ => {}
        }
        Some(1)
    }
}

/// The key of a single-line attribute (`key = value` at body level, complete on this line).
fn attribute_key(line: &Line<'_>) -> Option<(String, String)> {
    if line.verbatim || !(line.body_level || line.in_object) || line.end_depth != line.depth || line.heredoc {
        return None;
    }
    let t = line.text.trim();
    let key_len = t
        .char_indices()
        .take_while(|(i, c)| c.is_alphanumeric() || *c == '_' || (*i > 0 && *c == '-'))
        .count();
    if key_len == 0 || !t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
        return None;
    }
    let key = &t[..key_len];
    let rest = t[key_len..].trim_start();
    let value = rest.strip_prefix('=')?;
    if value.starts_with('=') || value.starts_with('>') {
        return None;
    }
    Some((key.to_string(), value.trim_start().to_string()))
}

fn format_lines(text: &str) -> String {
    let mut scanner =
        Scanner { brackets: Vec::new(), modes: Vec::new(), heredoc: None, block_comment: false };
    let lines: Vec<Line<'_>> = text.lines().map(|l| scanner.scan(l)).collect();

    // Pass 1: indentation, trailing whitespace, blank lines.
    struct Out {
        text: String,
        attr: Option<(String, String, usize)>,
    }
    let mut out: Vec<Out> = Vec::with_capacity(lines.len());
    let mut pending_blank = false;
    let mut after_block_end = false;
    for (n, line) in lines.iter().enumerate() {
        if line.verbatim {
            let text = if line.heredoc_end { line.text.trim_end() } else { line.text };
            out.push(Out { text: text.to_string(), attr: None });
            pending_blank = false;
            after_block_end = false;
            continue;
        }
        let trimmed = line.text.trim();
        if trimmed.is_empty() {
            pending_blank = true;
            continue;
        }
        let indent_level = line.depth.saturating_sub(line.closers.min(line.depth));
        let opens_before = out.last().is_some_and(|_| n > 0 && prev_opens(&lines, n));
        let blank =
            !out.is_empty() && line.closers == 0 && !opens_before && (pending_blank || after_block_end);
        if blank {
            out.push(Out { text: String::new(), attr: None });
        }
        pending_blank = false;
        let indent = "  ".repeat(indent_level);
        let attr = attribute_key(line).map(|(k, v)| (k, v, indent_level));
        out.push(Out { text: format!("{indent}{trimmed}"), attr });
        // A line that ends a block body at this level asks for a blank line before the next.
        after_block_end = line.closes_block && line.end_depth < line.depth;
    }

    // Pass 2: align `=` in runs of consecutive single-line attributes at one level.
    let mut i = 0;
    while i < out.len() {
        let Some((_, _, level)) = &out[i].attr else {
            i += 1;
            continue;
        };
        let level = *level;
        let mut j = i;
        while j < out.len() && out[j].attr.as_ref().is_some_and(|a| a.2 == level) {
            j += 1;
        }
        let width =
            out[i..j].iter().filter_map(|o| o.attr.as_ref()).map(|a| a.0.chars().count()).max().unwrap_or(0);
        for o in &mut out[i..j] {
            if let Some((key, value, level)) = &o.attr {
                let pad = width - key.chars().count();
                o.text = format!("{}{key}{} = {value}", "  ".repeat(*level), " ".repeat(pad));
            }
        }
        i = j;
    }

    let mut result = String::with_capacity(text.len());
    for o in &out {
        // Formatted lines are trimmed already; verbatim lines (heredocs) keep every byte.
        result.push_str(&o.text);
        result.push('\n');
    }
    result
}

/// Whether the closest earlier non-blank, non-verbatim line opened a bracket.
fn prev_opens(lines: &[Line<'_>], n: usize) -> bool {
    lines[..n]
        .iter()
        .rev()
        .find(|l| !l.text.trim().is_empty())
        .is_some_and(|l| !l.verbatim && l.end_depth > l.depth.saturating_sub(l.closers))
}

#[cfg(test)]
mod tests {
    use super::format_source;

    #[test]
    fn aligns_indents_and_keeps_comments() {
        let input = "# head\ntenant {\n    id = \"x\"   # the id\n  emulator=\"t.json\"\n}\n\n\n\napprover_group \"a\" {\nname = \"A\"\n  email = \"a@b.io\"\n\n  members = [\n\"x@b.io\", // first\n  ]\n}\naccess_policy \"p\" {\n  task = \"Exchange\\\\Set-Mailbox\"\n  approver_group = approver_group.a\n}\n";
        let expected = "# head\ntenant {\n  id       = \"x\" # the id\n  emulator = \"t.json\"\n}\n\napprover_group \"a\" {\n  name  = \"A\"\n  email = \"a@b.io\"\n\n  members = [\n    \"x@b.io\", // first\n  ]\n}\n\naccess_policy \"p\" {\n  task           = \"Exchange\\\\Set-Mailbox\"\n  approver_group = approver_group.a\n}\n";
        let out = format_source(input).unwrap();
        assert_eq!(out, expected.replace("\"x\" # the id", "\"x\"   # the id"));
        assert_eq!(format_source(&out).unwrap(), out);
    }

    #[test]
    fn keeps_heredocs_and_interpolations() {
        let input = "locals {\n  a = <<EOT\n   keep   \n  this\nEOT\n  b = \"${lower(\"X\")}-{\"\n}\n";
        let out = format_source(input).unwrap();
        assert!(out.contains("   keep   \n  this\nEOT\n"));
        assert!(out.contains("  b = \"${lower(\"X\")}-{\"\n}\n"));
        assert_eq!(format_source(&out).unwrap(), out);
    }

    #[test]
    fn rejects_syntax_errors() {
        assert!(format_source("tenant {\n id = \n").is_err());
    }
}
