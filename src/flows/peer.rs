//! Who is at the other end of a connection to the sign-in listener: the
//! local user that owns the connecting socket, found in the kernel's socket
//! tables (`/proc/net/tcp` and `/proc/net/tcp6` on Linux), so that only a
//! browser of the user who started the sign-in can finish it.
//!
//! Where there is no such table (no `/proc`: other systems, or a sandbox
//! without it) the owner cannot be told; the listener then relies on the
//! `state` alone, which no other user can read (it is never on a command
//! line), and says so once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;

/// The kernel's tables of TCP sockets, IPv4 then IPv6.
const TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

/// The owner of the socket at the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Peer {
    /// Our effective user.
    Us,
    /// Another user (its uid), or a socket the tables do not list (`None`:
    /// gone already, or in another network namespace).
    Other(Option<u32>),
    /// No table to look in: the owner cannot be told.
    Unknown,
}

/// The owner of the socket that connected from `peer` to our `local` address.
pub(super) fn owner(local: SocketAddr, peer: SocketAddr) -> Peer {
    // /proc/self belongs to the process's effective user.
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return Peer::Unknown;
    };
    let tables: Vec<String> = TABLES
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .collect();
    if tables.is_empty() {
        return Peer::Unknown;
    }
    // The peer's own socket: its local end is `peer`, its remote end us.
    let uid = tables
        .iter()
        .flat_map(|t| t.lines().skip(1))
        .filter_map(entry)
        .find(|e| e.local == canonical(peer) && e.remote == canonical(local))
        .map(|e| e.uid);
    match uid {
        Some(uid) if uid == me => Peer::Us,
        other => Peer::Other(other),
    }
}

/// One line of a socket table: its two ends and its owner.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    local: SocketAddr,
    remote: SocketAddr,
    uid: u32,
}

/// Parses `sl local rem st tx:rx tr:when retrnsmt uid ...`.
fn entry(line: &str) -> Option<Entry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    Some(Entry {
        local: address(fields.get(1)?)?,
        remote: address(fields.get(2)?)?,
        uid: fields.get(7)?.parse().ok()?,
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6): the address
/// as 32-bit words in the kernel's byte order, the port in hex.
fn address(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| {
        ip.get(i * 8..i * 8 + 8)
            .and_then(|w| u32::from_str_radix(w, 16).ok())
            .map(u32::to_ne_bytes)
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(canonical(SocketAddr::new(ip, port)))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn table_lines_parse_in_the_kernels_byte_order() {
        let v4 = "   3: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 20 4 30 10 -1";
        let e = entry(v4).unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(e.local, "127.0.0.1:41394".parse().unwrap());
            assert_eq!(e.remote, "127.0.0.1:8080".parse().unwrap());
        }
        assert_eq!(e.uid, 1000);
        let v6 = "   0: 0000000000000000FFFF00000100007F:A1B2 00000000000000000000000001000000:0016 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0";
        let e = entry(v6).unwrap();
        if cfg!(target_endian = "little") {
            // A mapped IPv4 address is that address.
            assert_eq!(e.local, "127.0.0.1:41394".parse().unwrap());
            assert_eq!(e.remote, "[::1]:22".parse().unwrap());
        }
        assert_eq!(e.uid, 0);
        assert_eq!(entry("  sl  local_address rem_address   st"), None);
        assert_eq!(entry(""), None);
    }

    #[test]
    fn a_connection_of_our_own_is_ours() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let _client = TcpStream::connect(local).unwrap();
        let (conn, peer) = listener.accept().unwrap();
        let expected = if std::path::Path::new("/proc/net/tcp").exists() {
            Peer::Us
        } else {
            Peer::Unknown
        };
        assert_eq!(owner(conn.local_addr().unwrap(), peer), expected);
        // A port nobody connects from is nobody's.
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        if expected == Peer::Us {
            assert_eq!(owner(local, nobody), Peer::Other(None));
        }
    }
}
