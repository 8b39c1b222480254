//! The wire corpus (`tests/corpus/`, format in its README): loading the captured answers,
//! replaying a request against the emulator, comparing answer shapes, and a replay server that
//! serves a capture to pamform's own tenant client.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pamform::wire::exchange::odata;
use pamform::wire::oauth;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::api::{Answer, Emu};
use super::{APP_ID, APP_SECRET, DOMAIN, TENANT_ID};
use pamform::tenant::{Client, ClientOptions, Credential, Endpoints, RetryPolicy, Secret};

/// Where the corpus lives.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The capture every token request of the client replay is answered with.
pub const TOKEN_CAPTURE: &str = "oauth/client-credentials-secret.json";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub kind: String,
    pub source: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    pub path: String,
    #[serde(default = "no_auth")]
    pub auth: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub form: Option<BTreeMap<String, String>>,
}

fn no_auth() -> String {
    "none".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub request: Request,
    /// Placeholder name -> JSON pointer into the step's answer.
    #[serde(default)]
    pub bind: BTreeMap<String, String>,
}

/// One captured request and Microsoft's answer to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    #[serde(skip)]
    pub name: String,
    pub provenance: Provenance,
    #[serde(default)]
    pub setup: Vec<Step>,
    pub request: Request,
    pub response: Response,
    #[serde(default)]
    pub trimmed: bool,
    #[serde(default)]
    pub exact: Vec<String>,
    #[serde(default)]
    pub client: Option<String>,
}

/// Every capture, by its path under the corpus root, in a stable order. A file that does not
/// parse, or whose provenance is incomplete, fails here with its name.
pub fn load_all() -> Vec<Capture> {
    let mut files = Vec::new();
    collect(&root(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut c: Capture =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not a corpus capture: {e}"));
            assert!(
                matches!(c.provenance.kind.as_str(), "documented" | "observed" | "assumed"),
                "{name}: provenance.kind must be documented, observed or assumed"
            );
            assert!(!c.provenance.source.trim().is_empty(), "{name}: provenance.source is empty");
            assert!(
                !c.trimmed || !c.provenance.note.trim().is_empty(),
                "{name}: a trimmed capture says in provenance.note what was left out"
            );
            c.name = name;
            c
        })
        .collect()
}

/// One capture by its path under the corpus root.
pub fn load(name: &str) -> Capture {
    load_all().into_iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no capture {name}"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Placeholder values: `{tenant}`, `{tenant_id}`, `{client_id}`, `{client_secret}`, `{base}`,
/// the client assertions of `assertions` and whatever a setup step bound.
pub type Vars = BTreeMap<String, String>;

pub fn vars_for(emu: &Emu) -> Vars {
    let mut v = Vars::new();
    v.insert("tenant".into(), DOMAIN.into());
    v.insert("tenant_id".into(), TENANT_ID.into());
    v.insert("client_id".into(), emu.running.app.client_id.clone());
    v.insert("client_secret".into(), emu.running.app.client_secret.clone());
    v.insert("base".into(), emu.base().to_string());
    v.extend(super::assertions::vars(emu.base()));
    v
}

/// Replaces the `{name}` placeholders that `vars` knows; other braces are left alone (Exchange
/// names such as `SystemMailbox{...}` contain them).
pub fn fill(text: &str, vars: &Vars) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn fill_value(value: &Value, vars: &Vars) -> Value {
    match value {
        Value::String(s) => Value::String(fill(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|v| fill_value(v, vars)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (fill(k, vars), fill_value(v, vars))).collect())
        }
        other => other.clone(),
    }
}

