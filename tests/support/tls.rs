//! Certificates for TLS tests, made by the tests themselves (rcgen), and
//! memcached started with `-Z` to serve them.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType,
    date_time_ymd,
};

use super::{Memcached, Options, temp_dir};

/// A test PKI: a CA, certificates it signed, and one from another CA.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA that signed the server and client certificates.
    pub ca: PathBuf,
    /// Another CA, which signed nothing here.
    pub other_ca: PathBuf,
    /// For `localhost` and 127.0.0.1.
    pub server: (PathBuf, PathBuf),
    /// For the name `cache.test` only (no IP address).
    pub named: (PathBuf, PathBuf),
    /// For `localhost` and 127.0.0.1, expired in 2001.
    pub expired: (PathBuf, PathBuf),
    /// A client certificate the CA signed.
    pub client: (PathBuf, PathBuf),
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a certificate");
    path
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a key")).expect("a CA")
}

/// Signs a leaf certificate for `names` (and 127.0.0.1 when `with_ip`).
fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    with_ip: bool,
    expired: bool,
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("leaf params");
    if with_ip {
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    if expired {
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2001, 1, 1);
    }
    let key = KeyPair::generate().expect("a key");
    let cert = params
        .signed_by(&key, issuer)
        .expect("a signed certificate");
    (cert.pem(), key.serialize_pem())
}

/// The PKI of this test binary, made once.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = temp_dir("tls");
        let issuer = ca("quickmc test CA");
        let other = ca("another CA");
        let pair = |name: &str, (cert, key): (String, String)| {
            (
                write(&dir, &format!("{name}.pem"), &cert),
                write(&dir, &format!("{name}.key"), &key),
            )
        };
        Pki {
            ca: write(&dir, "ca.pem", &issuer.pem()),
            other_ca: write(&dir, "other-ca.pem", &other.pem()),
            server: pair("server", leaf(&issuer, &["localhost"], true, false)),
            named: pair("named", leaf(&issuer, &["cache.test"], false, false)),
            expired: pair("expired", leaf(&issuer, &["localhost"], true, true)),
            client: pair("client", leaf(&issuer, &["quickmc client"], false, false)),
            dir,
        }
    })
}

/// A memcached serving TLS with `cert` (and, with `require_client_cert`,
/// asking for a client certificate signed by the test CA).
pub fn tls_server(cert: &(PathBuf, PathBuf), require_client_cert: bool) -> Memcached {
    tls_server_options(cert, require_client_cert, &[])
}

/// A memcached serving TLS with `cert`, with more arguments.
pub fn tls_server_with(cert: &(PathBuf, PathBuf), extra: &[&str]) -> Memcached {
    tls_server_options(cert, false, extra)
}

fn tls_server_options(
    cert: &(PathBuf, PathBuf),
    require_client_cert: bool,
    more: &[&str],
) -> Memcached {
    let mut ssl = format!(
        "ssl_chain_cert={},ssl_key={}",
        cert.0.display(),
        cert.1.display()
    );
    if require_client_cert {
        ssl.push_str(&format!(
            ",ssl_ca_cert={},ssl_verify_mode=2",
            pki().ca.display()
        ));
    }
    let mut extra = vec!["-Z".into(), "-o".into(), ssl];
    extra.extend(more.iter().map(|a| a.to_string()));
    Memcached::with(Options {
        extra,
        memory_mb: 256,
        ..Options::default()
    })
}

/// The TLS configuration that trusts the test CA.
pub fn trusting_the_test_ca() -> quickmc::TlsConfig {
    quickmc::TlsConfig::new()
        .ca_file(&pki().ca)
        .expect("the test CA loads")
}
