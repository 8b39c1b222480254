//! The model behind the model-based test of the core loop: a small configuration (approver
//! groups, the PAM switch, access policies alone or under `for_each`, `moved` blocks), the
//! edits a user makes to it, its rendering as HCL, and what it gates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use pamform::model::PolicyTarget;
use pamform::wire::exchange::task;

use super::DOMAIN;

/// Microsoft's limit of access policies per tenant.
pub const LIMIT: usize = 30;

/// Users that can approve; the first three also have a mail address other than their UPN.
pub const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank"];
pub const WITH_MAIL: usize = 3;

pub fn upn(user: usize) -> String {
    super::upn(USERS[user])
}

pub fn mail(user: usize) -> String {
    if user < WITH_MAIL { format!("{}.mail@{DOMAIN}", USERS[user]) } else { upn(user) }
}

/// What a policy can gate: no cmdlet pamform itself runs (that would lock it out with PAM on,
/// and is refused at plan time), no role or role group holding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Task,
    Role,
    RoleGroup,
}

pub const TARGETS: &[(Kind, &str)] = &[
    (Kind::Task, "New-MoveRequest"),
    (Kind::Task, "Set-Mailbox"),
    (Kind::Task, "New-InboxRule"),
    (Kind::Task, "Disable-Mailbox"),
    (Kind::Task, "Enable-Mailbox"),
    (Kind::Task, "Get-JournalRule"),
    (Kind::Task, "Get-Mailbox"),
    (Kind::Task, "Get-MailboxSearch"),
    (Kind::Task, "Get-MoveRequest"),
    (Kind::Task, "Get-RetentionPolicy"),
    (Kind::Task, "Get-TransportRule"),
    (Kind::Task, "New-JournalRule"),
    (Kind::Task, "New-MailboxSearch"),
    (Kind::Task, "New-RetentionPolicy"),
    (Kind::Task, "New-TransportRule"),
    (Kind::Task, "Remove-JournalRule"),
    (Kind::Task, "Remove-MoveRequest"),
    (Kind::Task, "Remove-TransportRule"),
    (Kind::Task, "Set-JournalRule"),
    (Kind::Task, "Set-MailboxSearch"),
    (Kind::Task, "Set-MoveRequest"),
    (Kind::Task, "Set-RetentionPolicy"),
    (Kind::Task, "Set-TransportRule"),
    (Kind::Task, "Set-User"),
    (Kind::Task, "Set-OrganizationConfig"),
    (Kind::Role, "Move Mailboxes"),
    (Kind::Role, "Mailbox Search"),
    (Kind::Role, "Journaling"),
    (Kind::Role, "Transport Rules"),
    (Kind::Role, "Retention Management"),
    (Kind::Role, "Legal Hold"),
    (Kind::RoleGroup, "Compliance Management"),
    (Kind::RoleGroup, "Discovery Management"),
];

/// The policy target as the service spells it, lower-cased (targets compare case-insensitively).
pub fn target_key(t: usize) -> String {
    let (kind, name) = TARGETS[t];
    let target = match kind {
        Kind::Task => PolicyTarget::Task(name.to_string()),
        Kind::Role => PolicyTarget::Role(name.to_string()),
        Kind::RoleGroup => PolicyTarget::RoleGroup(name.to_string()),
    };
    task::encode(&target).to_lowercase()
}

/// A member as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: usize,
    pub by_mail: bool,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub addr: String,
    pub name: String,
    pub email: String,
    pub members: Vec<Member>,
}

/// How a block expands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Each {
    /// No `for_each`: one policy, `items` has one entry whose key is unused.
    Single,
    /// `for_each = toset([...cmdlets])`: keys are the cmdlet names.
    Set,
    /// `for_each = { key = cmdlet }`.
    Map,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub name: String,
    pub each: Each,
    pub manual: bool,
    pub group: usize,
    /// (key, index into TARGETS)
    pub items: Vec<(String, usize)>,
}

