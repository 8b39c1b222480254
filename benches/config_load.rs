//! Loads a generated configuration of 5,000 blocks and prints the time it took
//! (goal: under 250 ms in a release build). Run with `cargo bench --bench config_load`. In
//! quick mode (`PAMFORM_BENCH_QUICK=1`, as CI runs it) the configuration has 100 blocks and
//! the figure means nothing.

// A benchmark is a program of its own: it prints its figures and reads its own switches.
#![allow(clippy::disallowed_methods)]

use std::fmt::Write as _;
use std::time::Instant;

use pamform::config::{self, VarInputs};

/// Whether the benchmark runs in quick mode (`PAMFORM_BENCH_QUICK` set, and not to `0`).
fn quick() -> bool {
    std::env::var_os("PAMFORM_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

fn main() {
    let (groups, per_file) = if quick() { (80, 20) } else { (4980, 1000) };
    let blocks = groups + 20;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut text = String::from(
        "tenant {\n  id = var.domain\n}\n\nvariable \"domain\" {\n  type    = string\n  default = \"contoso.onmicrosoft.com\"\n}\n\nlocals {\n  members = [\"alice@${var.domain}\", \"bob@${var.domain}\"]\n}\n\n",
    );
    // 4,980 groups (one file per 1,000) referencing locals and variables, plus 20 policies
    // referencing groups: 5,000 blocks in all, within the 30-policy limit.
    let mut files = Vec::new();
    for i in 0..groups {
        let _ = write!(
            text,
            "approver_group \"g{i}\" {{\n  name        = \"Group {i}\"\n  email       = \"pam-g{i}@${{var.domain}}\"\n  description = upper(\"group ${{{i}}}\")\n  members     = local.members\n}}\n\n"
        );
        if i % per_file == per_file - 1 {
            files.push(std::mem::take(&mut text));
        }
    }
    for i in 0..20 {
        let _ = write!(
            text,
            "access_policy \"p{i}\" {{\n  task           = \"Exchange\\\\New-Thing{i}\"\n  approval       = \"manual\"\n  approver_group = approver_group.g{i}\n}}\n\n"
        );
    }
    files.push(text);
    for (n, f) in files.iter().enumerate() {
        std::fs::write(dir.path().join(format!("f{n:02}.pam.hcl")), f).expect("write");
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let loaded =
            config::load(dir.path(), &VarInputs::default()).expect("the generated configuration is valid");
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(loaded.configuration.groups.len() + loaded.configuration.policies.len(), blocks);
        best = best.min(ms);
    }
    // The share of parsing alone, to tell parser time from evaluation time.
    let start = Instant::now();
    for f in &files {
        hcl_edit::parser::parse_body(f).expect("parses");
    }
    let parse_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut out = std::io::stdout().lock();
    let _ = writeln_out(&mut out, blocks, best, parse_ms);
}

fn writeln_out(out: &mut impl std::io::Write, blocks: usize, ms: f64, parse_ms: f64) -> std::io::Result<()> {
    writeln!(
        out,
        "config_load: {blocks} blocks loaded in {ms:.1} ms (best of 5; goal < 250 ms for 5000); parsing alone: {parse_ms:.1} ms"
    )
}
