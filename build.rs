//! Build script: records the commit pamform is built from as `PAMFORM_COMMIT`, which
//! `pamform --version` prints. It never fails: the commit comes from git when the crate is
//! built from its own checkout, else from the `.cargo_vcs_info.json` that `cargo package`
//! writes into a packaged crate, else from the `PAMFORM_COMMIT` environment variable (set by
//! the release workflow and the Dockerfile), else it is "unknown".

// Cargo talks to a build script through the environment.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Length of the abbreviated commit, as `git rev-parse --short` gives it by default.
const SHORT: usize = 7;

fn main() {
    println!("cargo:rerun-if-env-changed=PAMFORM_COMMIT");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = from_git(&manifest_dir)
        .or_else(|| from_vcs_info(&manifest_dir))
        .or_else(from_env)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=PAMFORM_COMMIT={commit}");
}

/// The commit of the checkout, only when the crate is the top of that checkout: a packaged
/// crate unpacked inside some other repository (such as `target/package/`) must not report
/// that repository's commit.
fn from_git(manifest_dir: &Path) -> Option<String> {
    let toplevel = git(manifest_dir, &["rev-parse", "--show-toplevel"])?;
    let same = match (Path::new(&toplevel).canonicalize(), manifest_dir.canonicalize()) {
        (Ok(top), Ok(dir)) => top == dir,
        _ => false,
    };
    if !same {
        return None;
    }
    let commit = git(manifest_dir, &["rev-parse", "--short", "HEAD"])?;
    watch_git(manifest_dir);
    Some(commit)
}

/// Rebuild when HEAD moves: HEAD itself (a branch switch or a detached checkout) and the
/// branch it points at (a commit). Only existing files are watched, as cargo reruns a build
/// script on every build when a watched file is missing.
fn watch_git(manifest_dir: &Path) {
    let Some(git_dir) = git(manifest_dir, &["rev-parse", "--absolute-git-dir"]) else {
        return;
    };
    let git_dir = PathBuf::from(git_dir);
    let mut watched = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
    if let Some(branch) = git(manifest_dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git_dir.join(branch));
    }
    for path in watched.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `git.sha1` from the `.cargo_vcs_info.json` of a packaged crate.
fn from_vcs_info(manifest_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest_dir.join(".cargo_vcs_info.json")).ok()?;
    let start = text.find("\"sha1\"")? + "\"sha1\"".len();
    let rest = text[start..].trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let sha: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    (sha.len() >= SHORT).then(|| sha[..SHORT].to_string())
}

/// `PAMFORM_COMMIT` from the environment, when it looks like a commit.
fn from_env() -> Option<String> {
    let value = std::env::var("PAMFORM_COMMIT").ok()?;
    let value = value.trim();
    let is_commit = !value.is_empty() && value.chars().all(|c| c.is_ascii_hexdigit());
    is_commit.then(|| value.chars().take(SHORT).collect())
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}
