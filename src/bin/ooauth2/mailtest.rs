//! `ooauth2 test imap|pop|smtp`: logs in to the real mail server with a token
//! the engine handed out, over TLS, and says which step failed and why.
//!
//! The dialogues are spoken by hand so that every reply can be reported:
//! IMAP: greeting, (STARTTLS,) CAPABILITY, AUTHENTICATE, `LIST "" "INBOX"`
//! (some servers accept a token that does not match the mailbox and only
//! fail the first real command), LOGOUT. POP3: greeting, (STLS,) CAPA, AUTH
//! (RFC 5034), STAT (for the same reason as IMAP's LIST), QUIT. SMTP:
//! greeting, EHLO, (STARTTLS, EHLO,) AUTH, QUIT. On a refused token the
//! server's base64 JSON error
//! challenge is decoded and answered as each mechanism requires (XOAUTH2: an
//! empty response; OAUTHBEARER: `%x01`, RFC 7628 §3.2.3).
//!
//! The token and the SASL string go to the socket and nowhere else: not in a
//! message, not in the `--verbose` transcript. No HTTP here; the caller gets
//! the token from the engine.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ooauth2::error::{Code, Error, Result, one_line};
use ooauth2::sasl;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A server line longer than this is not a mail protocol line.
const MAX_LINE: usize = 64 * 1024;
/// The largest IMAP literal read in a response (LIST answers are tiny).
const MAX_LITERAL: usize = 1024 * 1024;
/// The name sent with EHLO.
const EHLO_NAME: &str = "localhost";

/// Which server to log in to.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// IMAP (port 993, TLS from the start).
    Imap,
    /// POP3 (port 995, TLS from the start).
    Pop,
    /// SMTP submission (port 587 with STARTTLS, or 465 with TLS from the start).
    Smtp,
}

impl Service {
    /// The protocol's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Service::Imap => "IMAP",
            Service::Pop => "POP3",
            Service::Smtp => "SMTP",
        }
    }

    /// The mail protocol, for the provider's table of servers
    /// (`Provider::mail_server`).
    pub fn protocol(self) -> ooauth2::provider::MailProtocol {
        use ooauth2::provider::MailProtocol;
        match self {
            Service::Imap => MailProtocol::Imap,
            Service::Pop => MailProtocol::Pop,
            Service::Smtp => MailProtocol::Smtp,
        }
    }

    /// The standard port of this protocol (RFC 8314 for IMAP and POP3,
    /// RFC 6409 submission for SMTP), for a server given with `--host`.
    pub fn default_port(self) -> u16 {
        match self {
            Service::Imap => 993,
            Service::Pop => 995,
            Service::Smtp => 587,
        }
    }
}

/// The SASL mechanism.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mechanism {
    /// Microsoft's and Google's XOAUTH2 (the one Microsoft documents).
    #[default]
    Xoauth2,
    /// RFC 7628 OAUTHBEARER.
    Oauthbearer,
}

impl Mechanism {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }

    /// How the transcript shows that answer.
    fn abort_shown(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "(empty response)",
            Mechanism::Oauthbearer => "AQ== (0x01)",
        }
    }

    /// The client's answer to the server's error challenge, base64 encoded:
    /// XOAUTH2 takes an empty response, OAUTHBEARER the byte 0x01.
    fn abort_answer(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "",
            Mechanism::Oauthbearer => "AQ==",
        }
    }
}

/// How TLS starts.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465).
    Implicit,
    /// Plain first, then STARTTLS (IMAP 143, POP3 110 with STLS, submission 587).
    Starttls,
}

impl Tls {
    /// The TLS a port usually speaks; for other ports, the service's default.
    pub fn for_port(service: Service, port: u16) -> Tls {
        match port {
            993 | 995 | 465 => Tls::Implicit,
            143 | 110 | 587 | 25 => Tls::Starttls,
            _ => match service {
                Service::Imap | Service::Pop => Tls::Implicit,
                Service::Smtp => Tls::Starttls,
            },
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tls::Implicit => "implicit TLS",
            Tls::Starttls => "STARTTLS",
        }
    }
}

/// Where and how to log in.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: Service,
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub mechanism: Mechanism,
    /// A PEM file of extra CA certificates (private servers, tests).
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// How long each read or write may take.
    pub timeout: Duration,
}

