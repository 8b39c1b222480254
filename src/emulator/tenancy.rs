//! Many tenants in one emulator, routed as Microsoft routes them: the token endpoints by the
//! tenant in the path (`/{tenant}/oauth2/v2.0/token`), the Exchange admin API by the tenant in
//! its path (`/adminapi/beta/{tenant}/InvokeCommand`), Graph by the access token's `tid`
//! claim. Each tenant is a whole emulated tenant of its own (`store::Shared`: directory, PAM
//! state, policies, requests, fault options and Graph throttling budget) behind its own
//! router, so every single-tenant behaviour holds per tenant; the first tenant answers what
//! names no tenant (and `/_emulator/...`, as a single-tenant emulator does).
//!
//! The emulator's own endpoints reach one tenant under `/_emulator/tenants/{tenant}/...`,
//! every tenant under `/_emulator/every-tenant/...`, and `GET /_emulator/tenants` lists them.
//! A multi-tenant seed is `{"tenants": [SEED, ...]}`; [`generate`] writes one.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use super::seed::{Seed, SeedApp, SeedError, SeedGroup, SeedPolicy, SeedRoleGroup, SeedUser, TenantInfo};
use super::store::Shared;
use super::sync::lock;
use super::tenant_data::TenantData;
use super::{EmulatorConfig, EmulatorError, RunningEmulator, server};

/// The largest request body forwarded to every tenant, as the single-tenant limit.
const FAN_OUT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// A seed file: one tenant (the single-tenant format), or many under `tenants`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MultiSeed {
    pub tenants: Vec<Seed>,
}

/// Reads a seed file of either kind: `Ok((seeds, true))` for a multi-tenant seed.
pub fn parse_seed_file(text: &str) -> Result<(Vec<Seed>, bool), SeedError> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    if value.get("tenants").is_some() {
        let multi: MultiSeed = serde_json::from_value(value)?;
        if multi.tenants.is_empty() {
            return Err(SeedError::Invalid("the multi-tenant seed lists no tenant under `tenants`".into()));
        }
        Ok((multi.tenants, true))
    } else {
        Ok((vec![serde_json::from_value(value)?], false))
    }
}

/// One hosted tenant: its state and, built on its first request, its router.
struct Hosted {
    shared: Arc<Shared>,
    router: OnceLock<Router>,
}

impl Hosted {
    fn router(&self) -> Router {
        self.router.get_or_init(|| server::router(self.shared.clone())).clone()
    }
}

/// The tenants of one emulator and the index that routes to them.
struct Tenants {
    hosted: Vec<Hosted>,
    /// Lower-cased tenant ids and initial domains to positions in `hosted`.
    by_name: HashMap<String, usize>,
}

impl Tenants {
    fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }
}

