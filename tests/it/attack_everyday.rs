//! Attacks on the everyday commands: request refusals must never be explained by a guess that
//! misleads (telling an approver they are not one).

use pamform::requests::explain::{Action, Facts, Membership, RequestError, judge, membership};
use pamform::tenant::{Api, TenantError};
use pamform::wire::exchange::{self as wx, recipient_type};
use serde_json::json;

const ME: &str = "carol@contoso.com";
const GROUP: &str = "pam@contoso.com";

fn recipient(upn: &str, details: &str) -> wx::Recipient {
    serde_json::from_value(json!({
        "Identity": upn, "Name": upn, "UserPrincipalName": upn, "PrimarySmtpAddress": upn,
        "ExternalDirectoryObjectId": "00000000-0000-0000-0000-000000000001",
        "RecipientTypeDetails": details,
    }))
    .unwrap()
}

fn denied() -> TenantError {
    TenantError::Permission {
        api: Api::Exchange,
        status: 400,
        missing: "a role".into(),
        detail: String::new(),
    }
}

/// An approver group may hold groups of kinds other than the two pamform manages (documented
/// values of RecipientTypeDetails), or a kind pamform does not know: any of them may hold the
/// signed-in user, so pamform cannot say they are not an approver. It used to count only the
/// two universal group kinds as groups, and told such an approver "you are not a member of the
/// approver group" (and `request list --pending` hid their requests).
#[test]
fn a_nested_group_of_any_kind_never_makes_an_approver_a_non_member() {
    for kind in
        ["MailNonUniversalGroup", "GroupMailbox", "RoleGroup", "DynamicDistributionGroup", "RoomList", ""]
    {
        let members = vec![
            recipient("alice@contoso.com", recipient_type::USER_MAILBOX),
            recipient("team@contoso.com", kind),
        ];
        assert_eq!(membership(ME, &members), Membership::Unknown, "{kind:?}");
        let request = serde_json::from_value(json!({
            "Identity": "r1", "RequestStatus": "Pending", "Requestor": "dave@contoso.com", "ApproverGroup": GROUP,
        }))
        .unwrap();
        let facts = Facts { request: Some(request), approvers: Some(members), ..Facts::default() };
        let e = judge(Action::Decide { id: "r1" }, denied(), ME, &facts);
        assert!(!matches!(e, RequestError::NotApprover { .. }), "{kind:?}: {e}");
    }
    // Only people, none of them the user: not a member.
    let people = vec![
        recipient("alice@contoso.com", recipient_type::USER_MAILBOX),
        recipient("bob@contoso.com", recipient_type::MAIL_USER),
        recipient("eve@fabrikam.com", recipient_type::GUEST_MAIL_USER),
    ];
    assert_eq!(membership(ME, &people), Membership::NotListed);
    assert_eq!(
        membership(ME, &[recipient(ME, recipient_type::USER_MAILBOX)]),
        Membership::Listed { guest: false }
    );
}

/// A configuration whose errors come from sensitive variables: a default, a `--var` and a
/// `PAMFORM_VAR_*` value.
const SENSITIVE_ERRORS: &str = r#"
tenant {
  id = "contoso.onmicrosoft.com"
}
variable "mode" {
  type      = string
  sensitive = true
  default   = "HUNTER2-mode"
}
variable "who" {
  type      = string
  sensitive = true
}
variable "n" {
  type      = number
  sensitive = true
}
approver_group "approvers" {
  name    = "Approvers"
  email   = var.who
  members = []
}
access_policy "x" {
  task           = "Exchange\\New-MoveRequest"
  approval       = var.mode
  approver_group = approver_group.approvers
}
"#;

/// A value from a `sensitive = true` variable is `(sensitive value)` in every message: the
/// terminal's, `validate --json`'s and the Markdown a failed plan writes for a pull request
/// comment. They used to quote it (`approval` cannot be `HUNTER2-mode`), as did a `--var` or
/// `PAMFORM_VAR_*` value that did not parse.
#[test]
fn no_diagnostic_quotes_a_sensitive_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), SENSITIVE_ERRORS).unwrap();
    for args in [&["validate", "--json"][..], &["validate"], &["plan", "--format", "markdown"]] {
        let out = crate::support::pamform()
            .arg("-C")
            .arg(dir.path())
            .args(args)
            .args(["--var", "who=HUNTER2 not an address", "--var", "n=HUNTER2num"])
            .env("NO_COLOR", "1")
            .env("PAMFORM_VAR_n", "HUNTER2env")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains("HUNTER2"), "{args:?}: a sensitive value shows:\n{all}");
        assert!(all.contains("`approval` cannot be `(sensitive value)`"), "{args:?}:\n{all}");
        assert!(all.contains("`(sensitive value)` in `email`"), "{args:?}:\n{all}");
    }
}