impl Target {
    fn at(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Who logs in. `token` is secret: it is only ever written to the socket.
pub struct Login<'a> {
    pub user: &'a str,
    pub token: &'a str,
    /// What to do when the server refuses the token (commands to run).
    pub fix: String,
}

/// Where the steps go: one line each; with `verbose`, the dialogue too,
/// the SASL string replaced by a placeholder.
pub struct Report<'a> {
    pub out: &'a mut dyn Write,
    pub verbose: bool,
}

impl Report<'_> {
    fn step(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }

    fn wire(&mut self, dir: &str, line: &str) {
        if self.verbose {
            let _ = writeln!(self.out, "  {dir} {}", one_line(line));
        }
    }
}

/// Connects, starts TLS, authenticates and (IMAP) lists INBOX, reporting
/// each step; returns the one-line summary of a success.
pub fn run(target: &Target, login: &Login, report: &mut Report) -> Result<String> {
    let config = tls_config(target.ca_file.as_deref())?;
    let (tcp, addr) = connect(target)?;
    if addr.ip().to_string() == target.host.trim_matches(['[', ']']) {
        report.step(&format!("connect ok ({})", target.at()));
    } else {
        report.step(&format!("connect ok ({}, {addr})", target.at()));
    }
    let mut conn = Conn {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
        target,
        report,
        tls_version: None,
    };
    if target.tls == Tls::Implicit {
        conn.start_tls(&config)?;
    }
    let sasl = match target.mechanism {
        Mechanism::Xoauth2 => sasl::xoauth2(login.user, login.token),
        Mechanism::Oauthbearer => sasl::oauthbearer(
            login.user,
            Some(&target.host),
            Some(target.port),
            login.token,
        ),
    };
    let extra = match target.service {
        Service::Imap => imap(&mut conn, &config, login, &sasl)?,
        Service::Pop => pop(&mut conn, &config, login, &sasl)?,
        Service::Smtp => smtp(&mut conn, &config, login, &sasl)?,
    };
    Ok(format!(
        "{} login ok: {} at {} with {} over {}{extra}",
        target.service.label(),
        login.user,
        target.at(),
        target.mechanism.name(),
        conn.tls_version.clone().unwrap_or_else(|| "TLS".into()),
    ))
}

/// The rustls configuration: the system's roots (the same verifier reqwest
/// uses) plus the CA certificates of `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let extra = match ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra.iter().cloned(),
        Arc::clone(&provider),
    )
    .map_err(|e| {
        Error::new(
            Code::NetworkError,
            format!("cannot load the CA certificates: {e}"),
        )
        .hint("install the system's CA certificates (ca-certificates) or pass --ca-file")
    })?;
    let verifier = Pinned {
        inner: verifier,
        pinned: extra,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Code::NetworkError, format!("TLS set-up failed: {e}")))?
        // Not a weakening: this is how the platform verifier is plugged in
        // (rustls-platform-verifier's own `with_platform_verifier` does it).
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The platform verifier, plus the certificates of `--ca-file` taken as
/// they are: a server whose own certificate is one of them is trusted for
/// the names the certificate holds. This is what a self-signed server
/// certificate needs (`openssl req -x509` and Debian's snakeoil ones are
/// marked as CAs, which WebPKI refuses as a server's own certificate); the
/// user named that exact certificate, so trusting it is no weaker than
/// trusting a CA.
#[derive(Debug)]
struct Pinned {
    inner: rustls_platform_verifier::Verifier,
    pinned: Vec<CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let err = match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Err(err);
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The certificates of a PEM file; a file without one is an error.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::invalid(format!("cannot read --ca-file {}: {e}", path.display())))?;
    let certs: std::result::Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(Error::invalid(format!(
            "--ca-file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ))),
        Err(e) => Err(Error::invalid(format!(
            "--ca-file {} is not valid PEM: {e}",
            path.display()
        ))),
    }
}

/// A TCP connection to the first address of the host that answers.
fn connect(target: &Target) -> Result<(TcpStream, SocketAddr)> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::new(
                Code::NetworkError,
                format!("cannot resolve {}: {e}", target.host),
            )
            .hint("check --host and the network (DNS)")
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, target.connect_timeout) {
            Ok(s) => {
                let timeout = Some(target.timeout);
                s.set_read_timeout(timeout)
                    .and_then(|()| s.set_write_timeout(timeout))
                    .map_err(|e| Error::new(Code::NetworkError, format!("socket set-up: {e}")))?;
                return Ok((s, *addr));
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let why = match last {
        Some((addr, e)) => format!("{addr}: {e}"),
        None => "no address".to_string(),
    };
    Err(Error::new(
        Code::NetworkError,
        format!("cannot connect to {} ({why})", target.at()),
    )
    .hint(format!(
        "check --host and --port ({} usually listens on {} with {}) and the network",
        target.service.label(),
        target.service.default_port(),
        Tls::for_port(target.service, target.service.default_port()).label()
    )))
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// Between the two, while the handshake runs.
    Gone,
}

/// One connection: the stream, bytes read but not yet consumed, and where
/// the dialogue is reported.
struct Conn<'t, 'r, 'o> {
    stream: Stream,
    buf: Vec<u8>,
    target: &'t Target,
    report: &'r mut Report<'o>,
    tls_version: Option<String>,
}

