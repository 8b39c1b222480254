//! Progress on stderr: the spinner of a tenant refresh ([`RefreshProgress`]) and the spinner
//! of a wait of unknown length ([`Spinner`]: a sign-in, a request's decision). Drawn only when
//! stderr is a terminal and `--quiet` is not given.

// The one module that draws progress bars (clippy.toml refuses them elsewhere).
#![allow(clippy::disallowed_types)]

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Duration;

use super::Printer;
use crate::tenant::RefreshEvent;

/// A spinner on stderr while a refresh runs, when stderr is a terminal and neither `--quiet`
/// nor `-v` is given (the request log would tear it). Drawn from the refresh's first event,
/// cleared at its last or when this is dropped.
pub struct RefreshProgress {
    enabled: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl RefreshProgress {
    pub fn new(printer: &Printer) -> Self {
        RefreshProgress { enabled: printer.show_progress() && !printer.is_verbose(), bar: Mutex::new(None) }
    }

    /// Updates the spinner for one refresh event.
    pub fn show(&self, event: RefreshEvent) {
        if !self.enabled {
            return;
        }
        let Ok(mut bar) = self.bar.lock() else { return };
        let message = match event {
            RefreshEvent::Started => "refreshing the tenant",
            RefreshEvent::PolicyTargets => "reading groups and roles the policies name",
            RefreshEvent::RoleContents => "reading role contents",
            RefreshEvent::Finished => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                return;
            }
        };
        match bar.as_ref() {
            Some(b) => b.set_message(message),
            None => *bar = Some(spinner(message)),
        }
    }
}

/// A ticking spinner showing `message` from its first frame: the message is set before the
/// tick thread starts, which would otherwise draw once without it.
fn spinner(message: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr())
        .with_message(message);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

impl Drop for RefreshProgress {
    fn drop(&mut self) {
        if let Some(b) = self.bar.get_mut().ok().and_then(Option::take) {
            b.finish_and_clear();
        }
    }
}

/// A spinner on stderr while waiting for something outside pamform; nothing when progress is
/// not shown (then callers say once what they wait for). Cleared when dropped.
pub struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    /// Starts a spinner, with `message` when given, if `printer` shows progress.
    pub fn start(printer: &Printer, message: Option<&'static str>) -> Self {
        Spinner(printer.show_progress().then(|| {
            let s = indicatif::ProgressBar::new_spinner();
            if let Some(m) = message {
                s.set_message(m);
            }
            s.enable_steady_tick(Duration::from_millis(120));
            s
        }))
    }

    /// Whether a spinner is drawn.
    pub fn is_drawn(&self) -> bool {
        self.0.is_some()
    }

    pub fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        if let Some(s) = &self.0 {
            s.set_message(message);
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.finish_and_clear();
        }
    }
}
