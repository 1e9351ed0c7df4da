//! TLS over TCP with rustls (the ring provider): the configuration callers
//! give, and the transport that speaks it.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::{ConnectError, Idle, Socket, TlsSession, Transport, TransportOptions, Wait};
use crate::{Address, Error, Result};

/// How quickmc speaks TLS to servers: whom it trusts, who it is, and which
/// name it expects. Give it to [`ClientBuilder::tls`](crate::ClientBuilder::tls)
/// for every server, or mark servers `tls://host:port` to use it (or, with
/// none given, the platform's roots) for those only.
///
/// Verification is on: the server's certificate must chain to a trusted
/// root and name the server (the host of its spec, or
/// [`server_name`](TlsConfig::server_name)). TLS 1.2 and 1.3 are offered.
///
/// ```no_run
/// let tls = quickmc::TlsConfig::new()
///     .ca_file("/etc/memcached/ca.pem")?
///     .client_cert_files("/etc/app/client.pem", "/etc/app/client.key")?;
/// let client = quickmc::Client::builder()
///     .servers(["cache-1.internal:11211"])
///     .tls(tls)
///     .build()?;
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TlsConfig {
    /// Trust anchors given as PEM; `None`: the platform's roots.
    roots: Option<Vec<CertificateDer<'static>>>,
    client: Option<ClientIdentity>,
    server_name: Option<String>,
    skip_verification: bool,
}

struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for ClientIdentity {
    fn clone(&self) -> ClientIdentity {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field(
                "roots",
                &self
                    .roots
                    .as_ref()
                    .map_or("platform".to_string(), |r| format!("{} from PEM", r.len())),
            )
            .field("client_certificate", &self.client.is_some())
            .field("server_name", &self.server_name)
            .field("skip_verification", &self.skip_verification)
            .finish()
    }
}

fn config_error(what: &str, detail: impl fmt::Display) -> Error {
    Error::Config(format!("TLS {what}: {detail}"))
}

fn read_pem_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| config_error(what, format!("{}: {e}", path.display())))
}

impl TlsConfig {
    /// Verification against the platform's trusted roots, no client
    /// certificate, the server name taken from each server's spec.
    ///
    /// ```
    /// let tls = quickmc::TlsConfig::new();
    /// ```
    pub fn new() -> TlsConfig {
        TlsConfig::default()
    }

    /// Trusts the certificates in a PEM bundle (instead of the platform's roots).
    ///
    /// ```no_run
    /// let tls = quickmc::TlsConfig::new().ca_file("ca.pem")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<TlsConfig> {
        let pem = read_pem_file(path.as_ref(), "CA bundle")?;
        self.ca_pem(&pem)
    }

    /// Trusts the certificates in PEM text (instead of the platform's roots).
    ///
    /// ```
    /// let err = quickmc::TlsConfig::new().ca_pem(b"not a certificate").unwrap_err();
    /// assert!(matches!(err, quickmc::Error::Config(_)));
    /// ```
    pub fn ca_pem(mut self, pem: &[u8]) -> Result<TlsConfig> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| config_error("CA bundle", e))?;
        if certs.is_empty() {
            return Err(config_error("CA bundle", "no certificate in it"));
        }
        self.roots = Some(certs);
        Ok(self)
    }

    /// Presents a client certificate (mutual TLS): a PEM chain and its
    /// PEM private key.
    ///
    /// ```no_run
    /// let tls = quickmc::TlsConfig::new().client_cert_files("client.pem", "client.key")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn client_cert_files(
        self,
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig> {
        let chain = read_pem_file(chain.as_ref(), "client certificate")?;
        let key = read_pem_file(key.as_ref(), "client key")?;
        self.client_cert_pem(&chain, &key)
    }

    /// Presents a client certificate given as PEM text.
    ///
    /// ```
    /// let err = quickmc::TlsConfig::new().client_cert_pem(b"", b"").unwrap_err();
    /// assert!(matches!(err, quickmc::Error::Config(_)));
    /// ```
    pub fn client_cert_pem(mut self, chain: &[u8], key: &[u8]) -> Result<TlsConfig> {
        let chain = CertificateDer::pem_slice_iter(chain)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| config_error("client certificate", e))?;
        if chain.is_empty() {
            return Err(config_error("client certificate", "no certificate in it"));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| config_error("client key", e))?;
        self.client = Some(ClientIdentity { chain, key });
        Ok(self)
    }

    /// The name every server's certificate must carry, instead of the host
    /// of its spec (to connect by IP address to a certificate for a name).
    ///
    /// ```
    /// let tls = quickmc::TlsConfig::new().server_name("cache.internal");
    /// ```
    pub fn server_name(mut self, name: impl Into<String>) -> TlsConfig {
        self.server_name = Some(name.into());
        self
    }

    /// Accepts any server certificate, unverified. **Dangerous**: anyone on
    /// the path can impersonate the server and read everything. For tests
    /// against a self-signed server only.
    ///
    /// ```
    /// let tls = quickmc::TlsConfig::new().dangerously_accept_any_server_certificate();
    /// ```
    pub fn dangerously_accept_any_server_certificate(mut self) -> TlsConfig {
        self.skip_verification = true;
        self
    }

    /// The rustls configuration, built once for every connection (so TLS
    /// sessions are resumed across them).
    pub(crate) fn build(&self) -> Result<TlsSetup> {
        let provider = Arc::new(prefer_aes_128(rustls::crypto::ring::default_provider()));
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| config_error("versions", e))?;
        let builder = if self.skip_verification {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        let config = match &self.client {
            None => builder.with_no_client_auth(),
            Some(identity) => builder
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                .map_err(|e| config_error("client certificate", e))?,
        };
        Ok(TlsSetup {
            config: Arc::new(config),
            server_name: self.server_name.clone(),
        })
    }

    fn root_store(&self) -> Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        match &self.roots {
            Some(certs) => {
                for cert in certs {
                    store
                        .add(cert.clone())
                        .map_err(|e| config_error("CA bundle", e))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                for cert in native.certs {
                    // A platform certificate rustls cannot parse is skipped.
                    let _ = store.add(cert);
                }
                if store.is_empty() {
                    return Err(config_error(
                        "roots",
                        "the platform has no trusted roots; give a CA bundle with ca_file",
                    ));
                }
            }
        }
        Ok(store)
    }
}

