# Contoso's privileged access setup, run against the emulator.

tenant {
  id       = var.domain
  emulator = "tenant.json"
}

variable "domain" {
  type        = string
  default     = "contoso.onmicrosoft.com"
  description = "The tenant's initial domain"
  validation {
    condition     = endswith(var.domain, ".onmicrosoft.com")
    error_message = "the domain must be the tenant's initial domain (*.onmicrosoft.com)"
  }
}

variable "automation_app_id" {
  type        = string
  description = "Application (client) id of the app pamform runs as"
}

variable "mailbox_tasks" {
  type    = set(string)
  default = ["New-MoveRequest", "Set-Mailbox"]
}

locals {
  # Everyone who may approve anything; the leads approve the sensitive roles alone.
  leads = ["carol", "dave"]
  upn   = "%s@${var.domain}"
}

privileged_access {
  enabled                = true
  default_approver_group = approver_group.default
  system_accounts = [
    format(local.upn, "svc-pamform"),
    format(local.upn, "svc-backup"),
    var.automation_app_id,
  ]
}
