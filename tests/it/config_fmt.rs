//! Formatting properties: formatting never changes what a configuration means, and
//! formatting formatted text changes nothing.

use pamform::config::{self, VarInputs, format::format_source};
use pamform::model::Configuration;
use proptest::prelude::*;

use crate::support::regressions;

/// A comparable picture of the whole evaluated model, spans excluded: every attribute of
/// every block, the meta-arguments, the tenant block, imports, moves and variables. A
/// formatter that dropped or changed any value would change it.
fn picture(c: &Configuration) -> String {
    let v = |s: &Option<pamform::model::Spanned<String>>| s.as_ref().map(|s| s.value.clone());
    let meta = |m: &pamform::model::Meta| {
        let ignore: Vec<&str> = m.lifecycle.ignore_changes.iter().map(|s| s.value.as_str()).collect();
        let depends: Vec<String> = m.depends_on.iter().map(|d| d.value.to_string()).collect();
        format!(
            "prevent_destroy={} ignore={ignore:?} depends_on={depends:?} deps={:?} key={:?}",
            m.lifecycle.prevent_destroy, m.dependencies, m.each_key
        )
    };
    let mut out = String::new();
    if let Some(t) = &c.tenant {
        out += &format!(
            "tenant {} {:?} {:?} {:?} {:?}\n",
            t.id.value,
            v(&t.exchange_url),
            v(&t.graph_url),
            v(&t.login_url),
            t.emulator.as_ref().map(|e| e.value.clone())
        );
    }
    for (a, g) in &c.groups {
        let members: Vec<&str> = g.members.iter().map(|m| m.value.as_str()).collect();
        out += &format!(
            "{a} name={:?} email={:?} alias={:?} description={:?} members={members:?} {:?} {}\n",
            g.name.value,
            g.email.value,
            v(&g.alias),
            v(&g.description),
            g.membership,
            meta(&g.meta)
        );
    }
    for (a, p) in &c.policies {
        out += &format!(
            "{a} {:?} {:?} {:?} {}\n",
            p.target.value,
            p.approval.value,
            p.approver_group.value,
            meta(&p.meta)
        );
    }
    if let Some(p) = &c.privileged_access {
        let accounts: Vec<&str> = p.system_accounts.iter().map(|m| m.value.as_str()).collect();
        out += &format!(
            "pam {} {:?} {accounts:?} {}\n",
            p.enabled.value,
            p.default_approver_group.as_ref().map(|g| &g.value),
            meta(&p.meta)
        );
    }
    for i in &c.imports {
        out += &format!("import {} {}\n", i.to.value, i.id.value);
    }
    for m in &c.moves {
        out += &format!("moved {} {}\n", m.from.value, m.to.value);
    }
    out += &format!("variables {:?}\n", c.variables);
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

/// `key = value` with random layout around it.
fn line(key: &'static str, value: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    (indent(), gap(), gap(), filler(), prop_oneof![Just(""), Just("   "), Just(" # trailing")], value)
        .prop_map(move |(i, g1, g2, f, tail, value)| format!("{f}{i}{key}{g1}={g2}{value}{tail}\n"))
        .boxed()
}

/// An optional line: present or left out.
fn maybe(key: &'static str, value: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    prop_oneof![Just(String::new()), line(key, value)].boxed()
}

/// A quoted string with characters a formatter could mishandle: runs of spaces, `=`, `#`,
/// `//`, braces and escapes.
fn text_value() -> impl Strategy<Value = String> {
    "[a-z =#/{}\\[\\]]{0,12}".prop_map(|s| format!("\"{}\"", s.replace('{', "x{")))
}

fn bool_value() -> impl Strategy<Value = String> {
    prop_oneof![Just("true".to_string()), Just("false".to_string())]
}

fn config_text() -> BoxedStrategy<String> {
    (
        (
            line("id", prop_oneof![Just("\"contoso.onmicrosoft.com\"".to_string()), Just("var.tenant".to_string())]),
            maybe("exchange_url", Just("\"https://outlook.office365.com\"".to_string())),
            line("name", text_value().prop_map(|s| format!("\"PAM{}", &s[1..]))),
            line("email", "[a-z]{1,8}".prop_map(|s| format!("\"pam-{s}@contoso.onmicrosoft.com\""))),
            maybe("alias", "[a-z]{1,8}".prop_map(|s| format!("\"{s}\""))),
        ),
        (
            line(
                "members",
                Just("[\n\"alice@contoso.onmicrosoft.com\", # first\n    \"bob@contoso.onmicrosoft.com\"\n    ]".to_string()),
            ),
            maybe("description", prop_oneof![text_value(), Just("<<EOT\n  kept   as is\nEOT".to_string())]),
            maybe("membership", prop_oneof![Just("\"additive\"".to_string()), Just("\"authoritative\"".to_string())]),
            line("task", Just("\"Exchange\\\\${each.value}\"".to_string())),
            line(
                "for_each",
                prop_oneof![
                    Just("toset([\"Set-Mailbox\", \"New-MoveRequest\"])".to_string()),
                    Just("{ a = \"Set-Mailbox\",   b =   \"Set-User\" }".to_string()),
                ],
            ),
        ),
        (
            maybe("approval", prop_oneof![Just("\"auto\"".to_string()), Just("\"manual\"".to_string())]),
            line("approver_group", Just("approver_group.default".to_string())),
            line("prevent_destroy", bool_value()),
            maybe("ignore_changes", Just("[members]".to_string())),
            line("enabled", bool_value()),
            (filler(), filler(), indent(), any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (id, url, name, email, alias),
                (members, desc, membership, task, for_each),
                (approval, group, prevent, ignore, enabled, (f1, f2, ind, extras)),
            )| {
                let extras = if extras {
                    "\nimport {\n to = access_policy.q\n   id = \"Exchange\\\\Set-Group\"\n}\nmoved {\nfrom = access_policy.old\n  to   = access_policy.q\n}\naccess_policy \"q\" {\n task = \"Exchange\\\\Set-Group\"\napprover_group = \"pam-x@contoso.onmicrosoft.com\"\n}\n"
                } else {
                    ""
                };
                format!(
                    "{f1}variable \"tenant\" {{\n  type = string\n default = \"contoso.onmicrosoft.com\"\n}}\ntenant {{\n{id}{url}}}\n{f2}approver_group \"default\" {{\n{name}{email}{alias}{members}{desc}{membership}  lifecycle {{\n{ignore}}}\n{ind}}}\naccess_policy \"p\"   {{\n{for_each}{task}{group}{approval}  lifecycle {{\n{ind}{prevent}}}\n}}\nprivileged_access {{\n{enabled}  default_approver_group = approver_group.default\n system_accounts = [\"svc@contoso.onmicrosoft.com\"]\n}}\n{extras}"
                )
            },
        )
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: regressions(), ..ProptestConfig::default() })]

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
        prop_assert!(formatted.contains("# first"));
        if text.contains("kept") {
            prop_assert!(formatted.contains("  kept   as is\n"));
        }
    }

    /// The same property on files written on Windows: a byte order mark and CRLF line
    /// endings survive, and the model is the same as the LF file's.
    #[test]
    fn formatting_windows_files_keeps_their_encoding(text in config_text()) {
        let windows = String::from('\u{feff}') + &text.replace('\n', "\r\n");
        let formatted = format_source(&windows).unwrap();
        let bom = formatted.starts_with('\u{feff}');
        prop_assert!(bom, "the byte order mark was dropped");
        prop_assert!(!formatted.replace("\r\n", "").contains('\n'), "a bare LF in {:?}", formatted);
        prop_assert_eq!(format_source(&formatted).unwrap(), formatted.clone());
        prop_assert_eq!(evaluate(&formatted), evaluate(&text));
        prop_assert_eq!(formatted.trim_start_matches('\u{feff}').replace("\r\n", "\n"), format_source(&text).unwrap());
    }

    /// A formatter must never change a value: replacing any one token of a formatted
    /// configuration by another value changes the model (so the picture above sees values).
    #[test]
    fn the_picture_sees_every_value(text in config_text()) {
        let base = evaluate(&text);
        for (from, to) in [("true", "false"), ("\"auto\"", "\"manual\""), ("[members]", "[description]"), ("PAM", "MAP")] {
            if let Some(i) = text.find(from) {
                let changed = format!("{}{to}{}", &text[..i], &text[i + from.len()..]);
                prop_assert_ne!(evaluate(&changed), base.clone(), "{} -> {} unnoticed", from, to);
            }
        }
    }
}

/// Windows files keep their byte order mark and CRLF line endings through `fmt`: only the
/// layout changes, and formatting again changes nothing.
#[test]
fn fmt_keeps_a_byte_order_mark_and_crlf_line_endings() {
    let text = "\u{feff}tenant {\r\nid = \"contoso.onmicrosoft.com\"\r\n}\r\n";
    let formatted = format_source(text).unwrap();
    assert_eq!(formatted, "\u{feff}tenant {\r\n  id = \"contoso.onmicrosoft.com\"\r\n}\r\n");
    assert_eq!(format_source(&formatted).unwrap(), formatted);
    assert_eq!(evaluate(&formatted), evaluate(text));

    let unix = "tenant {\nid = \"contoso.onmicrosoft.com\"\n}\n";
    assert_eq!(format_source(unix).unwrap(), "tenant {\n  id = \"contoso.onmicrosoft.com\"\n}\n");
}
