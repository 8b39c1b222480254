//! Every command that talks to a tenant says which one and as whom before it reads or
//! changes anything; the apply prompt says it again; a PAMFORM_TENANT_ID that names another
//! tenant than the configuration is called out.

use crate::support::cli::{QUICKSTART, Tenant, Workspace};
use crate::support::{APP_ID, DOMAIN};

#[test]
fn plan_and_apply_name_the_tenant_and_identity() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let line = format!("Tenant {DOMAIN}, signed in as app {APP_ID}");
    let plan = ws.run(&["plan"]).expect(0);
    assert!(plan.stderr.lines().next().is_some_and(|l| l == line), "{}", plan.stderr);
    let apply = ws.run(&["apply", "--auto-approve"]).expect(0);
    assert!(apply.stderr.contains(&line), "{}", apply.stderr);
    let prompt = crate::e2e_core_state::on_terminal(&ws, &["apply", "--destroy"], "no\n");
    assert!(
        prompt.all().contains(&format!("described above in tenant {DOMAIN}, as app {APP_ID}.")),
        "{}",
        prompt.all()
    );
}

#[test]
fn another_tenant_in_the_environment_is_called_out() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let run = ws.command(&["plan"]).env("PAMFORM_TENANT_ID", "fabrikam.onmicrosoft.com").output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains(&format!(
            "warning: PAMFORM_TENANT_ID is fabrikam.onmicrosoft.com but the tenant block's id is {DOMAIN}; pamform works on {DOMAIN}"
        )),
        "{err}"
    );
    let same = ws.command(&["plan"]).env("PAMFORM_TENANT_ID", DOMAIN.to_uppercase()).output().unwrap();
    assert!(!String::from_utf8_lossy(&same.stderr).contains("warning: PAMFORM_TENANT_ID"));
}

#[test]
fn whoami_signs_in_and_says_who() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let cache = tempfile::tempdir().unwrap();
    let out = ws.command(&["whoami"]).env("PAMFORM_CACHE_DIR", cache.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("Tenant:         {DOMAIN}\n")), "{text}");
    assert!(
        text.contains(&format!("Plan and apply: app {APP_ID}, signed in at {}", tenant.base_url)),
        "{text}"
    );
    assert!(text.contains("Requests:       not signed in"), "{text}");

    let out = ws.command(&["whoami", "--json"]).env("PAMFORM_CACHE_DIR", cache.path()).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["tenant"], DOMAIN);
    assert_eq!(json["app"]["error"], serde_json::Value::Null);
    assert_eq!(json["user"], serde_json::Value::Null);

    // A wrong secret: said, with the variable to check, and exit 1 for scripts.
    let out = ws
        .command(&["whoami", "--json"])
        .env("PAMFORM_CACHE_DIR", cache.path())
        .env("PAMFORM_CLIENT_SECRET", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = json["app"]["error"].as_str().unwrap();
    assert!(error.contains("PAMFORM_CLIENT_SECRET") && !error.contains("wrong"), "{error}");
}
