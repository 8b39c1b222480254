//! The device-code sign-in pages, the emulator's stand-in for microsoft.com/devicelogin: enter
//! the code (prefilled from `?otc=CODE`), pick the account, consent to the app ("Continue" or
//! "Cancel"), then "you may close this window". Plain HTML forms posted back here: no script,
//! every reflected value escaped. Each form carries the code, which only the person who ran
//! the sign-in knows, and a POST whose `Origin` is another site than this page is refused, so
//! another web page cannot approve a sign-in for the user.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::store::Shared;
use super::tokens::{self, PendingSignIn};

/// Where the device-code answer sends the user (`verification_uri`).
pub(crate) const PATH: &str = "/_emulator/devicelogin";
const ACCOUNT_PATH: &str = "/_emulator/devicelogin/account";
const CONSENT_PATH: &str = "/_emulator/devicelogin/consent";

type S = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(PATH, get(code_page).post(code_entered))
        .route(ACCOUNT_PATH, post(account_picked))
        .route(CONSENT_PATH, post(consented))
}

/// `GET /_emulator/devicelogin[?otc=CODE]`: the code form.
async fn code_page(RawQuery(query): RawQuery) -> Response {
    let otc = form(query.unwrap_or_default().as_bytes()).get("otc");
    page(StatusCode::OK, "Enter code", &code_form(&otc, None))
}

/// `POST /_emulator/devicelogin` (`code`): the account picker, or the code form again with why.
async fn code_entered(State(s): S, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = foreign_origin(&s, &headers) {
        return refused;
    }
    let f = form(&body);
    let code = f.get("code");
    match tokens::pending_sign_in(&s, &code) {
        Ok(pending) => page(StatusCode::OK, "Pick an account", &account_form(&s, &pending, None)),
        Err(why) => page(StatusCode::BAD_REQUEST, "Enter code", &code_form(&code, Some(&why))),
    }
}

/// `POST /_emulator/devicelogin/account` (`code`, `user` or `other`): the consent page.
async fn account_picked(State(s): S, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = foreign_origin(&s, &headers) {
        return refused;
    }
    let f = form(&body);
    let code = f.get("code");
    let pending = match tokens::pending_sign_in(&s, &code) {
        Ok(p) => p,
        Err(why) => return page(StatusCode::BAD_REQUEST, "Enter code", &code_form(&code, Some(&why))),
    };
    let typed = f.get("other");
    let user = if typed.trim().is_empty() { f.get("user") } else { typed };
    if user.trim().is_empty() {
        let why = "pick an account, or type one under \"Use another account\"";
        return page(StatusCode::BAD_REQUEST, "Pick an account", &account_form(&s, &pending, Some(why)));
    }
    match tokens::sign_in_user(&s, &user) {
        Ok(upn) => page(StatusCode::OK, "Permissions requested", &consent_form(&pending, &upn)),
        Err(why) => page(StatusCode::BAD_REQUEST, "Pick an account", &account_form(&s, &pending, Some(&why))),
    }
}

/// `POST /_emulator/devicelogin/consent` (`code`, `user`, `decision` = `continue` or
/// `cancel`): approves or declines the sign-in.
async fn consented(State(s): S, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = foreign_origin(&s, &headers) {
        return refused;
    }
    let f = form(&body);
    let (code, user, decision) = (f.get("code"), f.get("user"), f.get("decision"));
    let decline = match decision.as_str() {
        "continue" => false,
        "cancel" => true,
        _ => {
            let why = "choose Continue or Cancel";
            return match tokens::pending_sign_in(&s, &code) {
                Ok(p) => page(
                    StatusCode::BAD_REQUEST,
                    "Permissions requested",
                    &with_error(why, &consent_form(&p, &user)),
                ),
                Err(e) => page(StatusCode::BAD_REQUEST, "Enter code", &code_form(&code, Some(&e))),
            };
        }
    };
    let app = match tokens::pending_sign_in(&s, &code) {
        Ok(p) => p.app,
        Err(why) => return page(StatusCode::BAD_REQUEST, "Enter code", &code_form(&code, Some(&why))),
    };
    if let Err(why) = tokens::approve_device_code(&s, &code, &user, decline) {
        return page(StatusCode::BAD_REQUEST, "Enter code", &code_form(&code, Some(&why)));
    }
    let body = if decline {
        format!(
            "<p>You cancelled the sign-in to <b>{}</b>. The application on your device is told the sign-in was declined.</p>\n<p>You may now close this window.</p>\n",
            esc(&app)
        )
    } else {
        format!(
            "<p>You have signed in to the <b>{}</b> application on your device as <b>{}</b>.</p>\n<p>You may now close this window.</p>\n",
            esc(&app),
            esc(user.trim())
        )
    };
    let title = if decline { "Sign-in cancelled" } else { "You are signed in" };
    page(StatusCode::OK, title, &body)
}

