//! The running listeners, and SIGHUP: the config file's listeners read
//! again and applied. A listener is known by where it listens: one whose
//! address stays keeps its socket (connections waiting in its backlog are
//! not lost) and serves the new table's values (accounts, server, TLS) to
//! new connections; one whose address is gone stops accepting, and its open
//! connections finish as they are; a new address starts listening.
//! Everything that can fail (the file, its checks, the TLS files, binding
//! the new addresses) is done before anything changes, so a reload that
//! fails changes nothing: the log line says why, the old listeners go on.
//!
//! Accounts' own values (client, store, token settings) come with the
//! reload too ([`Loaded::apply`]): a change of them applies to new logins,
//! and a file broken meanwhile breaks no login until it is reloaded.

use super::listen::{Given, Socket};
use super::{Loaded, Serving, Shared, Slot, session};
use crate::config::{Listen, Listener};
use crate::error::Result;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A listener made ready to run: what it serves, and its socket unless it
/// keeps a running one's.
pub(super) struct Prepared {
    serving: Serving,
    socket: Option<Socket>,
    /// Whether the socket is one systemd handed over.
    handed: bool,
}

/// The TLS configurations of every listener, and a socket for each whose
/// address is not in `running`: the one systemd handed over in `given`, or
/// one bound now. The first failure is the error (the sockets bound so far
/// are closed again). Only the start has sockets in `given`: it refuses to
/// serve with one left over, so a reload has none.
pub(super) fn prepare(
    listeners: &[Listener],
    running: &[Listen],
    given: &mut Given,
) -> Result<Vec<Prepared>> {
    let mut prepared = Vec::new();
    for (l, tls) in listeners.iter().zip(tls_configs(listeners)?) {
        let (socket, handed) = match running.contains(&l.listen) {
            true => (None, false),
            false => match given.take(&l.listen) {
                Some(socket) => (Some(socket), true),
                None => (Some(Socket::bind(l)?), false),
            },
        };
        let serving = Serving {
            listener: Arc::new(l.clone()),
            tls: Arc::new(tls),
        };
        prepared.push(Prepared {
            serving,
            socket,
            handed,
        });
    }
    Ok(prepared)
}

/// Each listener's TLS configurations, in order. Made once: the system's
/// roots are read and parsed here, not per connection, and a bad ca_file,
/// local_cert or local_key is an error before anything serves.
pub(super) fn tls_configs(listeners: &[Listener]) -> Result<Vec<session::Configs>> {
    // One per ca_file: reading the system's roots is the slow part.
    let mut upstream: Vec<(Option<&Path>, Arc<rustls::ClientConfig>)> = Vec::new();
    let mut configs = Vec::new();
    for l in listeners {
        let ca = l.ca_file.as_deref();
        let config = match upstream.iter().find(|(c, _)| *c == ca) {
            Some((_, config)) => Arc::clone(config),
            None => {
                let config = crate::tls::client_config(ca, &format!("[proxy.{}] ca_file", l.name))?;
                upstream.push((ca, Arc::clone(&config)));
                config
            }
        };
        configs.push(session::Configs {
            upstream: config,
            local: match &l.local_cert {
                Some((cert, key)) => Some(crate::tls::server_config(cert, key)?),
                None => None,
            },
        });
    }
    Ok(configs)
}

/// One running listener.
struct Live {
    listen: Listen,
    slot: Arc<Slot>,
    thread: JoinHandle<()>,
}

/// The running listeners.
pub(super) struct Listeners {
    live: Vec<Live>,
}

impl Listeners {
    /// Starts the prepared listeners, each saying so on stderr.
    pub(super) fn start(prepared: Vec<Prepared>, shared: &Shared) -> Listeners {
        let mut listeners = Listeners { live: Vec::new() };
        for p in prepared {
            if let Some(socket) = p.socket {
                let l = &p.serving.listener;
                eprintln!(
                    "proxy {}: listening on {}{} ({} to {})",
                    l.name,
                    l.listen,
                    if p.handed {
                        ", a socket from systemd"
                    } else {
                        ""
                    },
                    l.protocol_name(),
                    l.server()
                );
                listeners.spawn(p.serving, socket, shared);
            }
        }
        listeners
    }

