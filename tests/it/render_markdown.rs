//! The Markdown plan and drift report: snapshots of every change kind and of drift, and the
//! size budget that keeps a huge plan under GitHub's comment limit with its summary whole.

use pamform::drift::{self, Report, Unmanaged};
use pamform::model::ResourceType;
use pamform::plan::PlanMode;
use pamform::views::markdown::{self, GITHUB_COMMENT_LIMIT, MarkdownOptions};

use crate::support::plans::*;

fn options() -> MarkdownOptions {
    MarkdownOptions { plan_file: Some("plan.bin".into()), ..MarkdownOptions::default() }
}

#[test]
fn every_change_kind() {
    let out = markdown::render(&mixed(), &options());
    let headline = out.lines().nth(1).unwrap();
    assert!(headline.starts_with("**pamform plan**: "), "{headline}");
    assert!(
        headline.ends_with(". 1 to import, 2 to add, 2 to change, 2 to destroy, 1 to move"),
        "{headline}"
    );
    assert!(!out.contains("more changes not shown"), "a small plan is shown whole");
    insta::assert_snapshot!("mixed", out);
}

#[test]
fn no_changes() {
    let out = markdown::render(&plan(vec![]), &options());
    assert_eq!(
        out,
        "<!-- pamform-plan -->\n**pamform plan**: No changes. The tenant matches the configuration.\n\n"
    );
}

#[test]
fn security_table_names_what_widens_or_ungates() {
    let out = markdown::render(&plan(vec![update(), replace(), delete(), pam_off()]), &options());
    let row = |name: &str| out.lines().find(|l| l.starts_with(&format!("| {name} |"))).unwrap().to_string();
    assert!(
        row("approver membership widened")
            .contains("**yes**: 1 member added to `approver_group.default` (1)")
    );
    let ungated = row("policies removed or replaced");
    assert!(ungated.contains("**2**"), "{ungated}");
    assert!(ungated.contains("`access_policy.mailbox_tasks[\"Set-Mailbox\"]` replaced (`Exchange\\Set-Mailbox`, approval manual → auto)"), "{ungated}");
    assert!(ungated.contains("`access_policy.journaling` removed (`Journaling`)"), "{ungated}");
    assert_eq!(row("PAM switched off"), "| PAM switched off | **yes** |");
    assert_eq!(row("default approver group"), "| default approver group | unchanged |");

    let out = markdown::render(&plan(vec![pam_update()]), &options());
    let row = |name: &str| out.lines().find(|l| l.starts_with(&format!("| {name} |"))).unwrap().to_string();
    assert_eq!(row("PAM switched off"), "| PAM switched off | no |");
    assert!(row("default approver group").contains(&format!("`{DEFAULT}` → `{MAILBOX}`")));
    assert!(row("system accounts").contains("**1 added** (exempt from approval): `svc-backup@contoso.com`"));
}

#[test]
fn member_changes_are_diff_lines() {
    let out = markdown::render(&plan(vec![update()]), &options());
    let block = out.split("```diff\n").nth(1).unwrap().split("```").next().unwrap();
    assert!(block.contains("+     \"mallory@contoso.com\",\n"), "{block}");
    assert!(block.contains("-     \"erin@contoso.com\",\n"), "{block}");
    assert!(block.contains("# (2 unchanged elements hidden)"), "{block}");
    assert!(
        block.contains("- description = \"\"\n")
            || block.contains("+ description = \"Approves everything else\"")
    );
}

#[test]
fn drift_in_a_refresh_only_plan() {
    let out = markdown::render(&drift_plan(), &options());
    assert!(out.contains("**pamform plan** (refresh-only): 3 objects changed outside pamform"));
    insta::assert_snapshot!("refresh_only", out);
}

#[test]
fn drift_report() {
    let unmanaged = vec![Unmanaged::new(
        ResourceType::AccessPolicy,
        "policy-unknown",
        "gates Exchange\\Set-TransportRule",
    )];
    let at = chrono::Utc::now();
    let report = Report::new("t", at, drift::differences(&drift(), None), unmanaged);
    let out = markdown::render_drift(&report, &MarkdownOptions::default());
    assert!(out.starts_with("<!-- pamform-drift -->\n**pamform drift**: 3 differences between the tenant and the last apply, 1 object unmanaged\n"));
    insta::assert_snapshot!("drift_report", out);
    let none = markdown::render_drift(&Report::new("t", at, vec![], vec![]), &MarkdownOptions::default());
    assert!(none.contains("No drift."));
}

