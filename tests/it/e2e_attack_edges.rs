//! Edges found by attacking pamform as a careless admin would, through the real binary
//! against the emulator: applies that lock pamform out halfway, hand-made states and locks,
//! and tenants the emulator must refuse to hold.

use serde_json::json;

use crate::support::APP_ID;
use crate::support::cli::{Tenant, Workspace};

const OLD: &str = r#"
approver_group "old" {
  name    = "PAM Old"
  email   = "pam-old@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
}
"#;

const NEW: &str = r#"
approver_group "new" {
  name    = "PAM New"
  email   = "pam-new@contoso.onmicrosoft.com"
  members = ["carol@contoso.onmicrosoft.com", "dave@contoso.onmicrosoft.com"]
}
"#;

fn pam(default: &str, accounts: &[&str]) -> String {
    let accounts: Vec<String> = accounts.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "\nprivileged_access {{\n  enabled                = true\n  default_approver_group = approver_group.{default}\n  system_accounts        = [{}]\n}}\n",
        accounts.join(", ")
    )
}

fn gate(name: &str, task: &str, group: &str) -> String {
    format!(
        "\naccess_policy \"{name}\" {{\n  task           = \"Exchange\\\\{task}\"\n  approval       = \"manual\"\n  approver_group = approver_group.{group}\n}}\n"
    )
}

/// PAM is on and pamform's app is not a system account. One apply makes it one and gates a
/// cmdlet pamform runs: the policy must not take effect before the PAM switch exempts
/// pamform, or the switch's own update is refused and every later apply fails the same way.
#[test]
fn a_policy_gating_pamform_waits_for_the_switch_that_exempts_pamform() {
    let tenant = Tenant::start();
    let ws =
        Workspace::new(&tenant, &format!("{OLD}{}", pam("old", &["svc-pamform@contoso.onmicrosoft.com"])));
    ws.run(&["apply", "--auto-approve"]).expect(0);

    // The switch waits for the new group (created and made visible); the policy's group is
    // already there, so nothing but the ordering keeps the policy behind the switch.
    let accounts = ["svc-pamform@contoso.onmicrosoft.com", APP_ID];
    let config =
        format!("{OLD}{NEW}{}{}", pam("new", &accounts), gate("gate", "Enable-ElevatedAccessControl", "old"));
    ws.configure(&tenant, &config);
    let run = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
    let org = tenant.org_config();
    assert!(
        org["ElevatedAccessSystemAccounts"].as_array().unwrap().iter().any(|a| a == &json!(APP_ID)),
        "{org}"
    );
}

/// pamform is exempt and a policy gates the removal of policies. One apply stops exempting
/// pamform and removes that policy: when the switch changes first, the removal is refused in
/// this apply and in every later one. The plan is refused instead, with the two steps.
#[test]
fn removing_a_policy_that_gates_its_own_removal_with_the_exemption_is_refused_at_plan() {
    let tenant = Tenant::start();
    let accounts = ["svc-pamform@contoso.onmicrosoft.com", APP_ID];
    let gated =
        format!("{OLD}{}{}", pam("old", &accounts), gate("g", "Remove-ElevatedAccessApprovalPolicy", "old"));
    let ws = Workspace::new(&tenant, &gated);
    ws.run(&["apply", "--auto-approve"]).expect(0);

    ws.configure(&tenant, &format!("{OLD}{}", pam("old", &accounts[..1])));
    let writes = tenant.write_count();
    let run = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("pamform::self_lockout"), "{}", run.stderr);
    assert!(run.stderr.contains("apply in two steps"), "{}", run.stderr);
    assert_eq!(tenant.write_count(), writes, "nothing is changed");

    // The two steps go through.
    ws.configure(&tenant, &format!("{OLD}{}", pam("old", &accounts)));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.configure(&tenant, &format!("{OLD}{}", pam("old", &accounts[..1])));
    ws.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(tenant.policies(), Vec::<serde_json::Value>::new());
}

/// A careless admin force-unlocks the lock of an apply that is still running: the lock
/// must stay, or a second apply writes the tenant and the state beside the first.
#[test]
fn force_unlock_refuses_the_lock_of_a_running_apply() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, crate::support::cli::QUICKSTART);
    let (mut first, info) = crate::support::cli::hold_lock(&tenant, &ws);
    let unlock = ws.run(&["force-unlock", &info.id]);
    let second = ws.run(&["apply", "--auto-approve"]);
    let done = first.wait().unwrap();
    assert_eq!(unlock.code, 1, "{}", unlock.all());
    assert!(unlock.stderr.contains("still running"), "{}", unlock.stderr);
    assert_eq!(second.code, 1, "a second apply ran beside the first: {}", second.all());
    assert!(done.success());
    tenant.set_faults(json!({}));
    ws.run(&["plan", "--detailed-exitcode"]).expect(0);
}

/// The emulator refuses seeds that hold a tenant the service cannot: two policies for one
/// task (pamform would see one of them and leave the other in force), a policy whose task has
/// no known shape, and more policies than the service allows. It stays up after each.
#[test]
fn the_emulator_refuses_seeds_the_service_could_not_hold() {
    use pamform::emulator::Seed;
    use serde_json::Value;

    let tenant = Tenant::start();
    let raw: Value = serde_json::to_value(Seed::default_seed().unwrap()).unwrap();
    let mut base = raw.clone();
    base["groups"] = json!([{"name": "G", "primary_smtp_address": "g@contoso.onmicrosoft.com",
        "members": ["alice@contoso.onmicrosoft.com"]}]);
    let policy = |task: &str| json!({"task": task, "approver_group": "g@contoso.onmicrosoft.com"});
    let with = |policies: Vec<Value>| {
        let mut s = base.clone();
        s["policies"] = Value::Array(policies);
        s
    };
    let cases = [
        (
            with(vec![policy("Exchange\\New-MoveRequest"), policy("exchange\\new-moverequest")]),
            "two policies",
        ),
        (with(vec![policy("Role:Journaling"), policy("role:JOURNALING")]), "two policies"),
        (with(vec![policy("garbage")]), "garbage"),
        (with((0..31).map(|i| policy(&format!("Exchange\\Get-Thing{i}"))).collect()), "at most 30"),
    ];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    let post = |body: &Value| {
        rt.block_on(async {
            let r = http.post(format!("{}/_emulator/seed", tenant.base_url)).json(body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    for (seed, said) in &cases {
        let (status, answer) = post(seed);
        assert_eq!(status, 400, "{said}: {answer}");
        assert!(answer["error"].as_str().unwrap_or_default().contains(said), "{answer}");
        assert_eq!(tenant.policies(), Vec::<Value>::new(), "the tenant was not replaced");
    }
    // A valid seed with policies still loads.
    let (status, answer) = post(&with(vec![policy("Exchange\\New-MoveRequest"), policy("Role:Journaling")]));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(tenant.policies().len(), 2);
}
