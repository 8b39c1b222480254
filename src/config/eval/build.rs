//! Building the desired model: one function per resource type turns an instance's
//! attributes into its model object (approver group, access policy, privileged access),
//! checks the values the type allows, inserts it into the configuration, and returns the
//! value references to the instance evaluate to.

use hcl::Value;

use super::Node;
use super::attributes::invalid_email;
use super::instances::Instance;
use crate::config::syntax::did_you_mean;
use crate::config::values;
use crate::diagnostic::codes;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::normalize::{is_email_like, is_task_shaped, task_cmdlet};
use crate::model::{
    AccessPolicy, Address, Approval, ApproverGroup, Configuration, GroupRef, Lifecycle, Membership, Meta,
    PolicyTarget, PrivilegedAccess, ResourceType, Span, Spanned,
};

/// The value a reference to an instance evaluates to: an object of its attributes.
type Object = hcl::Map<String, Value>;

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

impl Instance<'_, '_, '_, '_> {
    /// Builds the model object of this instance, inserts it into `config`, and returns the
    /// value references to it evaluate to.
    pub(super) fn build(
        &self,
        config: &mut Configuration,
        kind: ResourceType,
        name: &str,
        key: Option<&String>,
        lifecycle: &Lifecycle,
        diags: &mut Diagnostics,
    ) -> Option<Object> {
        let address = match key {
            Some(k) => Address::with_key(kind, name, k.clone()),
            None if kind == ResourceType::PrivilegedAccess => Address::privileged_access(),
            None => Address::new(kind, name),
        };
        let node = Node::Resource(kind, name.to_string());
        let meta = self.meta(lifecycle, &node, diags);
        match kind {
            ResourceType::ApproverGroup => {
                let referenced = self.ev.referenced.contains(&node);
                self.approver_group(address, meta, referenced, config, diags)
            }
            ResourceType::AccessPolicy => self.access_policy(address, meta, config, diags),
            ResourceType::PrivilegedAccess => self.privileged_access(address, meta, config, diags),
        }
    }

    /// `referenced`: whether any expression references the block; if not, the value
    /// returned is empty (nothing reads it) rather than a copy of every member.
    fn approver_group(
        &self,
        address: Address,
        meta: Result<Meta, ()>,
        referenced: bool,
        config: &mut Configuration,
        diags: &mut Diagnostics,
    ) -> Option<Object> {
        let display = self.required_string("name", diags);
        let email = self.required_string("email", diags);
        let alias = self.string("alias", diags);
        let description = self.string("description", diags);
        let members = self.list("members", diags);
        let membership = self.membership(diags);
        if let Ok(e) = &email
            && !is_email_like(&e.value)
        {
            diags.push(invalid_email("email", &e.value, e.span));
        }
        if let Ok(members) = &members {
            for m in members.iter().filter(|m| !is_email_like(&m.value)) {
                diags.push(invalid_email("members", &m.value, m.span));
            }
        }
        let (Ok(display), Ok(email), Ok(alias), Ok(description), Ok(members), Ok(membership), Ok(meta)) =
            (display, email, alias, description, members, membership, meta)
        else {
            return None;
        };
        let group = ApproverGroup {
            address: address.clone(),
            span: self.block.header(),
            name: display,
            email,
            alias,
            description,
            members,
            membership,
            meta,
        };
        let obj = if referenced { group_object(&group) } else { Object::new() };
        config.groups.insert(address, group);
        Some(obj)
    }

    /// `membership`: authoritative (the default) or additive.
    fn membership(&self, diags: &mut Diagnostics) -> Result<Membership, ()> {
        let Some(m) = self.string("membership", diags)? else { return Ok(Membership::Authoritative) };
        match m.value.as_str() {
            "authoritative" => Ok(Membership::Authoritative),
            "additive" => Ok(Membership::Additive),
            other => {
                diags.push(invalid_choice("membership", other, &["authoritative", "additive"], m.span));
                Err(())
            }
        }
    }

