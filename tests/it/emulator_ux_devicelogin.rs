//! The emulator's device-code sign-in pages, driven over HTTP as a browser would, with the
//! real `pamform login` waiting on the other side: a sign-in completes, a cancelled one is
//! declined, unknown, expired and used codes get a page that says why, every reflected value
//! is escaped, and a form posted from another site is refused.

use crate::emulator_ux_support::{Browser, Login, base_of};
use crate::support::cli::{Tenant, Workspace};
use crate::support::upn;

fn login(tenant: &Tenant, cache: &tempfile::TempDir) -> (Workspace, Login) {
    let ws = Workspace::new(tenant, "");
    let mut cmd = ws.command(&["login"]);
    cmd.env("PAMFORM_CACHE_DIR", cache.path());
    let login = Login::start(cmd);
    (ws, login)
}

#[test]
fn a_person_signs_in_through_the_pages_and_login_completes() {
    let tenant = Tenant::start();
    let cache = tempfile::tempdir().unwrap();
    let (_ws, login) = login(&tenant, &cache);
    assert_eq!(login.url, format!("{}/_emulator/devicelogin", tenant.base_url));
    let browser = Browser::new();

    // The code page, prefilled from ?otc= as Microsoft's links allow.
    let entry = browser.get(&format!("{}?otc={}", login.url, login.code));
    assert_eq!(entry.status, 200);
    assert!(entry.body.contains(&format!("value=\"{}\"", login.code)), "{}", entry.body);
    assert!(!entry.body.contains("<script"), "no script: {}", entry.body);

    // The account picker lists the tenant's users; a code is accepted in any case.
    let accounts = browser.submit(&tenant.base_url, &entry, &[("code", &login.code.to_lowercase())]);
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    assert!(accounts.body.contains("Microsoft Exchange REST API Based Powershell"), "{}", accounts.body);
    for user in ["alice", "bob", "dave"] {
        assert!(accounts.body.contains(&format!("value=\"{}\"", upn(user))), "{user}: {}", accounts.body);
    }

    // A typed account wins over the picked one.
    let consent =
        browser.submit(&tenant.base_url, &accounts, &[("user", &upn("alice")), ("other", &upn("bob"))]);
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains(&format!("as <b>{}</b>", upn("bob"))), "{}", consent.body);
    assert!(consent.body.contains(">Continue</button>") && consent.body.contains(">Cancel</button>"));

    let done = browser.submit(&tenant.base_url, &consent, &[("decision", "continue")]);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("You have signed in"), "{}", done.body);
    assert!(done.body.contains("You may now close this window"), "{}", done.body);

    let code = login.code.clone();
    let run = login.finish().expect(0);
    assert!(run.stdout.contains(&format!("Signed in as {}", upn("bob"))), "{}", run.stdout);

    // The code is spent: entering it again says so instead of signing anyone in.
    let again = browser.post(&format!("{}/_emulator/devicelogin", tenant.base_url), &[("code".into(), code)]);
    assert_eq!(again.status, 400);
    assert!(again.body.contains("no sign-in is waiting for the code"), "{}", again.body);
}

#[test]
fn cancel_declines_the_sign_in() {
    let tenant = Tenant::start();
    let cache = tempfile::tempdir().unwrap();
    let (_ws, login) = login(&tenant, &cache);
    let done = Browser::new().sign_in(&login.url, &login.code, &upn("carol"), "cancel");
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("You cancelled the sign-in"), "{}", done.body);
    let code = login.code.clone();
    let run = login.finish().expect(1);
    assert!(run.stderr.contains("declined"), "{}", run.stderr);
    assert!(!cache.path().join("session.json").exists(), "no sign-in kept");
    // The declined code cannot be approved afterwards, by the page or by a script.
    let page =
        Browser::new().post(&format!("{}/_emulator/devicelogin", tenant.base_url), &[("code".into(), code)]);
    assert_eq!(page.status, 400, "{}", page.body);
}

