//! The directory lock: `.pamform.lock`, held by every command that writes state. An OS file
//! lock (released by the kernel if the holder dies) plus the holder's details in the file,
//! so that a second command can say who holds it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub const LOCK_FILE: &str = ".pamform.lock";

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub created: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lock id {}, held by `{}` (pid {} on {}) since {}",
            self.id, self.command, self.pid, self.host, self.created
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the state is locked by another command: {0}; wait for it to finish, retry with --lock-timeout, or if it crashed run `pamform force-unlock {id}`", id = .0.id)]
    Held(Box<LockInfo>),
    #[error(
        "the state is locked by another command (holder unknown); wait for it to finish or retry with --lock-timeout"
    )]
    HeldUnknown,
    #[error("cannot use lock file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no lock to remove in {0}")]
    NotLocked(PathBuf),
    #[error("lock id {given} does not match the current lock ({actual}); nothing was removed")]
    WrongId { given: String, actual: Box<LockInfo> },
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    pub info: LockInfo,
}

impl LockGuard {
    /// Takes the lock of `dir` for `command`, waiting up to `timeout` (zero: fail at once).
    pub fn acquire(dir: &Path, command: &str, timeout: Duration) -> Result<LockGuard, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io { path: path.clone(), source };
        let deadline = Instant::now() + timeout;
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {
                    // The file may have been removed by force-unlock between open and lock;
                    // then this lock guards nothing, so start over.
                    if !same_file(&file, &path) {
                        continue;
                    }
                    let info = LockInfo {
                        id: uuid::Uuid::new_v4().to_string(),
                        pid: std::process::id(),
                        host: gethostname::gethostname().to_string_lossy().into_owned(),
                        command: command.to_string(),
                        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    };
                    let body = serde_json::to_vec_pretty(&info).expect("lock info serialises");
                    file.set_len(0).map_err(io)?;
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    file.write_all(&body).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    return Ok(LockGuard { file, info });
                }
                Err(fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Err(match read_info(&mut file) {
                            Some(info) => LockError::Held(Box::new(info)),
                            None => LockError::HeldUnknown,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100).min(deadline - Instant::now()));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Empty the file before unlocking so a stale holder is never reported; the file
        // itself stays (removing it would race with a waiter that opened it already).
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

/// The current holder, if the lock is held.
pub fn holder(dir: &Path) -> Result<Option<LockInfo>, LockError> {
    let path = dir.join(LOCK_FILE);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LockError::Io { path, source }),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(None)
        }
        Err(fs::TryLockError::WouldBlock) => Ok(read_info(&mut file)),
        Err(fs::TryLockError::Error(source)) => Err(LockError::Io { path, source }),
    }
}

/// Removes a lock left behind, after checking that `id` names it. A live holder keeps
/// running on the removed file: this is for locks whose holder is gone.
pub fn force_unlock(dir: &Path, id: &str) -> Result<LockInfo, LockError> {
    let path = dir.join(LOCK_FILE);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LockError::NotLocked(dir.into())),
        Err(source) => return Err(LockError::Io { path, source }),
    };
    let info = read_info(&mut file).ok_or_else(|| LockError::NotLocked(dir.into()))?;
    if info.id != id {
        return Err(LockError::WrongId { given: id.to_string(), actual: Box::new(info) });
    }
    fs::remove_file(&path).map_err(|source| LockError::Io { path, source })?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_details() {
        let dir = tempfile::tempdir().unwrap();
        let first = LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
        match LockGuard::acquire(dir.path(), "apply", Duration::ZERO) {
            Err(LockError::Held(info)) => {
                assert_eq!(*info, first.info);
                assert_eq!(holder(dir.path()).unwrap(), Some(first.info.clone()));
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        assert_eq!(holder(dir.path()).unwrap(), None);
        LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
    }

    #[test]
    fn waits_for_release_within_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let first = LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || LockGuard::acquire(&path, "plan", Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
        assert!(waiter.join().unwrap().is_ok());
    }

    #[test]
    fn force_unlock_checks_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let held = LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
        assert!(matches!(force_unlock(dir.path(), "nope"), Err(LockError::WrongId { .. })));
        let removed = force_unlock(dir.path(), &held.info.id).unwrap();
        assert_eq!(removed.id, held.info.id);
        // A new command can now take a fresh lock.
        LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
    }
}
