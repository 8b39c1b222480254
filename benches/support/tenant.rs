//! The large benchmark tenant, shared by the benchmarks: 10,000 users, 31 mail-enabled
//! security groups of 2,000 members each (overlapping), 30 task policies and PAM enabled
//! with the last group as default approver group and the emulator's app as system account.
//! In quick mode (`PAMFORM_BENCH_QUICK=1`, as CI runs every benchmark once) the directory is
//! tiny and there is no latency: the run checks that a benchmark still works, its figures
//! mean nothing.

use std::collections::BTreeSet;

use pamform::emulator::{RunningEmulator, Seed};
use pamform::tenant::{Client, ClientOptions, Credential, Endpoints, RefreshRequest, Secret};
use serde_json::{Value, json};

pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const USERS: usize = 10_000;
pub const GROUPS: usize = 31;
pub const MEMBERS: usize = 2_000;
/// Group `g` holds users `g * STRIDE ..`, so users past `(GROUPS - 1) * STRIDE + MEMBERS` are
/// in no group.
pub const STRIDE: usize = 250;
pub const POLICIES: usize = 30;

/// The size of the generated directory.
#[derive(Clone, Copy)]
pub struct Scale {
    pub users: usize,
    pub groups: usize,
    pub members: usize,
    /// Group `g` holds users `g * stride ..`.
    pub stride: usize,
}

/// The tenant the targets are set for.
pub const FULL: Scale = Scale { users: USERS, groups: GROUPS, members: MEMBERS, stride: STRIDE };
/// The tiny tenant of quick mode: same groups and policies, few users and members.
pub const QUICK: Scale = Scale { users: 400, groups: GROUPS, members: 20, stride: 5 };

/// Whether the benchmarks run in quick mode (`PAMFORM_BENCH_QUICK` set, and not to `0`).
pub fn quick() -> bool {
    std::env::var_os("PAMFORM_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The full tenant, or the tiny one in quick mode.
pub fn scale() -> Scale {
    if quick() { QUICK } else { FULL }
}

/// A per-request latency in milliseconds, or none in quick mode.
pub fn latency(ms: u64) -> u64 {
    if quick() { 0 } else { ms }
}

pub fn user(i: usize) -> String {
    format!("user{i:05}@{DOMAIN}")
}

pub fn group(g: usize) -> String {
    format!("approvers-{g:02}@{DOMAIN}")
}

/// The full-size tenant (the tiny one in quick mode).
pub fn seed() -> Seed {
    seed_at(scale())
}

/// The default seed's app, with a generated directory and policies on catalogue cmdlets.
pub fn seed_at(scale: Scale) -> Seed {
    let mut v = serde_json::to_value(Seed::default_seed().expect("default seed")).expect("seed json");
    // Policies gate cmdlets of Exchange Online's catalogue (which every emulated tenant has),
    // none of those pamform runs itself.
    let catalogue: Value =
        serde_json::from_str(include_str!("../../src/emulator/catalogue/exchange_online.json"))
            .expect("the catalogue parses");
    let mut cmdlets: Vec<String> = catalogue["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["cmdlets"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c.as_str().map(String::from))
        .filter(|c| {
            !c.starts_with("Get-") && !c.contains("DistributionGroup") && !c.contains("ElevatedAccess")
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    cmdlets.truncate(POLICIES);
    assert_eq!(cmdlets.len(), POLICIES, "the default seed has enough cmdlets for {POLICIES} policies");
    let users: Vec<Value> = (0..scale.users)
        .map(
            |i| json!({"user_principal_name": user(i), "display_name": format!("User {i}"), "mailbox": true}),
        )
        .collect();
    let groups: Vec<Value> = (0..scale.groups)
        .map(|g| {
            let members: Vec<String> =
                (0..scale.members).map(|k| user((g * scale.stride + k) % scale.users)).collect();
            json!({"name": format!("Approvers {g:02}"), "primary_smtp_address": group(g), "members": members})
        })
        .collect();
    // The last group is PAM's default approver group; policies name the others (all one,
    // when there is only one).
    let policy_groups = scale.groups.saturating_sub(1).max(1);
    let policies: Vec<Value> = cmdlets
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"task": format!("Exchange\\{c}"), "approver_group": group(i % policy_groups)}))
        .collect();
    let app_id = v["apps"][0]["client_id"].clone();
    v["users"].as_array_mut().expect("users").extend(users);
    v["groups"] = Value::Array(groups);
    v["policies"] = Value::Array(policies);
    v["pam"] = json!({"enabled": true, "admin_group": group(scale.groups - 1), "system_accounts": [app_id]});
    Seed::from_json(&v.to_string()).expect("generated seed loads")
}

/// A client for the emulator, signed in as its app.
pub fn client(emu: &RunningEmulator, options: ClientOptions) -> Client {
    client_at(&emu.base_url, &emu.tenant_domain, &emu.app.client_id, &emu.app.client_secret, options)
}

/// A client for an emulator at `base_url` (all three endpoints), signed in as an app.
pub fn client_at(
    base_url: &str,
    tenant: &str,
    client_id: &str,
    secret: &str,
    options: ClientOptions,
) -> Client {
    let base = base_url.to_string();
    let endpoints = Endpoints { login: base.clone(), exchange: base.clone(), graph: base };
    let credential =
        Credential::Secret { client_id: client_id.to_string(), secret: Secret::new(secret.to_string()) };
    Client::new(tenant, endpoints, credential, options).expect("client")
}

/// What a configuration of this tenant names: every approver group with every member, one
/// role and one role group.
pub fn request_at(scale: Scale) -> RefreshRequest {
    let principals: BTreeSet<String> = (0..scale.groups)
        .flat_map(|g| (0..scale.members).map(move |k| user((g * scale.stride + k) % scale.users)))
        .collect();
    RefreshRequest {
        groups: (0..scale.groups).map(group).collect(),
        principals,
        roles: BTreeSet::from(["Move Mailboxes".to_string()]),
        role_groups: BTreeSet::from(["Discovery Management".to_string()]),
        ..RefreshRequest::default()
    }
}
