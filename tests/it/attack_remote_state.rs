//! Remote state under attack: the lease lost in the middle of an apply (taken back, or taken
//! by someone else), `state pull` piped into `state push`, a secret pasted into the backend
//! block, and a state blob damaged out of band.

use std::process::Stdio;
use std::time::{Duration, Instant};

use pamform::state::{State, Storage};
use serde_json::json;

use crate::support::azurite::{Azurite, command, run};
use crate::support::cli::{Run, Tenant, Workspace};

const KEY: &str = "attack.pamform.state.json";

/// Addresses and ids of a state, for messages.
fn ids(state: &State) -> Vec<(String, String)> {
    state.resources.iter().map(|r| (r.address.to_string(), r.id.clone())).collect()
}

/// The lease of a running apply is broken from outside (`force-unlock` by a colleague, or a
/// lease that expired while the network was down) and nobody else takes it: the apply takes
/// its lease back (nobody wrote the blob meanwhile, the ETag says so) and records everything
/// it did, instead of changing the tenant with nowhere to record it.
#[test]
fn an_apply_whose_lease_was_broken_records_what_it_did() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    let (child, info) = azurite.slow_apply(&tenant, &ws, KEY, 300);
    run(&ws, &["force-unlock", &info.id]).expect(0);
    let out = Run::from(child.wait_with_output().unwrap());
    let out = out.expect(0);
    // The person running it is told, without -v, that the lock was lost for a while.
    assert!(out.stderr.contains("warning: the state lock on"), "{}", out.stderr);
    tenant.set_faults(json!({}));
    let state = azurite.store(KEY).load().unwrap().unwrap_or_else(|| panic!("no state: {}", out.all()));
    assert_eq!(state.resources.len(), 4, "{:?}\n{}", ids(&state), out.all());
    assert!(state.resources.iter().all(|r| !r.id.is_empty()), "{:?}", ids(&state));
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(azurite.store(KEY).holder().unwrap(), None, "the lease taken back is released");
}

/// The lease of a running apply is broken and another command takes it: the apply's writes
/// are refused (nothing of the other's is overwritten), the apply stops starting tenant
/// writes, and what it recorded is kept in a local file that `state push` brings back.
#[test]
fn an_apply_whose_lease_was_taken_stops_and_keeps_what_it_recorded() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    let (child, info) = azurite.slow_apply(&tenant, &ws, KEY, 300);
    let other = azurite.store(KEY);
    other.force_unlock(&info.id).unwrap();
    let other_lock = other.lock("pamform state rm", Duration::ZERO).unwrap();
    let out = Run::from(child.wait_with_output().unwrap()).expect(1);
    let err = out.stderr.replace('\n', " ");
    assert!(err.contains("lost its lock") && err.contains("nothing was written"), "{}", out.stderr);
    assert!(err.contains(&other_lock.info().id), "the new holder is named: {}", out.stderr);
    let unsaved = ws.file("pamform.state.json.unsaved");
    assert!(unsaved.exists(), "{}", out.all());
    assert!(err.contains("pamform state push"), "{}", out.stderr);
    // The blob still holds nothing of the lost apply: no write went through.
    assert_eq!(other.load().unwrap(), None);
    let kept = State::from_bytes(&unsaved, &std::fs::read(&unsaved).unwrap()).unwrap();
    // Every object the apply made in the tenant is recorded in the kept state (created or
    // pending): nothing it did is lost.
    tenant.set_faults(json!({}));
    for p in tenant.policies() {
        let task = p["Task"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            kept.resources
                .iter()
                .any(|r| r.attributes["task"].as_str().map(str::to_lowercase) == Some(task.clone())),
            "policy for {task} made by the apply is not in the kept state {:?}",
            ids(&kept)
        );
    }
    drop(other_lock);
    run(&ws, &["state", "push", "pamform.state.json.unsaved"]).expect(0);
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    assert_eq!(tenant.policies().len(), 2, "no policy was made twice");
}

/// `state pull` writes the stored bytes to stdout, in a pipe, exactly: a state whose values
/// hold control characters or C1 codes (a display name pasted from anywhere) is not
/// filtered on the way, so `state pull > f; state push f` round-trips.
#[test]
fn state_pull_is_byte_exact_in_a_pipe() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    let store = azurite.store(KEY);
    let mut state = store.load().unwrap().unwrap();
    let weird = "PAM \u{9b}31m\u{1b}[0m Appr\u{7f}overs \u{202e}\u{85}";
    state.resources[0].attributes["name"] = json!(weird);
    let lock = store.lock("pamform state push", Duration::ZERO).unwrap();
    store.load().unwrap();
    store.save(&mut state).unwrap();
    drop(lock);
    for color in ["auto", "always", "never"] {
        let out = command(&ws, &["--color", color, "state", "pull"]).output().unwrap();
        assert!(out.status.success());
        assert!(
            out.stdout == state.to_bytes(),
            "pull --color {color} changed the bytes:\n{}",
            String::from_utf8_lossy(&out.stdout).lines().find(|l| l.contains("Appr")).unwrap_or_default()
        );
    }
    // What was pulled pushes back as it is.
    let out = command(&ws, &["state", "pull"]).output().unwrap();
    std::fs::write(ws.file("pulled.json"), &out.stdout).unwrap();
    run(&ws, &["state", "push", "pulled.json"]).expect(0);
    assert_eq!(store.load().unwrap().unwrap().resources, state.resources);
}