/// Starts one emulator serving every tenant of `seeds` (in memory: a data file keeps one
/// tenant, so `cfg.data` is refused). The first seed's tenant is the one
/// [`RunningEmulator`] names; its app is the multi-tenant app a generated seed consents in
/// every tenant.
pub async fn start_tenants(
    cfg: EmulatorConfig,
    seeds: Vec<Seed>,
    log_requests: bool,
) -> Result<RunningEmulator, EmulatorError> {
    super::check_config(&cfg)?;
    if let Some(path) = &cfg.data {
        return Err(EmulatorError::Tenants(format!(
            "a multi-tenant emulator keeps its tenants in memory; leave out the data file {}",
            path.display()
        )));
    }
    let first = seeds.first().ok_or_else(|| EmulatorError::Tenants("the seed lists no tenant".into()))?;
    let app = super::app_credentials(first);
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| EmulatorError::Bind { addr: cfg.listen, source })?;
    let addr = listener.local_addr().map_err(|source| EmulatorError::Bind { addr: cfg.listen, source })?;
    let (acceptor, ca_pem_path) = if cfg.tls {
        let (a, p) = super::tls_acceptor(addr)?;
        (Some(a), Some(p))
    } else {
        (None, None)
    };
    let base_url = super::base_url(addr, cfg.tls);
    let count = seeds.len();
    let mut tenants =
        Tenants { hosted: Vec::with_capacity(count), by_name: HashMap::with_capacity(count * 2) };
    for (i, seed) in seeds.into_iter().enumerate() {
        let data = TenantData::load(seed)
            .map_err(|e| EmulatorError::Tenants(format!("tenant {} of the seed: {e}", i + 1)))?;
        for name in [&data.tenant.id, &data.tenant.domain] {
            if tenants.by_name.insert(name.to_ascii_lowercase(), i).is_some() {
                return Err(EmulatorError::Tenants(format!(
                    "tenant {} of the seed repeats the tenant `{name}`; give every tenant its own id and domain",
                    i + 1
                )));
            }
        }
        let shared = Arc::new(Shared::new(data.clone(), data, base_url.clone(), cfg.faults.clone(), None));
        shared.set_log_requests(log_requests);
        tenants.hosted.push(Hosted { shared, router: OnceLock::new() });
    }
    let (tenant_domain, tenant_id) = {
        let t = lock(&tenants.hosted[0].shared.tenant);
        (t.data.tenant.domain.clone(), t.data.tenant.id.clone())
    };
    let router = Router::new().fallback(dispatch).with_state(Arc::new(tenants));
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, router, acceptor, rx));
    Ok(RunningEmulator {
        addr,
        base_url,
        tenant_domain,
        tenant_id,
        app,
        ca_pem_path,
        tenant_count: count,
        shutdown: tx,
        task,
    })
}

/// Where a request goes: a tenant (by position) with the path it is answered at, every
/// tenant, or the list of tenants.
enum Route {
    One(usize, Option<String>),
    Every(String),
    List,
    Unknown(String),
}

fn route(tenants: &Tenants, req: &Request) -> Route {
    let path = req.uri().path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let by = |name: Option<&&str>| name.and_then(|n| tenants.find(n)).unwrap_or(0);
    match segments.as_slice() {
        ["_emulator", "tenants"] => Route::List,
        ["_emulator", "tenants", name, rest @ ..] => match tenants.find(name) {
            Some(i) => Route::One(i, Some(format!("/_emulator/{}", rest.join("/")))),
            None => Route::Unknown((*name).to_string()),
        },
        ["_emulator", "every-tenant", rest @ ..] => Route::Every(format!("/_emulator/{}", rest.join("/"))),
        ["adminapi", _, name, ..] => Route::One(by(Some(name)), None),
        ["v1.0", ..] => Route::One(token_tenant(req).and_then(|t| tenants.find(&t)).unwrap_or(0), None),
        [first, ..] if *first != "_emulator" => Route::One(by(Some(first)), None),
        _ => Route::One(0, None),
    }
}

/// The `tid` claim of the request's bearer token, read without checking it: it only picks
/// the tenant, whose own checks then accept or refuse the token.
fn token_tenant(req: &Request) -> Option<String> {
    use base64::Engine as _;
    let raw = req.headers().get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = raw.get(7..).filter(|_| raw[..7].eq_ignore_ascii_case("bearer "))?.trim();
    let payload = token.split('.').nth(1)?;
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("tid")?.as_str().map(str::to_string)
}

/// `path` with the query of `uri`.
fn with_query(path: &str, uri: &Uri) -> Option<Uri> {
    let full = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    full.parse().ok()
}

async fn dispatch(State(tenants): State<Arc<Tenants>>, mut req: Request) -> Response {
    match route(&tenants, &req) {
        Route::List => {
            let list: Vec<_> = tenants
                .hosted
                .iter()
                .map(|h| {
                    let t = lock(&h.shared.tenant);
                    json!({ "domain": t.data.tenant.domain, "id": t.data.tenant.id })
                })
                .collect();
            axum::Json(json!({ "tenants": list })).into_response()
        }
        Route::Unknown(name) => (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({ "error": format!("no tenant `{name}` here; GET /_emulator/tenants lists them") }),
            ),
        )
            .into_response(),
        Route::One(i, path) => {
            if let Some(uri) = path.and_then(|p| with_query(&p, req.uri())) {
                *req.uri_mut() = uri;
            }
            let router = tenants.hosted[i].router();
            match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
        Route::Every(path) => every_tenant(&tenants, req, &path).await,
    }
}

