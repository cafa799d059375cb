//! The one wiring of the engine for a run: the environment read once, the
//! named-account overlay, and a fresh engine over the real store, clock and
//! terminal. Every front end reaches the core through here.

use crate::terminal::TerminalUi;
use ooauth2::config;
use ooauth2::engine::{Answer, Engine, Migration, Options, Outcome};
use ooauth2::error::{Error, Result};
use ooauth2::request::{Raw, Request};
use ooauth2::settings::Settings;
use ooauth2::store::Store;
use ooauth2::time::SystemClock;

/// What every command of one run shares.
pub struct Context {
    /// The environment, read once.
    pub settings: Settings,
    /// `-v` counted: 1 logs each HTTP exchange, 2 also its fields (redacted).
    pub verbose: u8,
}

impl Context {
    /// The context of this process.
    pub fn new(verbose: u8) -> Context {
        Context {
            settings: Settings::from_env(),
            verbose,
        }
    }

    /// The request of `raw`, with the named account's values beneath
    /// when its `account` names one.
    pub fn request(&self, raw: Raw) -> Result<Request> {
        config::request(raw, &self.settings)
    }

    /// The store this run uses.
    pub fn store(&self) -> Result<Store> {
        Store::open(&self.settings)
    }

    /// Runs `req` through a fresh engine with the real store, clock and
    /// terminal; with `enter_on_stdin`, stdin lines are the person's.
    pub fn run(&self, req: &Request, enter_on_stdin: bool) -> Result<Outcome> {
        self.with_engine(req, enter_on_stdin, |engine| engine.handle(req))?
    }

    /// `store migrate`'s plan for one account: from `from`'s store to `to`'s.
    pub fn plan_migration(&self, from: &Request, to: &Request) -> Result<Migration> {
        self.with_engine(from, false, |engine| engine.plan_migration(from, to))?
    }

    /// `f` with a fresh engine for `req`: the real store and clock, and
    /// the terminal (stdin lines the person's with `enter_on_stdin`).
    pub fn with_engine<T>(
        &self,
        req: &Request,
        enter_on_stdin: bool,
        f: impl FnOnce(&mut Engine) -> T,
    ) -> Result<T> {
        let store = self.store()?;
        let options = Options::new(&self.settings, self.verbose)?;
        let mut ui = TerminalUi::new(enter_on_stdin)
            .with_notify(self.notify_cmd(req).map(str::to_string), req.user())
            .with_notify_send(!self.settings.notify_send_off())
            .with_open(req.open_browser());
        let mut engine = Engine::new(store, &SystemClock, options, &mut ui);
        Ok(f(&mut engine))
    }

    /// The notifier of `req`'s account: its notify_cmd, else the environment's.
    pub fn notify_cmd<'r>(&'r self, req: &'r Request) -> Option<&'r str> {
        req.notify_cmd().or(self.settings.notify_cmd())
    }

    /// [`Context::run`] for the actions that answer with a token.
    pub fn token(&self, req: &Request, enter_on_stdin: bool) -> Result<Box<Answer>> {
        match self.run(req, enter_on_stdin)? {
            Outcome::Token(a) => Ok(a),
            Outcome::Erased { .. } => Err(Error::invalid(format!(
                "action={} answered without a token",
                req.action().as_str()
            ))),
        }
    }
}