impl Block {
    pub fn address(&self, key: &str) -> String {
        match self.each {
            Each::Single => format!("access_policy.{}", self.name),
            _ => format!("access_policy.{}[\"{key}\"]", self.name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub groups: Vec<Group>,
    pub pam: bool,
    /// The group `privileged_access` names.
    pub default_group: usize,
    pub blocks: Vec<Block>,
    pub moved: Vec<(String, String)>,
    /// Makes every new name unique (names are never reused, so moves never form cycles).
    pub fresh: usize,
}

/// One edit a user makes to the configuration. Indexes are taken modulo what exists.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Rename a policy block (Terraform's implied move when the targets stay).
    RenamePolicy(usize),
    /// Rename a policy block and record it with `moved` blocks.
    MovedRename(usize),
    /// Rename an approver group's address (references follow).
    RenameGroup(usize),
    /// A `toset([...])` block becomes a map with new keys, or a map gets new keys.
    NewKeys(usize),
    /// A member switches between its UPN and its mail address.
    MemberForm(usize, usize),
    /// Add a user (by UPN or by mail) to a group, even one listed under its other name.
    AddMember(usize, usize, bool),
    RemoveMember(usize, usize),
    /// manual <-> auto.
    Approval(usize),
    /// Add single policies until the configuration has 30.
    FillToLimit,
    /// Drop `n` policies and add `n` policies for targets nobody gates.
    Swap(usize, usize),
    TogglePam,
    /// PAM's default approver group becomes another group.
    SwitchDefault,
    /// A new email (a new group) for a group PAM does not name: Exchange refuses to remove
    /// PAM's approver group, and pamform rightly rejects that plan.
    GroupEmail(usize),
    /// The configuration stays; only an apply runs.
    Nothing,
}

impl Config {
    pub fn initial(full: bool) -> Config {
        let m = |user, by_mail| Member { user, by_mail };
        let mut c = Config {
            groups: vec![
                Group {
                    addr: "approvers".into(),
                    name: "PAM Approvers".into(),
                    email: format!("pam-approvers@{DOMAIN}"),
                    members: vec![m(0, false), m(1, true)],
                },
                Group {
                    addr: "mailbox".into(),
                    name: "PAM Mailbox Approvers".into(),
                    email: format!("pam-mailbox@{DOMAIN}"),
                    members: vec![m(2, true), m(3, false)],
                },
            ],
            pam: true,
            default_group: 0,
            blocks: vec![
                Block {
                    name: "move_request".into(),
                    each: Each::Single,
                    manual: true,
                    group: 0,
                    items: vec![(String::new(), 0)],
                },
                Block {
                    name: "mailbox_tasks".into(),
                    each: Each::Set,
                    manual: true,
                    group: 1,
                    items: vec![("Set-Mailbox".into(), 1), ("New-InboxRule".into(), 2)],
                },
                Block {
                    name: "journaling".into(),
                    each: Each::Single,
                    manual: false,
                    group: 0,
                    items: vec![(String::new(), 27)],
                },
            ],
            moved: Vec::new(),
            fresh: 0,
        };
        if full {
            c.fill_to_limit();
        }
        c
    }

    fn fresh(&mut self, base: &str) -> String {
        self.fresh += 1;
        format!("{base}_{}", self.fresh)
    }

    pub fn policy_count(&self) -> usize {
        self.blocks.iter().map(|b| b.items.len()).sum()
    }

    /// The targets this configuration gates.
    pub fn gated(&self) -> BTreeSet<String> {
        self.blocks.iter().flat_map(|b| b.items.iter().map(|(_, t)| target_key(*t))).collect()
    }

    /// What each gated target's policy must be: (approval manual, approver group email).
    pub fn policy_values(&self) -> BTreeMap<String, (bool, String)> {
        self.blocks
            .iter()
            .flat_map(|b| {
                b.items
                    .iter()
                    .map(|(_, t)| (target_key(*t), (b.manual, self.groups[b.group].email.to_lowercase())))
            })
            .collect()
    }

    fn used_targets(&self) -> BTreeSet<usize> {
        self.blocks.iter().flat_map(|b| b.items.iter().map(|(_, t)| *t)).collect()
    }

    fn free_targets(&self) -> Vec<usize> {
        let used = self.used_targets();
        (0..TARGETS.len()).filter(|t| !used.contains(t)).collect()
    }

    fn fill_to_limit(&mut self) {
        let free = self.free_targets();
        let need = LIMIT.saturating_sub(self.policy_count());
        for (i, t) in free.into_iter().take(need).enumerate() {
            let name = self.fresh("extra");
            self.blocks.push(Block {
                name,
                each: Each::Single,
                manual: i % 2 == 0,
                group: i % self.groups.len(),
                items: vec![(String::new(), t)],
            });
        }
    }

    fn rename_block(&mut self, i: usize, with_moved: bool) {
        if self.blocks.is_empty() {
            return;
        }
        let i = i % self.blocks.len();
        let new_name = self.fresh("renamed");
        let old = self.blocks[i].clone();
        self.blocks[i].name = new_name;
        if with_moved {
            for (k, _) in &old.items {
                self.moved.push((old.address(k), self.blocks[i].address(k)));
            }
        }
    }

    /// Applies an edit; edits that do not fit the configuration leave it as it is. `moved`
    /// blocks whose `to` is gone (and starts no chain) are dropped, as a user would.
    pub fn edit(&mut self, e: &Edit) {
        self.apply_edit(e);
        let declared: BTreeSet<String> =
            self.blocks.iter().flat_map(|b| b.items.iter().map(|(k, _)| b.address(k))).collect();
        loop {
            let froms: BTreeSet<String> = self.moved.iter().map(|(f, _)| f.clone()).collect();
            let before = self.moved.len();
            self.moved.retain(|(_, to)| declared.contains(to) || froms.contains(to));
            if self.moved.len() == before {
                break;
            }
        }
    }

    fn apply_edit(&mut self, e: &Edit) {
        let ng = self.groups.len();
        match *e {
            Edit::RenamePolicy(i) => self.rename_block(i, false),
            Edit::MovedRename(i) => self.rename_block(i, true),
            Edit::RenameGroup(g) => {
                let addr = self.fresh("group");
                self.groups[g % ng].addr = addr;
            }
            Edit::NewKeys(i) => {
                let multi: Vec<usize> =
                    (0..self.blocks.len()).filter(|&b| self.blocks[b].each != Each::Single).collect();
                if multi.is_empty() {
                    return;
                }
                let b = multi[i % multi.len()];
                let n = self.fresh("k");
                let block = &mut self.blocks[b];
                block.each = Each::Map;
                for (j, item) in block.items.iter_mut().enumerate() {
                    item.0 = format!("{n}_{j}");
                }
            }
            Edit::MemberForm(g, m) => {
                let members = &mut self.groups[g % ng].members;
                let m = m % members.len();
                if members[m].user < WITH_MAIL {
                    members[m].by_mail = !members[m].by_mail;
                }
            }
            Edit::AddMember(g, u, by_mail) => {
                let member =
                    Member { user: u % USERS.len(), by_mail: by_mail && u % USERS.len() < WITH_MAIL };
                let members = &mut self.groups[g % ng].members;
                if !members.contains(&member) {
                    members.push(member);
                }
            }
            Edit::RemoveMember(g, m) => {
                let members = &mut self.groups[g % ng].members;
                if members.len() > 1 {
                    members.remove(m % members.len());
                }
            }
            Edit::Approval(i) => {
                if !self.blocks.is_empty() {
                    let i = i % self.blocks.len();
                    self.blocks[i].manual = !self.blocks[i].manual;
                }
            }
            Edit::FillToLimit => self.fill_to_limit(),
            Edit::Swap(n, at) => {
                let n = 1 + n % 3;
                let mut free = self.free_targets();
                for k in 0..n {
                    let singles: Vec<usize> =
                        (0..self.blocks.len()).filter(|&b| self.blocks[b].each == Each::Single).collect();
                    if singles.is_empty() || free.is_empty() {
                        break;
                    }
                    let b = singles[(at + k) % singles.len()];
                    let removed = self.blocks.remove(b);
                    let t = free.remove((at + k) % free.len());
                    let name = self.fresh("swapped");
                    self.blocks.push(Block { name, items: vec![(String::new(), t)], ..removed });
                }
            }
            Edit::TogglePam => self.pam = !self.pam,
            Edit::SwitchDefault => self.default_group = (self.default_group + 1) % ng,
            Edit::GroupEmail(g) => {
                let others: Vec<usize> = (0..ng).filter(|&x| x != self.default_group).collect();
                let g = others[g % others.len()];
                let n = self.fresh("pam");
                self.groups[g].email = format!("{}@{DOMAIN}", n.replace('_', "-"));
            }
            Edit::Nothing => {}
        }
    }

    /// The configuration as HCL, after the tenant block.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for g in &self.groups {
            let members: Vec<String> = g
                .members
                .iter()
                .map(|m| format!("\"{}\"", if m.by_mail { mail(m.user) } else { upn(m.user) }))
                .collect();
            let _ = write!(
                s,
                "approver_group \"{}\" {{\n  name    = \"{}\"\n  email   = \"{}\"\n  members = [{}]\n}}\n\n",
                g.addr,
                g.name,
                g.email,
                members.join(", ")
            );
        }
        let _ = write!(
            s,
            "privileged_access {{\n  enabled                = {}\n  default_approver_group = approver_group.{}\n  system_accounts        = [\"svc-pamform@{DOMAIN}\"]\n}}\n\n",
            self.pam, self.groups[self.default_group].addr
        );
        for b in &self.blocks {
            let _ = writeln!(s, "access_policy \"{}\" {{", b.name);
            match b.each {
                Each::Single => {
                    let (kind, name) = TARGETS[b.items[0].1];
                    let attr = match kind {
                        Kind::Task => format!("task           = \"Exchange\\\\{name}\""),
                        Kind::Role => format!("role           = \"{name}\""),
                        Kind::RoleGroup => format!("role_group     = \"{name}\""),
                    };
                    let _ = writeln!(s, "  {attr}");
                }
                Each::Set => {
                    let values: Vec<String> =
                        b.items.iter().map(|(_, t)| format!("\"{}\"", TARGETS[*t].1)).collect();
                    let _ = writeln!(s, "  for_each       = toset([{}])", values.join(", "));
                    let _ = writeln!(s, "  task           = \"Exchange\\\\${{each.value}}\"");
                }
                Each::Map => {
                    let pairs: Vec<String> =
                        b.items.iter().map(|(k, t)| format!("\"{k}\" = \"{}\"", TARGETS[*t].1)).collect();
                    let _ = writeln!(s, "  for_each       = {{ {} }}", pairs.join(", "));
                    let _ = writeln!(s, "  task           = \"Exchange\\\\${{each.value}}\"");
                }
            }
            let _ = writeln!(s, "  approval       = \"{}\"", if b.manual { "manual" } else { "auto" });
            let _ = writeln!(s, "  approver_group = approver_group.{}\n}}\n", self.groups[b.group].addr);
        }
        for (from, to) in &self.moved {
            let _ = write!(s, "moved {{\n  from = {from}\n  to   = {to}\n}}\n\n");
        }
        s
    }
}