impl Conn<'_, '_, '_> {
    fn io_error(&self, doing: &str, e: &std::io::Error) -> Error {
        let msg = match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                return Error::new(
                    Code::NetworkError,
                    format!(
                        "{} did not answer within {} s",
                        self.target.at(),
                        self.target.timeout.as_secs_f32()
                    ),
                )
                .hint(
                    "servers slow down after failed logins; try again in a minute \
                     (OOAUTH2_HTTP_TIMEOUT sets the wait)",
                );
            }
            _ => format!("{doing} {} failed: {e}", self.target.at()),
        };
        Error::new(Code::NetworkError, msg)
    }

    /// Reads more bytes into the buffer; the connection closing is an error.
    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 8192];
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(&mut chunk),
            Stream::Tls(s) => s.read(&mut chunk),
            Stream::Gone => Ok(0),
        }
        .map_err(|e| self.io_error("reading from", &e))?;
        if n == 0 {
            return Err(Error::new(
                Code::NetworkError,
                format!("{} closed the connection", self.target.at()),
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One line from the server, without its CRLF.
    fn read_line(&mut self) -> Result<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=i).collect();
                let line = String::from_utf8_lossy(&raw)
                    .trim_end_matches(['\r', '\n'])
                    .to_string();
                self.report.wire("S:", &line);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(Error::new(
                    Code::BadResponse,
                    format!(
                        "{} sent a line longer than {MAX_LINE} bytes",
                        self.target.at()
                    ),
                ));
            }
            self.fill()?;
        }
    }

    /// Exactly `n` bytes (an IMAP literal).
    fn read_bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Sends one line; the transcript shows `shown` instead when given.
    fn send(&mut self, line: &str, shown: Option<&str>) -> Result<()> {
        self.report.wire("C:", shown.unwrap_or(line));
        let data = format!("{line}\r\n");
        match &mut self.stream {
            Stream::Plain(s) => s.write_all(data.as_bytes()).and_then(|()| s.flush()),
            Stream::Tls(s) => s.write_all(data.as_bytes()).and_then(|()| s.flush()),
            Stream::Gone => Ok(()),
        }
        .map_err(|e| self.io_error("writing to", &e))
    }

    /// The TLS handshake on the plain stream; reports the version.
    fn start_tls(&mut self, config: &Arc<rustls::ClientConfig>) -> Result<()> {
        // Bytes the server sent before the handshake would be read as if they
        // came over TLS (the STARTTLS command injection attack): refuse.
        if !self.buf.is_empty() {
            return Err(Error::new(
                Code::BadResponse,
                format!(
                    "{} sent data before the TLS handshake; refusing to go on",
                    self.target.at()
                ),
            ));
        }
        let Stream::Plain(mut tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(Error::new(Code::BadResponse, "TLS is already on"));
        };
        let host = &self.target.host;
        let name = ServerName::try_from(host.clone())
            .map_err(|_| Error::invalid(format!("--host '{host}' is not a valid host name")))?;
        let mut tls = rustls::ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| Error::new(Code::NetworkError, format!("TLS set-up failed: {e}")))?;
        while tls.is_handshaking() {
            if let Err(e) = tls.complete_io(&mut tcp) {
                let mut err = self.io_error("the TLS handshake with", &e);
                if err.message.contains("corrupt message") {
                    err = err.hint(format!(
                        "the server did not answer with TLS: check --port and --tls \
                         ({} there?)",
                        match self.target.tls {
                            Tls::Implicit => "STARTTLS",
                            Tls::Starttls => "implicit TLS",
                        }
                    ));
                } else if err.message.contains("certificate") {
                    err = err.hint(format!(
                        "the server's certificate is not trusted for {host}: check --host; \
                         for a private CA or a self-signed certificate pass it with --ca-file FILE.pem"
                    ));
                }
                return Err(err);
            }
        }
        let version = tls
            .protocol_version()
            .map(|v| format!("{v:?}").replace('_', "."))
            .unwrap_or_else(|| "TLS".into());
        self.report.step(&format!(
            "tls ok ({version}, {}, certificate for {host})",
            self.target.tls.label()
        ));
        self.tls_version = Some(version);
        self.stream = Stream::Tls(Box::new(rustls::StreamOwned::new(tls, tcp)));
        Ok(())
    }
}

