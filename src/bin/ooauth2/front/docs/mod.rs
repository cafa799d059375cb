//! What documents the command line, generated from its clap definition:
//! the shell completion scripts (completions.rs, with the hidden
//! `ooauth2 accounts` they call) and the man pages (man.rs).

mod completions;
mod man;

pub use completions::{accounts, completions};
pub use man::man;
