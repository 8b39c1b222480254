# Access policies: at most 30 per tenant, counted after for_each expansion.

access_policy "mailbox_tasks" {
  for_each       = var.mailbox_tasks
  task           = "Exchange\\${each.value}"
  approval       = "manual"
  approver_group = approver_group.mailbox
}

access_policy "search_mailbox" {
  task           = "Exchange\\New-MailboxSearch"
  approver_group = approver_group.security
}

access_policy "compliance_roles" {
  for_each = {
    journaling = "Journaling"
    retention  = "Retention Management"
    transport  = "Transport Rules"
  }
  role           = each.value
  approval       = "manual"
  approver_group = approver_group.compliance
}

access_policy "move_mailboxes" {
  role           = "Move Mailboxes"
  approval       = "auto"
  approver_group = approver_group.mailbox
}

access_policy "distribution_groups" {
  role           = "Distribution Groups"
  approval       = "auto"
  approver_group = approver_group.default
}

access_policy "organization_management" {
  role_group     = "Organization Management"
  approval       = "manual"
  approver_group = approver_group.security

  lifecycle {
    prevent_destroy = true
  }
}

access_policy "discovery_management" {
  role_group     = "Discovery Management"
  approver_group = approver_group.security
  depends_on     = [access_policy.organization_management]
}

access_policy "role_management" {
  role           = "Role Management"
  approver_group = approver_group.security
}

access_policy "new_journal_rule" {
  task           = "Exchange\\New-JournalRule"
  approver_group = "pam-compliance@${var.domain}"
}
