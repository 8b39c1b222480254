//! Never two emulators on one data file: a served emulator refuses a second server and the
//! emulator a configuration embeds (which names the server and how to use it), an embedded
//! emulator waits for another command's embedded one instead of losing its writes, and
//! commands run one after another share the file as before.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use pamform::emulator::{self, EmulatorConfig, Faults, Owner};
use serde_json::Value;

use crate::emulator_ux_support::{Served, embedded, flat, run_in as run, serve, uncredentialed};
use crate::support::cli::{QUICKSTART, Run};
use crate::support::pamform;

#[test]
fn a_served_data_file_refuses_a_second_server_and_an_embedded_emulator() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tenant.json");
    let served = Served::start(&["--data", data.to_str().unwrap()]);

    let second = serve(&data).expect(1);
    let said = flat(&second.stderr);
    let who = format!(
        "in use by `pamform emulator serve` (pid {}) serving it at {}",
        served.pid(),
        served.base_url
    );
    assert!(said.contains(&format!("the emulator data file {}", data.display())), "{said}");
    assert!(said.contains(&who), "{said}");

    // The embedded emulator says the same and how to point the configuration at the server.
    let dir = tmp.path().join("config");
    embedded(&dir, &data, QUICKSTART);
    let plan = run(&dir, &["plan"]).expect(1);
    let said = flat(&plan.stderr);
    assert!(said.contains(&who), "{said}");
    assert!(
        said.contains(&format!("login_url, exchange_url and graph_url = \"{}\"", served.base_url)),
        "{said}"
    );
    assert!(said.contains("PAMFORM_CLIENT_ID"), "{said}");
    assert!(!data.exists(), "nothing was written to the served file by the refused command");
    // `login` cannot use an embedded emulator: it names the server to sign in to instead.
    let cache = tempfile::tempdir().unwrap();
    let login = Run::from(
        pamform()
            .arg("-C")
            .arg(&dir)
            .arg("login")
            .env("NO_COLOR", "1")
            .env("PAMFORM_CACHE_DIR", cache.path())
            .output()
            .unwrap(),
    )
    .expect(1);
    let said = flat(&login.stderr);
    assert!(said.contains(&format!("is served by {}", &who["in use by ".len()..])), "{said}");
    assert!(said.contains(&format!("graph_url = \"{}\"", served.base_url)), "{said}");

    // Once the server is gone (even killed), the file is free.
    drop(served);
    run(&dir, &["apply", "--auto-approve"]).expect(0);
    run(&dir, &["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn an_emulator_of_this_process_is_named_by_url_and_two_spellings_are_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tenant.json");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let cfg = EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: Some(data.clone()),
        seed: None,
        faults: Faults::default(),
        tls: false,
    };
    let emu = rt.block_on(emulator::start(cfg.clone())).unwrap();
    // Another spelling of the same path.
    let other = tmp.path().join(".").join("tenant.json");
    let again =
        rt.block_on(emulator::start(EmulatorConfig { data: Some(other), ..cfg.clone() })).unwrap_err();
    let said = again.to_string();
    assert!(
        said.contains(&format!("an emulator (pid {}) at {}", std::process::id(), emu.base_url)),
        "{said}"
    );
    let holder = emulator::data_lock::holder(&data).expect("held");
    assert_eq!(
        (holder.pid, holder.owner, holder.url.as_deref()),
        (std::process::id(), Owner::Library, Some(emu.base_url.as_str()))
    );

    rt.block_on(emu.shutdown());
    assert_eq!(emulator::data_lock::holder(&data), None, "released at shutdown");
    let emu = rt.block_on(emulator::start(cfg)).expect("free again");
    rt.block_on(emu.shutdown());
}

#[test]
fn an_embedded_emulator_waits_for_another_commands_and_keeps_both_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("tenant.json");
    // A command's embedded emulator has the file (held here, so the test decides when it ends).
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let cfg = EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: Some(data.clone()),
        seed: None,
        faults: Faults::default(),
        tls: false,
    };
    let owner = Owner::Embedded { command: "pamform apply".to_string() };
    let emu = rt.block_on(emulator::start_owned(cfg, false, owner)).unwrap();

    let dir = tmp.path().join("config");
    embedded(&dir, &data, QUICKSTART);
    let mut child = uncredentialed(&dir, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("apply says it waits").unwrap();
    let pid = std::process::id();
    assert_eq!(
        first,
        format!(
            "waiting for the emulator embedded in `pamform apply` (pid {pid}) to finish with {}",
            data.display()
        )
    );
    rt.block_on(emu.shutdown());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success(), "{rest:?}");

    // Two commands at once on one file: both finish and neither loses the other's writes.
    let second = tmp.path().join("second");
    embedded(
        &second,
        &data,
        "approver_group \"helpdesk\" {\n  name    = \"Helpdesk approvers\"\n  email   = \"helpdesk-approvers@contoso.onmicrosoft.com\"\n  members = [\"carol@contoso.onmicrosoft.com\"]\n}\n",
    );
    let third = tmp.path().join("third");
    embedded(
        &third,
        &data,
        "approver_group \"ops\" {\n  name    = \"Ops approvers\"\n  email   = \"ops-approvers@contoso.onmicrosoft.com\"\n  members = [\"dave@contoso.onmicrosoft.com\"]\n}\n",
    );
    let spawn = |dir: &std::path::Path| {
        uncredentialed(dir, &["apply", "--auto-approve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(&second), spawn(&third));
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        Run::from(out).expect(0);
    }
    let tenant: Value = serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    let groups: Vec<&str> = tenant["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["primary_smtp_address"].as_str())
        .collect();
    for address in [
        "pam-approvers@contoso.onmicrosoft.com",
        "helpdesk-approvers@contoso.onmicrosoft.com",
        "ops-approvers@contoso.onmicrosoft.com",
    ] {
        assert!(groups.contains(&address), "{address} kept: {groups:?}");
    }
}
