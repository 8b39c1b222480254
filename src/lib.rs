//! pamform manages Microsoft 365 privileged access management (Exchange Online PAM) as code.
//!
//! The data path reads like the product: configuration ([`config`]) evaluates to a desired
//! model ([`model`]); the tenant client ([`tenant`]) refreshes the live picture into a
//! snapshot; [`plan`] diffs desired, live and recorded ([`state`]) into actions; [`apply`]
//! carries them out; [`views`] draws everything on the terminal (plans, reports, progress,
//! diagnostics). [`wire`] holds Microsoft's wire formats for both the client and the
//! [`emulator`]. [`cli`] is the command-line edge.
//! Every stage reports problems as [`diagnostic`]s, rendered one way.

pub mod apply;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod drift;
pub mod emulator;
pub mod env;
pub mod export;
pub mod files;
pub mod fleet;
pub mod model;
pub mod plan;
pub mod requests;
pub mod state;
pub mod tenant;
pub mod views;
pub mod wire;
