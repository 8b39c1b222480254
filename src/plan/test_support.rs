//! What the plan's unit tests share: a configuration loaded from HCL text.

use crate::model::Configuration;

/// The configuration of a directory holding a tenant block and `hcl`; panics with the
/// diagnostics when it does not load.
pub(crate) fn load(hcl: &str) -> Configuration {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.pam.hcl"),
        format!("tenant {{\n  id = \"contoso.onmicrosoft.com\"\n}}\n{hcl}"),
    )
    .unwrap();
    match crate::config::load(dir.path(), &crate::config::VarInputs::default()) {
        Ok(l) => l.configuration,
        Err(e) => panic!("{}", crate::diagnostic::render_plain(&e.diagnostics, &e.sources)),
    }
}
