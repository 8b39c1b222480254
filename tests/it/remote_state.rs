//! Remote state against a real Azure Blob service (Azurite): apply and plan, two applies at
//! once, a holder killed with SIGKILL, the service stopped during an apply, a write refused
//! because the state changed behind the lease, and migration local → remote → local.

use std::time::Duration;

use pamform::state::{State, StateError, Storage};
use serde_json::json;

use crate::support::azurite::{Azurite, run};
use crate::support::cli::{QUICKSTART, Run, Tenant, Workspace};

const KEY: &str = "prod.pamform.state.json";

#[test]
fn apply_and_plan_keep_the_state_in_the_blob() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    assert!(!ws.file("pamform.state.json").exists(), "no local state beside a backend");
    let state = azurite.store(KEY).load().unwrap().expect("the state is in the blob");
    assert_eq!(state.resources.len(), 4);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    let list = run(&ws, &["state", "list"]).expect(0);
    assert!(list.stdout.contains("approver_group.approvers"), "{}", list.stdout);
    // pull gives the stored bytes; the lease was released and its holder cleared.
    let pulled = run(&ws, &["state", "pull"]).expect(0);
    assert_eq!(pulled.stdout.as_bytes(), state.to_bytes());
    assert_eq!(azurite.store(KEY).holder().unwrap(), None);
    // Every write kept the previous state as a snapshot, each restorable.
    let versions = run(&ws, &["state", "versions"]).expect(0);
    let first = azurite.store(KEY).versions().unwrap();
    assert!(!first.is_empty(), "{}", versions.stdout);
    assert!(
        first.iter().all(|v| v.serial.is_some()),
        "only states are kept, never the empty lock placeholder: {first:?}"
    );
    assert!(versions.stdout.contains(&first[0].id), "{}", versions.stdout);
    // Forgetting a resource, then restoring the version before it, brings it back.
    run(&ws, &["state", "rm", "approver_group.approvers"]).expect(0);
    let before_rm = azurite.store(KEY).versions().unwrap()[0].id.clone();
    run(&ws, &["state", "restore", &before_rm]).expect(0);
    let restored = azurite.store(KEY).load().unwrap().unwrap();
    assert_eq!(restored.resources, state.resources);
    assert!(restored.serial > state.serial + 1);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_second_apply_is_refused_naming_the_lease_holder() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    let (mut first, info) = azurite.slow_apply(&tenant, &ws, KEY, 150);
    let writes = tenant.write_count();
    let second = run(&ws, &["apply", "--auto-approve"]).expect(1);
    let err = second.stderr.replace('\n', " ");
    assert!(err.contains(&info.id) && err.contains(&format!("pid {}", first.id())), "{}", second.stderr);
    assert!(err.contains("pamform apply") && err.contains("force-unlock"), "{}", second.stderr);
    assert!(!second.all().contains("Creating"), "{}", second.all());
    assert!(first.wait().unwrap().success());
    // The refused apply changed nothing: the tenant saw only the first one's writes.
    assert!(tenant.write_count() >= writes);
    tenant.set_faults(json!({}));
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(azurite.store(KEY).load().unwrap().unwrap().resources.len(), 4);
}

