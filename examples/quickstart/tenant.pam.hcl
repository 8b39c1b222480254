# Runs against an emulated tenant kept in tenant.json (created on first use). For a real
# tenant, replace the emulator line with nothing and set PAMFORM_TENANT_ID, PAMFORM_CLIENT_ID
# and a credential (see the README).
tenant {
  id       = "contoso.onmicrosoft.com"
  emulator = "tenant.json"
}