    fn access_policy(
        &self,
        address: Address,
        meta: Result<Meta, ()>,
        config: &mut Configuration,
        diags: &mut Diagnostics,
    ) -> Option<Object> {
        let span = self.block.header();
        let mut targets = Vec::new();
        let mut target_failed = false;
        for attr in ["task", "role", "role_group"] {
            match self.string(attr, diags) {
                Ok(Some(v)) => targets.push((attr, v)),
                Ok(None) => {}
                Err(()) => target_failed = true,
            }
        }
        let approval = self.approval(diags);
        let group = self.group_ref("approver_group", diags);
        let target = if target_failed { None } else { one_target(&targets, span, diags) };
        let (Some(target), Ok(approval), Ok(Some(group)), Ok(meta)) = (target, approval, group, meta) else {
            return None;
        };
        let mut obj = Object::new();
        obj.insert("task".into(), Value::Null);
        obj.insert("role".into(), Value::Null);
        obj.insert("role_group".into(), Value::Null);
        obj.insert(target.value.attribute().into(), s(&target.value.display_value()));
        obj.insert("approval".into(), s(approval.value.as_str()));
        let group_email = match &group.value {
            GroupRef::Email(e) => Some(e.clone()),
            GroupRef::Resource(a) => config.groups.get(a).map(|g| g.email.value.clone()),
        };
        obj.insert("approver_group".into(), group_email.as_deref().map_or(Value::Null, s));
        config.policies.insert(
            address.clone(),
            AccessPolicy { address, span, target, approval, approver_group: group, meta },
        );
        Some(obj)
    }

    /// `approval`: manual (the default, spanning the block) or auto.
    fn approval(&self, diags: &mut Diagnostics) -> Result<Spanned<Approval>, ()> {
        let Some(a) = self.string("approval", diags)? else {
            return Ok(Spanned::new(Approval::Manual, self.block.header()));
        };
        match a.value.as_str() {
            "manual" => Ok(Spanned::new(Approval::Manual, a.span)),
            "auto" => Ok(Spanned::new(Approval::Auto, a.span)),
            other => {
                diags.push(invalid_choice("approval", other, &["manual", "auto"], a.span));
                Err(())
            }
        }
    }

    fn privileged_access(
        &self,
        address: Address,
        meta: Result<Meta, ()>,
        config: &mut Configuration,
        diags: &mut Diagnostics,
    ) -> Option<Object> {
        let enabled = self.get("enabled", diags).and_then(|v| match v {
            Some((v, span, _)) => values::bool("enabled", &v, span).map_err(|d| diags.push(d)),
            None => Err(()),
        });
        let default = self.group_ref("default_approver_group", diags);
        let accounts = self.list("system_accounts", diags);
        if let Ok(accounts) = &accounts {
            check_system_accounts(accounts, diags);
        }
        if let (Ok(enabled), Ok(None)) = (&enabled, &default)
            && enabled.value
        {
            diags.push(
                Diagnostic::error(
                    codes::MISSING_DEFAULT_APPROVER,
                    "privileged access is enabled without a default approver group",
                )
                .with_label(enabled.span, "enabled here")
                .with_help("add `default_approver_group = approver_group.NAME`; Exchange requires one"),
            );
            return None;
        }
        let (Ok(enabled), Ok(default), Ok(accounts), Ok(meta)) = (enabled, default, accounts, meta) else {
            return None;
        };
        let mut obj = Object::new();
        obj.insert("enabled".into(), Value::Bool(enabled.value));
        obj.insert("system_accounts".into(), Value::Array(accounts.iter().map(|a| s(&a.value)).collect()));
        config.privileged_access = Some(PrivilegedAccess {
            address,
            span: self.block.header(),
            enabled,
            default_approver_group: default,
            system_accounts: accounts,
            meta,
        });
        Some(obj)
    }
}

