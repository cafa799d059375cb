//! The listening sockets: a loopback TCP address, or a Unix socket file
//! (`listen = "unix:/path"`) that only its owner can reach (mode 0600) and
//! that is removed again when its listener stops. A stale socket file (a
//! proxy that was killed) is replaced; a live one (another proxy serving
//! there) or anything that is not a socket is an error, never deleted.
//!
//! The Unix socket is bound under a temporary name, made 0600, then
//! renamed into place: clients never see it with the umask's mode, and a
//! stale file is replaced in one step. The peer's uid is checked on every
//! connection all the same (`peer.rs`): the mode is a second fence.
//!
//! Under socket activation (`ooauth2-proxy.socket`), systemd binds the
//! addresses and hands the sockets over (`LISTEN_FDS`, [`Given`]); a
//! listener whose `listen` is where a handed-over socket listens takes that
//! socket instead of binding. A handed-over Unix socket's file is systemd's
//! and is left in place.

use super::wire::Sock;
use crate::config::{Listen, Listener};
use crate::error::{Code, Error, Result};
use std::io::{self, ErrorKind};
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// A bound listening socket.
#[derive(Debug)]
pub(super) enum Socket {
    /// On a TCP address.
    Tcp(TcpListener),
    /// On a Unix socket file, which is ours while its device and inode are
    /// the ones bound (`None`: systemd's, handed over).
    Unix(UnixListener, Option<(PathBuf, (u64, u64))>),
}

impl Socket {
    /// Binds `l`'s address; the error names the listener and what to do.
    pub(super) fn bind(l: &Listener) -> Result<Socket> {
        let cannot = |e: &dyn std::fmt::Display| {
            Error::new(
                Code::NetworkError,
                format!("[proxy.{}] cannot listen on {}: {e}", l.name, l.listen),
            )
        };
        let socket = match &l.listen {
            Listen::Tcp(addr) => TcpListener::bind(addr).map(Socket::Tcp).map_err(|e| {
                cannot(&e)
                    .hint("pick another listen port in the config file, or stop what listens there")
            })?,
            Listen::Unix(path) => bind_unix(path).map_err(|(e, hint)| cannot(&e).hint(hint))?,
        };
        // Non-blocking, so that the accept loop can look up from poll(2)
        // to see whether its listener was stopped.
        socket.set_nonblocking().map_err(|e| cannot(&e))?;
        Ok(socket)
    }

