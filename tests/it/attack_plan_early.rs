//! `pamform plan` signs in and reads the PAM setting, the policies and the catalog while the
//! configuration loads. Those early reads may change how long a plan takes, never what the
//! tenant is sent: the tenant's Exchange concurrency limit, the retries a throttled tenant
//! gets and the sign-ins a wrong credential costs are those of a plan without them (`-v`,
//! which does not start them).

use serde_json::{Value, json};

use crate::support::cli::{QUICKSTART, Tenant, Workspace};

/// A counter of the emulator (`per_endpoint`, `per_status`, ...), 0 when absent.
fn counter(tenant: &Tenant, group: &str, key: &str) -> u64 {
    tenant.counters()[group][key].as_u64().unwrap_or(0)
}

/// What one run of `pamform ARGS` added to a counter of the emulator, and the run.
fn sent_by(
    tenant: &Tenant,
    ws: &Workspace,
    args: &[&str],
    group: &str,
    key: &str,
) -> (u64, crate::support::cli::Run) {
    let before = counter(tenant, group, key);
    let run = ws.run(args);
    (counter(tenant, group, key) - before, run)
}

#[test]
fn a_plan_stays_within_the_exchange_concurrency_limit_while_its_early_reads_are_answered() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    // Exchange answers slowly: the early reads are still in flight when the configuration
    // has loaded and the refresh sends its own reads.
    tenant.set_faults(json!({"exchange_latency_ms": 800, "exchange_concurrency_limit": 3}));
    let run = ws.run(&["plan"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let counters: Value = tenant.counters();
    assert_eq!(
        counters["per_status"]["429"].as_u64().unwrap_or(0),
        0,
        "the plan went over Exchange's concurrency limit of 3 requests per tenant: {counters}"
    );
    let peak = counters["peak_concurrency"]["exchange"].as_u64().unwrap_or(0);
    assert!(peak <= 3, "peak Exchange concurrency {peak}: {counters}");
}

#[test]
fn a_throttled_tenant_gets_no_more_exchange_requests_than_without_the_early_reads() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    tenant.set_faults(json!({"throttle_rate": 1.0, "retry_after_ms": 10}));
    let (early, run) = sent_by(&tenant, &ws, &["plan"], "per_endpoint", "InvokeCommand");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("kept throttling"), "{}", run.stderr);
    let (without, run) = sent_by(&tenant, &ws, &["-v", "plan"], "per_endpoint", "InvokeCommand");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(without > 0);
    assert!(
        early <= without,
        "a plan sent a throttled tenant {early} Exchange requests, {without} without its early reads: \
         a failed early read was sent again with a new round of retries"
    );
}

#[test]
fn a_wrong_secret_costs_no_more_sign_ins_than_without_the_early_reads() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let mut plan = ws.command(&["plan"]);
    plan.env("PAMFORM_CLIENT_SECRET", "not-the-secret");
    let before = counter(&tenant, "per_endpoint", "token");
    let run = crate::support::cli::Run::from(plan.output().expect("pamform runs"));
    let early = counter(&tenant, "per_endpoint", "token") - before;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("PAMFORM_CLIENT_SECRET"), "{}", run.stderr);
    let mut plan = ws.command(&["-v", "plan"]);
    plan.env("PAMFORM_CLIENT_SECRET", "not-the-secret");
    let before = counter(&tenant, "per_endpoint", "token");
    let run = crate::support::cli::Run::from(plan.output().expect("pamform runs"));
    let without = counter(&tenant, "per_endpoint", "token") - before;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(without > 0);
    assert!(
        early <= without,
        "a wrong secret was tried {early} times, {without} without the early reads: the refresh \
         signed in again after the early sign-in had failed"
    );
}

/// A configuration that is then refused may have been signed in for and read while it loaded
/// (the early reads), but it changes nothing: the same diagnostics, exit 1, no write in the
/// tenant, no state written. Only `validate` promises to stay offline.
#[test]
fn a_configuration_that_is_refused_changes_nothing() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.write("broken.pam.hcl", "access_policy \"x\" {\n  task = \n");
    let before = tenant.counters()["writes"].clone();
    let run = ws.run(&["plan"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("broken.pam.hcl:2"), "{}", run.stderr);
    let validated = ws.run(&["validate"]);
    assert_eq!(validated.code, 1, "{}", validated.all());
    assert_eq!(tenant.counters()["writes"], before, "{}", tenant.counters());
    assert!(!ws.file("pamform.state.json").exists());
}
