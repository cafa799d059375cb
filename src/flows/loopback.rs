//! The browser side of the auth code flow (RFC 8252 §7.3): a one-shot HTTP
//! listener on 127.0.0.1 that waits for the single redirect carrying the code.
//!
//! The listener accepts exactly one redirect to `/`: it checks `state`
//! before it hands a code on, answers the browser with a short page saying
//! what happened, and closes. Requests to other paths (a `favicon.ico`, a
//! stray probe) get a 404 and the wait goes on. Only the user who started
//! the sign-in may finish it: a connection whose socket belongs to another
//! local user (see `peer`) gets a 403 page, whatever it asks, and the wait
//! goes on. Connections are read side by side, without blocking, so one
//! that stays silent (a browser's preconnect, a stray client) cannot hold
//! up the real redirect. Meanwhile the person may paste the address the
//! browser ended up at (or just the code) instead: whichever comes first
//! wins, checked the same way. The code exchange itself is `oauth`'s job.

use super::SignInUi;
use super::peer::{Peer, owner};
use crate::error::{Code, Error, Result};
use crate::secret::Secret;
use reqwest::Url;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// The longest request head the listener reads from the browser.
const MAX_HEAD: usize = 16 * 1024;

/// How long one connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long writing the answer page may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the listener looks for news while nothing happens.
const ACCEPT_POLL: Duration = Duration::from_millis(20);

/// The most connections read at once; a new one beyond pushes out the
/// oldest (another user's first).
const MAX_CONNECTIONS: usize = 16;

/// A listener on 127.0.0.1 waiting for the one redirect of a sign-in.
pub(super) struct Listener {
    listener: TcpListener,
    port: u16,
    /// Connections whose request head is still coming.
    conns: Vec<Conn>,
    /// Whether the person was told that connections' owners cannot be told.
    warned_unknown: bool,
}

/// A connection whose request head is being read.
struct Conn {
    stream: TcpStream,
    /// Whose socket is at the other end.
    peer: Peer,
    head: Vec<u8>,
    /// When it is dropped if its head has not come.
    deadline: Instant,
}

/// How far reading a connection got.
enum Progress {
    /// More may come.
    Waiting,
    /// The whole request head.
    Head(String),
    /// Closed, timed out, or too large (answered): forget it.
    Gone,
}

