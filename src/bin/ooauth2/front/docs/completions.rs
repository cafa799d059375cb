//! `ooauth2 completions SHELL`: clap_complete's scripts, which never fall
//! behind the flags. The bash, zsh and fish scripts also complete account
//! names, which no static script can know: they ask the hidden
//! `ooauth2 accounts` at each TAB.

use crate::args::Cli;
use crate::output::print_stdout;
use clap::CommandFactory;
use clap_complete::Shell;
use ooauth2::error::Result;
use ooauth2::settings::Settings;

/// The completion script clap_complete generates, with account names for
/// the commands that take one.
pub fn completions(shell: Shell) -> Result<()> {
    let mut cmd = completed_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ooauth2", &mut out);
    let script = String::from_utf8_lossy(&out);
    let takers = account_commands(&cmd);
    let script = match shell {
        Shell::Bash => bash_accounts(&script, &takers),
        Shell::Zsh => zsh_accounts(&script),
        Shell::Fish => fish_accounts(&script, &takers),
        _ => script.into_owned(),
    };
    print_stdout(&script)
}

/// The command line the scripts complete: the CLI without its hidden
/// subcommands, which clap_complete would offer like any other.
fn completed_command() -> clap::Command {
    let full = Cli::command();
    let shown = full.get_subcommands().filter(|s| !s.is_hide_set()).cloned();
    clap::Command::new("ooauth2")
        .version(env!("CARGO_PKG_VERSION"))
        .about(full.get_about().cloned().unwrap_or_default())
        .long_about(full.get_long_about().cloned().unwrap_or_default())
        .args(full.get_arguments().cloned())
        .subcommands(shown)
}

/// `ooauth2 accounts`: the config file's account names, one a line. Names
/// are plain (`valid_name`), so a script may split them on white space.
pub fn accounts(settings: &Settings) -> Result<()> {
    let names: String = ooauth2::config::load(settings)?
        .iter()
        .flat_map(|c| &c.accounts)
        .map(|a| format!("{}\n", a.name))
        .collect();
    print_stdout(&names)
}

/// The id of the positional argument naming an account (`AccountArgs::name`).
const ACCOUNT_ARG: &str = "name";

/// The subcommands that take an account name, each as its path of
/// names (`["token"]`, `["store", "migrate"]`).
fn account_commands(cmd: &clap::Command) -> Vec<Vec<String>> {
    let takes = |sub: &clap::Command| sub.get_positionals().any(|a| a.get_id() == ACCOUNT_ARG);
    let mut out = Vec::new();
    for sub in cmd.get_subcommands() {
        let name = sub.get_name().to_string();
        if takes(sub) {
            out.push(vec![name.clone()]);
        }
        for nested in sub.get_subcommands().filter(|n| takes(n)) {
            out.push(vec![name.clone(), nested.get_name().to_string()]);
        }
    }
    out
}

/// The shell function that prints the account names; stderr is dropped so
/// a broken config file never garbles the command line being edited.
const BASH_LISTER: &str = "\
# The config file's account names, for the commands that take one.
_ooauth2_accounts() {
    command ooauth2 accounts 2>/dev/null
}

";

/// bash: each account-taking subcommand's word list starts with the names.
fn bash_accounts(script: &str, takers: &[Vec<String>]) -> String {
    let mut script = format!("{BASH_LISTER}{script}");
    for path in takers {
        let name = path.join("__subcmd__");
        let words = format!("ooauth2__subcmd__{name})\n            opts=\"");
        script = script.replace(&words, &format!("{words}$(_ooauth2_accounts) "));
    }
    script
}

/// The zsh completer of an account argument.
const ZSH_LISTER: &str = "\
(( $+functions[_ooauth2_accounts] )) ||
_ooauth2_accounts() {
    local -a names
    names=(${(f)\"$(command ooauth2 accounts 2>/dev/null)\"})
    _describe -t accounts 'account' names
}

";

/// zsh: the account argument's action is `_ooauth2_accounts` instead of
/// file names.
fn zsh_accounts(script: &str) -> String {
    // One account (`'::name -- `), or several (`'*::name -- `).
    let specs = [
        format!("'::{ACCOUNT_ARG} -- "),
        format!("'*::{ACCOUNT_ARG} -- "),
    ];
    let lines: Vec<String> = script
        .lines()
        .map(|line| match line.strip_suffix(":_default' \\") {
            Some(head) if specs.iter().any(|s| line.starts_with(s)) => {
                format!("{head}:_ooauth2_accounts' \\")
            }
            _ => line.to_string(),
        })
        .collect();
    let script = lines.join("\n") + "\n";
    let trailer = "if [ \"$funcstack[1]\" = \"_ooauth2\" ]; then";
    script.replacen(trailer, &format!("{ZSH_LISTER}{trailer}"), 1)
}

/// fish: one line per account-taking subcommand offering the names (and no
/// file names where an account goes).
fn fish_accounts(script: &str, takers: &[Vec<String>]) -> String {
    let mut script = script.to_string();
    for path in takers {
        let name = path.join("; and __fish_seen_subcommand_from ");
        script.push_str(&format!(
            "complete -c ooauth2 -n \"__fish_ooauth2_using_subcommand {name}\" -f \
             -a \"(command ooauth2 accounts 2>/dev/null)\" -d 'account'\n"
        ));
    }
    script
}
