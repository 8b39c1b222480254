//! The cheaper drift check changes nothing a user sees: a state file is accepted or refused
//! exactly as the tree-built checksum judged it (keys moved, a member written twice, unicode
//! escapes, numbers written another way), and the checks read the tenant as before.

use pamform::state::{FORMAT_VERSION, State};
use serde_json::Value;

use crate::support::cli::{QUICKSTART, Tenant, Workspace};

const STATE: &str = "pamform.state.json";

/// The verdict on a state file as it was given before the checksum was streamed: the file
/// parsed into a tree, `checksum` taken out of its object (a swap remove, as the tree's map
/// does it), the rest serialised compactly and digested.
fn accepted_by_the_tree(bytes: &[u8]) -> bool {
    let Ok(mut body) = serde_json::from_slice::<Value>(bytes) else { return false };
    let claimed = body.as_object_mut().and_then(|o| o.remove("checksum"));
    if body.get("format_version").and_then(Value::as_u64) != Some(u64::from(FORMAT_VERSION)) {
        return false;
    }
    let digest = format!("sha256:{}", pamform::files::sha256_hex(&serde_json::to_vec(&body).unwrap()));
    if claimed != Some(Value::String(digest)) {
        return false;
    }
    serde_json::from_value::<State>(body).is_ok_and(|s| s.validate(std::path::Path::new(STATE)).is_ok())
}

/// The state file's text with its last member, `checksum`, cut out: (text before it, the
/// member's line).
fn split_checksum(text: &str) -> (String, String) {
    let at = text.rfind(",\n  \"checksum\": ").expect("checksum is the last member");
    let line = text[at + 2..].trim_end().trim_end_matches('}').trim_end().to_string();
    (format!("{}\n}}\n", &text[..at]), line)
}

/// A top-level member's line (`  "name": value`), for members written on one line.
fn member_line(text: &str, name: &str) -> String {
    let start = text.find(&format!("\n  \"{name}\": ")).expect("member") + 1;
    let end = start + text[start..].find('\n').unwrap();
    text[start..end].trim_end_matches(',').to_string()
}

#[test]
fn a_state_file_is_judged_as_the_tree_judged_it() {
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, QUICKSTART);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["drift", "--json"]).expect(0);
    let original = std::fs::read_to_string(ws.file(STATE)).unwrap();
    let (body, checksum) = split_checksum(&original);
    let tenant_line = member_line(&original, "tenant");
    let serial_line = member_line(&original, "serial");
    let tenant_value = tenant_line.split_once(": ").unwrap().1.trim_matches('"').to_string();
    let escaped: String = tenant_value.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();

    let variants: Vec<(&str, String)> = vec![
        ("as written", original.clone()),
        // The checksum moved up: the tree's swap remove puts the last member in its place.
        (
            "checksum first",
            original
                .replacen("{\n", &format!("{{\n{checksum},\n"), 1)
                .replace(&format!(",\n{checksum}\n}}"), "\n}"),
        ),
        (
            "checksum before the tenant",
            original
                .replacen(&format!("{tenant_line},\n"), &format!("{checksum},\n{tenant_line},\n"), 1)
                .replace(&format!(",\n{checksum}\n}}"), "\n}"),
        ),
        (
            "checksum second to last",
            body.replacen("  \"resources\": ", &format!("{checksum},\n  \"resources\": "), 1),
        ),
        // A member written twice with the same value: the tree kept one.
        (
            "tenant twice",
            original.replacen(&format!("{tenant_line},\n"), &format!("{tenant_line},\n{tenant_line},\n"), 1),
        ),
        (
            "checksum twice",
            original.replacen(&format!("{tenant_line},\n"), &format!("{tenant_line},\n{checksum},\n"), 1),
        ),
        ("serial first", {
            let without = original.replacen(&format!("{serial_line},\n"), "", 1);
            without.replacen("{\n", &format!("{{\n{serial_line},\n"), 1)
        }),
        (
            "tenant in unicode escapes",
            original.replacen(&tenant_line, &format!("  \"tenant\": \"{escaped}\""), 1),
        ),
        ("serial as a decimal", {
            let (k, v) = serial_line.split_once(": ").unwrap();
            original.replacen(&serial_line, &format!("{k}: {v}.0"), 1)
        }),
        // A resource's member twice with the same value, inside the file.
        (
            "a resource's name twice",
            original.replacen(
                "      \"name\": \"approvers\",\n",
                "      \"name\": \"approvers\",\n      \"name\": \"approvers\",\n",
                1,
            ),
        ),
        ("version as a decimal", original.replacen("\"format_version\": 1,", "\"format_version\": 1.0,", 1)),
        ("compact", {
            let v: Value = serde_json::from_str(&original).unwrap();
            serde_json::to_string(&v).unwrap()
        }),
    ];
    for (name, text) in &variants[1..] {
        assert_ne!(text, &original, "{name} changes the file");
    }
    let mut wrong = Vec::new();
    for (name, text) in &variants {
        let expected = accepted_by_the_tree(text.as_bytes());
        std::fs::write(ws.file(STATE), text).unwrap();
        let run = ws.run(&["drift", "--json"]);
        let accepted = run.code == 0;
        if accepted != expected || (!accepted && !run.stderr.contains(STATE)) {
            wrong.push(format!(
                "{name}: exit {} (the tree accepted it: {expected})\n{}",
                run.code, run.stderr
            ));
        }
    }
    std::fs::write(ws.file(STATE), &original).unwrap();
    assert!(wrong.is_empty(), "judged otherwise than before:\n{}", wrong.join("\n"));
    // The variants that matter are both accepted and refused.
    let verdicts: Vec<bool> = variants.iter().map(|(_, t)| accepted_by_the_tree(t.as_bytes())).collect();
    assert!(verdicts.contains(&true) && verdicts.contains(&false), "{verdicts:?}");
}