/// A plan the checks refuse, over a value from a sensitive variable: the refusal, in the
/// terminal and in the Markdown of a pull request comment, does not quote it.
#[test]
fn a_plan_refusal_does_not_quote_a_sensitive_value() {
    use crate::support::cli::{QUICKSTART, Tenant, Workspace};
    let tenant = Tenant::start();
    let mut hcl = QUICKSTART
        .replace("default_approver_group = approver_group.approvers", "default_approver_group = var.group");
    hcl.push_str(
        "\nvariable \"group\" {\n  type      = string\n  sensitive = true\n  default   = \"hunter2-nobody@contoso.onmicrosoft.com\"\n}\n",
    );
    let ws = Workspace::new(&tenant, &hcl);
    // (The JSON plan carries values and marks them, as Terraform's does.)
    for args in [&["plan"][..], &["plan", "--format", "markdown"]] {
        let run = ws.run(args);
        let all = run.all();
        assert_eq!(run.code, 1, "{args:?}:\n{all}");
        assert!(!all.contains("hunter2"), "{args:?}: a sensitive value shows:\n{all}");
    }
}

/// `-q apply` on a terminal still asks, so it still shows what the answer approves: the
/// changes and the tenant they go to.
#[test]
fn a_quiet_apply_prompt_shows_what_it_asks_about() {
    use crate::support::cli::{QUICKSTART, Tenant, Workspace};
    use crate::support::{APP_ID, DOMAIN};
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    let run = crate::e2e_core_state::on_terminal(&ws, &["-q", "apply"], "no\n");
    let all = run.all();
    assert!(all.contains("approver_group.approvers"), "the changes are not shown:\n{all}");
    assert!(all.contains(&format!("in tenant {DOMAIN}, as app {APP_ID}")), "{all}");
    assert_eq!(tenant.write_count(), 0);
}

/// The text of a plan that stopped (a service error can quote names anyone in the tenant
/// chose) stays one block of text in the pull request comment: a run of backticks in it
/// cannot close the block and turn the rest into Markdown.
#[test]
fn a_failed_plan_comment_keeps_the_error_text_in_its_block() {
    use pamform::views::markdown::render_failed_message;
    let text = render_failed_message("group 'x\n```\n![img](https://example.com/t.png)\n```' not found");
    let fence_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("```")).collect();
    assert_eq!(fence_lines.len(), 4, "{text}");
    assert_eq!(fence_lines[0], fence_lines[3], "{text}");
    assert!(fence_lines[0].len() > 3, "the fence must outlast the text's backticks:\n{text}");
    // Plain text keeps the usual fence.
    assert!(render_failed_message("sign-in refused").contains("\n```\nsign-in refused\n```\n"));
}

/// `request list --pending` lists what the signed-in user can decide; a guest can decide
/// nothing, even one listed in the approver group, so a guest's list holds none of it.
#[test]
fn a_guest_in_the_approver_group_has_nothing_pending_to_decide() {
    use crate::e2e_requests::{MOVE, World};
    use crate::support::cli::QUICKSTART;
    let w = World::new();
    let hcl = QUICKSTART.replace(
        "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\"]",
        "members = [\"alice@contoso.onmicrosoft.com\", \"bob@contoso.onmicrosoft.com\", \"oscar@fabrikam.com\"]",
    );
    w.ws.configure(&w.tenant, &hcl);
    w.ws.run(&["apply", "--auto-approve"]).expect(0);
    let dave = w.login("dave", &crate::support::upn("dave"));
    let oscar = w.login("oscar", "oscar@fabrikam.com");
    let id = w.new_request(&dave, MOVE, "1");
    let listed = w.run(&oscar, &["request", "list", "--pending", "--json"]).expect(0);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert!(
        listed["requests"].as_array().unwrap().iter().all(|r| r["id"] != id.as_str()),
        "a guest is offered a request they cannot decide: {listed}"
    );
    // And the service agrees: the guest cannot approve it.
    let run = w.run(&oscar, &["request", "approve", &id]).expect(1);
    assert!(run.stderr.contains("guests cannot approve"), "{}", run.stderr);
}

