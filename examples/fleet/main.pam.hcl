# The shared baseline of the fleet: each tenant's id and values come from fleet.hcl.
tenant {
  id           = "set per tenant by fleet.hcl"
  exchange_url = "http://127.0.0.1:8740"
  graph_url    = "http://127.0.0.1:8740"
  login_url    = "http://127.0.0.1:8740"
}

variable "domain" {
  type = string
}

variable "approvers" {
  type = list(string)
}

approver_group "main" {
  name    = "PAM Approvers"
  email   = "pam-approvers@${var.domain}"
  members = var.approvers
}

privileged_access {
  enabled                = true
  default_approver_group = approver_group.main
  system_accounts        = ["svc-pamform@${var.domain}"]
}

access_policy "mailbox" {
  task           = "Exchange\\Set-Mailbox"
  approver_group = approver_group.main
}