/// Sends one corpus request to the emulator, with the token its `auth` names.
pub async fn send(emu: &Emu, req: &Request, vars: &Vars) -> Answer {
    let path = fill(&req.path, vars);
    let url = if path.starts_with("http") { path } else { format!("{}{path}", emu.base()) };
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
    let mut rb = emu.http.request(method, url);
    if let Some(token) = token_for(emu, &req.auth).await {
        rb = rb.bearer_auth(token);
    }
    for (k, v) in &req.headers {
        rb = rb.header(k.as_str(), fill(v, vars));
    }
    if let Some(body) = &req.body {
        rb = rb.header("content-type", "application/json").body(fill_value(body, vars).to_string());
    }
    if let Some(form) = &req.form {
        let form: Vec<(String, String)> = form.iter().map(|(k, v)| (k.clone(), fill(v, vars))).collect();
        rb = rb.form(&form);
    }
    let r = rb.send().await.expect("the emulator answers");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap().to_vec();
    Answer { status, headers, bytes }
}

async fn token_for(emu: &Emu, auth: &str) -> Option<String> {
    let (resource, user) = match auth.split_once(':') {
        Some((kind, user)) => (kind, Some(user)),
        None => (auth, None),
    };
    let resource = match resource {
        "none" => return None,
        "exchange-app" | "exchange-user" => oauth::EXCHANGE_RESOURCE,
        "graph-app" | "graph-user" => oauth::GRAPH_RESOURCE,
        other => panic!("unknown auth {other:?}"),
    };
    Some(match user {
        Some(u) => emu.user_token(u, resource).await,
        None => emu.app_token(resource).await,
    })
}

/// Runs a capture's setup steps, binding their placeholders.
pub async fn setup(emu: &Emu, capture: &Capture, vars: &mut Vars) {
    for (i, step) in capture.setup.iter().enumerate() {
        let a = send(emu, &step.request, vars).await;
        assert!(
            a.status < 300,
            "{}: setup step {i} answered {}: {}",
            capture.name,
            a.status,
            String::from_utf8_lossy(&a.bytes)
        );
        let json = a.json();
        for (name, pointer) in &step.bind {
            let v = json
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{}: setup step {i} has nothing at {pointer}", capture.name));
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            vars.insert(name.clone(), v);
        }
    }
}

/// Where the emulator's answer differs in shape from the capture: one line per difference,
/// each naming the JSON pointer.
pub fn differences(capture: &Capture, answer: &Answer) -> Vec<String> {
    let mut out = Vec::new();
    let want = &capture.response;
    if answer.status != want.status {
        out.push(format!("status {} where the capture has {}", answer.status, want.status));
    }
    for (name, value) in &want.headers {
        match answer.headers.get(name.as_str()) {
            None => out.push(format!("header {name} missing")),
            Some(got) => {
                let exact = capture.exact.iter().any(|e| e.eq_ignore_ascii_case(&format!("header:{name}")));
                if exact && got.to_str().unwrap_or("") != value {
                    out.push(format!("header {name}: {:?} where the capture has {value:?}", got));
                }
            }
        }
    }
    if let Some(body) = &want.body {
        match serde_json::from_slice::<Value>(&answer.bytes) {
            Ok(got) => {
                shape("", body, &got, capture.trimmed, &mut out);
                for pointer in capture.exact.iter().filter(|e| !e.starts_with("header:")) {
                    let (w, g) = (body.pointer(pointer), got.pointer(pointer));
                    if w != g {
                        out.push(format!("{pointer}: {} where the capture has {}", show(g), show(w)));
                    }
                }
            }
            Err(_) => out.push(format!("body is not JSON: {}", String::from_utf8_lossy(&answer.bytes))),
        }
    }
    out
}

fn show(v: Option<&Value>) -> String {
    v.map(Value::to_string).unwrap_or_else(|| "nothing".into())
}