#[test]
fn targeting_and_destroy_are_said_up_front() {
    let mut p = plan(vec![delete()]);
    p.mode = PlanMode::Destroy;
    p.targets = vec!["access_policy.journaling".parse().unwrap()];
    let out = markdown::render(&p, &options());
    assert!(
        out.contains("**pamform plan** (destroy): ⚠️ **security review**: 1 task ungated. 0 to add, 0 to change, 1 to destroy"),
        "{out}"
    );
    assert!(out.contains("resource targeting is in effect (`access_policy.journaling`)"));
}

/// The summary part of the output: everything before the details.
fn summary(out: &str) -> &str {
    out.split("### Details").next().unwrap()
}

#[test]
fn a_huge_plan_stays_under_the_comment_limit_with_its_summary_whole() {
    let p = huge(10_000);
    let out = markdown::render(&p, &options());
    assert!(out.chars().count() < GITHUB_COMMENT_LIMIT, "{} characters", out.chars().count());
    assert!(out.len() <= markdown::DEFAULT_BUDGET, "{} bytes", out.len());

    let head = summary(&out);
    assert!(head.contains(". 30 to add, 1 to change, 30 to destroy\n"), "{head}");
    for row in ["| add | 30 |", "| change | 1 |", "| destroy | 30 |", "| replace | 30 |"] {
        assert!(head.contains(row), "missing {row}");
    }
    for zero in ["| import |", "| move |"] {
        assert!(!head.contains(zero), "a row of zeros: {zero}");
    }
    assert!(head.contains("**yes**: 5,000 members added to `approver_group.everyone` (5000)"));
    let ungated = head.lines().find(|l| l.starts_with("| policies removed or replaced |")).unwrap();
    assert!(ungated.contains("**30**"));
    for i in 0..30 {
        assert!(ungated.contains(&format!("`access_policy.tasks[\"Task-{i:02}\"]`")), "policy {i} missing");
    }
    assert!(head.contains("| PAM switched off | no |"));
    assert!(head.contains("| system accounts | unchanged |"));

    let notice = out.lines().last().unwrap();
    assert!(notice.starts_with("**... "), "{notice}");
    assert!(notice.ends_with("run `pamform show plan.bin` for the whole plan"), "{notice}");
    // Every member change is either shown or counted in the notice.
    let shown = out.lines().filter(|l| l.starts_with("+     \"") || l.starts_with("-     \"")).count();
    let omitted: usize =
        notice.trim_start_matches("**... ").split(' ').next().unwrap().replace(',', "").parse().unwrap();
    assert_eq!(shown + omitted, 10_000, "shown {shown}, omitted {omitted}");
    assert_eq!(shown, markdown::MAX_LIST_ELEMENTS);
    assert!(out.contains("# ... 9,500 more elements not shown"));
    // Sections that are opened are closed.
    assert_eq!(out.matches("<details>").count(), out.matches("</details>").count());
    assert_eq!(out.matches("```").count() % 2, 0);
}

#[test]
fn a_small_budget_cuts_details_never_the_summary() {
    let p = mixed();
    let whole = markdown::render(&p, &options());
    let budget = summary(&whole).len() + 600;
    let cut = markdown::render(&p, &MarkdownOptions { budget, ..options() });
    assert!(cut.len() <= budget, "{} > {budget}", cut.len());
    assert_eq!(summary(&cut), summary(&whole));
    assert!(cut.lines().last().unwrap().contains("more changes not shown"));
}

#[test]
fn many_large_groups_are_cut_at_the_budget() {
    let changes = (0..100)
        .map(|g| {
            let members: Vec<String> =
                (0..300).map(|m| format!("member-{g:03}-{m:03}@contoso.com")).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            let email = format!("group-{g:03}@contoso.onmicrosoft.com");
            let mut c = change(
                pamform::model::Address::group(format!("g{g:03}")),
                pamform::plan::Action::Update,
                Some(group("G", &email, &[])),
                Some(group("G", &email, &members)),
            );
            c.remote_id = Some(format!("group-{g:03}"));
            c
        })
        .collect();
    let out = markdown::render(&plan(changes), &options());
    assert!(out.len() <= markdown::DEFAULT_BUDGET, "{} bytes", out.len());
    assert!(out.contains("**yes**: 30,000 members added to "));
    assert!(out.contains("and 70 more"), "the summary counts the groups it does not name");
    let notice = out.lines().last().unwrap();
    let shown = out.lines().filter(|l| l.starts_with("+     \"")).count();
    let omitted: usize =
        notice.trim_start_matches("**... ").split(' ').next().unwrap().replace(',', "").parse().unwrap();
    assert_eq!(shown + omitted, 30_000, "{notice}");
    assert!(notice.contains("resources cut short or left out"), "{notice}");
    assert_eq!(out.matches("<details>").count(), out.matches("</details>").count());
    assert_eq!(out.matches("```").count() % 2, 0);
}

