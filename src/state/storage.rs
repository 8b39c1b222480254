//! Where the state lives: one trait, [`Storage`], with two implementations, the local file
//! ([`super::StateStore`], the default) and an Azure Blob ([`super::blob::BlobStore`], the
//! `backend "azurerm"` block). Every command reads, locks and writes state through it, so the
//! two behave alike: a lock before any write, whole-state writes that never overwrite a newer
//! state, and previous versions kept and restorable.

use std::path::Path;
use std::time::Duration;

use super::lock::{self, LockError, LockGuard, LockInfo};
use super::{State, StateError, StateStore};

/// A held state lock; released when dropped.
pub trait StateLock: Send + std::fmt::Debug {
    fn info(&self) -> &LockInfo;
}

/// A previous version of the state, newest first in [`Storage::versions`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    /// What `state restore` takes: a snapshot time for a blob, `backup` for the local file.
    pub id: String,
    pub serial: Option<u64>,
    pub lineage: Option<String>,
    /// When it was replaced (RFC 3339), when known.
    pub saved: Option<String>,
}

pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Where the state lives, for messages: a path, or `azurerm: account/container/key`.
    fn name(&self) -> String;

    /// Reads the state; `None` when there is none yet.
    fn load(&self) -> Result<Option<State>, StateError>;

    /// Reads the state of `tenant`; a state recorded for another tenant is refused.
    fn load_for(&self, tenant: &str) -> Result<Option<State>, StateError> {
        let state = self.load()?;
        if let Some(s) = &state {
            s.check_tenant(Path::new(&self.name()), tenant)?;
        }
        Ok(state)
    }

    /// Bumps the serial and writes the whole state, keeping the previous one as a version.
    /// Refused, with nothing written, when the stored state changed since [`Storage::load`].
    fn save(&self, state: &mut State) -> Result<(), StateError>;

    /// Takes the lock for `command`, waiting up to `timeout`.
    fn lock(&self, command: &str, timeout: Duration) -> Result<Box<dyn StateLock>, LockError>;

    /// Who holds the lock, if anyone.
    fn holder(&self) -> Result<Option<LockInfo>, LockError>;

    /// Removes the lock `id` left behind by a command that died.
    fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError>;

    /// The previous versions kept, newest first.
    fn versions(&self) -> Result<Vec<Version>, StateError>;

    /// One previous version, verified like the current state.
    fn load_version(&self, id: &str) -> Result<State, StateError>;
}

impl StateLock for LockGuard {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

/// The local file: `pamform.state.json`, `.backup` and `.pamform.lock` in one directory.
impl Storage for StateStore {
    fn name(&self) -> String {
        self.path().display().to_string()
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        StateStore::load(self)
    }

    fn load_for(&self, tenant: &str) -> Result<Option<State>, StateError> {
        StateStore::load_for(self, tenant)
    }

    fn save(&self, state: &mut State) -> Result<(), StateError> {
        StateStore::save(self, state)
    }

    fn lock(&self, command: &str, timeout: Duration) -> Result<Box<dyn StateLock>, LockError> {
        Ok(Box::new(LockGuard::acquire(self.dir(), command, timeout)?))
    }

    fn holder(&self) -> Result<Option<LockInfo>, LockError> {
        lock::holder(self.dir())
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        lock::force_unlock(self.dir(), id)
    }

    fn versions(&self) -> Result<Vec<Version>, StateError> {
        let backup = self.backup_path();
        match std::fs::read(&backup) {
            Ok(bytes) => {
                let state = State::from_bytes(&backup, &bytes)?;
                let saved = std::fs::metadata(&backup).and_then(|m| m.modified()).ok().map(|t| {
                    chrono::DateTime::<chrono::Utc>::from(t)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                });
                Ok(vec![Version {
                    id: BACKUP_VERSION.into(),
                    serial: Some(state.serial),
                    lineage: Some(state.lineage),
                    saved,
                }])
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StateError::Read { path: backup, source }),
        }
    }

    fn load_version(&self, id: &str) -> Result<State, StateError> {
        let backup = self.backup_path();
        if id != BACKUP_VERSION {
            return Err(StateError::NoVersion { name: self.name(), id: id.to_string() });
        }
        let bytes =
            std::fs::read(&backup).map_err(|source| StateError::Read { path: backup.clone(), source })?;
        State::from_bytes(&backup, &bytes)
    }
}

/// The one previous version a local state keeps.
pub const BACKUP_VERSION: &str = "backup";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_file_keeps_its_backup_as_a_version() {
        let dir = tempfile::tempdir().unwrap();
        let store: Box<dyn Storage> = Box::new(StateStore::new(dir.path()));
        assert!(store.versions().unwrap().is_empty());
        let mut s = State::new("t");
        store.save(&mut s).unwrap();
        store.save(&mut s).unwrap();
        let versions = store.versions().unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].serial, Some(1));
        assert_eq!(store.load_version("backup").unwrap().serial, 1);
        assert!(matches!(store.load_version("2026"), Err(StateError::NoVersion { .. })));
        let lock = store.lock("apply", Duration::ZERO).unwrap();
        assert_eq!(store.holder().unwrap().as_ref(), Some(lock.info()));
    }
}
