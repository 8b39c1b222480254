//! Normalisation rules shared by the diff, the checks and the emulator: what Microsoft treats
//! as equal must compare equal here, so that nothing shows as a change that is not one.

use std::collections::BTreeSet;

/// Email addresses and UPNs compare case-insensitively.
pub fn principal(s: &str) -> String {
    s.trim().to_lowercase()
}

/// [`principal`] without allocating when `s` is already in that form (plain lower-case
/// ASCII, trimmed), as nearly every address a tenant returns is: for scans over many members.
pub fn principal_cow(s: &str) -> std::borrow::Cow<'_, str> {
    let plain = s.is_ascii() && s.trim().len() == s.len() && !s.bytes().any(|b| b.is_ascii_uppercase());
    if plain { std::borrow::Cow::Borrowed(s) } else { std::borrow::Cow::Owned(principal(s)) }
}

/// A set of principals: case-folded, order and duplicates ignored.
pub fn principal_set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(principal).collect()
}

/// Strips an optional, case-insensitive `Exchange\` prefix from a task.
pub fn task_cmdlet(task: &str) -> &str {
    let t = task.trim();
    match t.get(..9) {
        Some(p) if p.eq_ignore_ascii_case("exchange\\") => &t[9..],
        _ => t,
    }
}

/// Whether a task is shaped `Exchange\Verb-Noun`.
pub fn is_task_shaped(task: &str) -> bool {
    let t = task.trim();
    let Some(prefix) = t.get(..9) else { return false };
    if !prefix.eq_ignore_ascii_case("exchange\\") {
        return false;
    }
    is_cmdlet_name(&t[9..])
}

/// `Verb-Noun`: letters on both sides of one hyphen, the noun may hold digits; any case
/// (PowerShell names are case-insensitive).
pub fn is_cmdlet_name(s: &str) -> bool {
    let Some((verb, noun)) = s.split_once('-') else { return false };
    !verb.is_empty()
        && verb.chars().all(|c| c.is_ascii_alphabetic())
        && !noun.is_empty()
        && noun.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A plausible SMTP address or UPN: `local@domain.tld`, no spaces, one `@`.
pub fn is_email_like(s: &str) -> bool {
    // Configurations and tenants list tens of thousands of addresses, nearly all ASCII:
    // those are checked byte by byte, the rest (and the rule's reference) below.
    if s.is_ascii() { is_ascii_email_like(s.as_bytes()) } else { is_unicode_email_like(s) }
}

/// [`is_email_like`] of ASCII text, in one pass over the bytes. For ASCII, `char`'s
/// whitespace and control classes are the bytes below 0x20, space and 0x7F, and its
/// alphanumerics are ASCII letters and digits.
fn is_ascii_email_like(s: &[u8]) -> bool {
    let Some(at) = s.iter().position(|&b| b == b'@') else { return false };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty() || local[0] == b'.' || local[local.len() - 1] == b'.' {
        return false;
    }
    let forbidden = |b: u8| b <= b' ' || b == 0x7F || matches!(b, b'<' | b'>' | b',' | b';' | b'"');
    if local.iter().any(|&b| forbidden(b)) || local.windows(2).any(|w| w == b"..") {
        return false;
    }
    let mut labels = 0;
    for label in domain.split(|&b| b == b'.') {
        labels += 1;
        if label.is_empty()
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
            || !label.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
    }
    labels >= 2
}

fn is_unicode_email_like(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    if local.is_empty() || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"');
    if local.chars().any(forbidden) {
        return false;
    }
    // One pass over the domain: labels of letters, digits and inner hyphens (which also
    // rules out a second `@` and every forbidden character), at least two of them.
    let mut labels = 0;
    for label in domain.split('.') {
        labels += 1;
        if label.is_empty()
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_alphanumeric() || c == '-')
        {
            return false;
        }
    }
    labels >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule as first written, clause by clause: the one-pass version must agree with it.
    fn email_rule(s: &str) -> bool {
        let Some((local, domain)) = s.split_once('@') else { return false };
        !local.is_empty()
            && !domain.contains('@')
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
            && domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
    }

    proptest::proptest! {
        #[test]
        fn email_check_agrees_with_the_rule(s in "[a-zA-Z0-9.@ <>,;\"\\-é\t\u{0}]{0,16}") {
            proptest::prop_assert_eq!(is_email_like(&s), email_rule(&s), "{:?}", s);
        }

        #[test]
        fn ascii_email_check_agrees_with_the_rule(s in "[a-zA-Z0-9.@ <>,;\"\\-_+\t\u{0}\u{b}\u{7f}~]{0,16}") {
            proptest::prop_assert_eq!(is_email_like(&s), email_rule(&s), "{:?}", s);
            proptest::prop_assert_eq!(is_ascii_email_like(s.as_bytes()), is_unicode_email_like(&s), "{:?}", s);
        }
    }

    #[test]
    fn tasks() {
        assert!(is_task_shaped("Exchange\\New-MoveRequest"));
        assert!(is_task_shaped("exchange\\Set-Mailbox"));
        assert!(!is_task_shaped("New-MoveRequest"));
        assert!(!is_task_shaped("Exchange\\NewMoveRequest"));
        assert!(!is_task_shaped("Exchange\\New-Move Request"));
        assert_eq!(task_cmdlet("EXCHANGE\\Set-Mailbox"), "Set-Mailbox");
        assert_eq!(task_cmdlet("Set-Mailbox"), "Set-Mailbox");
    }

    #[test]
    fn emails() {
        assert!(is_email_like("alice@contoso.onmicrosoft.com"));
        assert!(is_email_like("a.b+c@x-y.io"));
        assert!(!is_email_like("alice"));
        assert!(!is_email_like("alice@localhost"));
        assert!(!is_email_like("a@b@c.com"));
        assert!(!is_email_like("a b@c.com"));
        assert!(!is_email_like("a@.com"));
        assert!(!is_email_like(".a@c.com"));
    }

    #[test]
    fn principal_cow_agrees_with_principal() {
        for s in
            ["a@x.io", " A@x.io", "B@X.IO", "ä@x.io", "Ä@x.io", "a@x.io\t", "a@x.io\u{b}", "a b@x.io", ""]
        {
            assert_eq!(principal_cow(s), principal(s), "{s:?}");
        }
        assert!(matches!(principal_cow("a@x.io"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn principals_fold_case_and_order() {
        assert_eq!(principal_set(["B@x.io", "a@x.io", "b@X.io"]), principal_set(["a@x.io", "b@x.io"]));
    }
}
