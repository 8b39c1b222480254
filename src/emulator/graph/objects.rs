//! Users and groups as Graph shows them, and the members of a group on a page.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::emulator::seed::{SeedGroup, SeedUser};
use crate::wire::graph as wg;

pub(super) fn group_map(g: &SeedGroup) -> Map<String, Value> {
    let v = json!({
        "id": g.id,
        "displayName": g.display(),
        "mail": g.primary_smtp_address,
        "mailNickname": g.alias(),
        "description": g.description,
        "groupTypes": [],
        "mailEnabled": true,
        "securityEnabled": g.is_security(),
        "proxyAddresses": [format!("SMTP:{}", g.primary_smtp_address)],
    });
    into_map(v)
}

/// A user as Graph shows it, borrowed from the tenant, with only the properties `$select`
/// asks for (`@odata.type` and `id` always).
#[derive(Serialize)]
pub(super) struct UserOut<'a> {
    #[serde(rename = "@odata.type")]
    odata_type: &'static str,
    id: &'a str,
    #[serde(rename = "userPrincipalName", skip_serializing_if = "Option::is_none")]
    upn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mail: Option<Option<&'a str>>,
    #[serde(rename = "displayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(rename = "userType", skip_serializing_if = "Option::is_none")]
    user_type: Option<&'static str>,
    #[serde(rename = "accountEnabled", skip_serializing_if = "Option::is_none")]
    account_enabled: Option<bool>,
}

impl<'a> UserOut<'a> {
    pub fn new(u: &'a SeedUser, select: &Option<Vec<String>>) -> Self {
        let wants = |key: &str| select.as_ref().is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(key)));
        UserOut {
            odata_type: wg::ODATA_TYPE_USER,
            id: &u.id,
            upn: wants("userPrincipalName").then_some(u.user_principal_name.as_str()),
            mail: wants("mail").then_some(u.mail.as_deref()),
            display_name: wants("displayName")
                .then(|| u.display_name.as_deref().unwrap_or_else(|| u.alias())),
            user_type: wants("userType").then_some(if u.guest {
                wg::USER_TYPE_GUEST
            } else {
                wg::USER_TYPE_MEMBER
            }),
            account_enabled: wants("accountEnabled").then_some(true),
        }
    }
}

pub(super) fn user_map(u: &SeedUser) -> Map<String, Value> {
    into_map(serde_json::to_value(UserOut::new(u, &None)).unwrap_or(Value::Null))
}

fn into_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A nested group as a member page lists it.
pub(super) fn member_group_map(groups: &[SeedGroup], id: &str) -> Option<Map<String, Value>> {
    groups.iter().find(|g| g.id == id).map(|g| {
        let mut m = group_map(g);
        m.insert("@odata.type".into(), json!(wg::ODATA_TYPE_GROUP));
        m
    })
}

/// A member on a page: a user written straight from the tenant, or a nested group.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum MemberOut<'a> {
    User(UserOut<'a>),
    Other(Value),
}
