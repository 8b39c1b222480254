//! Microsoft's wire formats, in one place: paths, headers, cmdlet and parameter names, JSON
//! shapes and envelopes of the OAuth2 token endpoint ([`oauth`]), the Exchange admin API
//! ([`exchange`]) and Microsoft Graph ([`graph`]). Both the tenant client and the emulator
//! use these definitions, so they cannot drift apart.
//!
//! Every fact here is marked as documented (**doc**), observed against real tenants by
//! third-party clients (**observed**) or our own choice (**assumed**). Someone with a live
//! tenant corrects an assumption here, and both sides follow.

pub mod blob;
pub mod exchange;
pub mod graph;
pub mod oauth;
