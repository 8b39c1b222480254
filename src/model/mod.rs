//! The typed model every other part speaks: where values came from in the source
//! ([`source`]), resource addresses ([`address`]), the desired configuration that the
//! language evaluates to ([`desired`]) and the tenant's live PAM picture that a refresh
//! fetches ([`snapshot`]).

pub mod address;
pub mod desired;
pub mod normalize;
pub mod snapshot;
pub mod source;

pub use address::{Address, ResourceType};
pub use desired::{
    AccessPolicy, Approval, ApproverGroup, Configuration, GroupRef, Import, Lifecycle, Membership, Meta,
    Moved, PolicyTarget, PrivilegedAccess, Sensitivity, Tenant,
};
pub use snapshot::{DirectoryObject, ObjectKind, PamSetting, RemoteGroup, RemotePolicy, TenantSnapshot};
pub use source::{FileId, SourceFile, Sources, Span, Spanned};