/// Sends the request to every tenant in turn; the first refusal is the answer, else
/// `{"ok": true, "tenants": N}`.
async fn every_tenant(tenants: &Tenants, req: Request, path: &str) -> Response {
    let Some(uri) = with_query(path, req.uri()) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "the path is not valid" })))
            .into_response();
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FAN_OUT_BODY_LIMIT).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({ "error": "the request body is too large" })),
        )
            .into_response();
    };
    for hosted in &tenants.hosted {
        let mut one = Request::new(Body::from(bytes.clone()));
        *one.method_mut() = parts.method.clone();
        *one.uri_mut() = uri.clone();
        *one.headers_mut() = parts.headers.clone();
        let answer = match hosted.router().oneshot(one).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        if !answer.status().is_success() {
            return answer;
        }
    }
    axum::Json(json!({ "ok": true, "tenants": tenants.hosted.len() })).into_response()
}

/// What `pamform emulator seed` generates.
#[derive(Debug, Clone, PartialEq)]
pub struct Generate {
    pub tenants: usize,
    /// Users per tenant, besides the admin and the service account.
    pub users: usize,
    /// Members of an approver group already in each tenant (none: no group).
    pub approver_members: usize,
    /// Access policies already in each tenant (they need the approver group).
    pub policies: usize,
}

/// The tasks generated policies cover, in order.
const POLICY_TASKS: &[&str] = &[
    "Set-Mailbox",
    "Add-MailboxPermission",
    "Set-CASMailbox",
    "Set-JournalRule",
    "Set-TransportRule",
    "New-InboxRule",
    "Set-OrganizationConfig",
    "Set-AdminAuditLogConfig",
];

/// The largest number of generated policies per tenant (one per task of the list).
pub const MAX_GENERATED_POLICIES: usize = POLICY_TASKS.len();

/// The `n`th tenant's id: a fixed GUID pattern, so that the same options give the same seed.
pub fn generated_tenant_id(n: usize) -> String {
    format!("7e4a0000-0000-4000-8000-{n:012x}")
}

/// The `n`th tenant's initial domain.
pub fn generated_tenant_domain(n: usize) -> String {
    format!("tenant{n:04}.onmicrosoft.com")
}

/// A multi-tenant seed of `opts.tenants` tenants (numbered from 1), each with the default
/// tenant's app (one client id and secret: a multi-tenant app consented in every tenant), an
/// admin in Organization Management, a service account and `opts.users` mailbox users
/// (`user001@...`); with `approver_members`, an approver group of that many of them with PAM
/// on, and `policies` manual policies it approves. Deterministic: every id is derived from
/// the tenant's and the object's number.
pub fn generate(opts: &Generate) -> Result<MultiSeed, SeedError> {
    if opts.approver_members > opts.users {
        return Err(SeedError::Invalid(format!(
            "--approver-members {} is more than --users {}: the approvers are the generated users",
            opts.approver_members, opts.users
        )));
    }
    if opts.policies > MAX_GENERATED_POLICIES {
        return Err(SeedError::Invalid(format!(
            "--policies is at most {MAX_GENERATED_POLICIES} (one per generated task), not {}",
            opts.policies
        )));
    }
    if opts.policies > 0 && opts.approver_members == 0 {
        return Err(SeedError::Invalid(
            "generated policies need an approver group: set --approver-members".into(),
        ));
    }
    let default = Seed::default_seed()?;
    let app: SeedApp = default
        .apps
        .first()
        .cloned()
        .ok_or_else(|| SeedError::Invalid("the default seed has no app".into()))?;
    let tenants = (1..=opts.tenants).map(|n| tenant(n, opts, &app)).collect();
    Ok(MultiSeed { tenants })
}

fn object_id(tenant: usize, kind: u16, n: usize) -> String {
    format!("{tenant:08x}-{kind:04x}-4000-8000-{n:012x}")
}

