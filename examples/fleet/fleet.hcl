# The tenants of `pamform emulator seed --tenants 3`, served by `pamform emulator serve --seed`:
# one baseline (../quickstart style) with each tenant's own approvers.
tenant "tenant1" {
  id           = "tenant0001.onmicrosoft.com"
  display_name = "Tenant One"
  tags         = ["eu"]
  vars = {
    domain    = "tenant0001.onmicrosoft.com"
    approvers = ["user001@tenant0001.onmicrosoft.com", "user002@tenant0001.onmicrosoft.com"]
  }
}

tenant "tenant2" {
  id   = "tenant0002.onmicrosoft.com"
  tags = ["us"]
  vars = {
    domain    = "tenant0002.onmicrosoft.com"
    approvers = ["user003@tenant0002.onmicrosoft.com"]
  }
}

tenant "tenant3" {
  id   = "tenant0003.onmicrosoft.com"
  tags = ["eu"]
  vars = {
    domain    = "tenant0003.onmicrosoft.com"
    approvers = ["user001@tenant0003.onmicrosoft.com"]
  }
}