/// A refused login: what the server said, its decoded challenge, and what to do.
fn refused(
    conn: &Conn,
    login: &Login,
    what: &str,
    reply: &str,
    challenge: Option<&str>,
    advertised: bool,
) -> Error {
    let t = conn.target;
    let mut msg = format!(
        "the {} server at {} refused {what} for {}: {}",
        t.service.label(),
        t.at(),
        login.user,
        reply.trim()
    );
    let decoded = challenge.map(describe_challenge);
    if let Some(d) = &decoded {
        msg.push_str(&format!(" (server's reason: {d})"));
    }
    let mut hint = String::new();
    if !advertised {
        hint.push_str(&format!(
            "the server does not list {} among its mechanisms; try --mechanism {}; ",
            t.mechanism.name(),
            match t.mechanism {
                Mechanism::Xoauth2 => "oauthbearer",
                Mechanism::Oauthbearer => "xoauth2",
            }
        ));
    } else if decoded
        .as_deref()
        .is_some_and(|d| d.contains("insufficient_scope"))
    {
        hint.push_str("the token lacks the scope for this service; ");
    } else {
        hint.push_str(&format!(
            "the provider revoked the token or expired it early, or it is for another \
             mailbox than {} or lacks the {} scope; ",
            login.user,
            t.service.label()
        ));
    }
    hint.push_str(&login.fix);
    Error::new(Code::AccessDenied, msg).hint(hint)
}

/// The server's base64 error challenge as `key value` pairs (status first),
/// or its text when it is not JSON.
pub fn describe_challenge(b64: &str) -> String {
    let b64 = b64.trim();
    let Ok(bytes) = STANDARD.decode(b64) else {
        return format!("'{}' (not base64)", shorten(b64));
    };
    let text = String::from_utf8_lossy(&bytes);
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => {
            let mut pairs: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            pairs.sort_by_key(|(k, _)| (k.as_str() != "status", k.as_str()));
            pairs
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    format!("{k} {}", shorten(&v))
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => format!("'{}'", shorten(&text)),
    }
}

fn shorten(s: &str) -> String {
    ooauth2::error::shorten(s, 200)
}

// ---------------------------------------------------------------------------
// IMAP (RFC 9051, RFC 3501)
// ---------------------------------------------------------------------------

/// The literal length `{N}` or `{N+}` at the end of an IMAP line.
fn literal_len(line: &str) -> Option<usize> {
    let open = line.strip_suffix('}')?.rfind('{')?;
    let n = &line[open + 1..line.len() - 1];
    n.strip_suffix('+').unwrap_or(n).parse().ok()
}

/// `(status, text)` of the tagged line of `tag`.
fn tagged<'l>(line: &'l str, tag: &str) -> Option<(String, &'l str)> {
    let rest = line.strip_prefix(tag)?.strip_prefix(' ')?;
    let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
    Some((status.to_ascii_uppercase(), text))
}

struct Imap<'c, 't, 'r, 'o> {
    conn: &'c mut Conn<'t, 'r, 'o>,
    tag: u32,
}