    /// Where it listens, as a `listen` value says it.
    fn listen(&self) -> Option<Listen> {
        match self {
            Socket::Tcp(s) => s.local_addr().ok().map(Listen::Tcp),
            Socket::Unix(s, _) => s
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| Listen::Unix(p.to_path_buf()))),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.set_nonblocking(true),
            Socket::Unix(s, ..) => s.set_nonblocking(true),
        }
    }

    /// One connection, as a blocking socket; `WouldBlock` when there is none.
    pub(super) fn accept(&self) -> io::Result<Sock> {
        let sock = match self {
            Socket::Tcp(s) => s.accept().map(|(s, _)| Sock::Tcp(s))?,
            Socket::Unix(s, ..) => s.accept().map(|(s, _)| Sock::Unix(s))?,
        };
        match &sock {
            Sock::Tcp(s) => s.set_nonblocking(false)?,
            Sock::Unix(s) => s.set_nonblocking(false)?,
        }
        Ok(sock)
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Socket::Tcp(s) => s.as_fd(),
            Socket::Unix(s, ..) => s.as_fd(),
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Socket::Unix(_, Some((path, bound))) = self
            && identity(path).ok() == Some(*bound)
        {
            // Still the file we bound, not a successor's.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The listening sockets handed over at start (systemd's `LISTEN_FDS`)
/// that no listener has taken yet.
#[derive(Debug, Default)]
pub struct Given(Vec<(Listen, Socket)>);

impl Given {
    /// Takes the sockets the environment hands to this process (none when
    /// `LISTEN_PID` is another's), marks them close-on-exec, and clears the
    /// variables so that no child takes them for its own. Call it before
    /// any thread starts. Each must be a listening TCP or Unix stream
    /// socket with an address.
    pub fn from_env() -> Result<Given> {
        let mut fds = listenfd::ListenFd::from_env();
        let mut given = Vec::new();
        for i in 0..fds.len() {
            let socket = match fds.take_tcp_listener(i) {
                Ok(Some(tcp)) => Socket::Tcp(tcp),
                _ => match fds.take_unix_listener(i) {
                    Ok(Some(unix)) => Socket::Unix(unix, None),
                    _ => return Err(not_a_listener(i)),
                },
            };
            let listening = rustix::net::sockopt::socket_acceptconn(&socket).unwrap_or(false);
            let listen = socket
                .listen()
                .filter(|_| listening && socket.set_nonblocking().is_ok())
                .ok_or_else(|| not_a_listener(i))?;
            given.push((listen, socket));
        }
        Ok(Given(given))
    }

    /// The socket handed over for `listen`, if any (non-blocking, as
    /// [`Socket::bind`] makes its own).
    pub(super) fn take(&mut self, listen: &Listen) -> Option<Socket> {
        let at = self.0.iter().position(|(l, _)| l == listen)?;
        Some(self.0.remove(at).1)
    }

    /// Nothing is left over: a socket handed over for an address no
    /// listener has would take connections nobody answers.
    pub(super) fn all_taken(&self) -> Result<()> {
        let Some((listen, _)) = self.0.first() else {
            return Ok(());
        };
        Err(Error::invalid(format!(
            "systemd handed over a socket on {listen}, and no [proxy.NAME] table listens there"
        ))
        .hint(format!(
            "give a listener listen = \"{listen}\", or make the socket unit's ListenStream= \
             the address a listener's listen names (written out, as 127.0.0.1:1143)"
        )))
    }
}

/// The error of handed-over descriptor `i` that is no listening socket.
fn not_a_listener(i: usize) -> Error {
    Error::invalid(format!(
        "descriptor {} handed over (LISTEN_FDS) is not a listening TCP or Unix stream socket",
        i + 3
    ))
    .hint("the socket unit's ListenStream= lines are what ooauth2 proxy takes")
}

/// The device and inode of `path` itself (not a symlink's target).
fn identity(path: &Path) -> io::Result<(u64, u64)> {
    std::fs::symlink_metadata(path).map(|m| (m.dev(), m.ino()))
}

/// Binds the Unix socket `path` (see the module's comment); the error,
/// and its hint.
fn bind_unix(path: &Path) -> std::result::Result<Socket, (io::Error, &'static str)> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err((e, "check the socket path's directory")),
        Ok(m) if !m.file_type().is_socket() => {
            let e = io::Error::new(
                ErrorKind::AlreadyExists,
                "a file that is not a socket is there",
            );
            return Err((e, "remove it or pick another socket path"));
        }
        Ok(_) if UnixStream::connect(path).is_ok() => {
            let e = io::Error::new(ErrorKind::AddrInUse, "a running server answers there");
            return Err((
                e,
                "stop it (another ooauth2 proxy?) or pick another socket path",
            ));
        }
        // A socket nobody answers on: a killed server's, replaced below.
        Ok(_) => {}
    }
    let hint = "the socket's directory must exist and be writable: create it (mode 0700)";
    let dir = path.parent().ok_or((
        io::Error::new(ErrorKind::InvalidInput, "no directory"),
        hint,
    ))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let bound = UnixListener::bind(&temp).map_err(|e| (e, hint))?;
    let placed = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temp, path))
        .and_then(|()| identity(path));
    match placed {
        Ok(id) => Ok(Socket::Unix(bound, Some((path.to_path_buf(), id)))),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err((e, hint))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(path: &Path) -> std::result::Result<Socket, String> {
        bind_unix(path).map_err(|(e, _)| e.to_string())
    }

    #[test]
    fn a_unix_socket_is_0600_replaces_a_stale_one_and_is_removed_after() {
        let dir = std::env::temp_dir().join(format!("ooauth2-listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("imap.sock");
        // A stale socket: bound, then its listener gone, the file left.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let s = unix(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(UnixStream::connect(&path).is_ok());
        // A live one is not taken over.
        assert!(unix(&path).unwrap_err().contains("a running server"));
        drop(s);
        assert!(!path.exists());
        std::fs::write(&path, "mine").unwrap();
        assert!(unix(&path).unwrap_err().contains("not a socket"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