/// The shape rules of the corpus README: same keys (a subset when trimmed), same JSON types
/// (null matches any scalar; an array or object is never null), same string class, the same exception class in `|Class|text` messages, odata types equal, array items
/// like the first, an empty capture array answered by an empty one.
pub fn shape(at: &str, want: &Value, got: &Value, trimmed: bool, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Array(_) | Value::Object(_), Value::Null) => {
            out.push(format!("{at}: null where the capture has {}", kind(want)));
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(w), Value::Object(g)) => objects(at, w, g, trimmed, out),
        (Value::Array(w), Value::Array(g)) => match w.first() {
            Some(first) => {
                if g.is_empty() {
                    out.push(format!("{at}: empty array where the capture has items"));
                }
                for (i, item) in g.iter().enumerate() {
                    shape(&format!("{at}/{i}"), first, item, trimmed, out);
                }
            }
            None if !g.is_empty() => {
                out.push(format!("{at}: {} items where the capture has none", g.len()));
            }
            None => {}
        },
        (Value::String(w), Value::String(g)) => {
            let (cw, cg) = (string_class(w), string_class(g));
            if cw != cg {
                out.push(format!(
                    "{at}: string of class {cg} ({g:?}) where the capture has class {cw} ({w:?})"
                ));
            }
            let (xw, xg) = (exception_class(w), exception_class(g));
            if xw.is_some() && xw != xg {
                out.push(format!(
                    "{at}: exception class {} where the capture has {}",
                    show_str(xg),
                    show_str(xw)
                ));
            }
        }
        (Value::Number(_), Value::Number(_)) | (Value::Bool(_), Value::Bool(_)) => {}
        (w, g) => out.push(format!("{at}: {} where the capture has {}", kind(g), kind(w))),
    }
}

/// The exception class of an Exchange detail message, `|<Class>|<text>` (the id before the
/// first bar may be empty).
pub fn exception_class(s: &str) -> Option<&str> {
    let mut parts = s.splitn(3, '|');
    let (_id, class, _text) = (parts.next()?, parts.next()?, parts.next()?);
    (!class.is_empty() && !class.contains(' ')).then_some(class)
}

fn show_str(s: Option<&str>) -> String {
    s.map(|s| format!("{s:?}")).unwrap_or_else(|| "none".into())
}

fn objects(at: &str, w: &Map<String, Value>, g: &Map<String, Value>, trimmed: bool, out: &mut Vec<String>) {
    let wk: BTreeSet<&String> = w.keys().collect();
    let gk: BTreeSet<&String> = g.keys().collect();
    for missing in wk.difference(&gk) {
        out.push(format!("{at}/{}: missing", pointer_token(missing)));
    }
    if !trimmed {
        for extra in gk.difference(&wk) {
            out.push(format!("{at}/{}: not in the capture", pointer_token(extra)));
        }
    }
    for key in wk.intersection(&gk) {
        let here = format!("{at}/{}", pointer_token(key));
        if key.ends_with(odata::TYPE_SUFFIX) && w[*key] != g[*key] {
            out.push(format!("{here}: {} where the capture has {}", g[*key], w[*key]));
        }
        // A property the capture declares a collection of strings is an array of strings in
        // the answer too, even where the capture's array is empty.
        if key.ends_with(odata::TYPE_SUFFIX) && w[*key] == odata::COLLECTION_OF_STRING {
            // `X@odata.type` annotates `X`; an instance annotation's (`a.b@odata.type`) is `@a.b`.
            let bare = key.trim_end_matches(odata::TYPE_SUFFIX);
            let property = if w.contains_key(bare) { bare.to_string() } else { format!("@{bare}") };
            let property = property.as_str();
            match g.get(property) {
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
                Some(other) => out.push(format!(
                    "{at}/{}: {other} where the capture declares {}",
                    pointer_token(property),
                    odata::COLLECTION_OF_STRING
                )),
                None => {}
            }
        }
        shape(&here, &w[*key], &g[*key], trimmed, out);
    }
}

fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The class of a string value: a GUID, an ISO-8601 date-time, a `/Date(ms)/` date, an
/// address (`name@domain`, a UPN or SMTP address), or other.
pub fn string_class(s: &str) -> &'static str {
    if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 {
        "GUID"
    } else if s.starts_with("/Date(") && s.ends_with(")/") {
        "/Date()/"
    } else if looks_iso_datetime(s) {
        "ISO-8601 date-time"
    } else if looks_address(s) {
        "address"
    } else {
        "plain"
    }
}

