//! Property: for any PAM setup an admin could build by hand (approver groups with random
//! members, names, aliases and descriptions; policies over tasks, roles and role groups; PAM
//! on or off with random system accounts), `export` writes configuration whose plan shows
//! only imports, which apply records, after which the plan is clean. Group names and display
//! names may differ, and pamform's own app may be left out of the system accounts: when PAM
//! then gates a cmdlet pamform runs, pamform must stop with the reason and write nothing.
//! Runs the real binary
//! against an emulator on 127.0.0.1; the setup is made out of band through the Exchange API.

use std::collections::BTreeSet;

use pamform::plan::checks::CMDLETS_PAMFORM_RUNS;
use pamform::wire::exchange::cmdlet;
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};
use serde_json::{Value, json};

use crate::support::cli::{Tenant, Workspace};
use crate::support::{APP_ID, DOMAIN, regressions, upn};

/// Users with a mailbox in the default seed.
const USERS: [&str; 13] = [
    "admin",
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "svc-pamform",
    "svc-backup",
];

/// Display names, some of which make the same identifier.
const NAMES: [&str; 7] = [
    "Mailbox Approvers",
    "mailbox-approvers",
    "Security",
    "Tier 0 Admins",
    "Ops",
    "Ünïcode Team",
    "2nd Line",
];

const DESCRIPTIONS: [&str; 3] =
    ["Approves mailbox changes", "Quotes \"and\" ${templates} %{too}", "back\\slash"];

/// Policy targets as the Task parameter takes them.
const TARGETS: [&str; 13] = [
    "Exchange\\New-MoveRequest",
    "Exchange\\Set-Mailbox",
    "Exchange\\New-MailboxSearch",
    "Exchange\\New-JournalRule",
    "Exchange\\Set-TransportRule",
    "Exchange\\New-RetentionPolicy",
    "Role:Journaling",
    "Role:Move Mailboxes",
    "Role:Legal Hold",
    "Role:Mail Recipients",
    "RoleGroup:Discovery Management",
    "RoleGroup:Compliance Management",
    "RoleGroup:Organization Management",
];

#[derive(Debug, Clone)]
struct Group {
    name: &'static str,
    /// The display name when it differs from `name` (Exchange lets them differ).
    display_name: Option<&'static str>,
    members: Vec<&'static str>,
    description: Option<&'static str>,
    custom_alias: bool,
}

#[derive(Debug, Clone)]
struct Policy {
    target: &'static str,
    manual: bool,
    group: Index,
}

