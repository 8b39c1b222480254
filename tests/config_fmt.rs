//! Formatting properties: formatting never changes what a configuration means, and
//! formatting formatted text changes nothing.

use pamform::config::{self, VarInputs, format::format_source};
use pamform::model::Configuration;
use proptest::prelude::*;

/// A comparable picture of the evaluated model (spans excluded).
fn picture(c: &Configuration) -> String {
    let mut out = String::new();
    for (a, g) in &c.groups {
        let members: Vec<&str> = g.members.iter().map(|m| m.value.as_str()).collect();
        out += &format!(
            "{a} {} {} {:?} {:?} {:?}\n",
            g.name.value, g.email.value, members, g.membership, g.meta.dependencies
        );
    }
    for (a, p) in &c.policies {
        out += &format!(
            "{a} {:?} {:?} {:?} {:?}\n",
            p.target.value, p.approval.value, p.approver_group.value, p.meta.dependencies
        );
    }
    if let Some(p) = &c.privileged_access {
        let accounts: Vec<&str> = p.system_accounts.iter().map(|m| m.value.as_str()).collect();
        out += &format!(
            "pam {} {:?} {accounts:?}\n",
            p.enabled.value,
            p.default_approver_group.as_ref().map(|g| &g.value)
        );
    }
    out
}

fn evaluate(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.pam.hcl"), text).unwrap();
    let loaded = config::load(dir.path(), &VarInputs::default())
        .unwrap_or_else(|e| panic!("{}\n{text}", config::render_plain(&e.diagnostics, &e.sources)));
    picture(&loaded.configuration)
}

/// Whitespace that may separate tokens on a line.
fn gap() -> impl Strategy<Value = String> {
    prop_oneof![Just(" ".to_string()), Just("   ".to_string()), Just("\t".to_string())]
}

/// Indentation, possibly wrong.
fn indent() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  ".to_string()),
        Just("      ".to_string()),
        Just("\t".to_string())
    ]
}

/// Between lines: nothing, blank lines or a comment.
fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\n".to_string()),
        Just("\n\n\n".to_string()),
        Just("# a comment\n".to_string()),
        Just("  // another   \n".to_string()),
        Just("/* block\n   comment */\n".to_string()),
    ]
}

fn line(key: &'static str, value: &'static str) -> impl Strategy<Value = String> {
    (indent(), gap(), gap(), filler(), prop_oneof![Just(""), Just("   "), Just(" # trailing")])
        .prop_map(move |(i, g1, g2, f, tail)| format!("{f}{i}{key}{g1}={g2}{value}{tail}\n"))
}

fn config_text() -> impl Strategy<Value = String> {
    (
        line("id", "\"contoso.onmicrosoft.com\""),
        line("name", "\"PAM Approvers\""),
        line("email", "\"pam-approvers@contoso.onmicrosoft.com\""),
        line("members", "[\n\"alice@contoso.onmicrosoft.com\", # first\n    \"bob@contoso.onmicrosoft.com\"\n    ]"),
        line("description", "<<EOT\n  kept   as is\nEOT"),
        line("task", "\"Exchange\\\\${each.value}\""),
        line("for_each", "toset([\"Set-Mailbox\", \"New-MoveRequest\"])"),
        line("approver_group", "approver_group.default"),
        (filler(), filler(), indent()),
    )
        .prop_map(|(id, name, email, members, desc, task, for_each, group, (f1, f2, ind))| {
            format!(
                "{f1}tenant {{\n{id}}}\n{f2}approver_group \"default\" {{\n{name}{email}{members}{desc}{ind}}}\naccess_policy \"p\"   {{\n{for_each}{task}{group}  lifecycle {{\n{ind}prevent_destroy = true\n}}\n}}"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn formatting_keeps_the_model_and_is_idempotent(text in config_text()) {
        let formatted = format_source(&text).unwrap();
        let again = format_source(&formatted).unwrap();
        prop_assert_eq!(&again, &formatted);
        prop_assert_eq!(evaluate(&formatted), evaluate(&text));
        prop_assert!(formatted.ends_with('\n') && !formatted.ends_with("\n\n"));
        for l in formatted.lines().filter(|l| !l.contains("kept")) {
            prop_assert!(!l.ends_with(' ') && !l.ends_with('\t'), "trailing whitespace in {:?}", l);
        }
        prop_assert!(formatted.contains("# first") && formatted.contains("  kept   as is\n"));
    }
}
