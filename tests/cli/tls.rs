//! The TLS options (issue 11): against memcached started with -Z and
//! certificates the tests make.

use super::*;
use support::tls::{pki, tls_server};

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn tls_options_store_and_read_and_ping_shows_the_version_and_cipher() {
    let server = tls_server(&pki().server, false);
    let ca = path(&pki().ca);
    let tls = ["--tls", "--tls-ca", ca];
    let args = |rest: &[&'static str]| -> Vec<&str> { tls.iter().chain(rest).copied().collect() };
    let o = quickmc_at(&server.spec(), &args(&["set", "cli:tls", "secret"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = quickmc_at(&server.spec(), &args(&["get", "cli:tls"]));
    assert_eq!(stdout(&o), "secret\n", "{}", stderr(&o));
    let o = quickmc_at(&server.spec(), &args(&["ping"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("TLSv1_3 TLS13_"), "{}", stdout(&o));
    let o = quickmc_at(&server.spec(), &args(&["--json", "ping"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc[0]["tls"]["version"], "TLSv1_3");
    // A tls:// spec needs no --tls.
    let spec = format!("tls://{}", server.spec());
    let o = quickmc_at(&spec, &["--tls-ca", ca, "get", "cli:tls"]);
    assert_eq!(stdout(&o), "secret\n", "{}", stderr(&o));
}

#[test]
fn mutual_tls_and_the_dangerous_switch_work_and_an_untrusted_server_is_named_with_the_reason() {
    let server = tls_server(&pki().server, true);
    let (cert, key) = &pki().client;
    let o = quickmc_at(
        &server.spec(),
        &[
            "--tls-ca",
            path(&pki().ca),
            "--tls-cert",
            path(cert),
            "--tls-key",
            path(key),
            "set",
            "cli:mtls",
            "v",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = quickmc_at(
        &server.spec(),
        &[
            "--tls-dangerously-skip-verification",
            "--tls-cert",
            path(cert),
            "--tls-key",
            path(key),
            "get",
            "cli:mtls",
        ],
    );
    assert_eq!(stdout(&o), "v\n", "{}", stderr(&o));
    let o = quickmc_at(
        &server.spec(),
        &["--tls-ca", path(&pki().other_ca), "get", "cli:mtls"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&server.spec()) && err.contains("trusted CA"),
        "{err}"
    );
}
