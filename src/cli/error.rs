//! The one mapping from outcomes and error kinds to exit codes: 0 success, 2 success with
//! differences, 1 every error (usage, configuration, tenant, lock, stale plan, internal).

use std::process::ExitCode;

use crate::views::{self, Printer};

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `plan --detailed-exitcode` found changes, `drift` found drift.
    Differences,
}

/// What kind of failure; each reads differently to users. All exit 1 but the three ends of
/// `request wait` that are not approval, which scripts tell apart by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Usage,
    Config,
    Tenant,
    State,
    Lock,
    StalePlan,
    Internal,
    /// `request wait`: the request was denied, or its access revoked (exit 3).
    Denied,
    /// `request wait`: the request expired undecided (exit 4).
    Expired,
    /// `request wait`: still undecided when the wait gave up (exit 5).
    TimedOut,
}

/// An error at the command-line edge: a rendered diagnostic and its kind.
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub report: miette::Report,
    /// Already printed (e.g. a list of diagnostics); only the exit code remains.
    pub reported: bool,
}

impl CliError {
    pub fn new(kind: ErrorKind, report: impl Into<miette::Report>) -> Self {
        CliError { kind, report: report.into(), reported: false }
    }

    pub fn msg(kind: ErrorKind, message: impl std::fmt::Display) -> Self {
        CliError { kind, report: miette::miette!("{message}"), reported: false }
    }

    /// The problem has been shown to the user already.
    pub fn reported(kind: ErrorKind) -> Self {
        CliError { kind, report: miette::miette!("reported"), reported: true }
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Usage
            | ErrorKind::Config
            | ErrorKind::Tenant
            | ErrorKind::State
            | ErrorKind::Lock
            | ErrorKind::StalePlan
            | ErrorKind::Internal => 1,
            ErrorKind::Denied => 3,
            ErrorKind::Expired => 4,
            ErrorKind::TimedOut => 5,
        }
    }
}

pub fn exit_code(result: Result<Outcome, CliError>, printer: &Printer) -> ExitCode {
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Differences) => ExitCode::from(2),
        Err(e) => {
            if !e.reported {
                views::diagnostics::error(printer, &e.report);
            }
            ExitCode::from(e.exit_code())
        }
    }
}
