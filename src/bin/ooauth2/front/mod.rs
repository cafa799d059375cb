//! The front ends: each turns its input (argv, stdin) into the typed
//! request, hands it to the engine through the one [`Context`], and
//! renders the outcome; `main` decides the exit status.

pub mod legacy;

mod docs;
mod helper;
mod keepalive;
mod proxy;
mod setup;
mod status;
mod store;
mod test;
mod token;

use crate::args::{Cli, Command, DoctorArgs};
use crate::context::Context;
use crate::output::{Failure, Status, print_stdout};
use ooauth2::request::Action;
use ooauth2::time::{Clock, SystemClock};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<Status, Failure> {
    let ctx = &Context::new(cli.verbose);
    let done = match cli.command {
        Command::Helper => return helper::run(ctx),
        Command::Doctor(args) => return doctor(ctx, &args),
        Command::Keepalive(args) => return keepalive::run(ctx, &args).map_err(Failure::from),
        Command::Token(args) => token::token(ctx, &args),
        Command::Login(args) => token::login(ctx, &args),
        Command::Setup(args) => setup::run(ctx, &args),
        Command::Status(args) => status::run(ctx, &args),
        Command::Erase(args) => token::erase(ctx, &args),
        Command::Store { command } => store::run(ctx, &command),
        Command::Test(args) => test::run(ctx, &args),
        Command::Proxy(args) => proxy::run(ctx, &args),
        Command::Completions { shell } => docs::completions(shell),
        Command::Accounts => docs::accounts(&ctx.settings),
        Command::Man { dir } => docs::man(dir.as_deref()),
    };
    done.map(|()| Status::Done).map_err(Failure::from)
}

/// `doctor`: the checks of the doctor module, one line each on stdout.
fn doctor(ctx: &Context, args: &DoctorArgs) -> Result<Status, Failure> {
    let account = &args.account;
    let selected =
        (!account.is_empty()).then(|| account.raw(Action::Get).and_then(|raw| ctx.request(raw)));
    let online = (!args.offline).then_some(crate::doctor::Online {
        verbose: ctx.verbose,
    });
    let findings = crate::doctor::run(&ctx.settings, selected, SystemClock.now(), online);
    let text: String = findings.iter().map(|f| format!("{f}\n")).collect();
    print_stdout(&text)?;
    Ok(if findings.iter().any(crate::doctor::Finding::is_problem) {
        Status::ProblemsFound
    } else {
        Status::Done
    })
}
