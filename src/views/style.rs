//! Styles shared by every renderer, after Terraform's colours: green create, red destroy,
//! yellow update, bold headings.

use anstyle::{AnsiColor, Style};

pub const CREATE: Style = AnsiColor::Green.on_default();
pub const DESTROY: Style = AnsiColor::Red.on_default();
pub const UPDATE: Style = AnsiColor::Yellow.on_default();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
pub const OK: Style = AnsiColor::Green.on_default().bold();

/// `text` wrapped in `style`'s escape codes (stripped later by anstream where colour is off).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}