/// What a drift report says about the tenant, without how it was read.
fn findings(run: &crate::support::cli::Run) -> Value {
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    serde_json::json!({
        "code": run.code,
        "in_sync": report["in_sync"],
        "differences": report["differences"],
        "unmanaged": report["unmanaged"],
        "summary": report["summary"],
    })
}

/// After every out-of-band change, a check through the delta cache reports exactly what a
/// full read (in another directory with the same state, so this cache is not rewritten)
/// reports: members added, removed, added and removed again, the group deleted and made
/// again, an expired link, a cache of another format.
#[test]
fn every_change_is_reported_through_the_cache_as_a_full_read_reports_it() {
    use pamform::wire::exchange::cmdlet;
    use serde_json::json;

    use crate::support::upn;

    // One more approver group, that no policy names, so that it can be deleted.
    let config = format!(
        "{QUICKSTART}\napprover_group \"spare\" {{\n  name    = \"Spare Approvers\"\n  email   = \"spare-approvers@contoso.onmicrosoft.com\"\n  members = [\"alice@contoso.onmicrosoft.com\"]\n}}\n"
    );
    let tenant = Tenant::start();
    let ws = Workspace::new(&tenant, &config);
    ws.run(&["apply", "--auto-approve"]).expect(0);
    ws.run(&["drift", "--json"]).expect(0);
    let group = upn("pam-approvers");
    let spare = upn("spare-approvers");
    // `delta`: whether the check goes through the cache's link (else it reads everything).
    let compare = |what: &str, delta: bool| {
        let through_cache = ws.run(&["-v", "drift", "--json"]);
        let how = if delta { "read changes through the delta cache" } else { "read the whole tenant" };
        assert!(through_cache.stderr.contains(how), "{what}: {}", through_cache.stderr);
        let full = Workspace::new(&tenant, &config);
        std::fs::copy(ws.file(STATE), full.file(STATE)).unwrap();
        let full_read = full.run(&["drift", "--no-cache", "--json"]);
        assert_eq!(findings(&through_cache), findings(&full_read), "{what}\n{}", through_cache.stderr);
        findings(&through_cache)
    };
    let member = |verb: &str, who: &str| {
        tenant.invoke(verb, json!({"Identity": group, "Member": upn(who)}));
    };

    member(cmdlet::ADD_GROUP_MEMBER, "mallory");
    assert_eq!(compare("mallory added", true)["code"], json!(2));
    member(cmdlet::REMOVE_GROUP_MEMBER, "bob");
    compare("bob removed", true);
    member(cmdlet::ADD_GROUP_MEMBER, "erin");
    member(cmdlet::REMOVE_GROUP_MEMBER, "erin");
    compare("erin added and removed again", true);
    member(cmdlet::REMOVE_GROUP_MEMBER, "mallory");
    member(cmdlet::ADD_GROUP_MEMBER, "bob");
    assert_eq!(compare("back as applied", true)["code"], json!(0));
    member(cmdlet::REMOVE_GROUP_MEMBER, "alice");
    member(cmdlet::ADD_GROUP_MEMBER, "alice");
    assert_eq!(compare("alice removed and added again", true)["code"], json!(0));

    // The group deleted, then made again with other members.
    tenant.invoke(cmdlet::REMOVE_GROUP, json!({"Identity": spare}));
    assert_eq!(compare("group deleted", true)["code"], json!(2));
    let recreate = |members: Vec<String>| {
        tenant.invoke(
            cmdlet::NEW_GROUP,
            json!({"Name": "Spare Approvers", "Alias": "spare-approvers", "Type": "Security",
                   "PrimarySmtpAddress": spare, "Members": members}),
        );
    };
    recreate(vec![upn("alice"), upn("mallory")]);
    assert_eq!(compare("group made again", true)["code"], json!(2));
    // Deleted and made again between two checks.
    tenant.invoke(cmdlet::REMOVE_GROUP, json!({"Identity": spare}));
    recreate(vec![upn("alice")]);
    assert_eq!(compare("group deleted and made again", true)["code"], json!(2));

    // An expired link: the check reads everything, and agrees.
    tenant.advance_clock(8 * 24 * 3600);
    member(cmdlet::REMOVE_GROUP_MEMBER, "bob");
    compare("expired link", false);
    member(cmdlet::ADD_GROUP_MEMBER, "mallory");
    compare("after the expired link", true);

    // A cache of another format is read past, not trusted.
    let cache = ws.file(".pamform/drift-cache.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    let old = text.replacen(
        &format!("\"format_version\":{}", pamform::drift::cache::FORMAT_VERSION),
        "\"format_version\":2",
        1,
    );
    assert_ne!(old, text);
    std::fs::write(&cache, old).unwrap();
    member(cmdlet::REMOVE_GROUP_MEMBER, "mallory");
    compare("cache of another format", false);
    member(cmdlet::ADD_GROUP_MEMBER, "frank");
    compare("after the cache of another format", true);
}