/// An account key or SAS token pasted into the backend block (as Terraform's azurerm backend
/// would take it) is refused, and no command prints it: not on the refused line, not in the
/// lines shown around another error, not in a CI log.
#[test]
fn a_secret_written_into_the_backend_block_is_never_printed() {
    let tenant = Tenant::start();
    let ws = Workspace::new(
        &tenant,
        "backend \"azurerm\" {\n  storage_account_name = \"Bad_Name\"\n  access_key = \"S3cr3tAccountKey0==\"\n  container_name = \"state\"\n  key = \"k\"\n  sas_token = \"sv=2021-12-02&sig=S3cr3tSignature%3D\"\n}\n",
    );
    let key_at = crate::support::cli::position(&ws, "access_key");
    for args in [&["validate"][..], &["plan"], &["state", "list"], &["apply", "--auto-approve"]] {
        let out = run(&ws, args).expect(1);
        assert!(out.stderr.contains(&key_at), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("access_key") && out.stderr.contains("sas_token"), "{}", out.stderr);
        assert!(!out.all().contains("S3cr3t"), "{args:?} printed a secret:\n{}", out.all());
    }
}

/// Writes `bytes` over the state blob out of band (someone's hand edit, a bad upload).
fn put_blob(azurite: &Azurite, bytes: &[u8]) {
    let url = format!("{}/state/{KEY}?{}", azurite.endpoint(), crate::support::azurite::account_sas());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .put(url)
            .header("x-ms-blob-type", "BlockBlob")
            .header("x-ms-version", "2021-12-02")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
}

/// A state blob damaged out of band: every command refuses it and points at `state restore`,
/// and `state restore` (or `state push --force`) brings a kept version back, instead of
/// refusing too because it cannot read the damaged state it replaces.
#[test]
fn a_damaged_state_blob_is_restored_from_a_version() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    azurite.store(KEY);
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    let good = azurite.store(KEY).load().unwrap().unwrap();
    run(&ws, &["state", "pull"]).expect(0);
    // A hand edit that breaks the checksum.
    let edited = String::from_utf8(good.to_bytes()).unwrap().replace("PAM Approvers", "PAM Approverz");
    put_blob(&azurite, edited.as_bytes());
    let refused = run(&ws, &["plan"]).expect(1);
    assert!(refused.stderr.contains("state restore"), "{}", refused.stderr);
    let versions = azurite.store(KEY).versions().unwrap();
    let last_good = versions.iter().find(|v| v.serial == Some(good.serial - 1)).expect("a kept version");
    run(&ws, &["state", "restore", &last_good.id]).expect(0);
    let restored = azurite.store(KEY).load().unwrap().expect("a state again");
    assert!(restored.serial > good.serial, "the serial moves on: {}", restored.serial);
    // The damaged blob itself was kept as a version.
    assert!(azurite.store(KEY).versions().unwrap().len() > versions.len());
    run(&ws, &["apply", "--auto-approve"]).expect(0);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
    // Not JSON at all: push --force of a pulled copy replaces it too.
    let pulled = run(&ws, &["state", "pull"]).expect(0);
    ws.write("pulled.json", &pulled.stdout);
    put_blob(&azurite, b"{\"format_version\": 1, \"serial\": tru");
    run(&ws, &["state", "push", "pulled.json"]).expect(1);
    run(&ws, &["state", "push", "--force", "pulled.json"]).expect(0);
    run(&ws, &["plan", "--detailed-exitcode"]).expect(0);
}

/// Ctrl-C during an import (which holds the lease while it reads the tenant) ends it at once
/// and gives the lease back, instead of leaving the team locked out until the lease expires.
#[test]
fn ctrl_c_during_an_import_releases_the_lease() {
    let azurite = Azurite::start();
    let tenant = Tenant::start();
    let ws = azurite.workspace(&tenant, KEY);
    let store = azurite.store(KEY);
    tenant.set_faults(json!({ "exchange_latency_ms": 5000, "login_latency_ms": 5000 }));
    let child =
        command(&ws, &["import", "approver_group.approvers", "pam-approvers@contoso.onmicrosoft.com"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let start = Instant::now();
    while store.holder().unwrap().filter(|i| !i.id.is_empty()).is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "import never took the lease");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The lease is taken a moment before the command listens for Ctrl-C.
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = Run::from(child.wait_with_output().unwrap());
    tenant.set_faults(json!({}));
    assert!(out.all().contains("interrupted"), "{}", out.all());
    assert_eq!(store.holder().unwrap(), None, "the lease is released: {}", out.all());
    assert!(store.load().unwrap().is_none(), "nothing was imported");
}