/// The provider's cipher suites with AES-128-GCM first: as secure for a
/// cache's traffic as AES-256 and a third cheaper per byte, on both sides
/// (memcached's OpenSSL honours the client's order).
fn prefer_aes_128(mut provider: rustls::crypto::CryptoProvider) -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS13_AES_128_GCM_SHA256,
    };
    let rank = |suite: &rustls::SupportedCipherSuite| match suite.suite() {
        TLS13_AES_128_GCM_SHA256
        | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        _ => 1,
    };
    provider.cipher_suites.sort_by_key(rank);
    provider
}

/// A built TLS configuration, shared by every connection to the servers it
/// applies to.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    config: Arc<ClientConfig>,
    server_name: Option<String>,
}

impl fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSetup")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// The verifier behind [`TlsConfig::dangerously_accept_any_server_certificate`].
#[derive(Debug)]
struct AcceptAnything(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The socket as `Read`/`Write` for rustls, blocking or not.
struct SocketIo<'a> {
    socket: &'a mut Socket,
    wait: Wait,
}

impl Read for SocketIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket.recv(buf, self.wait)
    }
}

impl Write for SocketIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket.send(buf)
    }

    /// Every record rustls has ready in one `sendmsg`, not one per record.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        use rustix::net::{SendAncillaryBuffer, SendFlags};
        loop {
            let sent = rustix::net::sendmsg(
                &*self.socket,
                bufs,
                &mut SendAncillaryBuffer::default(),
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            );
            match sent {
                Err(rustix::io::Errno::INTR) => continue,
                other => return other.map_err(io::Error::from),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How much is read from the socket at once: rustls takes 4 KiB a call, so
/// larger reads go through [`TlsStream::wire`] (one syscall, not sixteen).
const WIRE_READ: usize = 64 * 1024;

/// A TLS connection over a TCP socket.
pub(crate) struct TlsStream {
    socket: Socket,
    tls: ClientConnection,
    read_timeout: Option<Duration>,
    /// Decrypted bytes waiting in rustls.
    buffered: usize,
    /// Bytes read from the socket that rustls has not taken yet:
    /// `wire[wire_at..wire_end]` (the buffer stays initialised, so a read
    /// does not zero it each time).
    wire: Vec<u8>,
    wire_at: usize,
    wire_end: usize,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("socket", &self.socket)
            .field("buffered", &self.buffered)
            .finish_non_exhaustive()
    }
}

/// The size of the record every write ends with (see [`TlsStream::send`]):
/// a closing Noop.
const TAIL_RECORD: usize = 24;

fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Waits until the socket is ready for `flags`, or the deadline passes.
fn wait_for(
    socket: &Socket,
    flags: PollFlags,
    deadline: Instant,
) -> std::result::Result<(), ConnectError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ConnectError::Io(io::ErrorKind::TimedOut.into()));
    }
    let timeout = Timespec {
        tv_sec: left.as_secs() as i64,
        tv_nsec: i64::from(left.subsec_nanos()),
    };
    let mut fds = [PollFd::new(socket, flags)];
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(ConnectError::Io(e.into())),
    }
}

