//! What an installed pamform depends on: `--version` names the version and the commit, and the
//! published crate carries every file the sources embed and none of the repository's tests,
//! benchmarks or CI files.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::pamform;

fn version_line(args: &[&str]) -> String {
    let output = pamform().args(args).output().unwrap();
    assert!(output.status.success(), "pamform {args:?} failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// `pamform 0.1.0 (commit 4854e8f)`, or `(commit unknown)` when built without git.
fn assert_version_line(line: &str) {
    let prefix = format!("pamform {} (commit ", env!("CARGO_PKG_VERSION"));
    let commit = line
        .trim_end()
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a version line: {line:?}"));
    let is_hex = commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit());
    assert!(is_hex || commit == "unknown", "not a commit: {commit:?}");
}

#[test]
fn version_flag_prints_version_and_commit() {
    assert_version_line(&version_line(&["--version"]));
}

#[test]
fn version_command_prints_the_same_line_as_the_flag() {
    let line = version_line(&["version"]);
    assert_version_line(&line);
    assert_eq!(line, version_line(&["--version"]));
}

/// The files `cargo package` would publish, relative to the crate root.
fn packaged_files() -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo package --list failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().lines().map(|l| l.replace('\\', "/")).collect()
}

/// Every file under `dir` named by an `include_str!` or `include_bytes!`, relative to `root`.
fn embedded_files(root: &Path, dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            embedded_files(root, &path, found);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for mac in ["include_str!(\"", "include_bytes!(\""] {
            for (at, _) in text.match_indices(mac) {
                let rest = &text[at + mac.len()..];
                let name = &rest[..rest.find('"').unwrap()];
                let file: PathBuf = path.parent().unwrap().join(name);
                let relative = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                found.push(relative);
            }
        }
    }
}

#[test]
fn package_carries_every_embedded_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut embedded = Vec::new();
    embedded_files(root, &root.join("src"), &mut embedded);
    assert!(embedded.contains(&"src/emulator/default_seed.json".to_string()), "{embedded:?}");
    let packaged = packaged_files();
    for file in embedded.iter().chain(&["build.rs".to_string(), "README.md".to_string()]) {
        assert!(packaged.contains(file), "{file} is not in the package: add it to `include` in Cargo.toml");
    }
    for schema in ["plan", "state", "drift"] {
        let file = format!("schemas/{schema}.schema.json");
        assert!(packaged.contains(&file), "{file} is not in the package");
    }
}

#[test]
fn package_leaves_out_tests_benches_and_ci() {
    let packaged = packaged_files();
    let unwanted: Vec<_> = packaged
        .iter()
        .filter(|f| {
            ["tests/", "benches/", ".ci/", ".github/", "target/", "examples/github-actions/"]
                .iter()
                .any(|dir| f.starts_with(dir))
                || ["Dockerfile", "action.yml", ".dockerignore"].contains(&f.as_str())
        })
        .collect();
    assert!(unwanted.is_empty(), "not needed at run time: {unwanted:?}");
}
