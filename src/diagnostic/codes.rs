//! The stable diagnostic codes, every one of them, grouped by the stage that reports it.
//! Tools match on these strings; never change one that shipped.

// The language: reading, evaluating and checking the configuration offline.

pub const IO: &str = "pamform::io";
pub const NO_CONFIGURATION: &str = "pamform::no_configuration";
pub const SYNTAX: &str = "pamform::syntax";
pub const UNKNOWN_BLOCK: &str = "pamform::unknown_block";
pub const UNKNOWN_ATTRIBUTE: &str = "pamform::unknown_attribute";
pub const DUPLICATE_ATTRIBUTE: &str = "pamform::duplicate_attribute";
pub const MISSING_ATTRIBUTE: &str = "pamform::missing_attribute";
pub const BLOCK_LABELS: &str = "pamform::block_labels";
pub const TYPE_MISMATCH: &str = "pamform::type_mismatch";
pub const INVALID_VALUE: &str = "pamform::invalid_value";
pub const EVALUATION: &str = "pamform::evaluation";
pub const UNKNOWN_FUNCTION: &str = "pamform::unknown_function";
pub const UNKNOWN_REFERENCE: &str = "pamform::unknown_reference";
pub const REFERENCE_CYCLE: &str = "pamform::reference_cycle";
pub const DUPLICATE_ADDRESS: &str = "pamform::duplicate_address";
pub const DUPLICATE_LOCAL: &str = "pamform::duplicate_local";
pub const DUPLICATE_VARIABLE: &str = "pamform::duplicate_variable";
pub const DUPLICATE_VARIABLE_VALUE: &str = "pamform::duplicate_variable_value";
pub const DUPLICATE_EMAIL: &str = "pamform::duplicate_email";
pub const DUPLICATE_POLICY_TARGET: &str = "pamform::duplicate_policy_target";
pub const POLICY_TARGET: &str = "pamform::policy_target";
pub const TASK_FORMAT: &str = "pamform::task_format";
pub const INVALID_EMAIL: &str = "pamform::invalid_email";
/// More access policies than Microsoft allows: configured ones alone, or (at plan time)
/// together with the unmanaged ones already in the tenant.
pub const TOO_MANY_POLICIES: &str = "pamform::too_many_policies";
pub const MISSING_DEFAULT_APPROVER: &str = "pamform::missing_default_approver";
pub const FOR_EACH_TYPE: &str = "pamform::for_each_type";
pub const VARIABLE_TYPE: &str = "pamform::variable_type";
pub const VARIABLE_VALIDATION: &str = "pamform::variable_validation";
pub const MISSING_VARIABLE: &str = "pamform::missing_variable";
pub const UNDECLARED_VARIABLE: &str = "pamform::undeclared_variable";
pub const INVALID_ADDRESS: &str = "pamform::invalid_address";
pub const UNKNOWN_ADDRESS: &str = "pamform::unknown_address";
pub const MOVED_STILL_DECLARED: &str = "pamform::moved_still_declared";
pub const AMBIGUOUS_MOVE: &str = "pamform::ambiguous_move";
pub const MOVED_CYCLE: &str = "pamform::moved_cycle";
pub const MISSING_TENANT: &str = "pamform::missing_tenant";
pub const DUPLICATE_TENANT: &str = "pamform::duplicate_tenant";
pub const DUPLICATE_PRIVILEGED_ACCESS: &str = "pamform::duplicate_privileged_access";

// The plan: what makes a diff impossible or unsafe to apply.

pub const PREVENT_DESTROY: &str = "pamform::prevent_destroy";
pub const IMPORT_NOT_FOUND: &str = "pamform::import_not_found";
/// An import of an object another address already manages.
pub const IMPORT_OWNED: &str = "pamform::import_owned";
pub const MOVED_BOTH_EXIST: &str = "pamform::moved_both_exist";
/// Two addresses would manage one remote object.
pub const OWNER_CONFLICT: &str = "pamform::owner_conflict";
/// A group would be removed while a policy or the PAM switch still names it.
pub const GROUP_STILL_NAMED: &str = "pamform::group_still_named";

// Tenant checks: the plan against what the tenant has (the 30-policy limit is
// TOO_MANY_POLICIES above).

pub const UNKNOWN_MEMBER: &str = "pamform::unknown_member";
pub const MEMBER_WITHOUT_MAILBOX: &str = "pamform::member_without_mailbox";
pub const GUEST_APPROVER: &str = "pamform::guest_approver";
pub const EMPTY_APPROVER_GROUP: &str = "pamform::empty_approver_group";
pub const SELF_LOCKOUT: &str = "pamform::self_lockout";
pub const UNKNOWN_APPROVER_GROUP: &str = "pamform::unknown_approver_group";
pub const UNKNOWN_SYSTEM_ACCOUNT: &str = "pamform::unknown_system_account";
pub const DEFAULT_GROUP_REPLACED: &str = "pamform::default_group_replaced";
pub const DUPLICATE_MEMBER: &str = "pamform::duplicate_member";
pub const UNKNOWN_TASK: &str = "pamform::unknown_task";
pub const UNKNOWN_ROLE: &str = "pamform::unknown_role";
pub const UNKNOWN_ROLE_GROUP: &str = "pamform::unknown_role_group";
pub const GROUP_NAME_TAKEN: &str = "pamform::group_name_taken";