/// Why a handshake failed, in words an operator can act on.
fn handshake_reason(error: &rustls::Error) -> String {
    use rustls::{AlertDescription, CertificateError};
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by a trusted CA".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "the server's certificate does not name this server (see server_name)".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired)
        | rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "the server's certificate has expired".into()
        }
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::HandshakeFailure,
        ) => format!(
            "the server refused the handshake ({error}): a client certificate it accepts may be required"
        ),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the server does not speak TLS on this port ({error})")
        }
        other => other.to_string(),
    }
}

impl TlsStream {
    /// Connects and completes the handshake within the connect timeout.
    pub(crate) fn connect(
        address: &Address,
        options: &TransportOptions,
        setup: &TlsSetup,
    ) -> std::result::Result<TlsStream, ConnectError> {
        let Address::Tcp { host, .. } = address else {
            return Err(ConnectError::Tls(
                "TLS is spoken over TCP, not a Unix socket".into(),
            ));
        };
        let name = setup.server_name.clone().unwrap_or_else(|| host.clone());
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| ConnectError::Tls(format!("{name:?} is not a valid TLS server name")))?;
        let deadline = Instant::now() + options.connect_timeout;
        let socket = Socket::connect(address, options)?;
        let tls = ClientConnection::new(setup.config.clone(), server_name)
            .map_err(|e| ConnectError::Tls(e.to_string()))?;
        let mut stream = TlsStream {
            socket,
            tls,
            read_timeout: options.read_timeout,
            buffered: 0,
            wire: Vec::new(),
            wire_at: 0,
            wire_end: 0,
        };
        stream.handshake(deadline)?;
        Ok(stream)
    }

    fn handshake(&mut self, deadline: Instant) -> std::result::Result<(), ConnectError> {
        while self.tls.is_handshaking() {
            while self.tls.wants_write() {
                let mut io = SocketIo {
                    socket: &mut self.socket,
                    wait: Wait::NonBlock,
                };
                match self.tls.write_tls(&mut io) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        wait_for(&self.socket, PollFlags::OUT, deadline)?;
                    }
                    Err(e) => return Err(ConnectError::Io(e)),
                }
            }
            if !self.tls.is_handshaking() {
                break;
            }
            let mut io = SocketIo {
                socket: &mut self.socket,
                wait: Wait::NonBlock,
            };
            match self.tls.read_tls(&mut io) {
                Ok(0) => {
                    return Err(ConnectError::Tls(
                        "the server closed the connection during the TLS handshake \
                         (does it speak TLS on this port?)"
                            .into(),
                    ));
                }
                Ok(_) => {
                    if let Err(e) = self.tls.process_new_packets() {
                        // Tell the server why, if it still listens.
                        let _ = self.tls.write_tls(&mut SocketIo {
                            socket: &mut self.socket,
                            wait: Wait::NonBlock,
                        });
                        return Err(ConnectError::Tls(handshake_reason(&e)));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_for(&self.socket, PollFlags::IN, deadline)?;
                }
                Err(e) => return Err(ConnectError::Io(e)),
            }
        }
        Ok(())
    }

    /// Hands rustls what [`TlsStream::wire`] holds and decrypts it, as far
    /// as rustls takes (it holds at most about 16 KiB of plaintext).
    fn feed(&mut self) -> io::Result<()> {
        while let Some(mut pending) = self
            .wire
            .get(self.wire_at..self.wire_end)
            .filter(|w| !w.is_empty())
        {
            if self.tls.wants_read() {
                let taken = self.tls.read_tls(&mut pending)?;
                self.wire_at += taken;
            }
            let state = self.tls.process_new_packets().map_err(tls_io_error)?;
            self.buffered = state.plaintext_bytes_to_read();
            if self.buffered > 0 || !self.tls.wants_read() {
                break;
            }
        }
        if self.wire_at >= self.wire_end {
            self.wire_at = 0;
            self.wire_end = 0;
        }
        // rustls may have something to say back (an alert, a key update).
        let _ = self.flush();
        Ok(())
    }

    /// Reads from the socket into [`TlsStream::wire`] and feeds rustls;
    /// `Ok(0)` at end of stream.
    fn fill(&mut self, wait: Wait) -> io::Result<usize> {
        if self.wire_at > 0 {
            self.wire.copy_within(self.wire_at..self.wire_end, 0);
            self.wire_end -= self.wire_at;
            self.wire_at = 0;
        }
        if self.wire.len() < self.wire_end + WIRE_READ {
            self.wire.resize(self.wire_end + WIRE_READ, 0);
        }
        let room = self.wire.get_mut(self.wire_end..).unwrap_or_default();
        let n = self.socket.recv(room, wait)?;
        self.wire_end += n;
        if n == 0 {
            // Tell rustls the stream ended (so a missing close_notify is seen).
            self.tls.read_tls(&mut io::empty())?;
            let state = self.tls.process_new_packets().map_err(tls_io_error)?;
            self.buffered = state.plaintext_bytes_to_read();
            return Ok(0);
        }
        self.feed()?;
        Ok(n)
    }

    /// The negotiated session.
    pub(crate) fn session(&self) -> Option<TlsSession> {
        Some(TlsSession {
            version: format!("{:?}", self.tls.protocol_version()?),
            cipher: format!("{:?}", self.tls.negotiated_cipher_suite()?.suite()),
        })
    }
}

