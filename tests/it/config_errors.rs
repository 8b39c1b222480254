//! The corpus of broken configurations under tests/fixtures/config/errors: each file names,
//! on its first line, the code and line:column of the first diagnostic it must produce.
//! Rendered output (plain miette and JSON) is snapshotted.

use std::path::{Path, PathBuf};

use pamform::config::{self, VarInputs};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/errors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".pam.hcl"))
        .collect();
    files.sort();
    files
}

/// `# expect: CODE LINE:COL` on the first line.
fn expectation(text: &str) -> (String, usize, usize) {
    let line = text.lines().next().expect("first line");
    let rest = line.strip_prefix("# expect: ").expect("an `# expect:` line");
    let (code, pos) = rest.split_once(' ').expect("code and position");
    let (l, c) = pos.split_once(':').expect("line:col");
    (code.to_string(), l.parse().expect("line"), c.parse().expect("col"))
}

#[test]
fn corpus_is_large_enough() {
    assert!(fixtures().len() >= 40, "the corpus needs at least 40 broken configurations");
}

#[test]
fn every_broken_configuration_reports_its_code_at_its_position() {
    let mut failures = Vec::new();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().trim_end_matches(".pam.hcl").to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let (code, line, col) = expectation(&text);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.pam.hcl"), &text).unwrap();
        let err = match config::load(dir.path(), &VarInputs::default()) {
            Ok(_) => {
                failures.push(format!("{name}: loaded without errors"));
                continue;
            }
            Err(e) => e,
        };
        let json = config::to_json_list(&err.diagnostics, &err.sources);
        let first = json.iter().find(|d| d.severity == config::Severity::Error).expect("an error");
        if first.code != code || first.line != Some(line) || first.column != Some(col) {
            failures.push(format!(
                "{name}: expected {code} at {line}:{col}, got {} at {:?}:{:?}",
                first.code, first.line, first.column
            ));
        }
        let prefix = dir.path().display().to_string();
        let rendered = config::render_plain(&err.diagnostics, &err.sources).replace(&prefix, "<dir>");
        let json_text = serde_json::to_string_pretty(&json).unwrap().replace(&prefix, "<dir>");
        insta::assert_snapshot!(format!("{name}_rendered"), rendered);
        insta::assert_snapshot!(format!("{name}_json"), json_text);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn independent_errors_are_all_reported() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/errors/multiple_errors.pam.hcl"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
    let err = config::load(dir.path(), &VarInputs::default()).unwrap_err();
    let codes: Vec<&str> = err.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&config::codes::INVALID_EMAIL), "{codes:?}");
    assert!(codes.contains(&config::codes::UNKNOWN_ATTRIBUTE), "{codes:?}");
    assert!(codes.contains(&config::codes::TASK_FORMAT), "{codes:?}");
}

#[test]
fn a_broken_reference_does_not_hide_the_blocks_other_errors() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/config/errors/independent_errors_in_one_block.pam.hcl"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
    let err = config::load(dir.path(), &VarInputs::default()).unwrap_err();
    let codes: Vec<&str> = err.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            config::codes::UNKNOWN_REFERENCE,
            config::codes::INVALID_EMAIL,
            config::codes::UNKNOWN_REFERENCE,
            config::codes::TASK_FORMAT,
            config::codes::UNKNOWN_FUNCTION,
            config::codes::UNKNOWN_REFERENCE,
        ],
        "each independent error once, nothing that follows from another"
    );
}

#[test]
fn errors_in_several_files_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.pam.hcl"), "tenant {\n  id = \"contoso.onmicrosoft.com\"\n}\nfoo {}\n")
        .unwrap();
    std::fs::write(dir.path().join("b.pam.hcl"), "locals {\n  x = = 1\n}\n").unwrap();
    let err = config::load(dir.path(), &VarInputs::default()).unwrap_err();
    let files: Vec<String> =
        config::to_json_list(&err.diagnostics, &err.sources).into_iter().filter_map(|d| d.file).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("a.pam.hcl") && files[1].ends_with("b.pam.hcl"), "{files:?}");
}

#[test]
fn an_empty_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = config::load(dir.path(), &VarInputs::default()).unwrap_err();
    assert_eq!(err.diagnostics.iter().next().unwrap().code, config::codes::NO_CONFIGURATION);
}
