# Approver groups: mail-enabled security groups whose members approve requests.

approver_group "default" {
  name        = "PAM Approvers"
  email       = "pam-approvers@${var.domain}"
  description = "Approves anything without a dedicated group"
  members     = [for u in local.leads : format(local.upn, u)]
}

approver_group "mailbox" {
  name        = "PAM Mailbox Approvers"
  email       = "pam-mailbox@${var.domain}"
  description = "Approves mailbox moves and changes"
  members     = ["alice@${var.domain}", "bob@${var.domain}", "erin@${var.domain}"]
}

approver_group "compliance" {
  name        = "PAM Compliance Approvers"
  email       = "pam-compliance@${var.domain}"
  description = "Approves journaling, retention and transport rule changes"
  members     = ["frank@${var.domain}", "heidi@${var.domain}"]
  membership  = "additive"
}

approver_group "security" {
  name        = "PAM Security Approvers"
  email       = lower("PAM-Security@${var.domain}")
  description = "Approves organization-wide changes"
  members     = concat([format(local.upn, "ivan")], [format(local.upn, "judy")])

  lifecycle {
    prevent_destroy = true
  }
}