impl Imap<'_, '_, '_, '_> {
    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("o{}", self.tag)
    }

    /// One response line, IMAP literals folded in.
    fn line(&mut self) -> Result<String> {
        let mut line = self.conn.read_line()?;
        while let Some(n) = literal_len(&line) {
            if n > MAX_LITERAL {
                return Err(Error::new(
                    Code::BadResponse,
                    format!("{} sent a literal of {n} bytes", self.conn.target.at()),
                ));
            }
            let bytes = self.conn.read_bytes(n)?;
            line.push_str(&String::from_utf8_lossy(&bytes));
            line.push_str(&self.conn.read_line()?);
        }
        Ok(line)
    }

    /// Sends `cmd`; returns the untagged lines and the tagged status and text.
    fn command(&mut self, cmd: &str) -> Result<(Vec<String>, String, String)> {
        let tag = self.next_tag();
        self.conn.send(&format!("{tag} {cmd}"), None)?;
        let mut untagged = Vec::new();
        loop {
            let line = self.line()?;
            if let Some((status, text)) = tagged(&line, &tag) {
                return Ok((untagged, status, text.to_string()));
            }
            if line.starts_with('+') {
                // Nothing to continue with: cancel.
                self.conn.send("*", None)?;
            }
            untagged.push(line);
        }
    }

    /// The server's capabilities, upper-cased.
    fn capabilities(&mut self) -> Result<Vec<String>> {
        let (lines, status, text) = self.command("CAPABILITY")?;
        if status != "OK" {
            return Err(Error::new(
                Code::BadResponse,
                format!(
                    "{} answered CAPABILITY with {status} {text}",
                    self.conn.target.at()
                ),
            ));
        }
        Ok(lines
            .iter()
            .filter_map(|l| l.strip_prefix("* CAPABILITY "))
            .flat_map(|l| l.split(' '))
            .map(str::to_ascii_uppercase)
            .collect())
    }
}

/// The IMAP dialogue after connecting (and, with implicit TLS, the handshake).
fn imap(
    conn: &mut Conn,
    config: &Arc<rustls::ClientConfig>,
    login: &Login,
    sasl: &str,
) -> Result<String> {
    let at = conn.target.at();
    let greeting = conn.read_line()?;
    let upper = greeting.to_ascii_uppercase();
    if upper.starts_with("* BYE") {
        return Err(Error::new(
            Code::NetworkError,
            format!("{at} turned the connection away: {greeting}"),
        ));
    }
    if !(upper.starts_with("* OK") || upper.starts_with("* PREAUTH")) {
        return Err(Error::new(
            Code::BadResponse,
            format!(
                "{at} did not greet as an IMAP server: '{}'",
                shorten(&greeting)
            ),
        )
        .hint("check --port (IMAP: 993 with implicit TLS, 143 with STARTTLS) and --tls"));
    }
    let mut s = Imap { conn, tag: 0 };
    if s.conn.target.tls == Tls::Starttls {
        let (_, status, text) = s.command("STARTTLS")?;
        if status != "OK" {
            return Err(Error::new(
                Code::ProviderError,
                format!("{at} refused STARTTLS: {status} {text}"),
            )
            .hint("try --tls implicit (port 993)"));
        }
        s.conn.start_tls(config)?;
    }
    let caps = s.capabilities()?;
    let mech = s.conn.target.mechanism;
    let advertised = caps.iter().any(|c| *c == format!("AUTH={}", mech.name()));
    let sasl_ir = caps.iter().any(|c| c == "SASL-IR");
    let hidden = format!("<{} string, not shown>", mech.name());
    let tag = s.next_tag();
    if sasl_ir {
        s.conn.send(
            &format!("{tag} AUTHENTICATE {} {sasl}", mech.name()),
            Some(&format!("{tag} AUTHENTICATE {} {hidden}", mech.name())),
        )?;
    } else {
        s.conn
            .send(&format!("{tag} AUTHENTICATE {}", mech.name()), None)?;
    }
    let mut sent = sasl_ir;
    let mut challenge: Option<String> = None;
    loop {
        let line = s.line()?;
        if let Some(rest) = line.strip_prefix('+') {
            if !sent {
                s.conn.send(sasl, Some(&hidden))?;
                sent = true;
            } else if challenge.is_none() {
                challenge = Some(rest.trim().to_string());
                s.conn.send(mech.abort_answer(), Some(mech.abort_shown()))?;
            } else {
                s.conn.send("*", None)?;
            }
            continue;
        }
        if let Some((status, text)) = tagged(&line, &tag) {
            if status == "OK" {
                break;
            }
            let reply = format!("{status} {text}");
            return Err(refused(
                s.conn,
                login,
                "the token",
                &reply,
                challenge.as_deref(),
                advertised,
            ));
        }
        if line.to_ascii_uppercase().starts_with("* BYE") {
            return Err(refused(
                s.conn,
                login,
                "the token",
                &line,
                challenge.as_deref(),
                advertised,
            ));
        }
    }
    s.conn.report.step(&format!(
        "authenticate ok ({} as {})",
        mech.name(),
        login.user
    ));
    let (lines, status, text) = s.command("LIST \"\" \"INBOX\"")?;
    if status != "OK" {
        let reply = format!("{status} {text}");
        return Err(refused(
            s.conn,
            login,
            "LIST after a successful AUTHENTICATE",
            &reply,
            None,
            true,
        ));
    }
    let inbox = lines
        .iter()
        .any(|l| l.to_ascii_uppercase().starts_with("* LIST "));
    let found = if inbox {
        "INBOX found"
    } else {
        "no INBOX listed"
    };
    s.conn.report.step(&format!("list ok ({found})"));
    // A polite goodbye; the test has already passed.
    let _ = s.command("LOGOUT");
    Ok(format!(", {found}"))
}

