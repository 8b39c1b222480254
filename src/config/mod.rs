//! The pamform language: reads `*.pam.hcl` files, evaluates them into the desired model
//! ([`crate::model::Configuration`]) and checks them offline, reporting every problem as a
//! diagnostic with its source span.