/// A POST sent from another site (its `Origin` is not this page's host) is refused: a
/// browser sends `Origin` with every form post, so this stops cross-site form posts.
/// The page must also have been opened by a loopback name (`127.0.0.1`, `[::1]`,
/// `localhost`): a site whose name its owner points at 127.0.0.1 (DNS rebinding) would
/// otherwise post from its own origin to its own host, and pass as this page.
fn foreign_origin(s: &Shared, headers: &HeaderMap) -> Option<Response> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin = match headers.get(header::ORIGIN) {
        None if loopback_host(host) => return None,
        None => "",
        Some(o) => o.to_str().unwrap_or("null"),
    };
    let same = origin
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host));
    if same && loopback_host(host) {
        return None;
    }
    let origin = if origin.is_empty() { host } else { origin };
    let body = format!(
        "<p class=\"error\">This form was sent from another site ({}), so it was not accepted.</p>\n<p>Open <a href=\"{url}\">{url}</a> and enter your code there.</p>\n",
        esc(origin),
        url = esc(&format!("{}{PATH}", s.base_url)),
    );
    Some(page(StatusCode::FORBIDDEN, "Not accepted", &body))
}

/// Whether a `Host` header names this machine by a loopback name.
fn loopback_host(host: &str) -> bool {
    match url::Url::parse(&format!("http://{host}/")).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The first form: the code.
fn code_form(code: &str, error: Option<&str>) -> String {
    let form = format!(
        "<p>Enter the code displayed on your app or device.</p>\n<form method=\"post\" action=\"{PATH}\">\n<label for=\"code\">Code</label>\n<input id=\"code\" name=\"code\" value=\"{}\" autocomplete=\"off\" autofocus required>\n<button type=\"submit\">Next</button>\n</form>\n",
        esc(code.trim())
    );
    match error {
        Some(e) => with_error(e, &form),
        None => form,
    }
}

/// The second form: who signs in, one of the tenant's users or another typed in.
fn account_form(s: &Shared, pending: &PendingSignIn, error: Option<&str>) -> String {
    let mut html = format!(
        "<p>Sign in to <b>{}</b>: pick an account.</p>\n<form method=\"post\" action=\"{ACCOUNT_PATH}\">\n<input type=\"hidden\" name=\"code\" value=\"{}\">\n<fieldset>\n<legend>Accounts of this tenant</legend>\n",
        esc(&pending.app),
        esc(&pending.user_code)
    );
    for (i, (upn, name)) in tokens::sign_in_users(s).iter().enumerate() {
        let label = match name {
            Some(n) if !n.is_empty() => format!("{} &lt;{}&gt;", esc(n), esc(upn)),
            _ => esc(upn),
        };
        let _ = writeln!(
            html,
            "<label><input type=\"radio\" name=\"user\" id=\"user{i}\" value=\"{}\"> {label}</label><br>",
            esc(upn)
        );
    }
    html.push_str(
        "</fieldset>\n<label for=\"other\">Use another account</label>\n<input id=\"other\" name=\"other\" type=\"email\" placeholder=\"someone@contoso.onmicrosoft.com\">\n<button type=\"submit\">Next</button>\n</form>\n",
    );
    match error {
        Some(e) => with_error(e, &html),
        None => html,
    }
}

/// The third form: consent, "Continue" or "Cancel".
fn consent_form(pending: &PendingSignIn, upn: &str) -> String {
    let scopes: String = pending
        .scope
        .split_whitespace()
        .map(|s| format!("<li><code>{}</code></li>", esc(s)))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "<p>Are you trying to sign in to <b>{app}</b> as <b>{user}</b>?</p>\n<p>Only continue if you started this sign-in yourself (you ran <code>pamform login</code>). It asks for:</p>\n<ul>\n{scopes}\n</ul>\n<form method=\"post\" action=\"{CONSENT_PATH}\">\n<input type=\"hidden\" name=\"code\" value=\"{code}\">\n<input type=\"hidden\" name=\"user\" value=\"{user}\">\n<button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button>\n<button type=\"submit\" name=\"decision\" value=\"continue\">Continue</button>\n</form>\n",
        app = esc(&pending.app),
        user = esc(upn),
        code = esc(&pending.user_code),
    )
}

fn with_error(error: &str, rest: &str) -> String {
    format!("<p class=\"error\" role=\"alert\">{}</p>\n{rest}", esc(error))
}

/// A whole page. The body is HTML built here, every reflected value already escaped.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t} - pamform emulator</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}input[name=code],input[name=other]{{display:block;width:100%;margin:.5rem 0 1rem;padding:.4rem}}button{{padding:.4rem 1.2rem;margin-right:.5rem}}.error{{color:#a4262c}}fieldset{{margin-bottom:1rem}}</style>\n</head>\n<body>\n<p><small>pamform emulator: sign-in</small></p>\n<h1>{t}</h1>\n{body}</body>\n</html>\n",
        t = esc(title)
    );
    let mut response = (status, Html(html)).into_response();
    // The pages carry codes: no caching, no framing by another page.
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

fn esc(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// A form body or query, by field name; a missing field reads as empty.
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

fn form(body: &[u8]) -> Form {
    Form(url::form_urlencoded::parse(body).into_owned().collect())
}
