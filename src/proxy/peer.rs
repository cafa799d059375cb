//! Who is on the other end of a local connection (Linux), and the rule
//! [`same_user`]: only the proxy's own user may use a loopback or Unix
//! socket listener; another user of the machine would otherwise read this
//! user's mail. For loopback TCP, the connection's row in `/proc/net/tcp`
//! or `tcp6`, seen from the client's side (its local address is the
//! client's, its remote one ours), carries the uid of the socket's owner
//! (the 8th column); for a Unix socket the kernel says it (SO_PEERCRED).

use super::wire::Sock;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::MetadataExt;

/// Whether the client on `sock` is this process's user; if not, why, as
/// the log line and the client's refusal say it.
pub(super) fn same_user(sock: &Sock) -> Result<(), String> {
    let own = own_uid().map_err(|e| format!("cannot read /proc/self: {e}"))?;
    let uid = match sock {
        Sock::Tcp(tcp) => {
            let (Ok(peer), Ok(local)) = (tcp.peer_addr(), tcp.local_addr()) else {
                return Err("the connection has no address".into());
            };
            uid_of(peer, local)
                .ok_or("cannot tell which user connected (no row in /proc/net/tcp)")?
        }
        Sock::Unix(unix) => rustix::net::sockopt::socket_peercred(unix)
            .map_err(|e| format!("cannot tell which user connected (SO_PEERCRED: {e})"))?
            .uid
            .as_raw(),
    };
    if uid == own {
        Ok(())
    } else {
        Err(format!("uid {uid} is not this proxy's user (uid {own})"))
    }
}

/// The uid of this process (the owner of `/proc/self`).
pub(super) fn own_uid() -> std::io::Result<u32> {
    std::fs::metadata("/proc/self").map(|m| m.uid())
}

/// The uid owning the client end of the connection from `peer` to `local`,
/// if the kernel's tables show it.
pub(super) fn uid_of(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let table = match peer.ip() {
        IpAddr::V4(_) => "/proc/net/tcp",
        IpAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    find(&text, &hex(peer), &hex(local))
}

/// The uid of the row whose local address is `client` and remote `server`.
fn find(table: &str, client: &str, server: &str) -> Option<u32> {
    table.lines().skip(1).find_map(|row| {
        let f: Vec<&str> = row.split_whitespace().collect();
        (f.len() > 7 && f[1] == client && f[2] == server)
            .then(|| f[7].parse().ok())
            .flatten()
    })
}

/// An address as the kernel prints it there: the address's 32-bit words
/// in the machine's byte order, in hex, then the port.
fn hex(addr: SocketAddr) -> String {
    let words: Vec<String> = match addr.ip() {
        IpAddr::V4(ip) => vec![format!("{:08X}", u32::from_ne_bytes(ip.octets()))],
        IpAddr::V6(ip) => ip
            .octets()
            .chunks(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect(),
    };
    format!("{}:{:04X}", words.concat(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_found_by_both_ends() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:D431 0100007F:0479 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1\n";
        let client: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        let server: SocketAddr = "127.0.0.1:1145".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(hex(client), "0100007F:D431");
            assert_eq!(find(table, &hex(client), &hex(server)), Some(1000));
        }
        assert_eq!(find(table, &hex(server), &hex(client)), None);
        assert_eq!(hex("[::1]:1".parse().unwrap()).len(), 32 + 5);
    }

    #[test]
    fn a_real_connection_is_our_own() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, peer) = l.accept().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        assert_eq!(
            uid_of(peer, s.local_addr().unwrap()),
            Some(own_uid().unwrap())
        );
        assert_eq!(same_user(&Sock::Tcp(s)), Ok(()));
    }

    #[test]
    fn a_unix_socket_peer_is_our_own() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(same_user(&Sock::Unix(a)), Ok(()));
    }
}
