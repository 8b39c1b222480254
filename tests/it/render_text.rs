//! The human plan: snapshots of the "Security impact" block and of move notes (a `moved`
//! block's rename, and an implied move with the block to write), and the summary line's move
//! count.

use pamform::views::plan::text as plan_text;

use crate::support::plans::*;

fn text(p: &pamform::plan::Plan) -> String {
    // Styles are escape codes; the snapshots read as the terminal shows them without colour.
    let s = plan_text::render(p);
    anstream::adapter::strip_str(&s).to_string()
}

#[test]
fn security_impact_names_every_fact() {
    let out = text(&security());
    let block =
        out.split("Security impact:\n").nth(1).expect("a security block").split("\n\n").next().unwrap();
    for fact in [
        "access_policy.journaling is destroyed: Journaling will no longer be gated",
        "access_policy.mailbox_tasks[\"Set-Mailbox\"] is replaced: Exchange\\Set-Mailbox is not gated between the removal and the re-creation",
        "approval of Exchange\\Set-Mailbox changes from manual to auto",
        "approvers added to approver_group.mailbox_approvers (pam-mailbox@contoso.onmicrosoft.com): bob@contoso.com",
        "access_policy.set_mailbox: Exchange\\Set-Mailbox moves from approver group pam-mailbox@contoso.onmicrosoft.com to pam-approvers@contoso.onmicrosoft.com, adding approvers: carol@contoso.com, dave@contoso.com, erin@contoso.com",
        "the default approver group changes from pam-approvers@contoso.onmicrosoft.com to pam-mailbox@contoso.onmicrosoft.com, adding approvers: alice@contoso.com, bob@contoso.com",
        "system accounts added (they bypass approval): svc-backup@contoso.com",
    ] {
        assert!(block.contains(fact), "missing `{fact}` in\n{block}");
    }
    assert!(!block.contains("PAM will be switched off"), "{block}");
    // After the changes, before the summary.
    let (before_block, after_block) = out.split_once("Security impact:").unwrap();
    assert!(before_block.contains("access_policy.journaling will be destroyed"));
    assert!(after_block.trim_end().ends_with("Plan: 2 to add, 2 to change, 3 to destroy, 2 to move."));
    insta::assert_snapshot!("security", out);
}

#[test]
fn pam_switched_off_is_said_first() {
    let out = text(&plan(vec![pam_off()]));
    let block = out.split("Security impact:\n").nth(1).unwrap();
    assert!(
        block.starts_with("  - PAM will be switched off: no task, role or role group needs approval"),
        "{block}"
    );
}

#[test]
fn nothing_to_say_means_no_block() {
    // A member removed and a description changed widen nothing; a move neither.
    let mut narrowed = update();
    if let (
        Some(pamform::plan::attributes::Attrs::Group(b)),
        Some(pamform::plan::attributes::Attrs::Group(a)),
    ) = (&narrowed.before, &mut narrowed.after)
    {
        a.members = b.members.iter().take(1).cloned().collect();
    }
    narrowed.changed = vec!["description".into(), "members".into()];
    for p in [plan(vec![narrowed]), plan(vec![moved()]), plan(vec![implied_move()]), plan(vec![import()])] {
        let out = text(&p);
        assert!(!out.contains("Security impact"), "{out}");
    }
    // PAM switched on with its defaults is not a widening either.
    let on = change(
        pamform::model::Address::privileged_access(),
        pamform::plan::Action::Update,
        Some(pam(false, None, &[])),
        Some(pam(true, Some(DEFAULT), &["svc-pamform@contoso.com"])),
    );
    assert!(!text(&plan(vec![on])).contains("Security impact"));
}

#[test]
fn a_moved_block_reads_like_terraform() {
    let out = text(&plan(vec![moved()]));
    assert!(out.contains("  # access_policy.moves has moved to access_policy.move_request\n"), "{out}");
    assert!(!out.contains("moved {"), "a moved block's move needs no suggestion: {out}");
    assert!(out.ends_with("Plan: 0 to add, 0 to change, 0 to destroy, 1 to move.\n"), "{out}");
    insta::assert_snapshot!("moved_block", out);
}

#[test]
fn an_implied_move_suggests_the_moved_block() {
    let out = text(&plan(vec![implied_move()]));
    assert!(out.contains("  # access_policy.move_request has moved to access_policy.move\n"), "{out}");
    assert!(
        out.contains(
            "  #   moved {\n  #     from = access_policy.move_request\n  #     to   = access_policy.move\n  #   }\n"
        ),
        "{out}"
    );
    insta::assert_snapshot!("implied_move", out);
}

#[test]
fn a_move_with_changes_keeps_the_action_header() {
    let out = text(&plan(vec![moved_and_updated()]));
    assert!(
        out.contains(
            "  # approver_group.mailbox_approvers will be updated in place\n  # (moved from approver_group.mailbox)\n"
        ),
        "{out}"
    );
    assert!(out.contains("Plan: 0 to add, 1 to change, 0 to destroy, 1 to move."), "{out}");
}

/// A policy that moves to another task leaves its old task ungated for good, not only for the
/// moment of a replacement; every renderer says so.
#[test]
fn a_policy_moved_to_another_task_leaves_the_old_one_ungated_for_good() {
    use pamform::model::{Address, Approval, ResourceType};
    use pamform::plan::{Action, Reason};
    let mut c = change(
        Address::new(ResourceType::AccessPolicy, "mailbox"),
        Action::Replace,
        Some(task_policy("Set-Mailbox", Approval::Manual, "pam@contoso.com")),
        Some(task_policy("Set-User", Approval::Manual, "pam@contoso.com")),
    );
    c.replace_paths = vec!["task".into()];
    c.reasons = vec![Reason::ReplaceBecauseCannotUpdate];
    let p = plan(vec![c]);
    let out = text(&p);
    assert!(
        out.contains("access_policy.mailbox now gates Exchange\\Set-User instead of Exchange\\Set-Mailbox: Exchange\\Set-Mailbox will no longer be gated by it"),
        "{out}"
    );
    assert!(out.contains("# note: Exchange\\Set-Mailbox will no longer be gated by this policy"), "{out}");
    assert!(!out.contains("briefly"), "{out}");
    let md = pamform::views::markdown::render(&p, &pamform::views::markdown::MarkdownOptions::default());
    assert!(md.contains("moved to `Exchange\\Set-User`"), "{md}");
    assert!(md.contains("once this policy gates its new target"), "{md}");
}
