//! The tenant client: sign-in, the Exchange admin API and Graph over HTTP, one retry policy,
//! and the refresh that fetches a [`crate::model::TenantSnapshot`].
