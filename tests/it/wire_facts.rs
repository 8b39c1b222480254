//! `src/wire/` is the only module that names a Microsoft wire fact: an odata annotation, an
//! AADSTS code, a Microsoft HTTP header or an exception class. Anyone correcting a fact
//! against a live tenant then edits one module. Reads the string literals of `src/` outside
//! `src/wire/`, comments and unit tests left out. The `http` crate's constants for standard
//! headers (`header::RETRY_AFTER`) are HTTP's names, not Microsoft's; their values come from
//! `src/wire/`.

use std::path::{Path, PathBuf};

use crate::architecture::rust_files;

/// Header names of Microsoft's services (and `Retry-After`, whose handling is a wire fact).
const HEADERS: &[&str] = &[
    "retry-after",
    "client-request-id",
    "request-id",
    "return-client-request-id",
    "x-cmdletname",
    "x-anchormailbox",
    "x-ms-",
    "consistencylevel",
    "prefer",
    "www-authenticate",
];

/// Why a string literal names a wire fact, if it does.
fn wire_fact(literal: &str) -> Option<&'static str> {
    let lower = literal.to_ascii_lowercase();
    if literal.contains("@odata") || lower.starts_with("odata.") || literal.contains("#microsoft.graph.") {
        return Some("an odata annotation");
    }
    if literal.contains("AADSTS") {
        return Some("an AADSTS code");
    }
    if HEADERS.iter().any(|h| if h.ends_with('-') { lower.starts_with(h) } else { lower == *h }) {
        return Some("a header name");
    }
    let exception = literal.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.')).any(|word| {
        word.len() > "Exception".len()
            && word.ends_with("Exception")
            && word.starts_with(|c: char| c.is_ascii_uppercase())
    });
    exception.then_some("an exception class")
}

/// The string literals of Rust source, with their line numbers: normal and raw strings,
/// comments skipped, nothing after the first `#[cfg(test)]`.
fn literals(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let b = code.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = code[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                line += code[i..end].matches('\n').count();
                i = end;
                continue;
            }
            b'\'' => {
                // A char literal ('"' or '\"') or a lifetime: step over it.
                if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                    continue;
                }
                if b.get(i + 1) == Some(&b'\\') && b.get(i + 3) == Some(&b'\'') {
                    i += 4;
                    continue;
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'#') | Some(b'"'))
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) == Some(&b'"') {
                    let start = i + 2 + hashes;
                    let close = format!("\"{}", "#".repeat(hashes));
                    let end = code[start..].find(&close).map_or(b.len(), |e| start + e);
                    out.push((line, code[start..end].to_string()));
                    line += code[start..end].matches('\n').count();
                    i = end + close.len();
                    continue;
                }
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(b.len());
                out.push((line, code[start..end].to_string()));
                line += code[start..end].matches('\n').count();
                i = end + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[test]
fn only_wire_names_microsoft_wire_facts() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<PathBuf> = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(src.join("wire"))) {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, literal) in literals(&text) {
            if let Some(what) = wire_fact(&literal) {
                let rel = file.strip_prefix(&src).unwrap().display();
                found.push(format!("src/{rel}:{line}: {what} in {literal:?}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "wire facts outside src/wire/ (move them there, as a constant or function):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_finds_literals_and_facts() {
    let text = "let a = \"@odata.nextLink\"; // \"AADSTS50020\"\n/* \"Retry-After\" */ let c = '\"'; let b = r#\"x \"ConsistencyLevel\"\"#;\nlet d = \"Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|x\";\n#[cfg(test)] \"AADSTS1\"";
    let lits = literals(text);
    let facts: Vec<(usize, Option<&str>)> = lits.iter().map(|(l, s)| (*l, wire_fact(s))).collect();
    assert_eq!(
        facts,
        vec![(1, Some("an odata annotation")), (2, None), (3, Some("an exception class"))],
        "{lits:?}"
    );
    assert_eq!(wire_fact("ConsistencyLevel"), Some("a header name"));
    assert_eq!(wire_fact("Invalid Operation"), None);
    assert_eq!(wire_fact("retry after 5 s"), None);
}

/// Types of `src/wire/` that the emulator may name although they derive `Deserialize`: what
/// it reads from a client (requests, assertions) and its own token claims, none of which the
/// client decodes from an answer.
const EMULATOR_MAY_NAME: &[&str] = &[
    "InvokeCommandRequest",
    "CmdletInput",
    "BatchRequest",
    "BatchRequestItem",
    "AccessTokenClaims",
    "AssertionClaims",
];

/// The emulator keeps its own representation and serialisation: it names none of the types
/// the client decodes Microsoft's answers into, so a wrong guess in one of them cannot pass
/// the corpus tests by being shared.
#[test]
fn the_emulator_never_names_a_type_the_client_decodes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wire_files = Vec::new();
    rust_files(&root.join("wire"), &mut wire_files);
    let mut decoded = std::collections::BTreeSet::new();
    for f in &wire_files {
        let text = std::fs::read_to_string(f).unwrap();
        let mut derives_deserialize = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") {
                derives_deserialize = line.contains("Deserialize");
            } else if let Some(rest) =
                line.strip_prefix("pub struct ").or_else(|| line.strip_prefix("pub enum "))
            {
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if derives_deserialize && !EMULATOR_MAY_NAME.contains(&name.as_str()) {
                    decoded.insert(name);
                }
                derives_deserialize = false;
            } else if !line.starts_with("#[") && !line.starts_with("///") {
                derives_deserialize = false;
            }
        }
    }
    assert!(decoded.contains("DistributionGroup") && decoded.contains("Group"), "the scan found {decoded:?}");
    let mut emulator_files = Vec::new();
    rust_files(&root.join("emulator"), &mut emulator_files);
    let mut found = Vec::new();
    for f in emulator_files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        // A `use` of a wire module spread over lines is read as one line (at its first).
        let mut lines: Vec<String> = Vec::new();
        let mut open_use: Option<usize> = None;
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or("");
            match open_use {
                Some(i) => {
                    lines[i].push_str(line);
                    lines.push(String::new());
                }
                None => lines.push(line.to_string()),
            }
            if line.trim_start().starts_with("use crate::wire") && !line.contains(';') {
                open_use = Some(lines.len() - 1);
            } else if open_use.is_some() && line.contains(';') {
                open_use = None;
            }
        }
        for (n, line) in lines.iter().enumerate() {
            let line = line.as_str();
            // A `use` of a wire module counts every name it brings in; elsewhere a name counts
            // when reached through a wire module's path (`wx::Name`): the emulator and the
            // model have types of the same names (`PolicyTarget::RoleGroup`).
            let names: Vec<&str> = if line.trim_start().starts_with("use crate::wire") {
                line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect()
            } else {
                ["wx::", "wg::", "oauth::", "exchange::", "graph::"]
                    .iter()
                    .flat_map(|p| line.match_indices(p).map(move |(i, _)| i + p.len()))
                    .map(|start| {
                        let rest = &line[start..];
                        &rest[..rest
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .unwrap_or(rest.len())]
                    })
                    .collect()
            };
            for w in names.into_iter().filter(|w| decoded.contains(*w)) {
                let rel = f.strip_prefix(&root).unwrap().display();
                found.push(format!("src/{rel}:{}: {w}", n + 1));
            }
        }
    }
    assert!(found.is_empty(), "the emulator names types the client decodes:\n{}", found.join("\n"));
}
