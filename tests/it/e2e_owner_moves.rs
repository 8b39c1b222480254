//! One owner per remote object, through the real binary against the emulator: renaming an
//! address (or a `for_each` key) moves its object instead of destroying it, `moved` blocks
//! are validated offline, an import never takes an object another address manages,
//! `prevent_destroy` stops a replacement, and a group still named by email is never removed.

use crate::support::cli::{QUICKSTART, Tenant, Workspace, converged, policy_ids, state_ids};

#[test]
fn renaming_a_policy_keeps_its_object_under_the_new_address() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let ids = policy_ids(&tenant);
    assert_eq!(ids.len(), 2, "{ids:?}");
    let old_id = state_ids(&ws)["access_policy.move_request"].clone();
    let writes = tenant.write_count();

    ws.configure(&tenant, &QUICKSTART.replace("access_policy \"move_request\"", "access_policy \"move\""));
    let plan = ws.run(&["plan"]).expect(0);
    assert!(plan.stdout.contains("access_policy.move"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("to import") || plan.stdout.contains("0 to import"), "{}", plan.stdout);
    assert!(plan.stdout.contains("0 to destroy"), "{}", plan.stdout);
    converged(&ws);

    assert_eq!(policy_ids(&tenant), ids, "the same policies, with the same ids");
    assert_eq!(tenant.write_count(), writes, "a move changes only state");
    let state = state_ids(&ws);
    assert_eq!(state.get("access_policy.move"), Some(&old_id));
    assert!(!state.contains_key("access_policy.move_request"), "{state:?}");
    assert_eq!(state.values().filter(|id| **id == old_id).count(), 1, "{state:?}");
}

#[test]
fn for_each_set_turned_into_a_map_moves_every_instance() {
    let tenant = Tenant::start();
    let head = &QUICKSTART[..QUICKSTART.find("access_policy").unwrap()];
    let set = format!(
        "{head}access_policy \"tasks\" {{\n  for_each       = toset([\"New-MoveRequest\", \"Set-Mailbox\"])\n  task           = \"Exchange\\\\${{each.value}}\"\n  approver_group = approver_group.approvers\n}}\n"
    );
    let ws = Workspace::new(&tenant, &set);
    converged(&ws);
    let ids = policy_ids(&tenant);
    let before = state_ids(&ws);

    let map = set.replace(
        "toset([\"New-MoveRequest\", \"Set-Mailbox\"])",
        "{ move = \"New-MoveRequest\", mailbox = \"Set-Mailbox\" }",
    );
    ws.configure(&tenant, &map);
    let plan = ws.run(&["plan"]).expect(0);
    assert!(plan.stdout.contains("0 to destroy"), "{}", plan.stdout);
    converged(&ws);

    assert_eq!(policy_ids(&tenant), ids);
    let after = state_ids(&ws);
    assert_eq!(
        after.get("access_policy.tasks[\"move\"]"),
        before.get("access_policy.tasks[\"New-MoveRequest\"]")
    );
    assert_eq!(
        after.get("access_policy.tasks[\"mailbox\"]"),
        before.get("access_policy.tasks[\"Set-Mailbox\"]")
    );
    assert_eq!(after.len(), before.len(), "{after:?}");
}

#[test]
fn a_moved_block_whose_from_is_still_declared_fails_validation() {
    let tenant = Tenant::start();
    let hcl = format!(
        "{QUICKSTART}\nmoved {{\n  from = access_policy.move_request\n  to   = access_policy.set_mailbox\n}}\n"
    );
    let ws = Workspace::new(&tenant, &hcl);
    let run = ws.run(&["validate"]).expect(1);
    assert!(run.all().contains("pamform::moved_still_declared"), "{}", run.all());
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), 0);
}

#[test]
fn importing_an_object_another_address_manages_is_refused() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    converged(&ws);
    let id = state_ids(&ws)["access_policy.move_request"].clone();

    ws.configure(&tenant, &QUICKSTART.replace("access_policy \"move_request\"", "access_policy \"move\""));
    let run = ws.run(&["import", "access_policy.move", &id]).expect(1);
    // The message may be wrapped: compare its words.
    let words: Vec<&str> = run.stderr.split_whitespace().filter(|w| *w != "|" && *w != "x").collect();
    let said = words.join(" ");
    assert!(said.contains("already managed by access_policy.move_request"), "{said}");
    assert!(said.contains("pamform state rm access_policy.move_request"), "{said}");
    let state = state_ids(&ws);
    assert!(!state.contains_key("access_policy.move"), "{state:?}");

    // The same through an import block.
    ws.configure(
        &tenant,
        &format!(
            "{}\nimport {{\n  to = access_policy.move\n  id = \"{id}\"\n}}\n",
            QUICKSTART.replace("access_policy \"move_request\"", "access_policy \"move\"")
        ),
    );
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::import_owned"), "{}", run.stderr);
}

#[test]
fn prevent_destroy_stops_a_replacement() {
    let tenant = Tenant::start();
    let guarded = QUICKSTART.replacen(
        "approver_group = approver_group.approvers\n}",
        "approver_group = approver_group.approvers\n  lifecycle {\n    prevent_destroy = true\n  }\n}",
        1,
    );
    assert_ne!(guarded, QUICKSTART);
    let ws = Workspace::new(&tenant, &guarded);
    converged(&ws);
    let ids = policy_ids(&tenant);
    let writes = tenant.write_count();

    ws.configure(&tenant, &guarded.replacen("approval       = \"manual\"", "approval       = \"auto\"", 1));
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::prevent_destroy"), "{}", run.stderr);
    assert!(run.stderr.contains("access_policy.move_request"), "{}", run.stderr);
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), writes);
    assert_eq!(policy_ids(&tenant), ids);
}

#[test]
fn a_group_still_named_by_its_email_is_not_removed() {
    let tenant = Tenant::start();
    let others = "\napprover_group \"others\" {\n  name    = \"Others\"\n  email   = \"others@contoso.onmicrosoft.com\"\n  members = [\"carol@contoso.onmicrosoft.com\"]\n}\n";
    // set_mailbox names the second group by its email string, not by reference.
    let named = QUICKSTART.replacen(
        "task           = \"Exchange\\\\Set-Mailbox\"\n  approval       = \"manual\"\n  approver_group = approver_group.approvers",
        "task           = \"Exchange\\\\Set-Mailbox\"\n  approval       = \"manual\"\n  approver_group = \"others@contoso.onmicrosoft.com\"",
        1,
    );
    assert_ne!(named, QUICKSTART);
    let ws = Workspace::new(&tenant, &format!("{named}{others}"));
    converged(&ws);
    let writes = tenant.write_count();

    ws.configure(&tenant, &named);
    let run = ws.run(&["plan"]).expect(1);
    assert!(run.stderr.contains("pamform::group_still_named"), "{}", run.stderr);
    assert!(run.stderr.contains("access_policy.set_mailbox"), "{}", run.stderr);
    ws.run(&["apply", "--auto-approve"]).expect(1);
    assert_eq!(tenant.write_count(), writes);

    // Pointing the policy elsewhere in the same change lets the group go.
    ws.configure(&tenant, QUICKSTART);
    converged(&ws);
    assert!(!state_ids(&ws).contains_key("approver_group.others"));
}
