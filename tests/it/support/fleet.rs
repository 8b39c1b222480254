//! Fleet harness: one emulator hosting several generated tenants on 127.0.0.1 (in this test
//! process, on its own runtime), the shared baseline and the fleet files the `pamform fleet`
//! tests run, and readers of the fleet report.

use pamform::emulator::tenancy::{self, Generate};
use pamform::emulator::{Faults, RunningEmulator};
use pamform::wire::oauth;
use serde_json::{Value, json};

use super::cli::{Run, Workspace, control};
use super::plans::schema;
use super::{APP_ID, APP_SECRET, emulator_config};

/// One emulator with `n` generated tenants (`tenancy::generated_tenant_domain(1..=n)`).
pub struct Fleet {
    rt: tokio::runtime::Runtime,
    emu: Option<RunningEmulator>,
    pub base: String,
    http: reqwest::Client,
}

impl Fleet {
    pub fn start(n: usize) -> Fleet {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let seeds = tenancy::generate(&Generate { tenants: n, users: 5, approver_members: 0, policies: 0 })
            .unwrap()
            .tenants;
        let emu = rt
            .block_on(tenancy::start_tenants(emulator_config(None, Faults::default()), seeds, false))
            .unwrap();
        Fleet { base: emu.base_url.clone(), emu: Some(emu), rt, http: reqwest::Client::new() }
    }

    /// Runs a cmdlet out of band in tenant `n`, signed in as the multi-tenant app; the
    /// answer's `value` (empty when it has none).
    pub fn invoke(&self, n: usize, name: &str, params: Value) -> Vec<Value> {
        let domain = tenancy::generated_tenant_domain(n);
        let (status, body) = self.rt.block_on(async {
            let form = [
                ("grant_type", oauth::GRANT_CLIENT_CREDENTIALS.to_string()),
                ("client_id", APP_ID.to_string()),
                ("client_secret", APP_SECRET.to_string()),
                ("scope", oauth::default_scope(oauth::EXCHANGE_RESOURCE)),
            ];
            let url = format!("{}{}", self.base, oauth::token_path(&domain));
            let t: Value = self.http.post(url).form(&form).send().await.unwrap().json().await.unwrap();
            let url = format!("{}{}", self.base, pamform::wire::exchange::invoke_command_path(&domain));
            let r = self
                .http
                .post(url)
                .bearer_auth(t["access_token"].as_str().unwrap())
                .json(&json!({"CmdletInput": {"CmdletName": name, "Parameters": params}}))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        });
        assert!(status.is_success(), "{name} in tenant {n}: {status} {body}");
        body["value"].as_array().cloned().unwrap_or_default()
    }

    /// A request to tenant `n`'s control endpoint `/_emulator/tenants/<domain>/<what>`; its
    /// JSON answer (null when it has none).
    pub fn control(&self, n: usize, method: reqwest::Method, what: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_emulator/tenants/{}/{what}", self.base, tenancy::generated_tenant_domain(n));
        control(&self.rt, &self.http, method, url, body)
    }

    pub fn set_faults(&self, n: usize, faults: Value) {
        self.control(n, reqwest::Method::PUT, "faults", Some(faults));
    }

    /// How many writes tenant `n` has taken.
    pub fn writes(&self, n: usize) -> u64 {
        self.control(n, reqwest::Method::GET, "counters", None)["writes"].as_u64().unwrap_or(0)
    }

    /// A workspace holding `main.pam.hcl` (the baseline against this emulator, with
    /// `approvers`) and `fleet.hcl`, with the multi-tenant app's credentials in its
    /// environment.
    pub fn workspace(&self, approvers: Approvers, fleet_hcl: &str) -> Workspace {
        self.workspace_with(&baseline(&self.base, approvers), fleet_hcl)
    }

    /// The same with a configuration of the caller's.
    pub fn workspace_with(&self, config: &str, fleet_hcl: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.pam.hcl"), config).unwrap();
        std::fs::write(dir.path().join("fleet.hcl"), fleet_hcl).unwrap();
        Workspace::with_env(
            dir,
            vec![
                ("PAMFORM_CLIENT_ID", APP_ID.to_string()),
                ("PAMFORM_CLIENT_SECRET", APP_SECRET.to_string()),
            ],
        )
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(emu) = self.emu.take() {
            self.rt.block_on(emu.shutdown());
        }
    }
}

/// Who the baseline's approver group holds.
#[derive(Clone, Copy)]
pub enum Approvers {
    /// The list in each tenant's `approvers` variable (the baseline declares it): a fleet
    /// file of [`fleet_file`].
    PerTenant,
    /// The tenant's `user001`: a fleet file that sets only `domain`, as [`named_tenants`].
    FirstUser,
}

