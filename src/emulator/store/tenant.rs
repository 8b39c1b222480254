//! The tenant as it is now: its live data, a version bumped on every write, and an index of
//! its users that the Graph reads use.

use std::collections::HashMap;

use crate::emulator::seed::SeedUser;
use crate::emulator::tenant_data::TenantData;
use crate::model::normalize;

/// The tenant's live data and its version.
pub(crate) struct LiveTenant {
    pub data: TenantData,
    pub version: u64,
    /// Lookups into `data.users`, rebuilt on every write.
    users: UserIndex,
}

impl LiveTenant {
    pub fn new(data: TenantData, version: u64) -> Self {
        let users = UserIndex::build(&data.users);
        LiveTenant { data, version, users }
    }

    /// Records a write: bumps the version and rebuilds the user index.
    pub fn wrote(&mut self) {
        self.version += 1;
        self.users = UserIndex::build(&self.data.users);
    }

    /// The user with this object id (ASCII case-insensitive).
    pub fn user_by_id(&self, id: &str) -> Option<&SeedUser> {
        self.users.by_id.get(&id.to_ascii_lowercase()).and_then(|&i| self.data.users.get(i))
    }

    /// The user with this object id or user principal name (case-insensitive, trimmed).
    pub fn user_by_id_or_upn(&self, key: &str) -> Option<&SeedUser> {
        self.user_by_id(key).or_else(|| {
            self.users.by_upn.get(&normalize::principal(key)).and_then(|&i| self.data.users.get(i))
        })
    }
}

/// Positions of users in `data.users` by lower-cased object id and by normalized UPN.
#[derive(Default)]
struct UserIndex {
    by_id: HashMap<String, usize>,
    by_upn: HashMap<String, usize>,
}

impl UserIndex {
    /// The first user wins on a duplicate key, as a linear search would find it.
    fn build(users: &[SeedUser]) -> Self {
        let mut index = UserIndex {
            by_id: HashMap::with_capacity(users.len()),
            by_upn: HashMap::with_capacity(users.len()),
        };
        for (i, u) in users.iter().enumerate() {
            index.by_id.entry(u.id.to_ascii_lowercase()).or_insert(i);
            index.by_upn.entry(normalize::principal(&u.user_principal_name)).or_insert(i);
        }
        index
    }
}