#[test]
fn security_facts_and_moves() {
    let out = markdown::render(&security(), &options());
    assert!(out.contains(", 2 to move\n"), "{out}");
    let row = |name: &str| out.lines().find(|l| l.starts_with(&format!("| {name} |"))).unwrap().to_string();
    assert!(
        row("policies moved to a wider approver group").contains(
            "`access_policy.set_mailbox` (`Exchange\\Set-Mailbox`) `pam-mailbox@contoso.onmicrosoft.com` → `pam-approvers@contoso.onmicrosoft.com`, adding `carol@contoso.com`, `dave@contoso.com`, `erin@contoso.com`"
        ),
        "{out}"
    );
    assert!(
        row("default approver group").contains("adding approvers `alice@contoso.com`, `bob@contoso.com`")
    );
    assert!(out.contains("> moved from `access_policy.move_request`"), "{out}");
    assert!(
        out.contains("> ```hcl\n> moved {\n>   from = access_policy.move_request\n>   to   = access_policy.move\n> }\n> ```"),
        "{out}"
    );
    // Only the implied move gets the suggestion; a moved block's rename does not.
    assert_eq!(out.matches("```hcl").count(), 1, "{out}");
    insta::assert_snapshot!("security_and_moves", out);
}

#[test]
fn the_headline_names_the_tenant_and_the_verdict() {
    let named = MarkdownOptions { tenant: Some("contoso.onmicrosoft.com".into()), ..options() };
    let risky = markdown::render(&plan(vec![delete()]), &named);
    assert!(
        risky.lines().nth(1).unwrap().starts_with(
            "**pamform plan** for `contoso.onmicrosoft.com`: ⚠️ **security review**: 1 task ungated. "
        ),
        "{risky}"
    );
    let before = group("PAM Approvers", "pam@contoso.com", &["carol@contoso.com"]);
    let after = group("PAM Approvers (EU)", "pam@contoso.com", &["carol@contoso.com"]);
    let renamed = change(
        pamform::model::Address::group("eu"),
        pamform::plan::Action::Update,
        Some(before),
        Some(after),
    );
    let quiet = markdown::render(&plan(vec![renamed]), &named);
    let headline = quiet.lines().nth(1).unwrap();
    assert!(headline.contains("no security-relevant change. 0 to add, 1 to change"), "{quiet}");
}

/// `plan --format markdown` that cannot plan still writes the comment: the verdict "failed"
/// and each error with its place, or the error that stopped it.
#[test]
fn a_failed_plan_still_writes_its_comment() {
    use crate::support::cli::{QUICKSTART, Tenant, Workspace};
    let tenant = Tenant::start();
    // A configuration error.
    let ws = Workspace::new(
        &tenant,
        &QUICKSTART.replace("approval       = \"manual\"", "approval = \"sometimes\""),
    );
    let run = ws.run(&["plan", "--format", "markdown"]).expect(1);
    assert!(run.stdout.starts_with(markdown::PLAN_MARKER), "{}", run.stdout);
    assert!(run.stdout.contains("❌ **failed** with 2 errors"), "{}", run.stdout);
    assert!(run.stdout.contains("main.pam.hcl:"), "{}", run.stdout);
    // A plan the checks refuse: PAM on with a default group that is not managed or found.
    let ws = Workspace::new(
        &tenant,
        &QUICKSTART.replace(
            "default_approver_group = approver_group.approvers",
            "default_approver_group = \"nobody@contoso.onmicrosoft.com\"",
        ),
    );
    let run = ws.run(&["plan", "--format", "markdown"]).expect(1);
    assert!(
        run.stdout.starts_with(&format!(
            "{}\n**pamform plan** for `contoso.onmicrosoft.com`: ❌ **failed**",
            markdown::PLAN_MARKER
        )),
        "{}{}",
        run.stdout,
        run.stderr
    );
    // Sign-in refused: the error's text.
    let ws = Workspace::new(&tenant, QUICKSTART);
    let out =
        ws.command(&["plan", "--format", "markdown"]).env("PAMFORM_CLIENT_SECRET", "wrong").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("❌ **failed**")
            && stdout.contains("PAMFORM_CLIENT_SECRET")
            && !stdout.contains("wrong"),
        "{stdout}"
    );
}
