//! Fleets: one shared configuration applied to many tenants. [`mod@file`] reads the fleet file
//! (tenants with their ids, tags, variable values and credential variables), [`shard`]
//! splits a fleet between runners by a hash of each tenant's name, [`run`] plans, checks for
//! drift and applies tenant by tenant (many at once, each failure its own), [`report`] is
//! the combined report and the merge of shard reports, and [`digest`] the digest of the
//! configuration a report records. State is per tenant, under
//! `tenants/NAME/` of the configuration directory.

pub mod digest;
pub mod file;
pub mod report;
pub mod run;
pub mod shard;

pub use file::{Fleet, FleetError, FleetTenant};
pub use report::{FleetReport, Operation, Scope, Selection, Status, TenantReport};
pub use shard::Shard;