impl Listener {
    /// Listens on 127.0.0.1:`port` (0: a free port the OS picks).
    pub(super) fn bind(port: u16) -> Result<Listener> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
            let err = Error::invalid(format!(
                "cannot listen on 127.0.0.1:{port} for the sign-in redirect: {e}"
            ));
            if port == 0 {
                err
            } else {
                err.hint("choose another redirect_port (--redirect-port), or 0 for any free port")
            }
        })?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| Error::invalid(format!("the sign-in listener has no address: {e}")))?;
        Ok(Listener {
            listener,
            port,
            conns: Vec::new(),
            warned_unknown: false,
        })
    }

    /// `http://127.0.0.1:PORT/`, sent as `redirect_uri` in both requests.
    pub(super) fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Waits up to `timeout` for the redirect to `/` and returns its code,
    /// only once `state` matched. Other paths get a 404, another user's
    /// connections a 403, and the wait goes on; the first redirect to `/`
    /// of ours ends it either way. A line the user pasted (`ui.pasted()`)
    /// is checked like a redirect and ends the wait too, unless it is
    /// neither an address nor a code (then `ui.warn` and the wait goes on).
    /// Drops (closes) the listener and every connection on return.
    pub(super) fn wait(
        mut self,
        state: &str,
        timeout: Duration,
        ui: &mut dyn SignInUi,
    ) -> Result<Secret> {
        let deadline = Instant::now() + timeout;
        self.listener.set_nonblocking(true).map_err(|e| {
            Error::new(
                Code::NetworkError,
                format!("cannot set up the sign-in listener: {e}"),
            )
        })?;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(self.timed_out(timeout));
            }
            let busy = self.accept_new(ui)?;
            if let Some(result) = self.serve_ready(state, ui) {
                return result;
            }
            match ui.pasted() {
                Some(line) => {
                    if let Some(result) = pasted(&line, state, ui) {
                        return result;
                    }
                }
                None if !busy => std::thread::sleep(ACCEPT_POLL.min(deadline - now)),
                None => {}
            }
        }
    }

    /// Takes the connections waiting to be accepted (a bounded number per
    /// call); whether there were any.
    fn accept_new(&mut self, ui: &mut dyn SignInUi) -> Result<bool> {
        for n in 0..MAX_CONNECTIONS {
            match self.listener.accept() {
                Ok((stream, from)) => self.admit(stream, from, ui),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(n > 0),
                // A connection that died before it was accepted is not fatal.
                Err(e)
                    if e.kind() == ErrorKind::Interrupted
                        || e.kind() == ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    return Err(Error::new(
                        Code::NetworkError,
                        format!("the sign-in listener {} failed: {e}", self.redirect_uri()),
                    )
                    .hint("run the command again"));
                }
            }
        }
        Ok(true)
    }

    /// Adds a new connection to those being read, with its owner looked up
    /// now, while its socket surely exists.
    fn admit(&mut self, stream: TcpStream, from: SocketAddr, ui: &mut dyn SignInUi) {
        let Ok(local) = stream.local_addr() else {
            return;
        };
        let peer = owner(local, from);
        if peer == Peer::Unknown && !self.warned_unknown {
            self.warned_unknown = true;
            ui.warn(
                "cannot tell which local user connects to the sign-in listener (no \
                 /proc/net/tcp here): only the state of the sign-in guards it",
            );
        }
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        if self.conns.len() >= MAX_CONNECTIONS {
            // Another user's go first, then the oldest.
            let first_out = self
                .conns
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| (c.peer == Peer::Us, c.deadline))
                .map(|(i, _)| i);
            if let Some(i) = first_out {
                self.conns.swap_remove(i);
            }
        }
        self.conns.push(Conn {
            stream,
            peer,
            head: Vec::new(),
            deadline: Instant::now() + READ_TIMEOUT,
        });
    }

    /// Reads what has come on every connection and answers those whose
    /// request is whole. `Some`: the redirect ended the wait.
    fn serve_ready(&mut self, state: &str, ui: &mut dyn SignInUi) -> Option<Result<Secret>> {
        let now = Instant::now();
        for i in (0..self.conns.len()).rev() {
            match self.conns[i].read_more(now) {
                Progress::Waiting => {}
                Progress::Gone => {
                    self.conns.swap_remove(i);
                }
                Progress::Head(head) => {
                    let mut conn = self.conns.swap_remove(i);
                    if let Some(result) = conn.answer(&head, state, ui) {
                        return Some(result);
                    }
                }
            }
        }
        None
    }

    fn timed_out(&self, timeout: Duration) -> Error {
        Error::new(
            Code::ExpiredToken,
            format!(
                "the browser did not come back to {} within {} s",
                self.redirect_uri(),
                timeout.as_secs()
            ),
        )
        .hint(
            "run the command again and finish the sign-in in time, or allow more with signin_timeout (--signin-timeout)",
        )
    }
}

impl Conn {
    /// Reads what is there without waiting.
    fn read_more(&mut self, now: Instant) -> Progress {
        let mut chunk = [0u8; 2048];
        loop {
            if head_is_whole(&self.head) {
                return Progress::Head(String::from_utf8_lossy(&self.head).into_owned());
            }
            if self.head.len() > MAX_HEAD {
                respond(
                    &mut self.stream,
                    431,
                    "Too large",
                    "The request is too large.",
                );
                return Progress::Gone;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Progress::Gone,
                Ok(n) => self.head.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock && now < self.deadline => {
                    return Progress::Waiting;
                }
                Err(_) => return Progress::Gone,
            }
        }
    }

    /// Answers a whole request. `None`: not the redirect, keep waiting.
    fn answer(&mut self, head: &str, state: &str, ui: &mut dyn SignInUi) -> Option<Result<Secret>> {
        if let Peer::Other(uid) = self.peer {
            let who = uid.map_or_else(
                || "a connection whose owner is not listed in /proc/net/tcp".to_string(),
                |u| format!("another local user (uid {u})"),
            );
            ui.warn(&format!(
                "refused a request to the sign-in listener from {who}; still waiting for your browser"
            ));
            respond(
                &mut self.stream,
                403,
                "Not yours",
                "Another user of this computer started this sign-in: only that user's \
                 browser can finish it. Nothing was signed in.",
            );
            return None;
        }
        serve(&mut self.stream, head, state)
    }
}

