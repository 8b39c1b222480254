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
    /// `None` when the lock file cannot be made because the directory cannot be written: no
    /// emulator can write the data file there either (a write makes a temporary file beside
    /// it), so readers need no lock.
    file: Option<File>,
    /// Whether the lock file records its holder (not when opened read-only).
    records: bool,
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
/// spellings of one file (relative, absolute, through a symbolic link, even one whose target
/// does not exist yet) share one lock.
pub fn lock_path(data: &Path) -> PathBuf {
    let mut name = resolve(data).into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// The file `data` names once every symbolic link is followed, as an absolute path; the file
/// itself need not exist (a link to a data file not written yet resolves to where it will
/// be). The emulator reads and writes this path, so a write replaces the file a link points
/// to, never the link.
pub fn resolve(data: &Path) -> PathBuf {
    if let Ok(resolved) = data.canonicalize() {
        return resolved;
    }
    let mut path = data.to_path_buf();
    // A dangling link: follow it by hand (a bounded number of times, as the OS does).
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(&path) {
                Ok(target) => {
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    path = dir.join(target);
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    path.file_name().map(|n| dir.join(n)).unwrap_or(path)
}

impl DataLock {
    /// Takes the lock of `data` without waiting.
    pub(crate) fn acquire(data: &Path, owner: Owner) -> Result<DataLock, LockError> {
        let path = lock_path(data);
        let holder = Holder { pid: std::process::id(), owner, url: None };
        let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
            Ok(file) => file,
            Err(e) if read_only(&e) => {
                // A read-only directory (or lock file): locked as it is, never recorded.
                return match File::open(&path) {
                    Ok(file) => {
                        not_a_link(&path, &file).map_err(LockError::Io)?;
                        match file.try_lock() {
                            Ok(()) => Ok(DataLock { file: Some(file), records: false, holder }),
                            Err(std::fs::TryLockError::WouldBlock) => {
                                Err(LockError::Held(read_holder(&path)))
                            }
                            Err(std::fs::TryLockError::Error(e)) => Err(LockError::Io(e)),
                        }
                    }
                    Err(missing) if missing.kind() == std::io::ErrorKind::NotFound => {
                        Ok(DataLock { file: None, records: false, holder })
                    }
                    Err(_) => Err(LockError::Io(e)),
                };
            }
            Err(e) => return Err(LockError::Io(e)),
        };
        // The lock file is rewritten below: never through a link someone left at its name
        // (it would empty the file the link points to).
        not_a_link(&path, &file).map_err(LockError::Io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Held(read_holder(&path))),
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        let mut lock = DataLock { file: Some(file), records: true, holder };
        lock.record().map_err(LockError::Io)?;
        Ok(lock)
    }

    /// Records the URL the emulator serves at.
    pub(crate) fn set_url(&mut self, url: &str) -> std::io::Result<()> {
        self.holder.url = Some(url.to_string());
        self.record()
    }

    fn record(&mut self) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut().filter(|_| self.records) else { return Ok(()) };
        let text = serde_json::to_string(&self.holder).map_err(std::io::Error::other)?;
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(text.as_bytes())?;
        file.flush()
    }
}

impl Drop for DataLock {
    /// Unlocks explicitly rather than by closing: a child process forked by this process
    /// shares the open file until it runs its program, and closing alone would leave the lock
    /// held by that child for that moment.
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = file.unlock();
        }
    }
}

/// Whether `e` says the lock file cannot be written here (a read-only directory, file or file
/// system).
fn read_only(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem)
}

/// Refuses a lock file that is a symbolic link, or a hard link to another file, since the
/// lock file is emptied and rewritten.
fn not_a_link(path: &Path, opened: &File) -> std::io::Result<()> {
    let named = std::fs::symlink_metadata(path)?;
    let linked = named.file_type().is_symlink() || {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let open = opened.metadata()?;
            (open.dev(), open.ino()) != (named.dev(), named.ino()) || open.nlink() > 1
        }
        #[cfg(not(unix))]
        {
            let _ = opened;
            false
        }
    };
    if linked {
        return Err(std::io::Error::other(format!(
            "{} is a link, not the emulator's own lock file; remove it",
            path.display()
        )));
    }
    Ok(())
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