impl Transport for TlsStream {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.fd()
    }

    fn recv(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
        // A blocking read gives up after the read timeout even if the
        // server keeps sending records that carry no reply bytes.
        let give_up = match wait {
            Wait::Block => self.read_timeout.map(|t| Instant::now() + t),
            Wait::NonBlock => None,
        };
        let mut filled = 0;
        loop {
            if let Some(room) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
                match self.tls.reader().read(room) {
                    // close_notify: the end, once everything before it is read.
                    Ok(0) => return Ok(filled),
                    Ok(n) => {
                        filled += n;
                        self.buffered = self.buffered.saturating_sub(n);
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer closed without close_notify: end of stream.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                    Err(e) => return Err(e),
                }
            }
            if filled == buf.len() {
                return Ok(filled);
            }
            if self.wire_at < self.wire_end {
                self.feed()?;
                if self.buffered > 0 {
                    continue;
                }
            }
            // Never wait on the socket with reply bytes in hand.
            if filled > 0 {
                return Ok(filled);
            }
            if self.fill(wait)? == 0 && self.buffered == 0 {
                return Ok(0);
            }
            if give_up.is_some_and(|t| Instant::now() >= t) {
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // The last bytes of every write go in a small record of their own:
        // memcached (1.6.18) reads TLS records into a fixed buffer and, when
        // the last record it received does not fit, leaves the rest inside
        // OpenSSL and waits for the socket, which stays silent: a batch's
        // final window would never be answered. A small final record always
        // fits, and the large one before it wakes the server up.
        let split = bytes.len().saturating_sub(TAIL_RECORD);
        let mut accepted = 0;
        if split >= TAIL_RECORD {
            accepted = self
                .tls
                .writer()
                .write(bytes.get(..split).unwrap_or_default())?;
            if accepted < split {
                self.flush()?;
                return Ok(accepted);
            }
        }
        let accepted = accepted
            + self
                .tls
                .writer()
                .write(bytes.get(accepted..).unwrap_or_default())?;
        self.flush()?;
        if accepted == 0 && !bytes.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(accepted)
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            let mut io = SocketIo {
                socket: &mut self.socket,
                wait: Wait::NonBlock,
            };
            match self.tls.write_tls(&mut io) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn has_pending_output(&self) -> bool {
        self.tls.wants_write()
    }

    fn has_buffered_input(&self) -> bool {
        self.buffered > 0 || self.wire_at < self.wire_end
    }

    fn idle(&mut self) -> Idle {
        // Records the server sent unasked (TLS 1.3 session tickets) are
        // taken in here; only decrypted bytes are stray.
        loop {
            if self.wire_at < self.wire_end && self.feed().is_err() {
                return Idle::Closed;
            }
            if self.buffered > 0 {
                return Idle::Stray;
            }
            match self.fill(Wait::NonBlock) {
                Ok(0) => return Idle::Closed,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Idle::Quiet,
                Err(_) => return Idle::Closed,
            }
        }
    }

    fn shutdown(&mut self) {
        self.tls.send_close_notify();
        let _ = self.flush();
        self.socket.shutdown();
    }

    fn tls_session(&self) -> Option<TlsSession> {
        self.session()
    }
}