/// Whether `head` holds the blank line that ends a request head.
fn head_is_whole(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// What a pasted line does to the wait. `None`: keep waiting.
fn pasted(line: &str, state: &str, ui: &mut dyn SignInUi) -> Option<Result<Secret>> {
    match check_paste(line, state) {
        Pasted::Code(code) => Some(Ok(code)),
        Pasted::Refused(e) => Some(Err(e)),
        Pasted::Blank => None,
        Pasted::Unclear => {
            ui.warn(
                "that is neither the address the browser ended up at nor a code; \
                 paste the whole address from the browser's address bar (or its \
                 code) and press ENTER",
            );
            None
        }
    }
}

/// Answers the request `head` of one of our own connections. `None`: not
/// the redirect, keep waiting.
fn serve(stream: &mut TcpStream, head: &str, state: &str) -> Option<Result<Secret>> {
    let mut words = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" {
        respond(
            stream,
            405,
            "Not here",
            "This address only takes the sign-in redirect.",
        );
        return None;
    }
    let url = target
        .starts_with('/')
        .then(|| Url::parse(&format!("http://127.0.0.1{target}")).ok())
        .flatten();
    let Some(url) = url.filter(|u| u.path() == "/") else {
        respond(
            stream,
            404,
            "Not found",
            "This address only takes the sign-in redirect.",
        );
        return None;
    };
    let result = check_redirect(&url, state);
    match &result {
        Ok(_) => respond(
            stream,
            200,
            "Signed in",
            "ooauth2 received the sign-in. You can close this page and go back to the terminal.",
        ),
        Err(e) => respond(
            stream,
            400,
            "Sign-in failed",
            &format!(
                "ooauth2 could not use this sign-in: {}. Close this page and see the terminal.",
                e.message
            ),
        ),
    }
    Some(result)
}

/// The redirect's code, if the redirect is one this sign-in may use.
fn check_redirect(url: &Url, state: &str) -> Result<Secret> {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let one = |k: &str| -> Result<Option<&str>> {
        let mut it = pairs
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str());
        let first = it.next();
        if it.next().is_some() {
            return Err(bad_redirect(&format!("the redirect holds {k} twice")));
        }
        Ok(first)
    };
    if let Some(err) = one("error")? {
        let description = one("error_description")?
            .map(|d| crate::error::one_line(&d.chars().take(300).collect::<String>()));
        return Err(crate::oauth::redirect_error(err, description.as_deref()));
    }
    match one("state")? {
        Some(s) if same(s.as_bytes(), state.as_bytes()) => {}
        Some(_) => {
            return Err(bad_redirect(
                "the redirect's state does not match this sign-in (a stale page, or a forged redirect)",
            ));
        }
        None => return Err(bad_redirect("the redirect has no state")),
    }
    match one("code")? {
        Some(c)
            if !c.is_empty()
                && c.len() <= 8192
                && c.bytes().all(|b| (0x21..=0x7e).contains(&b)) =>
        {
            Ok(Secret::from(c))
        }
        Some(_) => Err(bad_redirect("the redirect holds a code that is not a code")),
        None => Err(bad_redirect("the redirect has neither a code nor an error")),
    }
}

/// What a pasted line means.
#[derive(Debug)]
enum Pasted {
    /// A code to exchange: from an address whose state matched, or typed bare.
    Code(Secret),
    /// An address that ends the sign-in: a state mismatch, an `error=`, no code.
    Refused(Error),
    /// An empty line (ENTER alone): nothing to do.
    Blank,
    /// Neither an address with a sign-in answer nor something like a code.
    Unclear,
}

/// The shortest line taken as a bare code: a stray `y` is not a code.
const MIN_BARE_CODE: usize = 8;

/// Reads a pasted line: a redirect address (whole, or from its path or
/// query on) is checked exactly like a redirect the listener received; a
/// bare code is taken as typed (PKCE still binds it to this sign-in).
fn check_paste(line: &str, state: &str) -> Pasted {
    let line = line.trim();
    if line.is_empty() {
        return Pasted::Blank;
    }
    let url = if line.contains("://") {
        Url::parse(line).ok()
    } else if line.starts_with('/') || line.starts_with('?') {
        Url::parse(&format!("http://127.0.0.1{line}")).ok()
    } else {
        None
    };
    if let Some(url) = url {
        let answer = url
            .query_pairs()
            .any(|(k, _)| matches!(k.as_ref(), "code" | "state" | "error"));
        return if answer {
            match check_redirect(&url, state) {
                Ok(code) => Pasted::Code(code),
                Err(e) => Pasted::Refused(e),
            }
        } else {
            Pasted::Unclear
        };
    }
    let code_like = (MIN_BARE_CODE..=8192).contains(&line.len())
        && !line.contains("://")
        && line.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if code_like {
        Pasted::Code(Secret::from(line))
    } else {
        Pasted::Unclear
    }
}

