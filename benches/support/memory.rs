//! Peak resident memory (Linux `VmHWM`), and resetting it so a figure covers one phase.

/// `VmHWM` of the process whose status file is `status_path`.
pub fn peak_of(status_path: &str) -> String {
    field(status_path, "VmHWM:")
}

/// `VmHWM` in kB of the process whose status file is `status_path`; `None` once it has
/// exited (a finished process has no memory figures) or where there is no such figure.
pub fn peak_kb_of(status_path: &str) -> Option<u64> {
    peak_of(status_path).strip_suffix(" kB")?.trim().parse().ok()
}

fn field(status_path: &str, name: &str) -> String {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// This process's resident memory now (`VmRSS`).
pub fn resident() -> String {
    field("/proc/self/status", "VmRSS:")
}

/// This process's peak resident memory since start or the last [`reset_peak`].
pub fn peak() -> String {
    peak_of("/proc/self/status")
}

/// Starts a new peak from the current resident memory (Linux: `5` to `clear_refs`), so the
/// next [`peak`] leaves out what setting up the benchmark took. False where not supported.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