// ---------------------------------------------------------------------------
// POP3 (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH)
// ---------------------------------------------------------------------------

/// RFC 5034 §4: an AUTH command with its initial response may not exceed
/// 255 octets (CRLF included); a longer one (every real token) waits for
/// the server's empty `+ ` challenge instead.
const POP_MAX_AUTH_LINE: usize = 255;

/// One POP3 status line: `Ok(text)` for `+OK text`, `Err(line)` for `-ERR`
/// (or anything else, which the caller reports).
fn pop_status(line: &str) -> std::result::Result<&str, &str> {
    match line.strip_prefix("+OK") {
        Some(rest) => Ok(rest.trim_start()),
        None => Err(line),
    }
}

/// Sends a POP3 command and reads its one status line.
fn pop_command(conn: &mut Conn, cmd: &str) -> Result<String> {
    conn.send(cmd, None)?;
    conn.read_line()
}

/// The POP3 dialogue after connecting (and, with implicit TLS, the handshake).
fn pop(
    conn: &mut Conn,
    config: &Arc<rustls::ClientConfig>,
    login: &Login,
    sasl: &str,
) -> Result<String> {
    let at = conn.target.at();
    let greeting = conn.read_line()?;
    if pop_status(&greeting).is_err() {
        let (code, why) = if greeting.starts_with("-ERR") {
            (Code::NetworkError, "turned the connection away")
        } else {
            (Code::BadResponse, "did not greet as a POP3 server")
        };
        return Err(
            Error::new(code, format!("{at} {why}: '{}'", shorten(&greeting)))
                .hint("check --port (POP3: 995 with implicit TLS, 110 with STLS) and --tls"),
        );
    }
    if conn.target.tls == Tls::Starttls {
        let r = pop_command(conn, "STLS")?;
        if let Err(r) = pop_status(&r) {
            return Err(Error::new(
                Code::ProviderError,
                format!("{at} refused STLS: {}", shorten(r)),
            )
            .hint("try --tls implicit (port 995); ooauth2 never sends a token without TLS"));
        }
        conn.start_tls(config)?;
    }
    // CAPA is optional (RFC 2449): without it, nothing is known about SASL.
    let mech = conn.target.mechanism;
    let mut advertised = true;
    let capa = pop_command(conn, "CAPA")?;
    if pop_status(&capa).is_ok() {
        let mut sasl_line = None;
        loop {
            let line = conn.read_line()?;
            if line == "." {
                break;
            }
            let upper = line.to_ascii_uppercase();
            if let Some(mechs) = upper.strip_prefix("SASL ") {
                sasl_line = Some(mechs.to_string());
            }
        }
        advertised = sasl_line.is_some_and(|m| m.split(' ').any(|w| w == mech.name()));
    }
    let hidden = format!("<{} string, not shown>", mech.name());
    let with_ir = format!("AUTH {} {sasl}", mech.name());
    let mut r = if with_ir.len() + 2 <= POP_MAX_AUTH_LINE {
        conn.send(&with_ir, Some(&format!("AUTH {} {hidden}", mech.name())))?;
        conn.read_line()?
    } else {
        let r = pop_command(conn, &format!("AUTH {}", mech.name()))?;
        if r.trim_end() == "+" {
            conn.send(sasl, Some(&hidden))?;
            conn.read_line()?
        } else {
            r
        }
    };
    let mut challenge = None;
    if let Some(rest) = r.strip_prefix("+ ") {
        // The error challenge; answering it ends the exchange with -ERR.
        challenge = Some(rest.trim().to_string());
        conn.send(mech.abort_answer(), Some(mech.abort_shown()))?;
        r = conn.read_line()?;
    }
    if let Err(reply) = pop_status(&r) {
        let reply = reply.to_string();
        return Err(refused(
            conn,
            login,
            "the token",
            &reply,
            challenge.as_deref(),
            advertised,
        ));
    }
    conn.report.step(&format!(
        "authenticate ok ({} as {})",
        mech.name(),
        login.user
    ));
    let stat = pop_command(conn, "STAT")?;
    let counts = match pop_status(&stat) {
        Ok(text) => {
            let mut words = text.split(' ');
            let n = words.next().and_then(|w| w.parse::<u64>().ok());
            let size = words.next().and_then(|w| w.parse::<u64>().ok());
            match (n, size) {
                (Some(n), Some(size)) => (n, size),
                _ => {
                    return Err(Error::new(
                        Code::BadResponse,
                        format!("{at} answered STAT with '{}'", shorten(&stat)),
                    ));
                }
            }
        }
        Err(reply) => {
            let reply = reply.to_string();
            return Err(refused(
                conn,
                login,
                "STAT after a successful AUTH",
                &reply,
                None,
                true,
            ));
        }
    };
    conn.report.step(&format!(
        "stat ok ({} message(s), {} octets)",
        counts.0, counts.1
    ));
    // A polite goodbye; the test has already passed.
    if conn.send("QUIT", None).is_ok() {
        let _ = conn.read_line();
    }
    Ok(format!(", {} message(s) in the mailbox", counts.0))
}