fn looks_address(s: &str) -> bool {
    let plain = |p: &str| !p.is_empty() && !p.contains(|c: char| c.is_whitespace() || "/\\:,=|@".contains(c));
    matches!(s.split_once('@'), Some((local, domain)) if plain(local) && plain(domain) && domain.contains('.'))
}

fn looks_iso_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
}

/// What the replay server saw: method, path with query, and JSON body of each request that
/// was not a token request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: Option<Value>,
}

/// A server on 127.0.0.1 that answers token requests with [`TOKEN_CAPTURE`] and every other
/// request with one capture's answer (links in it pointed back at itself; from the second
/// request on without its `@odata.nextLink`, so a paging client ends).
pub struct Replay {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Replay {
    pub async fn start(capture: &Capture) -> Replay {
        let token = load(TOKEN_CAPTURE).response;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = capture.response.clone();
        let state = (base.clone(), seen.clone(), token, answer);
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method, uri: axum::http::Uri, body: axum::body::Bytes| {
                let (base, seen, token, answer) = state.clone();
                async move {
                    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
                    if uri.path().ends_with("/oauth2/v2.0/token") {
                        return reply(&token, &base, false);
                    }
                    let mut seen = seen.lock().unwrap();
                    let first = seen.is_empty();
                    seen.push(Seen {
                        method: method.to_string(),
                        path,
                        body: serde_json::from_slice(&body).ok(),
                    });
                    reply(&answer, &base, !first)
                }
            },
        );
        let tx = serve_until_stopped(listener, app);
        Replay { base, seen, shutdown: Some(tx) }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn reply(r: &Response, base: &str, last_page: bool) -> axum::response::Response {
    let mut builder = axum::http::Response::builder().status(r.status);
    for (k, v) in &r.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match &r.body {
        Some(b) => {
            let mut b = rebase_links(b, base);
            if last_page && let Some(o) = b.as_object_mut() {
                o.remove("@odata.nextLink");
            }
            builder = builder.header("content-type", "application/json");
            b.to_string()
        }
        None => String::new(),
    };
    builder.body(axum::body::Body::from(body)).unwrap()
}

/// Points every absolute `http(s)://host` link in a captured answer at the replay server, so
/// the client never leaves loopback.
fn rebase_links(v: &Value, base: &str) -> Value {
    match v {
        Value::String(s) if s.starts_with("https://") || s.starts_with("http://") => {
            match reqwest::Url::parse(s) {
                Ok(u)
                    if u.path().contains("/adminapi/")
                        || u.path().starts_with("/v1.0")
                        || u.path().starts_with("/beta") =>
                {
                    let q = u.query().map(|q| format!("?{q}")).unwrap_or_default();
                    Value::String(format!("{base}{}{q}", u.path()))
                }
                _ => v.clone(),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| rebase_links(x, base)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), rebase_links(x, base))).collect())
        }
        other => other.clone(),
    }
}

/// Serves `app` on `listener` in the current runtime until the returned sender is used (or
/// dropped).
pub fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    tx
}

/// A client of the replay server at `base`, signed in as the seeded app, making one attempt
/// per request (a replayed failure is final).
pub fn replay_client(base: &str) -> Client {
    let endpoints =
        Endpoints { login: base.to_string(), exchange: base.to_string(), graph: base.to_string() };
    let credential =
        Credential::Secret { client_id: APP_ID.to_string(), secret: Secret::new(APP_SECRET.to_string()) };
    let options = ClientOptions {
        retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
        ca_cert: None,
        ..ClientOptions::default()
    };
    Client::new(DOMAIN, endpoints, credential, options).expect("client")
}