/// `-v` logs each HTTP request of the request workflow, secrets redacted: no access token,
/// refresh token or client secret shows, also when the sign-in is renewed on the way.
#[test]
fn verbose_request_commands_show_no_token() {
    use crate::e2e_requests::{MOVE, World};
    let w = World::new();
    let dave = w.login("dave", &crate::support::upn("dave"));
    let alice = w.login("alice", &crate::support::upn("alice"));
    let id = w.new_request(&dave, MOVE, "1");
    w.session(&dave);
    w.session(&alice);
    w.tenant.advance_clock(2 * 3600);
    for (user, args) in [
        (&dave, &["-v", "request", "list"][..]),
        (&alice, &["-v", "request", "approve", id.as_str()]),
        (&alice, &["-v", "whoami", "--json"]),
    ] {
        let run = w.run(user, args);
        assert!(
            run.stderr.contains("HTTP") || run.stderr.contains("POST"),
            "{args:?}: nothing logged:\n{}",
            run.stderr
        );
        let all = run.all();
        assert!(!all.contains(w.tenant.secret()), "{args:?}: the client secret shows:\n{all}");
    }
    w.session(&dave);
    w.session(&alice);
    w.assert_no_token_leaked();
}

/// A plan saved with `--var-file` (a path relative to where pamform runs) applies as it was
/// reviewed when apply is given the same file again, from wherever it runs; without it, or
/// with another environment's file, apply refuses and writes nothing.
#[test]
fn a_plan_saved_with_a_var_file_applies_only_with_the_same_values() {
    use crate::support::cli::{QUICKSTART, Tenant, Workspace};
    let tenant = Tenant::start();
    let hcl = QUICKSTART.replace("name    = \"PAM Approvers\"", "name    = var.name")
        + "\nvariable \"name\" {\n  type = string\n}\n";
    let ws = Workspace::new(&tenant, &hcl);
    ws.write("dev.pamvars.hcl", "name = \"Dev Approvers\"\n");
    ws.write("prod.pamvars.hcl", "name = \"Prod Approvers\"\n");
    let run = |args: &[&str], cwd: &std::path::Path| {
        let out = ws.command(args).current_dir(cwd).output().unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let (code, text) = run(&["plan", "--var-file", "prod.pamvars.hcl", "--out", "plan.bin"], ws.path());
    assert_eq!(code, Some(0), "{text}");
    let saved = ws.file("plan.bin");
    let saved = saved.to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    for without in [&["apply", saved][..], &["apply", saved, "--var-file", "dev.pamvars.hcl"]] {
        let (code, text) = run(without, ws.path());
        assert_eq!(code, Some(1), "{without:?}: {text}");
        assert_eq!(tenant.write_count(), 0, "{without:?}: {text}");
    }
    let prod = ws.file("prod.pamvars.hcl");
    let (code, text) = run(&["apply", saved, "--var-file", prod.to_str().unwrap()], elsewhere.path());
    assert_eq!(code, Some(0), "{text}");
    let names: Vec<String> = tenant
        .invoke("Get-DistributionGroup", serde_json::json!({}))
        .iter()
        .filter_map(|g| g["DisplayName"].as_str().map(String::from))
        .collect();
    assert!(names.iter().any(|n| n == "Prod Approvers"), "{names:?}");
}

/// `login --tenant` (or PAMFORM_TENANT_ID) naming another tenant than the configuration's
/// block: the block wins, as for plan and apply, and login says so before the user signs in.
#[test]
fn login_says_when_the_tenant_option_names_another_tenant() {
    use std::io::{BufRead, BufReader};
    let w = crate::e2e_requests::World::new();
    let cache = tempfile::tempdir().unwrap();
    let mut child =
        w.ws.command(&["login", "--tenant", "fabrikam.onmicrosoft.com"])
            .env("PAMFORM_CACHE_DIR", cache.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("enter the code") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.contains(&format!(
            "warning: --tenant (or PAMFORM_TENANT_ID) is fabrikam.onmicrosoft.com but the tenant block's id is {}; signing in to {}",
            crate::support::DOMAIN,
            crate::support::DOMAIN
        )),
        "{seen}"
    );
}