// ---------------------------------------------------------------------------
// SMTP (RFC 5321, RFC 3207 STARTTLS, RFC 4954 AUTH)
// ---------------------------------------------------------------------------

/// One SMTP reply: its code and the text of each line.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

/// Reads one (possibly multi-line) SMTP reply.
fn smtp_reply(conn: &mut Conn) -> Result<Reply> {
    let mut lines = Vec::new();
    loop {
        let line = conn.read_line()?;
        let code = line
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(Error::new(
                Code::BadResponse,
                format!(
                    "{} did not answer as an SMTP server: '{}'",
                    conn.target.at(),
                    shorten(&line)
                ),
            )
            .hint("check --port (SMTP: 587 with STARTTLS, 465 with implicit TLS) and --tls"));
        };
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").to_string());
        if !more {
            return Ok(Reply { code, lines });
        }
        if lines.len() > 1000 {
            return Err(Error::new(
                Code::BadResponse,
                format!("{} sent a reply of over 1000 lines", conn.target.at()),
            ));
        }
    }
}

/// Sends EHLO; returns the extension lines, upper-cased.
fn ehlo(conn: &mut Conn) -> Result<Vec<String>> {
    conn.send(&format!("EHLO {EHLO_NAME}"), None)?;
    let r = smtp_reply(conn)?;
    if r.code != 250 {
        return Err(Error::new(
            Code::ProviderError,
            format!("{} refused EHLO: {}", conn.target.at(), r.text()),
        ));
    }
    Ok(r.lines
        .iter()
        .skip(1)
        .map(|l| l.to_ascii_uppercase())
        .collect())
}

