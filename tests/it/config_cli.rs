//! `pamform validate` and `pamform fmt` through the real binary.

use assert_cmd::Command;
use predicates::prelude::*;

use crate::support;

const VALID: &str = "tenant {\n  id = \"contoso.onmicrosoft.com\"\n}\n\napprover_group \"a\" {\n  name  = \"A\"\n  email = \"a@contoso.onmicrosoft.com\"\n}\n";

fn pamform(dir: &std::path::Path) -> Command {
    let mut cmd = Command::from_std(support::pamform());
    cmd.arg("-C").arg(dir).env("NO_COLOR", "1");
    cmd
}

#[test]
fn validate_accepts_a_valid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), VALID).unwrap();
    pamform(dir.path())
        .arg("validate")
        .assert()
        .success()
        .stderr(predicate::str::contains("The configuration is valid."));
    let out = pamform(dir.path()).args(["validate", "--json"]).assert().success().get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["error_count"], 0);
}

#[test]
fn validate_reports_errors_with_exit_1_and_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), VALID.replace("email", "emial")).unwrap();
    pamform(dir.path()).arg("validate").assert().code(1).stderr(
        predicate::str::contains("pamform::unknown_attribute").and(predicate::str::contains("did you mean")),
    );
    let out = pamform(dir.path()).args(["validate", "--json"]).assert().code(1).get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["valid"], false);
    let codes: Vec<&str> =
        json["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert!(
        codes.contains(&"pamform::unknown_attribute") && codes.contains(&"pamform::missing_attribute"),
        "{codes:?}"
    );
    let unknown = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "pamform::unknown_attribute")
        .unwrap();
    assert_eq!((unknown["line"].as_u64(), unknown["column"].as_u64()), (Some(7), Some(3)));
    assert!(unknown["file"].as_str().unwrap().ends_with("main.pam.hcl"));
}

#[test]
fn validate_takes_var_flags() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace("\"A\"", "var.name") + "\nvariable \"name\" {\n  type = string\n}\n";
    std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
    pamform(dir.path())
        .arg("validate")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pamform::missing_variable"));
    pamform(dir.path()).args(["validate", "--var", "name=Approvers"]).assert().success();
    pamform(dir.path()).arg("validate").env("PAMFORM_VAR_name", "x").assert().success();
    pamform(dir.path()).args(["validate", "--var", "no-equals"]).assert().code(1);
}

/// Two value files of one directory that set one variable are an error naming both; a
/// `--var-file` picks the environment's file (relative to where pamform runs), later ones win,
/// and the plan names the values it used.
#[test]
fn var_files_pick_an_environment_and_two_auto_files_never_silently_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace("\"A\"", "var.name") + "\nvariable \"name\" {\n  type = string\n}\n";
    std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
    std::fs::write(dir.path().join("dev.pamvars.hcl"), "name = \"Dev approvers\"\n").unwrap();
    std::fs::write(dir.path().join("prod.pamvars.hcl"), "name = \"Prod approvers\"\n").unwrap();
    let out = pamform(dir.path()).args(["validate", "--json"]).assert().code(1).get_output().stdout.clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let d = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "pamform::duplicate_variable_value");
    let d = d.unwrap_or_else(|| panic!("{json:#}"));
    assert!(d["message"].as_str().unwrap().contains("`name`"), "{d}");
    pamform(dir.path()).arg("validate").assert().code(1).stderr(
        predicate::str::contains("dev.pamvars.hcl").and(predicate::str::contains("prod.pamvars.hcl")),
    );

    // --var-file paths are relative to where pamform runs, not to -C.
    let prod = dir.path().join("prod.pamvars.hcl");
    let mut cmd = pamform(dir.path());
    cmd.current_dir(dir.path()).args(["validate", "--var-file", "prod.pamvars.hcl"]).assert().success();
    pamform(dir.path()).args(["validate", "--var-file"]).arg(&prod).assert().success();
    let dev = dir.path().join("dev.pamvars.hcl");
    pamform(dir.path())
        .args(["validate", "--var-file"])
        .arg(&dev)
        .args(["--var-file"])
        .arg(&prod)
        .assert()
        .success();
    pamform(dir.path())
        .args(["validate", "--var-file", "no-such.pamvars.hcl"])
        .current_dir(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no-such.pamvars.hcl"));
}

/// Environment variables that are not UTF-8 are someone else's business: pamform reads only
/// its own, and a `PAMFORM_VAR_` value that is not UTF-8 is read with U+FFFD in its place.
#[cfg(unix)]
#[test]
fn an_environment_that_is_not_utf8_is_no_crash() {
    use std::os::unix::ffi::OsStringExt;
    let not_utf8 = || std::ffi::OsString::from_vec(b"caf\xff".to_vec());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), VALID).unwrap();
    pamform(dir.path()).arg("validate").env("SOMETHING_ELSE", not_utf8()).assert().success();
    let text = VALID.replace("\"A\"", "var.name") + "\nvariable \"name\" {\n  type = string\n}\n";
    std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
    pamform(dir.path())
        .args(["validate", "--json"])
        .env("PAMFORM_VAR_name", not_utf8())
        .assert()
        .success()
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn fmt_check_diff_and_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("main.pam.hcl");
    let messy = VALID.replace("  name  = \"A\"", "name=\"A\"   # keep me");
    std::fs::write(&file, &messy).unwrap();
    pamform(dir.path())
        .args(["fmt", "--check", "--diff"])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("-name=\"A\"")
                .and(predicate::str::contains("+  name  = \"A\"   # keep me")),
        )
        .stderr(predicate::str::contains("not formatted"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), messy, "--check must not write");
    pamform(dir.path()).arg("fmt").assert().success().stdout(predicate::str::contains("main.pam.hcl"));
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert!(formatted.contains("  name  = \"A\"   # keep me\n"));
    pamform(dir.path()).args(["fmt", "--check"]).assert().success().stdout("");
}

#[test]
fn fmt_leaves_broken_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("main.pam.hcl");
    std::fs::write(&file, "tenant {\n  id = \n").unwrap();
    pamform(dir.path()).arg("fmt").assert().code(1).stderr(predicate::str::contains("pamform::syntax"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "tenant {\n  id = \n");
}
