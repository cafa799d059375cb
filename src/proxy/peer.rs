//! Who is on the other end of a local connection (Linux), and the rule
//! [`same_user`]: only the proxy's own user may use a loopback or Unix
//! socket listener; another user of the machine would otherwise read this
//! user's mail. For loopback TCP, the client's end of the connection (its
//! local address is the client's, its remote one ours) carries the uid of
//! the socket's owner: the kernel gives it for exactly that socket over
//! sock_diag netlink, and where that is not built in, its row in
//! `/proc/net/tcp` or `tcp6` shows it (the 8th column), at the cost of the
//! kernel printing every socket of the machine (8 ms for 200 sockets here,
//! on each connection). For a Unix socket the kernel says it (SO_PEERCRED).

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
                .ok_or("cannot tell which user connected (the kernel shows no such connection)")?
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
/// if the kernel shows it.
pub(super) fn uid_of(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    diag::uid_of(peer, local).or_else(|| uid_in_table(peer, local))
}

/// The same from `/proc/net/tcp{,6}`, read whole.
fn uid_in_table(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
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

/// The kernel's socket lookup (`NETLINK_SOCK_DIAG`, the interface ss(8)
/// reads): one request naming the connection's four addresses, one answer
/// for that socket alone. The messages are fixed layouts of the kernel's
/// `linux/inet_diag.h`, written out here byte by byte.
mod diag {
    use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
    use std::net::{IpAddr, SocketAddr};
    use std::time::Duration;

    /// `SOCK_DIAG_BY_FAMILY`, the request and answer type.
    const BY_FAMILY: u16 = 20;
    /// Where `inet_diag_msg.idiag_uid` lies in an answer: the netlink
    /// header (16), family, state, timer, retrans (4), the socket id (48),
    /// expires, rqueue, wqueue (12).
    const UID_AT: usize = 80;

    /// The uid of the socket whose local end is `client` and remote
    /// `server`; `None` when the kernel has no sock_diag or no such socket.
    pub(super) fn uid_of(client: SocketAddr, server: SocketAddr) -> Option<u32> {
        let fd = net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(net::netlink::SOCK_DIAG),
        )
        .ok()?;
        // The kernel answers at once; a bound keeps a connection from
        // hanging on a kernel that does not.
        let wait = Some(Duration::from_secs(1));
        net::sockopt::set_socket_timeout(&fd, net::sockopt::Timeout::Recv, wait).ok()?;
        net::send(&fd, &request(client, server)?, SendFlags::empty()).ok()?;
        let mut answer = [0u8; 512];
        let (n, _) = net::recv(&fd, &mut answer, RecvFlags::empty()).ok()?;
        uid_in(&answer[..n], client.port())
    }

    /// An `inet_diag_req_v2` for one TCP socket in any state, in a netlink
    /// message; `None` when the two ends are not of one family.
    pub(super) fn request(client: SocketAddr, server: SocketAddr) -> Option<Vec<u8>> {
        let (family, src, dst) = match (client.ip(), server.ip()) {
            (IpAddr::V4(c), IpAddr::V4(s)) => (2u8, padded(&c.octets()), padded(&s.octets())),
            (IpAddr::V6(c), IpAddr::V6(s)) => (10u8, c.octets(), s.octets()),
            _ => return None,
        };
        let mut m = Vec::with_capacity(72);
        m.extend(72u32.to_ne_bytes()); // nlmsg_len
        m.extend(BY_FAMILY.to_ne_bytes());
        m.extend(1u16.to_ne_bytes()); // NLM_F_REQUEST: one socket, no dump
        m.extend(1u32.to_ne_bytes()); // nlmsg_seq
        m.extend(0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it
        m.extend([family, 6, 0, 0]); // IPPROTO_TCP, no extensions
        m.extend(u32::MAX.to_ne_bytes()); // every TCP state
        m.extend(client.port().to_be_bytes());
        m.extend(server.port().to_be_bytes());
        m.extend(src);
        m.extend(dst);
        m.extend(0u32.to_ne_bytes()); // any interface
        m.extend([0xff; 8]); // INET_DIAG_NOCOOKIE
        Some(m)
    }

    /// An IPv4 address in the id's 16-byte field.
    fn padded(v4: &[u8; 4]) -> [u8; 16] {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(v4);
        a
    }

    /// The uid in an answer about the socket of port `client_port` (an
    /// `NLMSG_ERROR` answer, no such socket, is of another type).
    pub(super) fn uid_in(answer: &[u8], client_port: u16) -> Option<u32> {
        let kind = u16::from_ne_bytes(answer.get(4..6)?.try_into().ok()?);
        let sport = u16::from_be_bytes(answer.get(20..22)?.try_into().ok()?);
        if kind != BY_FAMILY || sport != client_port {
            return None;
        }
        Some(u32::from_ne_bytes(
            answer.get(UID_AT..UID_AT + 4)?.try_into().ok()?,
        ))
    }
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
    fn the_kernel_lookup_and_the_table_agree_and_a_stranger_is_unknown() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, peer) = l.accept().unwrap();
        let local = s.local_addr().unwrap();
        assert_eq!(diag::uid_of(peer, local), uid_in_table(peer, local));
        assert_eq!(diag::uid_of(peer, local), Some(own_uid().unwrap()));
        // Our own end (local seen as the client) is a socket too; a port
        // with no connection is not.
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(diag::uid_of(nobody, local), None);
        assert_eq!(diag::request(peer, "[::1]:1".parse().unwrap()), None);
        drop(c);
    }

    #[test]
    fn an_answer_is_read_only_when_it_is_about_the_socket_asked() {
        let mut answer = vec![0u8; 96];
        answer[4..6].copy_from_slice(&20u16.to_ne_bytes());
        answer[20..22].copy_from_slice(&54321u16.to_be_bytes());
        answer[80..84].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(diag::uid_in(&answer, 54321), Some(1000));
        assert_eq!(diag::uid_in(&answer, 54322), None);
        answer[4..6].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(diag::uid_in(&answer, 54321), None);
        assert_eq!(diag::uid_in(&answer[..40], 54321), None);
    }

    #[test]
    fn a_unix_socket_peer_is_our_own() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(same_user(&Sock::Unix(a)), Ok(()));
    }
}