/// The SMTP dialogue after connecting (and, with implicit TLS, the handshake).
fn smtp(
    conn: &mut Conn,
    config: &Arc<rustls::ClientConfig>,
    login: &Login,
    sasl: &str,
) -> Result<String> {
    let at = conn.target.at();
    let greeting = smtp_reply(conn)?;
    if greeting.code != 220 {
        return Err(Error::new(
            Code::NetworkError,
            format!("{at} turned the connection away: {}", greeting.text()),
        ));
    }
    let mut ext = ehlo(conn)?;
    if conn.target.tls == Tls::Starttls {
        if !ext.iter().any(|e| e == "STARTTLS") {
            return Err(
                Error::new(Code::ProviderError, format!("{at} does not offer STARTTLS"))
                    .hint("try --tls implicit (port 465); ooauth2 never sends a token without TLS"),
            );
        }
        conn.send("STARTTLS", None)?;
        let r = smtp_reply(conn)?;
        if r.code != 220 {
            return Err(Error::new(
                Code::ProviderError,
                format!("{at} refused STARTTLS: {}", r.text()),
            ));
        }
        conn.start_tls(config)?;
        ext = ehlo(conn)?;
    }
    let mech = conn.target.mechanism;
    let advertised = ext.iter().any(|e| {
        let mut words = e.split([' ', '=']);
        words.next() == Some("AUTH") && words.any(|w| w == mech.name())
    });
    let hidden = format!("<{} string, not shown>", mech.name());
    // As Microsoft documents it: AUTH, an empty 334 challenge, the string.
    conn.send(&format!("AUTH {}", mech.name()), None)?;
    let mut r = smtp_reply(conn)?;
    if r.code == 334 {
        conn.send(sasl, Some(&hidden))?;
        r = smtp_reply(conn)?;
    }
    let mut challenge = None;
    if r.code == 334 {
        // The error challenge; answering it ends the exchange with a failure.
        challenge = Some(r.lines.join(""));
        conn.send(mech.abort_answer(), Some(mech.abort_shown()))?;
        r = smtp_reply(conn)?;
    }
    if r.code != 235 {
        return Err(refused(
            conn,
            login,
            "the token",
            &r.text(),
            challenge.as_deref(),
            advertised,
        ));
    }
    conn.report.step(&format!(
        "authenticate ok ({} as {})",
        mech.name(),
        login.user
    ));
    // A polite goodbye; the test has already passed.
    if conn.send("QUIT", None).is_ok() {
        let _ = smtp_reply(conn);
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_status_lines() {
        assert_eq!(pop_status("+OK 2 320"), Ok("2 320"));
        assert_eq!(pop_status("+OK"), Ok(""));
        assert_eq!(pop_status("-ERR [AUTH] no"), Err("-ERR [AUTH] no"));
        assert_eq!(
            pop_status("+ eyJzdGF0dXMiOiI0MDEifQ=="),
            Err("+ eyJzdGF0dXMiOiI0MDEifQ==")
        );
    }

    #[test]
    fn tls_follows_the_port() {
        assert_eq!(Tls::for_port(Service::Pop, 995), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Pop, 110), Tls::Starttls);
        assert_eq!(Tls::for_port(Service::Pop, 10995), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Smtp, 465), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Smtp, 587), Tls::Starttls);
        assert_eq!(Tls::for_port(Service::Imap, 143), Tls::Starttls);
        assert_eq!(Tls::for_port(Service::Imap, 10993), Tls::Implicit);
        assert_eq!(Tls::for_port(Service::Smtp, 10587), Tls::Starttls);
    }

    #[test]
    fn challenges_are_decoded_status_first() {
        let c = STANDARD
            .encode(r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#);
        assert_eq!(
            describe_challenge(&c),
            "status 401, schemes bearer, scope https://mail.google.com/"
        );
        let c = STANDARD.encode(r#"{"status":"invalid_token","n":1}"#);
        assert_eq!(describe_challenge(&c), "status invalid_token, n 1");
        assert_eq!(
            describe_challenge(&STANDARD.encode("plain\nwords")),
            "'plain words'"
        );
        assert_eq!(describe_challenge("%%%"), "'%%%' (not base64)");
    }

    #[test]
    fn imap_lines() {
        assert_eq!(literal_len("* LIST () \"/\" {5}"), Some(5));
        assert_eq!(literal_len("* LIST () \"/\" {5+}"), Some(5));
        assert_eq!(literal_len("* LIST () \"/\" INBOX"), None);
        assert_eq!(
            tagged("o3 NO [AUTHENTICATIONFAILED] no", "o3"),
            Some(("NO".into(), "[AUTHENTICATIONFAILED] no"))
        );
        assert_eq!(tagged("o31 OK", "o3"), None);
        assert_eq!(tagged("o3 ok", "o3"), Some(("OK".into(), "")));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("ooauth2-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("empty.pem");
        std::fs::write(&f, "nothing here\n").unwrap();
        let e = read_ca_file(&f).unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest);
        assert!(e.message.contains("no PEM certificate"), "{}", e.message);
        let e = read_ca_file(&dir.join("missing.pem")).unwrap_err();
        assert!(e.message.contains("cannot read --ca-file"), "{}", e.message);
        let _ = std::fs::remove_dir_all(dir);
    }
}