#[test]
fn a_holder_killed_with_sigkill_is_recovered_by_force_unlock() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    let (mut first, info) = azurite.slow_apply(&tenant, &ws, KEY, 150);
    first.kill().unwrap(); // SIGKILL: no release
    first.wait().unwrap();
    let refused = run(&ws, &["apply", "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains(&info.id), "{}", refused.stderr);
    run(&ws, &["force-unlock", "not-the-id"]).expect(1);
    let unlocked = run(&ws, &["force-unlock", &info.id]).expect(0);
    assert!(unlocked.stdout.contains("Removed the lock"), "{}", unlocked.stdout);
    tenant.set_faults(json!({}));
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn the_service_stopped_during_an_apply_leaves_the_state_intact() {
    let mut azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    let (first, _) = azurite.slow_apply(&tenant, &ws, KEY, 150);
    azurite.stop();
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    azurite.restart();
    // Whatever was written last is a whole, valid state.
    let _ = azurite.store(KEY).load().expect("the stored state reads whole");
    tenant.set_faults(json!({}));
    // The dead run's lease expires within a minute; this run waits for it and converges.
    let next = run(&ws, &["apply", "--auto-approve", "--lock-timeout", "90s"]).expect(0);
    assert!(!next.stderr.contains("panicked"), "{}", next.stderr);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_apply_stopped_by_the_service_says_why() {
    let mut azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    azurite.stop();
    let failed = run(&ws, &["apply", "--auto-approve"]).expect(1);
    assert!(failed.stderr.contains("cannot reach the Blob service"), "{}", failed.stderr);
    assert_eq!(tenant.write_count(), 0, "nothing is changed without the lock");
}

#[test]
fn a_write_after_the_state_changed_behind_the_lease_is_refused() {
    let azurite = Azurite::start();
    let a = azurite.store(KEY);
    let b = azurite.store(KEY);
    let mut first = State::new("t");
    a.save(&mut first).unwrap();
    // A takes the lock and reads; the lease is broken and B writes a newer state.
    let lock = a.lock("pamform apply", Duration::ZERO).unwrap();
    let mut mine = a.load().unwrap().unwrap();
    b.force_unlock(&lock.info().id).unwrap();
    let _b_lock = b.lock("pamform state rm", Duration::ZERO).unwrap();
    let mut theirs = b.load().unwrap().unwrap();
    b.save(&mut theirs).unwrap();
    // A's write is refused; B's state is what the blob holds.
    match a.save(&mut mine) {
        Err(StateError::Conflict { found, .. }) => {
            assert!(found.contains(&format!("serial {}", theirs.serial)), "{found}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(b.load().unwrap().unwrap(), theirs);
    assert_eq!(mine.serial, theirs.serial - 1, "the refused write did not bump the serial");
}

#[test]
fn migrate_moves_the_state_to_the_backend_and_back() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    azurite.store(KEY);
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    let local = ws.state().unwrap();
    ws.configure(&tenant, &format!("{QUICKSTART}\n{}", azurite.backend_block(KEY)));
    run(&ws, &["state", "migrate", "--to", "backend"]).expect(0);
    assert!(!ws.file("pamform.state.json").exists());
    assert!(ws.file("pamform.state.json.migrated").exists());
    let remote = azurite.store(KEY).load().unwrap().unwrap();
    assert_eq!((remote.lineage.as_str(), &remote.resources), (local.lineage.as_str(), &local.resources));
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    // Migrating again would overwrite a newer state with nothing: refused.
    run(&ws, &["state", "migrate", "--to", "backend"]).expect(1);
    run(&ws, &["state", "migrate", "--to", "local"]).expect(0);
    ws.configure(&tenant, QUICKSTART);
    let back = ws.state().unwrap();
    assert_eq!((back.lineage.as_str(), &back.resources), (local.lineage.as_str(), &local.resources));
    assert!(back.serial > remote.serial);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn push_refuses_an_older_state_or_another_lineage() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    let pulled = run(&ws, &["state", "pull"]).expect(0);
    ws.write("old.json", &pulled.stdout);
    run(&ws, &["state", "rm", "approver_group.approvers"]).expect(0);
    let older = run(&ws, &["state", "push", "old.json"]).expect(1);
    assert!(older.stderr.contains("newer"), "{}", older.stderr);
    let other = State::new(tenant_id_of(&ws));
    std::fs::write(ws.file("other.json"), other.to_bytes()).unwrap();
    let lineage = run(&ws, &["state", "push", "other.json"]).expect(1);
    assert!(lineage.stderr.contains("lineage"), "{}", lineage.stderr);
    // A state of the same serial with other contents was written without reading this one.
    let mut twin = State::from_bytes(&ws.file("old.json"), pulled.stdout.as_bytes()).unwrap();
    twin.serial = azurite.store(KEY).load().unwrap().unwrap().serial;
    let before = twin.resources.len();
    twin.resources.retain(|r| r.address.to_string() != "access_policy.set_mailbox");
    assert_eq!(twin.resources.len(), before - 1);
    std::fs::write(ws.file("twin.json"), twin.to_bytes()).unwrap();
    let same = run(&ws, &["state", "push", "twin.json"]).expect(1);
    assert!(same.stderr.contains("same serial"), "{}", same.stderr);
    run(&ws, &["state", "push", "--force", "old.json"]).expect(0);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    // Pushing back exactly what is stored changes nothing and is not refused.
    let current = run(&ws, &["state", "pull"]).expect(0);
    ws.write("current.json", &current.stdout);
    run(&ws, &["state", "push", "current.json"]).expect(0);
}

fn tenant_id_of(ws: &Workspace) -> String {
    let text = std::fs::read_to_string(ws.file("main.pam.hcl")).unwrap();
    text.split("id").nth(1).and_then(|s| s.split('"').nth(1)).unwrap_or("t").to_string()
}

#[test]
fn a_sas_token_from_the_environment_signs_the_requests() {
    let mut azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    let sas = crate::support::azurite::account_sas();
    let with_sas = |args: &[&str]| {
        let mut cmd = ws.command(args);
        cmd.env_remove("ARM_ACCESS_KEY").env("ARM_SAS_TOKEN", &sas);
        Run::from(cmd.output().unwrap())
    };
    let applied = with_sas(&["apply", "--auto-approve"]).expect(0);
    assert!(!applied.all().contains(&sas[sas.find("sig=").unwrap()..]), "the SAS signature is never printed");
    assert_eq!(azurite.store(KEY).load().unwrap().unwrap().resources.len(), 4);
    with_sas(&["plan", "--detailed-exitcode"]).expect(0);
    // An unreachable service is reported without the request's URL, which carries the SAS.
    azurite.stop();
    let down = with_sas(&["plan"]).expect(1);
    assert!(down.stderr.contains("cannot reach the Blob service"), "{}", down.stderr);
    assert!(!down.all().contains("sig="), "{}", down.all());
    azurite.restart();
    // A wrong key is refused by the service, with the reason.
    let mut cmd = ws.command(&["state", "list"]);
    cmd.env_remove("ARM_SAS_TOKEN").env("ARM_ACCESS_KEY", "d3Jvbmcta2V5");
    let refused = Run::from(cmd.output().unwrap()).expect(1);
    assert!(refused.stderr.contains("403"), "{}", refused.stderr);
    // No credentials at all: said before any request.
    let mut cmd = ws.command(&["state", "list"]);
    cmd.env_remove("ARM_SAS_TOKEN").env_remove("ARM_ACCESS_KEY");
    let none = Run::from(cmd.output().unwrap()).expect(1);
    assert!(
        none.stderr.contains("ARM_ACCESS_KEY") && none.stderr.contains("ARM_SAS_TOKEN"),
        "{}",
        none.stderr
    );
}

/// With `use_azuread_auth`, requests carry an Entra token for Storage's audience, obtained
/// with pamform's app credentials from the tenant block's sign-in endpoint (the emulator
/// here). A listener on 127.0.0.1 stands in for the Blob service and records the request.
#[test]
fn use_azuread_auth_sends_a_bearer_token_for_storage() {
    use std::io::{BufRead, BufReader, Write};
    let tenant = Tenant::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = Workspace::new(
        &tenant,
        &format!(
            "{QUICKSTART}\nbackend \"azurerm\" {{\n  storage_account_name = \"contosopam\"\n  container_name = \"state\"\n  key = \"{KEY}\"\n  endpoint = \"http://127.0.0.1:{port}/contosopam\"\n  use_azuread_auth = true\n}}\n"
        ),
    );
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            headers.push(line.trim().to_string());
        }
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch</Code></Error>";
        let _ = write!(
            stream,
            "HTTP/1.1 403 Forbidden\r\nx-ms-error-code: AuthorizationPermissionMismatch\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        headers
    });
    let mut cmd = ws.command(&["state", "list"]);
    cmd.env_remove("ARM_ACCESS_KEY").env_remove("ARM_SAS_TOKEN");
    let out = Run::from(cmd.output().unwrap()).expect(1);
    assert!(out.stderr.contains("Storage Blob Data Contributor"), "{}", out.stderr);
    let headers = server.join().unwrap();
    let auth = headers
        .iter()
        .find_map(|h| h.strip_prefix("authorization: ").or_else(|| h.strip_prefix("Authorization: ")))
        .unwrap_or_else(|| panic!("no Authorization header: {headers:?}"));
    let token = auth.strip_prefix("Bearer ").expect("a bearer token");
    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap();
    assert_eq!(
        claims["aud"].as_str().map(|a| a.trim_end_matches('/')),
        Some("https://storage.azure.com"),
        "{claims}"
    );
    assert!(!out.all().contains(token), "the token is never printed");
}

/// Without anyone running force-unlock, the lease of a holder killed with SIGKILL expires
/// (60 s after its last renewal) and a command that waits takes over.
#[test]
fn the_lease_of_a_killed_holder_expires_on_its_own() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    let (mut first, _) = azurite.slow_apply(&tenant, &ws, KEY, 150);
    first.kill().unwrap();
    first.wait().unwrap();
    tenant.set_faults(json!({}));
    run(&ws, &["apply", "--auto-approve", "--lock-timeout", "3m"]).expect(0);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn a_bad_backend_block_is_reported_at_its_position() {
    let tenant = Tenant::start();
    let ws = Workspace::new(
        &tenant,
        "backend \"azurerm\" {\n  storage_account_name = \"Contoso_PAM\"\n  container_name = \"state\"\n  key = \"k\"\n  access_key = \"never-here\"\n}\n",
    );
    let at = crate::support::cli::position(&ws, "\"Contoso_PAM\"");
    let key_at = crate::support::cli::position(&ws, "access_key");
    for args in [&["validate"][..], &["state", "list"], &["plan"]] {
        let out = run(&ws, args).expect(1);
        assert!(out.stderr.contains(&at), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(&key_at), "{args:?}: {}", out.stderr);
    }
}

/// A saved plan names the remote state's lineage and serial: applied as it is while the blob
/// is unchanged, refused once anyone wrote the blob since.
#[test]
fn a_saved_plan_is_refused_once_the_remote_state_moved_on() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    run(&ws, &["state", "rm", "approver_group.approvers"]).expect(0);
    run(&ws, &["plan", "--out", "plan.bin"]).expect(0);
    // The blob moves on (another admin's state edit): the plan is stale.
    let mut moved = azurite.store(KEY);
    let lock = moved.lock("pamform state push", Duration::ZERO).unwrap();
    let mut state = moved.load().unwrap().unwrap();
    moved.save(&mut state).unwrap();
    drop(lock);
    let stale = run(&ws, &["apply", "plan.bin"]).expect(1);
    assert!(stale.stderr.contains("serial"), "{}", stale.stderr);
    // A fresh plan applies, and the result converges.
    run(&ws, &["plan", "--out", "plan.bin"]).expect(0);
    run(&ws, &["apply", "plan.bin"]).expect(0);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    moved = azurite.store(KEY);
    assert_eq!(moved.load().unwrap().unwrap().resources.len(), 4);
}
