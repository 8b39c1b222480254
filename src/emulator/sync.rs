//! Locking that survives a panicked holder: the emulator's state stays usable after a
//! handler panics with a lock held.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
