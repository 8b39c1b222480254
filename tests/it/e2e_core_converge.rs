//! Property: plan-then-apply converges. Random small configurations (groups with random
//! subsets of the seeded mailbox users, random policies over a few tasks and roles, the PAM
//! switch on or off) are applied one after another to an emulated tenant through the real
//! binary; after each apply `plan --detailed-exitcode` exits 0, no policy or group exists
//! twice, and nothing dropped from the configuration is left behind in the tenant. Failing
//! cases are saved in `e2e_core_converge.proptest-regressions` next to this file and replayed
//! first on every run.

use std::collections::BTreeMap;
use std::fmt::Write;

use pamform::wire::exchange;
use proptest::prelude::*;
use serde_json::json;

use crate::support::cli::{Tenant, Workspace};
use crate::support::{regressions, upn};

const USERS: &[&str] =
    &["alice", "bob", "carol", "dave", "erin", "frank", "heidi", "ivan", "judy", "mallory"];
const TARGETS: &[(&str, &str)] = &[
    ("task", "Exchange\\\\Set-Mailbox"),
    ("task", "Exchange\\\\New-MailboxSearch"),
    ("task", "Exchange\\\\New-MoveRequest"),
    ("role", "Journaling"),
    ("role", "Transport Rules"),
];

#[derive(Debug, Clone)]
struct Group {
    members: Vec<usize>,
    additive: bool,
}

#[derive(Debug, Clone)]
struct Config {
    groups: Vec<Group>,
    /// target index -> (manual, group index)
    policies: BTreeMap<usize, (bool, usize)>,
    pam: Option<usize>,
}

fn config() -> impl Strategy<Value = Config> {
    let group = (proptest::sample::subsequence((0..USERS.len()).collect::<Vec<_>>(), 1..5), any::<bool>())
        .prop_map(|(members, additive)| Group { members, additive });
    proptest::collection::vec(group, 1..4).prop_flat_map(|groups| {
        let n = groups.len();
        (
            Just(groups),
            proptest::collection::btree_map(0..TARGETS.len(), (any::<bool>(), 0..n), 0..TARGETS.len()),
            proptest::option::of(0..n),
        )
            .prop_map(|(groups, policies, pam)| Config { groups, policies, pam })
    })
}

fn render(c: &Config) -> String {
    let mut out = String::new();
    for (i, g) in c.groups.iter().enumerate() {
        let members: Vec<String> = g.members.iter().map(|m| format!("\"{}\"", upn(USERS[*m]))).collect();
        let _ = write!(
            out,
            "approver_group \"g{i}\" {{\n  name       = \"Group {i}\"\n  email      = \"pam-g{i}@contoso.onmicrosoft.com\"\n  members    = [{}]\n  membership = \"{}\"\n}}\n\n",
            members.join(", "),
            if g.additive { "additive" } else { "authoritative" }
        );
    }
    for (t, (manual, g)) in &c.policies {
        let (attr, value) = TARGETS[*t];
        let _ = write!(
            out,
            "access_policy \"p{t}\" {{\n  {attr} = \"{value}\"\n  approval = \"{}\"\n  approver_group = approver_group.g{g}\n}}\n\n",
            if *manual { "manual" } else { "auto" }
        );
    }
    let _ = write!(
        out,
        "privileged_access {{\n  enabled = {}\n  default_approver_group = approver_group.g{}\n  system_accounts = [\"svc-pamform@contoso.onmicrosoft.com\"]\n}}\n",
        c.pam.is_some(),
        c.pam.unwrap_or(0)
    );
    out
}

fn group_email(i: usize) -> String {
    format!("pam-g{i}@contoso.onmicrosoft.com")
}

/// The live policies (by target) and groups (by address) are exactly the configured ones,
/// each once: none duplicated, none dropped from the configuration left behind.
fn exactly_configured(tenant: &Tenant, c: &Config) -> Result<(), TestCaseError> {
    let mut policies = BTreeMap::new();
    for p in tenant.policies() {
        let key =
            format!("{}|{}", p["Task"].as_str().unwrap_or(""), p["ManagementRole"].as_str().unwrap_or(""));
        *policies.entry(key.to_lowercase()).or_insert(0) += 1;
    }
    prop_assert!(policies.values().all(|n| *n == 1), "duplicate policies: {:?}", policies);
    let mut wanted_policies: Vec<String> = c
        .policies
        .keys()
        .map(|t| match TARGETS[*t] {
            ("task", value) => format!("{}|", value.replace("\\\\", "\\")),
            (_, value) => format!("role:{value}|"),
        })
        .map(|k| k.to_lowercase())
        .collect();
    wanted_policies.sort();
    let live_policies: Vec<String> = policies.into_keys().collect();
    prop_assert_eq!(live_policies, wanted_policies, "policies in the tenant");

    let mut groups = BTreeMap::new();
    for g in tenant.invoke(exchange::cmdlet::GET_GROUP, json!({"ResultSize": "Unlimited"})) {
        let email = g["PrimarySmtpAddress"].as_str().unwrap_or("").to_lowercase();
        *groups.entry(email).or_insert(0) += 1;
    }
    prop_assert!(groups.values().all(|n| *n == 1), "duplicate groups: {:?}", groups);
    let mut wanted_groups: Vec<String> = (0..c.groups.len()).map(group_email).collect();
    wanted_groups.sort();
    let live_groups: Vec<String> = groups.into_keys().collect();
    prop_assert_eq!(live_groups, wanted_groups, "groups in the tenant");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 100,
        failure_persistence: regressions(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn plan_then_apply_converges(first in config(), second in config()) {
        let tenant = Tenant::start();
        let ws = Workspace::new(&tenant, &render(&first));
        for c in [&first, &second] {
            ws.configure(&tenant, &render(c));
            let apply = ws.run(&["apply", "--auto-approve"]);
            prop_assert_eq!(apply.code, 0, "{}\n{}", render(c), apply.all());
            let plan = ws.run(&["plan", "--detailed-exitcode"]);
            prop_assert_eq!(plan.code, 0, "not converged for\n{}\n{}", render(c), plan.all());
            exactly_configured(&tenant, c)?;
            for (i, g) in c.groups.iter().enumerate() {
                let live = tenant.group_members(&group_email(i));
                for m in &g.members {
                    prop_assert!(live.contains(&upn(USERS[*m])), "g{} lacks {}: {:?}", i, USERS[*m], live);
                }
                if !g.additive {
                    prop_assert_eq!(live.len(), g.members.len());
                }
            }
        }
    }
}