    /// Runs `socket`'s accept loop on its own thread.
    fn spawn(&mut self, serving: Serving, socket: Socket, shared: &Shared) {
        let listen = serving.listener.listen.clone();
        let slot = Arc::new(Slot {
            serving: Mutex::new(Arc::new(serving)),
            stop: AtomicBool::new(false),
        });
        let (s, shared) = (Arc::clone(&slot), shared.clone());
        let thread = std::thread::spawn(move || super::accept(&socket, &s, &shared));
        self.live.push(Live {
            listen,
            slot,
            thread,
        });
    }

    /// Applies the listeners `loaded` from the config file (see the
    /// module's comment), saying on one line what changed or why nothing did.
    pub(super) fn reload(&mut self, loaded: Result<Loaded>, shared: &Shared) {
        let running: Vec<Listen> = self.live.iter().map(|l| l.listen.clone()).collect();
        let none = &mut Given::default();
        let ready = loaded.and_then(|l| Ok((prepare(&l.listeners, &running, none)?, l.apply)));
        let (prepared, apply) = match ready {
            Ok(p) => p,
            Err(e) => {
                let hint = e.hint.map(|h| format!(" ({h})")).unwrap_or_default();
                eprintln!(
                    "proxy: reload refused, the running listeners go on: {}{hint}",
                    e.message
                );
                return;
            }
        };
        let mut said = Said::default();
        let kept: Vec<Listen> = prepared
            .iter()
            .map(|p| p.serving.listener.listen.clone())
            .collect();
        let gone = self.take_gone(&kept);
        for g in &gone {
            let name = g.slot.now().listener.name.clone();
            said.removed.push(format!("{name} ({})", g.listen));
        }
        stop(gone);
        for p in prepared {
            let l = Arc::clone(&p.serving.listener);
            match p.socket {
                Some(socket) => {
                    said.added.push(format!("{} ({})", l.name, l.listen));
                    self.spawn(p.serving, socket, shared);
                }
                None => said.swap(self.slot(&l.listen), p.serving),
            }
        }
        apply();
        eprintln!("proxy: reloaded: {}", said.line());
    }

    /// The running listeners whose address is not in `kept`, taken out.
    fn take_gone(&mut self, kept: &[Listen]) -> Vec<Live> {
        let (gone, stay) = std::mem::take(&mut self.live)
            .into_iter()
            .partition(|l| !kept.contains(&l.listen));
        self.live = stay;
        gone
    }

    /// The slot of the running listener on `listen`.
    fn slot(&self, listen: &Listen) -> Option<&Arc<Slot>> {
        self.live
            .iter()
            .find(|l| &l.listen == listen)
            .map(|l| &l.slot)
    }

    /// Stops every listener (the proxy ends).
    pub(super) fn stop_all(&mut self) {
        stop(std::mem::take(&mut self.live));
    }
}

/// Stops listeners' accept loops, all at once, and waits for their sockets
/// to close.
fn stop(live: Vec<Live>) {
    for l in &live {
        l.slot.stop.store(true, Ordering::SeqCst);
    }
    for l in live {
        let _ = l.thread.join();
    }
}

/// What a reload changed, for its log line.
#[derive(Default)]
struct Said {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
    unchanged: Vec<String>,
}

impl Said {
    /// Puts `serving` in `slot`, noting whether it differs.
    fn swap(&mut self, slot: Option<&Arc<Slot>>, serving: Serving) {
        let Some(slot) = slot else { return };
        let name = serving.listener.name.clone();
        let same = *slot.now().listener == *serving.listener;
        *slot.serving.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(serving);
        match same {
            true => self.unchanged.push(name),
            false => self.changed.push(name),
        }
    }

    /// `added a (addr); removed b (addr); changed c; unchanged d`.
    fn line(&self) -> String {
        let parts: Vec<String> = [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
            ("unchanged", &self.unchanged),
        ]
        .iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(what, names)| format!("{what} {}", names.join(", ")))
        .collect();
        match parts.is_empty() {
            true => "no listeners".into(),
            false => parts.join("; "),
        }
    }
}
