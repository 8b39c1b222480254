//! The directory lock: `.pamform.lock`, held by every command that writes state. An OS file
//! lock (released by the kernel if the holder dies) on a file that carries the holder's
//! details from the instant it appears: the details are written to a private file first,
//! locked, and hard-linked into place, so a second command can always say who holds it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub const LOCK_FILE: &str = ".pamform.lock";

/// How often, and how long apart, a reader rereads a lock file it found empty or partial.
const REREAD_ATTEMPTS: u32 = 20;
const REREAD_PAUSE: Duration = Duration::from_millis(25);

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub created: String,
    /// The user who ran the command, when known (recorded by the remote backend).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub who: String,
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = if self.who.is_empty() { String::new() } else { format!("{}, ", self.who) };
        write!(
            f,
            "lock id {}, held by `{}` ({who}pid {} on {}) since {}",
            self.id, self.command, self.pid, self.host, self.created
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the state is locked by another command: {0}; wait for it to finish, retry with --lock-timeout, or if it hangs stop it (a lock left by a command that died is taken over by the next one; on a file system without locks run `{unlock}`)", unlock = force_unlock_command(&.0.id))]
    Held(Box<LockInfo>),
    #[error(
        "the lock is held by a command that is still running: {0}; nothing was removed: wait for it to finish or stop it (its lock is then released)"
    )]
    StillHeld(Box<LockInfo>),
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
    #[error("the state {name} is locked by another command: {info}; wait for it to finish or retry with --lock-timeout; a lock whose command died expires {lease_seconds} s after its last renewal, or remove it at once with `{unlock}`", unlock = force_unlock_command(&.info.id))]
    HeldRemote { name: String, info: Box<LockInfo>, lease_seconds: u32 },
    #[error(
        "the state {0} is locked by another command (holder unknown); wait for it to finish or retry with --lock-timeout"
    )]
    HeldRemoteUnknown(String),
    #[error("no lock to remove on the state {0}")]
    NotLockedRemote(String),
    #[error("cannot lock the state {name}: {message}")]
    Remote { name: String, message: String },
}

impl LockError {
    /// Who holds the lock, when this is a refusal naming the holder (and so the command that
    /// removes its lock).
    pub fn holder(&self) -> Option<&LockInfo> {
        match self {
            LockError::Held(info) | LockError::HeldRemote { info, .. } => Some(info),
            _ => None,
        }
    }
}

/// The command a refusal names to remove lock `id`: `pamform force-unlock ID`.
pub fn force_unlock_command(id: &str) -> String {
    format!("pamform force-unlock {id}")
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
    pub info: LockInfo,
}

/// A private file with the holder's details, locked before anyone can see it; removed
/// when dropped (the lock file, once linked, is another name for it).
struct Candidate {
    file: File,
    path: PathBuf,
}

