# The smallest useful setup: one approver group, PAM switched on, two gated tasks.

approver_group "approvers" {
  name    = "PAM Approvers"
  email   = "pam-approvers@contoso.onmicrosoft.com"
  members = ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
}

privileged_access {
  enabled                = true
  default_approver_group = approver_group.approvers
  system_accounts        = ["svc-pamform@contoso.onmicrosoft.com"]
}

access_policy "move_request" {
  task           = "Exchange\\New-MoveRequest"
  approval       = "manual"
  approver_group = approver_group.approvers
}

access_policy "set_mailbox" {
  task           = "Exchange\\Set-Mailbox"
  approval       = "manual"
  approver_group = approver_group.approvers
}