fn tenant(n: usize, opts: &Generate, app: &SeedApp) -> Seed {
    let domain = generated_tenant_domain(n);
    let user = |id: usize, local: &str, name: &str| SeedUser {
        id: object_id(n, 1, id),
        user_principal_name: format!("{local}@{domain}"),
        display_name: Some(name.to_string()),
        mail: None,
        mailbox: true,
        guest: false,
        service_account: false,
    };
    let mut users = vec![
        user(0, "admin", "Admin"),
        SeedUser { service_account: true, ..user(1, "svc-pamform", "pamform") },
    ];
    users.extend((1..=opts.users).map(|u| user(u + 1, &format!("user{u:03}"), &format!("User {u}"))));
    let mut seed = Seed {
        tenant: TenantInfo { domain: domain.clone(), id: generated_tenant_id(n) },
        users,
        roles: Vec::new(),
        role_groups: vec![SeedRoleGroup {
            name: "Organization Management".into(),
            roles: Vec::new(),
            members: vec![format!("admin@{domain}")],
        }],
        apps: vec![app.clone()],
        public_client: Default::default(),
        groups: Vec::new(),
        policies: Vec::new(),
        pam: Default::default(),
        foreign_requests: Vec::new(),
        requests: Vec::new(),
        authorizations: Vec::new(),
    };
    if opts.approver_members > 0 {
        let address = format!("pam-approvers@{domain}");
        seed.groups.push(SeedGroup {
            id: object_id(n, 2, 1),
            guid: object_id(n, 3, 1),
            name: "PAM Approvers".into(),
            display_name: None,
            alias: None,
            primary_smtp_address: address.clone(),
            description: None,
            r#type: crate::wire::exchange::param::TYPE_SECURITY.to_string(),
            members: (1..=opts.approver_members).map(|u| format!("user{u:03}@{domain}")).collect(),
            managed_by: Vec::new(),
        });
        seed.pam.enabled = true;
        seed.pam.admin_group = Some(address.clone());
        seed.policies = POLICY_TASKS[..opts.policies]
            .iter()
            .enumerate()
            .map(|(p, t)| SeedPolicy {
                identity: object_id(n, 4, p + 1),
                task: format!("Exchange\\{t}"),
                approval_type: crate::wire::exchange::APPROVAL_MANUAL.to_string(),
                approver_group: address.clone(),
                created: None,
            })
            .collect();
    }
    seed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_seeds_load_and_repeat() {
        let opts = Generate { tenants: 3, users: 20, approver_members: 10, policies: 5 };
        let a = generate(&opts).unwrap();
        assert_eq!(a, generate(&opts).unwrap());
        assert_eq!(a.tenants.len(), 3);
        for seed in a.tenants {
            let data = TenantData::load(seed).unwrap();
            assert_eq!(data.users.len(), 22);
            assert_eq!(data.policies.len(), 5);
            assert_eq!(data.groups[0].members.len(), 10);
        }
    }

    #[test]
    fn generator_refuses_what_it_cannot_make() {
        let bad = Generate { tenants: 1, users: 2, approver_members: 3, policies: 0 };
        assert!(generate(&bad).unwrap_err().to_string().contains("--approver-members 3"));
        let bad = Generate { tenants: 1, users: 2, approver_members: 0, policies: 1 };
        assert!(generate(&bad).unwrap_err().to_string().contains("approver group"));
    }

    #[test]
    fn seed_files_of_either_kind() {
        let one = crate::emulator::seed::DEFAULT_SEED_JSON;
        assert!(!parse_seed_file(one).unwrap().1);
        let many = serde_json::to_string(
            &generate(&Generate { tenants: 2, users: 1, approver_members: 0, policies: 0 }).unwrap(),
        )
        .unwrap();
        let (seeds, multi) = parse_seed_file(&many).unwrap();
        assert!(multi && seeds.len() == 2);
        assert!(parse_seed_file(r#"{"tenants": []}"#).is_err());
    }
}