impl Candidate {
    fn new(dir: &Path, info: &LockInfo) -> std::io::Result<Candidate> {
        let path = dir.join(format!("{LOCK_FILE}.{}.tmp", info.id));
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o644);
        }
        let mut file = options.open(&path)?;
        let candidate = Candidate { file: file.try_clone()?, path };
        let body = serde_json::to_vec_pretty(info).map_err(std::io::Error::other)?;
        file.write_all(&body)?;
        file.sync_all()?;
        match candidate.file.try_lock() {
            Ok(()) => Ok(candidate),
            Err(fs::TryLockError::WouldBlock) => Err(std::io::Error::other("a fresh lock file is locked")),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

impl Drop for Candidate {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl LockGuard {
    /// Takes the lock of `dir` for `command`, waiting up to `timeout` (zero: fail at once).
    pub fn acquire(dir: &Path, command: &str, timeout: Duration) -> Result<LockGuard, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io { path: path.clone(), source };
        let start = Instant::now();
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            command: command.to_string(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            who: String::new(),
        };
        let candidate = Candidate::new(dir, &info).map_err(io)?;
        loop {
            match fs::hard_link(&candidate.path, &path) {
                Ok(()) => {
                    let file = candidate.file.try_clone().map_err(io)?;
                    drop(candidate);
                    return Ok(LockGuard { file, path, info });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e)),
            }
            // Someone's lock file is there: held, or left by a holder that died.
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            match file.try_lock() {
                Ok(()) => {
                    // Nobody holds it. If it is still the lock file, its holder died: remove
                    // it while holding its lock; either way, try again.
                    if same_file(&file, &path) {
                        fs::remove_file(&path).or_else(not_found_ok).map_err(io)?;
                    }
                    drop(file);
                    continue;
                }
                Err(fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        return Err(match read_info(&mut file) {
                            Some(info) => LockError::Held(Box::new(info)),
                            None if !same_file(&file, &path) => continue,
                            None => LockError::HeldUnknown,
                        });
                    }
                    let left = timeout.saturating_sub(start.elapsed());
                    std::thread::sleep(Duration::from_millis(100).min(left));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
    }
}

fn not_found_ok(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Remove the lock file while still holding it, then unlock: a waiter that opened it
        // already finds, once it gets the lock, that it is no longer the lock file.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// The holder's details. A file found empty or partial (written by an older pamform, or
/// being replaced) is read again a few times before the holder is called unknown.
fn read_info(file: &mut File) -> Option<LockInfo> {
    for attempt in 0..REREAD_ATTEMPTS {
        let mut s = String::new();
        if file.seek(SeekFrom::Start(0)).is_ok()
            && file.read_to_string(&mut s).is_ok()
            && let Ok(info) = serde_json::from_str(&s)
        {
            return Some(info);
        }
        if attempt + 1 < REREAD_ATTEMPTS {
            std::thread::sleep(REREAD_PAUSE);
        }
    }
    None
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
    // A holder that is still running keeps its OS lock: removing its file would let a
    // second command write the state beside it.
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Err(LockError::StillHeld(Box::new(info))),
        // A file system without locks: the file is all there is.
        Err(fs::TryLockError::Error(_)) => {}
    }
    fs::remove_file(&path).map_err(|source| LockError::Io { path, source })?;
    let _ = file.unlock();
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
    fn concurrent_acquirers_always_see_the_holder() {
        use std::sync::{Arc, Barrier};
        const N: usize = 16;
        let dir = tempfile::tempdir().unwrap();
        for _round in 0..20 {
            let start = Arc::new(Barrier::new(N));
            let done = Arc::new(Barrier::new(N));
            let threads: Vec<_> = (0..N)
                .map(|i| {
                    let (start, done, path) = (start.clone(), done.clone(), dir.path().to_path_buf());
                    std::thread::spawn(move || {
                        start.wait();
                        let result = LockGuard::acquire(&path, &format!("apply {i}"), Duration::ZERO);
                        // The winner holds the lock until every loser has looked.
                        done.wait();
                        result.map(|g| g.info.clone())
                    })
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let winners: Vec<&LockInfo> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "{results:?}");
            for r in &results {
                match r {
                    Ok(_) => {}
                    Err(LockError::Held(info)) => assert_eq!(**info, *winners[0]),
                    Err(e) => panic!("a loser got {e:?}, not the holder's details"),
                }
            }
            assert_eq!(holder(dir.path()).unwrap(), None);
        }
        // Only the lock machinery's own files are ever there, and none is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_left_by_a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // What a crashed holder leaves: the file with its details, unlocked.
        let stale = LockInfo {
            id: "dead".into(),
            pid: 1,
            host: "h".into(),
            command: "apply".into(),
            created: "2026-01-01T00:00:00Z".into(),
            who: String::new(),
        };
        fs::write(dir.path().join(LOCK_FILE), serde_json::to_vec(&stale).unwrap()).unwrap();
        let g = LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
        assert_eq!(holder(dir.path()).unwrap(), Some(g.info.clone()));
        // An empty file left by an older version is taken over too.
        drop(g);
        fs::write(dir.path().join(LOCK_FILE), b"").unwrap();
        LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
    }

    #[test]
    fn a_huge_timeout_does_not_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let _g = LockGuard::acquire(dir.path(), "apply", Duration::MAX).unwrap();
    }

    #[test]
    fn force_unlock_checks_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let held = LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
        assert!(matches!(force_unlock(dir.path(), "nope"), Err(LockError::WrongId { .. })));
        // A running holder's lock is not removed.
        assert!(matches!(force_unlock(dir.path(), &held.info.id), Err(LockError::StillHeld(_))));
        assert_eq!(holder(dir.path()).unwrap(), Some(held.info.clone()));
        // What a holder that died leaves: the file with its details, unlocked.
        let info = held.info.clone();
        std::mem::forget(held);
        let removed = force_unlock(dir.path(), &info.id).unwrap_err();
        assert!(matches!(removed, LockError::StillHeld(_)), "the forgotten guard's file is still locked");
        let path = dir.path().join(LOCK_FILE);
        fs::remove_file(&path).unwrap();
        fs::write(&path, serde_json::to_vec(&info).unwrap()).unwrap();
        let removed = force_unlock(dir.path(), &info.id).unwrap();
        assert_eq!(removed.id, info.id);
        // A new command can now take a fresh lock.
        LockGuard::acquire(dir.path(), "apply", Duration::ZERO).unwrap();
    }
}
