//! The layers of docs/architecture.md, held: a top-level module of the library imports only
//! modules of lower layers, so the modules form no cycle and nothing below `views` can draw
//! on a terminal. Reads `src/` as text: every `crate::name` path and every name inside a
//! `use crate::{...}` group counts as an import of `name`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and its layer; a module may import only lower layers.
const LAYERS: &[(&str, u8)] = &[
    ("model", 0),
    ("wire", 1),
    ("diagnostic", 1),
    ("env", 1),
    ("files", 1),
    ("config", 2),
    ("state", 2),
    ("tenant", 2),
    ("emulator", 2),
    ("plan", 3),
    ("apply", 4),
    ("drift", 4),
    ("export", 4),
    ("requests", 4),
    ("fleet", 5),
    ("views", 6),
    ("cli", 7),
];

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for lib.rs and main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    if rel.components().count() == 1 {
        let name = first.strip_suffix(".rs")?;
        return (!matches!(name, "lib" | "main")).then(|| name.to_string());
    }
    Some(first)
}

fn identifier_at(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The modules `text` names through `crate::`, comments left out.
fn imports(text: &str) -> BTreeSet<String> {
    let code: String =
        text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let body = &group[..group.find('}').unwrap_or(group.len())];
            for item in body.split(',') {
                let name = identifier_at(item.trim());
                if !name.is_empty() {
                    out.insert(name.to_string());
                }
            }
        } else {
            let name = identifier_at(rest);
            if !name.is_empty() {
                out.insert(name.to_string());
            }
        }
    }
    out
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else { continue };
        let Some(&own) = layer.get(module.as_str()) else {
            wrong.push(format!("{}: module `{module}` has no layer in this test", file.display()));
            continue;
        };
        seen.insert(module.clone());
        for used in imports(&std::fs::read_to_string(file).unwrap()) {
            if used == module {
                continue;
            }
            match layer.get(used.as_str()) {
                Some(&other) if other < own => {}
                Some(&other) => wrong.push(format!(
                    "{}: `{module}` (layer {own}) imports `{used}` (layer {other})",
                    file.display()
                )),
                None => {} // not a module: `crate::Something` re-exported at the root
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
    let unlisted: Vec<&str> = LAYERS.iter().map(|(m, _)| *m).filter(|m| !seen.contains(*m)).collect();
    assert!(unlisted.is_empty(), "layers name modules that do not exist: {unlisted:?}");
}

#[test]
fn the_scanner_reads_paths_and_groups() {
    let text = "use crate::model::Address;\nuse crate::{files, wire::graph};\n// crate::views in a comment\nlet x = crate::env::get(\"X\");";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["env", "files", "model", "wire"]);
}
