//! One emulator per data file. Two emulators on one file would each keep the tenant in
//! memory and overwrite each other's writes, so an emulator holds an OS advisory lock for as
//! long as it has the file open, and a second one is refused with who holds it.
//!
//! The lock is taken on `FILE.lock` beside the data file, not on the file itself: every write
//! replaces the data file by a rename (`crate::files::write_atomic`), which would leave a lock
//! on the replaced file behind. The lock file records its holder (process id, and the URL it
//! serves or the command it is embedded in) for the refusal; the OS releases the lock when the
//! emulator stops or its process dies, so a crash leaves nothing to clean up. The lock is
//! `std::fs::File::try_lock` (`flock` on Unix, `LockFileEx` on Windows), stable since Rust 1.89.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who runs an emulator on a data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// `pamform emulator serve`.
    Served,
    /// The emulator a `tenant { emulator = FILE }` block embeds in one pamform command.
    Embedded { command: String },
    /// A program that started it through the library.
    Library,
}

/// The holder of a data file, as its lock file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    #[serde(flatten)]
    pub owner: Owner,
    /// The emulator's base URL, once it listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.owner, &self.url) {
            (Owner::Served, Some(url)) => {
                write!(f, "`pamform emulator serve` (pid {}) serving it at {url}", self.pid)
            }
            (Owner::Served, None) => write!(f, "`pamform emulator serve` (pid {})", self.pid),
            (Owner::Embedded { command }, _) => {
                write!(f, "the emulator embedded in `{command}` (pid {})", self.pid)
            }
            (Owner::Library, Some(url)) => write!(f, "an emulator (pid {}) at {url}", self.pid),
            (Owner::Library, None) => write!(f, "an emulator (pid {})", self.pid),
        }
    }
}

/// The lock on one data file, held while this value lives.
#[derive(Debug)]
pub(crate) struct DataLock {
    file: File,
    holder: Holder,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub(crate) enum LockError {
    /// Another emulator has the file; `None` when it has not recorded itself yet.
    Held(Option<Holder>),
    Io(std::io::Error),
}

/// The lock file of a data file: `FILE.lock` beside the file the path resolves to, so two
/// spellings of one file (relative, absolute, through a symbolic link) share one lock.
pub fn lock_path(data: &Path) -> PathBuf {
    let resolved = data.canonicalize().unwrap_or_else(|_| {
        let dir = data.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        data.file_name().map(|n| dir.join(n)).unwrap_or_else(|| data.to_path_buf())
    });
    let mut name = resolved.into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

impl DataLock {
    /// Takes the lock of `data` without waiting.
    pub(crate) fn acquire(data: &Path, owner: Owner) -> Result<DataLock, LockError> {
        let path = lock_path(data);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(LockError::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Held(read_holder(&path))),
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        let mut lock = DataLock { file, holder: Holder { pid: std::process::id(), owner, url: None } };
        lock.record().map_err(LockError::Io)?;
        Ok(lock)
    }

    /// Records the URL the emulator serves at.
    pub(crate) fn set_url(&mut self, url: &str) -> std::io::Result<()> {
        self.holder.url = Some(url.to_string());
        self.record()
    }

    fn record(&mut self) -> std::io::Result<()> {
        let text = serde_json::to_string(&self.holder).map_err(std::io::Error::other)?;
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }
}

impl Drop for DataLock {
    /// Unlocks explicitly rather than by closing: a child process forked by this process
    /// shares the open file until it runs its program, and closing alone would leave the lock
    /// held by that child for that moment.
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Who holds the lock of `data`, or `None` when nobody does.
pub fn holder(data: &Path) -> Option<Holder> {
    let path = lock_path(data);
    let file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(_) => read_holder(&path),
    }
}

fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}