/// What references to an approver group see.
fn group_object(group: &ApproverGroup) -> Object {
    let mut obj = Object::new();
    obj.insert("name".into(), s(&group.name.value));
    obj.insert("email".into(), s(&group.email.value));
    obj.insert("alias".into(), s(&group.effective_alias()));
    obj.insert("description".into(), group.description.as_ref().map_or(Value::Null, |d| s(&d.value)));
    obj.insert("members".into(), Value::Array(group.members.iter().map(|m| s(&m.value)).collect()));
    obj.insert("membership".into(), s(group.membership.as_str()));
    obj
}

/// System accounts are UPNs or application (client) id GUIDs.
fn check_system_accounts(accounts: &[Spanned<String>], diags: &mut Diagnostics) {
    for a in accounts {
        if !is_email_like(&a.value) && uuid::Uuid::parse_str(&a.value).is_err() {
            diags.push(invalid_email("system_accounts", &a.value, a.span).with_help(
                "list a UPN such as `svc-pamform@contoso.onmicrosoft.com`, or an application (client) id GUID",
            ));
        }
    }
}

/// The one target of an access policy among the `task`, `role` and `role_group` it sets.
fn one_target(
    targets: &[(&str, Spanned<String>)],
    span: Span,
    diags: &mut Diagnostics,
) -> Option<Spanned<PolicyTarget>> {
    match targets {
        [] => {
            diags.push(
                Diagnostic::error(
                    codes::POLICY_TARGET,
                    "an access policy needs one of `task`, `role` or `role_group`",
                )
                .with_label(span, "no target")
                .with_help(
                    "add `task = \"Exchange\\\\Verb-Noun\"`, `role = \"...\"` or `role_group = \"...\"`",
                ),
            );
            None
        }
        [(attr, v)] => policy_target(attr, v, diags),
        [(first, f), (second, sv), ..] => {
            diags.push(
                Diagnostic::error(
                    codes::POLICY_TARGET,
                    format!("an access policy gates one thing: `{first}` and `{second}` are both set"),
                )
                .with_label(sv.span, format!("`{second}` set here"))
                .with_extra_label(f.span, format!("`{first}` set here"))
                .with_help(
                    "keep exactly one of `task`, `role` and `role_group`; write one policy per target",
                ),
            );
            None
        }
    }
}

fn policy_target(attr: &str, v: &Spanned<String>, diags: &mut Diagnostics) -> Option<Spanned<PolicyTarget>> {
    let target = match attr {
        "task" => {
            if !is_task_shaped(&v.value) {
                diags.push(
                    Diagnostic::error(
                        codes::TASK_FORMAT,
                        format!("`{}` is not a task: tasks are written `Exchange\\Verb-Noun`", v.value),
                    )
                    .with_label(v.span, "not shaped `Exchange\\Verb-Noun`")
                    .with_help("write e.g. `task = \"Exchange\\\\New-MoveRequest\"` (a backslash is `\\\\` inside quotes)"),
                );
                return None;
            }
            PolicyTarget::Task(task_cmdlet(&v.value).to_string())
        }
        _ if v.value.trim().is_empty() => {
            diags.push(
                Diagnostic::error(codes::INVALID_VALUE, format!("`{attr}` must not be empty"))
                    .with_label(v.span, "empty")
                    .with_help(format!("name the Exchange {}", attr.replace('_', " "))),
            );
            return None;
        }
        "role" => PolicyTarget::Role(v.value.clone()),
        _ => PolicyTarget::RoleGroup(v.value.clone()),
    };
    Some(Spanned::new(target, v.span))
}

fn invalid_choice(attr: &str, value: &str, choices: &[&str], span: Span) -> Diagnostic {
    let help = match did_you_mean(value, choices.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("use one of: {}", choices.join(", ")),
    };
    Diagnostic::error(codes::INVALID_VALUE, format!("`{attr}` cannot be `{value}`"))
        .with_label(span, "not allowed")
        .with_help(help)
}
