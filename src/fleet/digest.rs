//! The digest of the configuration a fleet run read, recorded in its report so that `fleet
//! report merge` refuses shards that ran different files. It covers what every runner of one
//! run must share: the directory's `*.pam.hcl` (by file name, in name order), the value files
//! (the directory's `*.pamvars.hcl` in name order, or the `--var-file` files in the order
//! given, by file name) and the fleet file, each by its bytes as they are on disk with every
//! CRLF read as LF: shards run from one commit on runners that check it out with CRLF
//! (Windows, `core.autocrlf`) and with LF ran the same configuration. It does not cover `--var` and `PAMFORM_VAR_*` values: they may be secrets, and a report (posted to
//! an issue) must not carry a digest from which a short secret could be guessed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{self, VarInputs};

/// `sha256:` and the hex SHA-256 of the configuration files, value files and fleet file.
/// An unreadable file is an error naming it.
pub fn configuration(dir: &Path, vars: &VarInputs, fleet_file: &Path) -> Result<String, String> {
    let listed = |suffix: &str| {
        config::files_with_suffix(dir, suffix)
            .map_err(|e| format!("cannot read the directory {}: {e}", dir.display()))
    };
    let configuration = listed(config::CONFIG_SUFFIX)?;
    let values = if vars.files.is_empty() { listed(config::VARS_SUFFIX)? } else { vars.files.clone() };
    let parts: Vec<(&str, &PathBuf)> = configuration
        .iter()
        .map(|p| ("configuration", p))
        .chain(values.iter().map(|p| ("values", p)))
        .collect();
    let mut hasher = Sha256::new();
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| format!("cannot read {} for the report's configuration digest: {e}", path.display()))
    };
    for (role, path) in parts {
        let name = path.file_name().unwrap_or(path.as_os_str()).to_string_lossy();
        for part in [role.as_bytes(), name.as_bytes(), &lf(&read(path)?)] {
            push_part(&mut hasher, part);
        }
    }
    push_part(&mut hasher, b"fleet");
    push_part(&mut hasher, &lf(&read(fleet_file)?));
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

/// `bytes` with every CRLF as LF (a CR elsewhere is kept): the line endings a checkout
/// chose are not part of the configuration. A filter over bytes, as the files need not be
/// valid UTF-8 to be digested.
fn lf(bytes: &[u8]) -> Vec<u8> {
    let crlf = |i: usize| bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n');
    (0..bytes.len()).filter(|&i| !crlf(i)).map(|i| bytes[i]).collect()
}

/// Each part length-prefixed, so that no two different sets of files give the same bytes.
fn push_part(hasher: &mut Sha256, part: &[u8]) {
    hasher.update((part.len() as u64).to_be_bytes());
    hasher.update(part);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(dir: &Path, vars: &VarInputs) -> String {
        configuration(dir, vars, &dir.join("fleet.hcl")).unwrap()
    }

    #[test]
    fn covers_the_configuration_the_values_and_the_fleet_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("main.pam.hcl"), "a").unwrap();
        std::fs::write(d.join("fleet.hcl"), "f").unwrap();
        let none = VarInputs::default();
        let first = digest(d, &none);
        assert!(first.starts_with("sha256:") && first.len() == 7 + 64, "{first}");
        assert_eq!(digest(d, &none), first, "stable");

        // Another directory with the same files has the same digest (paths are names).
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("main.pam.hcl"), "a").unwrap();
        std::fs::write(other.path().join("fleet.hcl"), "f").unwrap();
        assert_eq!(digest(other.path(), &none), first);

        std::fs::write(d.join("main.pam.hcl"), "b").unwrap();
        let changed = digest(d, &none);
        assert_ne!(changed, first, "a configuration file's bytes");
        std::fs::remove_file(d.join("main.pam.hcl")).unwrap();
        std::fs::write(d.join("other.pam.hcl"), "b").unwrap();
        assert_ne!(digest(d, &none), changed, "a configuration file's name");
        std::fs::write(d.join("x.pamvars.hcl"), "v = 1").unwrap();
        let with_values = digest(d, &none);
        assert_ne!(with_values, changed);
        std::fs::write(d.join("fleet.hcl"), "g").unwrap();
        assert_ne!(digest(d, &none), with_values, "the fleet file");

        // --var-file replaces the directory's value files; --var values are not covered.
        let given = VarInputs { files: vec![d.join("x.pamvars.hcl")], ..VarInputs::default() };
        let secret = VarInputs { cli: vec![("secret".into(), "hunter2".into())], ..given.clone() };
        assert_eq!(digest(d, &given), digest(d, &secret));
        std::fs::write(d.join("y.vars"), "v = 2").unwrap();
        let two = VarInputs { files: vec![d.join("y.vars")], ..VarInputs::default() };
        assert_ne!(digest(d, &given), digest(d, &two));

        let e = configuration(d, &none, &d.join("missing.hcl")).unwrap_err();
        assert!(e.contains("missing.hcl"), "{e}");
    }

    #[test]
    fn ignores_crlf_line_endings() {
        let write = |eol: &str| {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let text = |lines: &[&str]| lines.iter().map(|l| format!("{l}{eol}")).collect::<String>();
            std::fs::write(d.join("main.pam.hcl"), text(&["tenant {", "  id = \"x\"", "}"])).unwrap();
            std::fs::write(d.join("team.pamvars.hcl"), text(&["v = 1"])).unwrap();
            std::fs::write(d.join("fleet.hcl"), text(&["tenant \"a\" {", "}"])).unwrap();
            let digest = digest(d, &VarInputs::default());
            (dir, digest)
        };
        let (_lf, unix) = write("\n");
        let (crlf_dir, windows) = write("\r\n");
        assert_eq!(windows, unix, "a CRLF checkout of the same commit");

        // One file converted and the others not: the same too.
        let d = crlf_dir.path();
        std::fs::write(d.join("fleet.hcl"), "tenant \"a\" {\n}\n").unwrap();
        assert_eq!(digest(d, &VarInputs::default()), unix);
        // A CR that ends no line is content, as is a line added.
        std::fs::write(d.join("fleet.hcl"), "tenant \"a\" {\r}\n").unwrap();
        assert_ne!(digest(d, &VarInputs::default()), unix);
        std::fs::write(d.join("fleet.hcl"), "tenant \"a\" {\r\n}\r\n\r\n").unwrap();
        assert_ne!(digest(d, &VarInputs::default()), unix);
        assert_eq!(lf(b"a\r\r\nb\r"), b"a\r\nb\r");
    }
}
