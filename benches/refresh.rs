//! Refresh benchmark (filled in once the emulator is merged).
fn main() {}