/// The shared baseline: an approver group of the tenant's own members, PAM on, two policies.
pub fn baseline(base: &str, approvers: Approvers) -> String {
    let (declared, members) = match approvers {
        Approvers::PerTenant => ("\nvariable \"approvers\" {\n  type = list(string)\n}\n", "var.approvers"),
        Approvers::FirstUser => ("", "[\"user001@${var.domain}\"]"),
    };
    format!(
        r#"tenant {{
  id           = "each tenant's, from the fleet file"
  exchange_url = "{base}"
  graph_url    = "{base}"
  login_url    = "{base}"
}}

variable "domain" {{
  type = string
}}
{declared}
approver_group "main" {{
  name    = "PAM Approvers"
  email   = "pam-approvers@${{var.domain}}"
  members = {members}
}}

privileged_access {{
  enabled                = true
  default_approver_group = approver_group.main
  system_accounts        = ["svc-pamform@${{var.domain}}"]
}}

access_policy "mailbox" {{
  task           = "Exchange\\Set-Mailbox"
  approver_group = approver_group.main
}}

access_policy "permissions" {{
  task           = "Exchange\\Add-MailboxPermission"
  approver_group = approver_group.main
}}
"#
    )
}

/// A fleet file of tenants `t1`..=`tn`, tagged `odd` or `even`, each with its own approvers
/// (`user001` up to `user00(1 + i % 3)`) for [`Approvers::PerTenant`]; `extra` is added inside
/// the block of the tenant it names.
pub fn fleet_file(n: usize, extra: &[(usize, &str)]) -> String {
    (1..=n)
        .map(|i| {
            let domain = tenancy::generated_tenant_domain(i);
            let members: Vec<String> = (1..=1 + i % 3).map(|u| format!("\"user{u:03}@{domain}\"")).collect();
            let more: String = extra.iter().filter(|(t, _)| *t == i).map(|(_, s)| format!("  {s}\n")).collect();
            format!(
                "tenant \"t{i}\" {{\n  id           = \"{domain}\"\n  display_name = \"Customer {i}\"\n  tags         = [\"{}\"]\n  vars = {{\n    domain    = \"{domain}\"\n    approvers = [{}]\n  }}\n{more}}}\n\n",
                if i % 2 == 0 { "even" } else { "odd" },
                members.join(", ")
            )
        })
        .collect()
}

/// A fleet file of the generated tenants `(name, n)`, setting only `domain`, for
/// [`Approvers::FirstUser`].
pub fn named_tenants(tenants: &[(&str, usize)]) -> String {
    named_tenants_with(tenants, Naming::default())
}

/// How [`named_tenants_with`] writes the tenants.
#[derive(Clone, Copy, Default)]
pub struct Naming<'a> {
    /// Tag each tenant `odd` or `even` by its position in the list (the first `odd`).
    pub tag_by_position: bool,
    /// The names whose `id` is the tenant's GUID rather than its initial domain.
    pub by_guid: &'a [&'a str],
}

/// [`named_tenants`], written as `naming` says.
pub fn named_tenants_with(tenants: &[(impl AsRef<str>, usize)], naming: Naming) -> String {
    tenants
        .iter()
        .enumerate()
        .map(|(i, (name, n))| {
            let name = name.as_ref();
            let domain = tenancy::generated_tenant_domain(*n);
            let id = if naming.by_guid.contains(&name) {
                tenancy::generated_tenant_id(*n)
            } else {
                domain.clone()
            };
            let tags = match (naming.tag_by_position, i % 2) {
                (false, _) => "",
                (true, 0) => "  tags = [\"odd\"]\n",
                (true, _) => "  tags = [\"even\"]\n",
            };
            format!("tenant \"{name}\" {{\n  id = \"{id}\"\n{tags}  vars = {{ domain = \"{domain}\" }}\n}}\n")
        })
        .collect()
}

/// The JSON report on the run's stdout.
pub fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

/// The JSON report on the run's stdout, checked against `schemas/fleet-report.schema.json`.
pub fn report(run: &Run) -> Value {
    let v = json(run);
    fits_the_schema(&v);
    v
}

/// The value fits `schemas/fleet-report.schema.json`.
pub fn fits_the_schema(v: &Value) {
    let validator = jsonschema::draft202012::new(&schema("fleet-report.schema.json")).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(v).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "the report does not fit its schema: {errors:?}\n{v:#}");
}

/// `(name, status)` of every tenant of a report, in its order.
pub fn statuses(v: &Value) -> Vec<(String, String)> {
    v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["status"].as_str().unwrap().to_string()))
        .collect()
}

/// The report's line of tenant `name`.
pub fn tenant<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name}: {v:#}"))
}

/// `t1`..=`tn`, all with `status`, sorted as a report sorts them.
pub fn all(n: usize, status: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = (1..=n).map(|i| (format!("t{i}"), status.to_string())).collect();
    v.sort();
    v
}