#[test]
fn unknown_expired_and_used_codes_get_a_page_with_the_reason() {
    let tenant = Tenant::start();
    let browser = Browser::new();
    let url = format!("{}/_emulator/devicelogin", tenant.base_url);

    let unknown = browser.post(&url, &[("code".into(), "ZZZZZZZZZ".into())]);
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("no sign-in is waiting for the code"), "{}", unknown.body);
    assert!(unknown.body.contains("run `pamform login` again"), "{}", unknown.body);
    assert!(unknown.body.contains("<form"), "the form is offered again: {}", unknown.body);
    let empty = browser.post(&url, &[]);
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("enter the code"), "{}", empty.body);

    let cache = tempfile::tempdir().unwrap();
    let (_ws, login) = login(&tenant, &cache);
    // An unknown user on the account step, and a missing decision on the consent step.
    let accounts = browser.submit(&tenant.base_url, &browser.get(&login.url), &[("code", &login.code)]);
    let ghost = browser.submit(&tenant.base_url, &accounts, &[("other", "ghost@contoso.onmicrosoft.com")]);
    assert_eq!(ghost.status, 400);
    assert!(
        ghost.body.contains("no user &#x27;ghost@contoso.onmicrosoft.com&#x27; in the tenant"),
        "{}",
        ghost.body
    );
    let nobody = browser.submit(&tenant.base_url, &accounts, &[]);
    assert_eq!(nobody.status, 400);
    assert!(nobody.body.contains("pick an account"), "{}", nobody.body);
    let consent = browser.submit(&tenant.base_url, &accounts, &[("user", &upn("erin"))]);
    let undecided = browser.submit(&tenant.base_url, &consent, &[("decision", "maybe")]);
    assert_eq!(undecided.status, 400);
    assert!(undecided.body.contains("choose Continue or Cancel"), "{}", undecided.body);

    // Past its 15 minutes the code is refused with the reason, and login ends.
    tenant.advance_clock(901);
    let expired = browser.submit(&tenant.base_url, &consent, &[("decision", "continue")]);
    assert_eq!(expired.status, 400);
    assert!(expired.body.contains("has expired"), "{}", expired.body);
    let run = login.finish().expect(1);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
}

#[test]
fn reflected_input_is_escaped() {
    let tenant = Tenant::start();
    let browser = Browser::new();
    let url = format!("{}/_emulator/devicelogin", tenant.base_url);
    let attack = "\"><script>alert(1)</script><img src=x onerror=alert(2)>";
    let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("otc", attack).finish();
    for page in
        [browser.get(&format!("{url}?{query}")), browser.post(&url, &[("code".into(), attack.into())])]
    {
        assert!(!page.body.contains("<script>"), "{}", page.body);
        assert!(!page.body.contains("<img"), "{}", page.body);
        assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", page.body);
    }
    // The typed account is reflected in the error too.
    let cache = tempfile::tempdir().unwrap();
    let (_ws, login) = login(&tenant, &cache);
    let accounts = browser.submit(&tenant.base_url, &browser.get(&login.url), &[("code", &login.code)]);
    let page = browser.submit(&tenant.base_url, &accounts, &[("other", attack)]);
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("<script>") && !page.body.contains("<img"), "{}", page.body);
    tenant.advance_clock(901);
    let _ = login.finish();
}

#[test]
fn a_form_posted_from_another_site_is_refused() {
    let tenant = Tenant::start();
    let cache = tempfile::tempdir().unwrap();
    let (_ws, login) = login(&tenant, &cache);
    let mut browser = Browser::new();
    browser.origin = Some("http://evil.example".to_string());
    let accounts = browser.post(
        &format!("{}/_emulator/devicelogin/consent", tenant.base_url),
        &[
            ("code".into(), login.code.clone()),
            ("user".into(), upn("admin")),
            ("decision".into(), "continue".into()),
        ],
    );
    assert_eq!(accounts.status, 403, "{}", accounts.body);
    assert!(accounts.body.contains("sent from another site (http://evil.example)"), "{}", accounts.body);

    // From the page's own origin (as a browser on it sends) the same sign-in goes through.
    browser.origin = Some(base_of(&login.url));
    let done = browser.sign_in(&login.url, &login.code, &upn("alice"), "continue");
    assert_eq!(done.status, 200, "{}", done.body);
    let run = login.finish().expect(0);
    assert!(run.stdout.contains(&format!("Signed in as {}", upn("alice"))), "{}", run.stdout);
}
