//! pamform's integration tests, in one binary: one module per topic, and `support` for what
//! they share (the emulated tenant, the real `pamform` binary, the harnesses around them).
//! Snapshots live in `snapshots/`, property-test regressions beside their test file.

// The one-home rules of clippy.toml are the product's: tests arrange files and read their own
// switches directly.
#![allow(clippy::disallowed_methods)]

mod support;

mod architecture;
mod attack_drift_cost;
mod attack_emulator_ux;
mod attack_everyday;
mod attack_fleet_reports;
mod attack_fleets;
mod attack_name_lookups;
mod attack_plan_early;
mod attack_remote_state;
mod attack_terraform_json;
mod cli_quiet_help;
mod cli_which_tenant;
mod config_cli;
mod config_errors;
mod config_eval;
mod config_fmt;
mod e2e_apply;
mod e2e_apply_engine;
mod e2e_attack_core;
mod e2e_attack_edges;
mod e2e_core_actions;
mod e2e_core_checks;
mod e2e_core_converge;
mod e2e_core_crash;
mod e2e_core_faults;
mod e2e_core_state;
mod e2e_drift;
mod e2e_export;
mod e2e_fleet;
mod e2e_hardening_emulator;
mod e2e_hardening_flags;
mod e2e_hardening_state;
mod e2e_model;
mod e2e_owner_moves;
mod e2e_paths;
mod e2e_paths_dropped_write;
mod e2e_promises;
mod e2e_requests;
mod e2e_saved_plan;
mod e2e_sensitive;
mod e2e_tenant_checks;
mod emulator_auth;
mod emulator_exchange;
mod emulator_graph;
mod emulator_pam;
mod emulator_serve;
mod emulator_tenants;
mod emulator_ux_data_lock;
mod emulator_ux_devicelogin;
mod emulator_ux_exec;
mod emulator_ux_readme;
mod emulator_ux_support;
mod export_files;
mod export_import;
mod export_roundtrip;
mod fleet_force_unlock;
mod fleet_integrity;
mod fleet_remote_state;
mod install_package;
mod oauth_wire;
mod plan_diff;
mod plan_name_lookups;
mod remote_state;
mod render_json;
mod render_markdown;
mod render_schemas;
mod render_text;
mod request_refusals;
mod snap_fleet;
mod snap_help;
mod snap_outputs;
mod tenant_e2e;
mod wire_attack;
mod wire_corpus;
mod wire_facts;
