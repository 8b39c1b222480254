//! The CLI's command tree, walked from its definition (`pamform::cli::Cli`), as the help
//! tests read it: a new command is in it as soon as it is defined.

use clap::CommandFactory;

/// Every command below `pamform` (the root first, its path empty), built as the binary
/// builds them (global options propagated), with its path; `help` left out.
pub fn command_tree() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut cmd = pamform::cli::Cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut vec![], &mut out);
    out
}
