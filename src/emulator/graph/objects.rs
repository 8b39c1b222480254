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
pub(super) struct UserOut<'a> {
    odata_type: &'static str,
    id: &'a str,
    upn: Option<&'a str>,
    mail: Option<Option<&'a str>>,
    display_name: Option<&'a str>,
    user_type: Option<&'static str>,
    account_enabled: Option<bool>,
}

impl Serialize for UserOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(wg::ODATA_TYPE, self.odata_type)?;
        m.serialize_entry("id", self.id)?;
        if let Some(v) = self.upn {
            m.serialize_entry("userPrincipalName", v)?;
        }
        if let Some(v) = self.mail {
            m.serialize_entry("mail", &v)?;
        }
        if let Some(v) = self.display_name {
            m.serialize_entry("displayName", v)?;
        }
        if let Some(v) = self.user_type {
            m.serialize_entry("userType", v)?;
        }
        if let Some(v) = self.account_enabled {
            m.serialize_entry("accountEnabled", &v)?;
        }
        m.end()
    }
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
        m.insert(wg::ODATA_TYPE.into(), json!(wg::ODATA_TYPE_GROUP));
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
