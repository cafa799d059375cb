//! The harness of the integration tests: the binary driven as its users do
//! (`run`, and at a terminal: `pty`), the browser side of a loopback sign-in (`browser`), and real mail
//! servers and clients (`mail`), a `command` secret store (`sealer`), and a private desktop keyring (`keyring`). The mock provider is the `mock-idp` crate.

pub mod browser;
pub mod keyring;
pub mod mail;
pub mod proxy;
pub mod pty;
pub mod run;
pub mod sealer;