#[derive(Debug, Clone)]
struct Setup {
    groups: Vec<Group>,
    policies: Vec<Policy>,
    /// PAM enabled: the default group, extra system accounts, and whether pamform's own
    /// app is one of them.
    pam: Option<(Index, Vec<&'static str>, bool)>,
}

/// Display names that differ from every name.
const DISPLAY_NAMES: [&str; 3] = ["PAM approvers (mailbox)", "Tier 0", "Ops on call"];

type GroupDetails = (Option<&'static str>, Vec<&'static str>, Option<&'static str>, bool);

fn group() -> impl Strategy<Value = GroupDetails> {
    (
        proptest::option::of(proptest::sample::select(DISPLAY_NAMES.to_vec())),
        subsequence(USERS.to_vec(), 1..=4),
        proptest::option::of(proptest::sample::select(DESCRIPTIONS.to_vec())),
        any::<bool>(),
    )
}

fn setup() -> impl Strategy<Value = Setup> {
    let groups = subsequence(NAMES.to_vec(), 1..=4).prop_flat_map(|names| {
        let n = names.len();
        (Just(names), proptest::collection::vec(group(), n))
    });
    let policies = subsequence(TARGETS.to_vec(), 0..=8)
        .prop_flat_map(|targets| {
            let n = targets.len();
            (Just(targets), proptest::collection::vec((any::<bool>(), any::<Index>()), n))
        })
        .prop_map(|(targets, rest)| {
            targets
                .into_iter()
                .zip(rest)
                .map(|(target, (manual, group))| Policy { target, manual, group })
                .collect::<Vec<_>>()
        });
    let pam = proptest::option::of((any::<Index>(), subsequence(USERS.to_vec(), 0..=2), any::<bool>()));
    (groups, policies, pam).prop_map(|((names, details), policies, pam)| Setup {
        groups: names
            .into_iter()
            .zip(details)
            .map(|(name, (display_name, members, description, custom_alias))| Group {
                name,
                display_name,
                members,
                description,
                custom_alias,
            })
            .collect(),
        policies,
        pam,
    })
}

/// Whether the setup gates a cmdlet pamform runs while PAM is on and pamform's app is not a
/// system account (the emulator's catalogue of Exchange Online's roles and role groups says
/// what a target covers).
fn locks_pamform_out(setup: &Setup) -> bool {
    if setup.pam.as_ref().is_none_or(|(_, _, app_exempt)| *app_exempt) {
        return false;
    }
    let catalogue: Value =
        serde_json::from_str(include_str!("../../src/emulator/catalogue/exchange_online.json")).unwrap();
    let named = |list: &str, name: &str| -> Value {
        catalogue[list].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap_or(Value::Null)
    };
    let role_cmdlets = |role: &str| -> Vec<String> {
        named("roles", role)["cmdlets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(String::from))
            .collect()
    };
    let gated: BTreeSet<String> = setup
        .policies
        .iter()
        .flat_map(|p| {
            if let Some(task) = p.target.strip_prefix("Exchange\\") {
                vec![task.to_string()]
            } else if let Some(role) = p.target.strip_prefix("Role:") {
                role_cmdlets(role)
            } else {
                let group = p.target.strip_prefix("RoleGroup:").unwrap();
                named("role_groups", group)["roles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .flat_map(role_cmdlets)
                    .collect()
            }
        })
        .map(|c| c.to_lowercase())
        .collect();
    CMDLETS_PAMFORM_RUNS.iter().any(|c| gated.contains(&c.to_lowercase()))
}

fn email(i: usize) -> String {
    format!("pam-g{i}@{DOMAIN}")
}

/// Builds the setup in the tenant as an admin would; returns how many objects export
/// should find (the groups PAM uses, the policies, the PAM switch).
fn build(tenant: &Tenant, setup: &Setup) -> usize {
    for (i, g) in setup.groups.iter().enumerate() {
        let mut params = json!({
            "Name": g.name,
            "DisplayName": g.display_name.unwrap_or(g.name),
            "PrimarySmtpAddress": email(i),
            "Type": "Security",
            "Members": g.members.iter().map(|m| upn(m)).collect::<Vec<_>>(),
        });
        if g.custom_alias {
            params["Alias"] = json!(format!("approvers{i}"));
        }
        if let Some(d) = g.description {
            params["Notes"] = json!(d);
        }
        tenant.invoke(cmdlet::NEW_GROUP, params);
    }
    let n = setup.groups.len();
    let mut used = BTreeSet::new();
    for p in &setup.policies {
        let g = p.group.index(n);
        used.insert(g);
        tenant.invoke(
            cmdlet::NEW_POLICY,
            json!({"Task": p.target, "ApprovalType": if p.manual { "Manual" } else { "Auto" }, "ApproverGroup": email(g)}),
        );
    }
    if let Some((default, accounts, app_exempt)) = &setup.pam {
        let g = default.index(n);
        used.insert(g);
        let mut system: Vec<String> = accounts.iter().map(|a| upn(a)).collect();
        // pamform's own identity, without which PAM gates what the policies name.
        if *app_exempt {
            system.push(APP_ID.to_string());
        }
        tenant.invoke(
            cmdlet::ENABLE_ELEVATED_ACCESS_CONTROL,
            json!({"AdminGroup": email(g), "SystemAccounts": system}),
        );
    }
    used.len() + setup.policies.len() + 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: regressions(), ..ProptestConfig::default() })]

    #[test]
    fn any_setup_round_trips_through_export(setup in setup()) {
        let tenant = Tenant::start();
        let objects = build(&tenant, &setup);

        let ws = Workspace::new(&tenant, "");
        let out = ws.path().to_str().unwrap().to_string();
        if locks_pamform_out(&setup) {
            // PAM gates pamform itself: it stops, names why, and changes nothing. Export or
            // the plan of what it wrote cannot read (the gated cmdlet is named), or the plan
            // refuses to keep pamform locked out.
            let writes = tenant.write_count();
            let export = ws.run(&["export", "--out", &out]);
            if export.code == 0 {
                let plan = ws.run(&["plan"]).expect(1);
                prop_assert!(
                    plan.stderr.contains("pamform::self_lockout") || plan.stderr.contains("requires elevated access"),
                    "{}",
                    plan.all()
                );
            } else {
                prop_assert_eq!(export.code, 1, "{}", export.all());
                prop_assert!(export.stderr.contains("requires elevated access"), "{}", export.all());
            }
            prop_assert_eq!(tenant.write_count(), writes);
            return Ok(());
        }
        ws.run(&["export", "--out", &out]).expect(0);
        ws.run(&["validate"]).expect(0);
        let plan = ws.run(&["plan"]).expect(0);
        let expected = format!("Plan: {objects} to import, 0 to add, 0 to change, 0 to destroy.");
        prop_assert!(plan.stdout.contains(&expected), "expected `{}` in\n{}", expected, plan.all());

        let writes = tenant.write_count();
        ws.run(&["apply", "--auto-approve"]).expect(0);
        prop_assert_eq!(tenant.write_count(), writes);
        ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    }
}