/// Where the client's first request differs from the captured one: method, path (query
/// parameter names for Graph) and, for InvokeCommand, the cmdlet and its parameter names.
pub fn request_differences(capture: &Capture, seen: &Seen) -> Vec<String> {
    let mut out = Vec::new();
    let want = &capture.request;
    if !seen.method.eq_ignore_ascii_case(&want.method) {
        out.push(format!("method {} where the capture has {}", seen.method, want.method));
    }
    let vars = Vars::from([
        ("tenant".to_string(), DOMAIN.to_string()),
        ("tenant_id".to_string(), TENANT_ID.to_string()),
    ]);
    let want_path = fill(&want.path, &vars);
    let (wp, wq) = split_query(&want_path);
    let (gp, gq) = split_query(&seen.path);
    // A capture whose whole path is a link the service gave (`{delta_link}`) holds the client
    // to following that link as given, which the client call arranges; the rest is checked.
    let whole_link = want.path.starts_with('{') && want.path.ends_with('}') && !want.path.contains('/');
    if !whole_link && !placeholder_match(wp, gp) {
        out.push(format!("path {gp} where the capture has {wp}"));
    }
    if !whole_link && wq != gq {
        out.push(format!("query parameters {gq:?} where the capture has {wq:?}"));
    }
    if let Some(body) = &want.body
        && let Some(cmdlet) = body.pointer("/CmdletInput/CmdletName")
    {
        let got = seen.body.as_ref().and_then(|b| b.pointer("/CmdletInput/CmdletName"));
        if got != Some(cmdlet) {
            out.push(format!("cmdlet {} where the capture has {cmdlet}", show(got)));
        }
        let names = |b: Option<&Value>| -> BTreeSet<String> {
            b.and_then(|b| b.pointer("/CmdletInput/Parameters"))
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let (w, g) = (names(Some(body)), names(seen.body.as_ref()));
        if w != g {
            out.push(format!("parameters {g:?} where the capture has {w:?}"));
        }
        let params = |b: Option<&Value>| b.and_then(|b| b.pointer("/CmdletInput/Parameters")).cloned();
        if let (Some(Value::Object(w)), Some(Value::Object(g))) =
            (params(Some(body)), params(seen.body.as_ref()))
        {
            for (name, want) in &w {
                if let Some(got) = g.get(name) {
                    parameter_differences(name, want, got, &mut out);
                }
            }
        }
    }
    out
}

/// A parameter the client sends has the captured value's JSON type (an array stays an array,
/// a number a number, its items those of the capture) and a switch the captured value.
fn parameter_differences(name: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Bool(w), Value::Bool(g)) if w != g => {
            out.push(format!("parameter {name}: {g} where the capture has {w}"));
        }
        (Value::Array(w), Value::Array(g)) => {
            if let Some(first) = w.first() {
                for item in g {
                    parameter_differences(name, first, item, out);
                }
            }
        }
        (w, g) if kind(w) != kind(g) => {
            out.push(format!("parameter {name}: {} ({g}) where the capture has {}", kind(g), kind(w)));
        }
        _ => {}
    }
}

fn split_query(p: &str) -> (&str, BTreeSet<String>) {
    match p.split_once('?') {
        Some((path, q)) => {
            let names = q
                .split('&')
                .filter_map(|kv| kv.split('=').next())
                .map(|k| percent_encoding::percent_decode_str(k).decode_utf8_lossy().into_owned());
            (path, names.collect())
        }
        None => (p, BTreeSet::new()),
    }
}

/// Path segments equal, where a capture segment that is still a `{placeholder}` (a setup
/// binding the replay does not have) matches any segment.
fn placeholder_match(want: &str, got: &str) -> bool {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.split('/').collect(), got.split('/').collect());
    w.len() == g.len()
        && w.iter().zip(&g).all(|(w, g)| {
            (w.starts_with('{') && w.ends_with('}'))
                || percent_encoding::percent_decode_str(w)
                    .decode_utf8_lossy()
                    .eq_ignore_ascii_case(&percent_encoding::percent_decode_str(g).decode_utf8_lossy())
        })
}