fn bad_redirect(why: &str) -> Error {
    Error::new(Code::BadRedirect, format!("{why}; nothing was exchanged"))
        .hint("run the command again and finish the sign-in in the browser page it prints")
}

/// Compares in time that does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes a small HTML page and closes the connection.
fn respond(stream: &mut TcpStream, status: u16, title: &str, text: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Request Header Fields Too Large",
    };
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ooauth2: {t}</title></head>\
         <body><h1>{t}</h1><p>{x}</p></body></html>\n",
        t = html(title),
        x = html(text)
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Escapes text for an HTML page: provider messages end up there.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(q: &str) -> Url {
        Url::parse(&format!("http://127.0.0.1:1/?{q}")).unwrap()
    }

    #[test]
    fn redirects_are_checked_before_a_code_is_handed_on() {
        assert_eq!(
            check_redirect(&redirect("code=c1&state=s"), "s")
                .unwrap()
                .expose(),
            "c1"
        );
        for (q, code) in [
            ("code=c1&state=t", Code::BadRedirect),
            ("code=c1", Code::BadRedirect),
            ("state=s", Code::BadRedirect),
            ("code=c1&code=c2&state=s", Code::BadRedirect),
            ("code=c1&state=s&state=s", Code::BadRedirect),
            ("error=access_denied&state=s", Code::AccessDenied),
            (
                "error=invalid_scope&error_description=x&state=s",
                Code::InvalidScope,
            ),
        ] {
            assert_eq!(
                check_redirect(&redirect(q), "s").unwrap_err().code,
                code,
                "{q}"
            );
        }
    }

    #[test]
    fn comparison_and_escaping() {
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"ab", b"abc"));
        assert_eq!(
            html("<a href='x'>&</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn pasted_lines_are_checked_like_redirects() {
        let code = |p: Pasted| match p {
            Pasted::Code(c) => c.expose().to_string(),
            other => panic!("not a code: {other:?}"),
        };
        let refused = |p: Pasted| match p {
            Pasted::Refused(e) => e,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(
            code(check_paste("http://127.0.0.1:5000/?code=c1&state=s\n", "s")),
            "c1"
        );
        assert_eq!(code(check_paste("  /?state=s&code=c%2F2 ", "s")), "c/2");
        assert_eq!(code(check_paste("?code=c3&state=s", "s")), "c3");
        assert_eq!(
            code(check_paste("M.C507_BAY.2.U.abcdef", "s")),
            "M.C507_BAY.2.U.abcdef"
        );
        assert_eq!(code(check_paste("4/0AX4XfWh-xyz", "s")), "4/0AX4XfWh-xyz");
        let e = refused(check_paste("http://127.0.0.1:1/?code=c1&state=t", "s"));
        assert_eq!(e.code, Code::BadRedirect);
        assert!(e.message.contains("state does not match"));
        assert_eq!(
            refused(check_paste("http://127.0.0.1:1/?code=c1", "s")).code,
            Code::BadRedirect
        );
        assert_eq!(
            refused(check_paste("http://127.0.0.1:1/?state=s", "s")).code,
            Code::BadRedirect
        );
        assert_eq!(
            refused(check_paste(
                "http://127.0.0.1:1/?error=access_denied&state=s",
                "s"
            ))
            .code,
            Code::AccessDenied
        );
        assert!(matches!(check_paste(" \r\n", "s"), Pasted::Blank));
        for garbage in [
            "y",
            "hello world, what now",
            "http://127.0.0.1:1/",
            "https://example.com/page?x=1",
            "ftp:// nope",
            "caf\u{e9}-caf\u{e9}-caf\u{e9}",
        ] {
            assert!(
                matches!(check_paste(garbage, "s"), Pasted::Unclear),
                "{garbage}"
            );
        }
    }
}
