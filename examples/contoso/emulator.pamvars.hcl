# The emulator's registered application: pamform signs in as this app, so PAM must
# exempt it, or the tool would gate its own cmdlets.
automation_app_id = "5f2d7c1a-8a3e-4b6c-9d01-3e5a7b9c0d11"
