//! SASL PLAIN against `memcached -S`, with a sasldb made by the test
//! (saslpasswd2 from Debian's sasl2-bin).

mod support;

use quickmc::{Client, Error};
use support::Memcached;

/// A memcached requiring SASL, with user alice / password secret.
fn sasl_server() -> Memcached {
    Memcached::start_sasl()
}

#[test]
fn the_right_password_works_for_every_operation() {
    let server = sasl_server();
    let client = Client::builder()
        .servers([server.spec()])
        .credentials("alice", "secret")
        .build()
        .unwrap();
    assert!(client.set("sasl:k", "v", 0).unwrap());
    assert_eq!(
        client.get::<String>("sasl:k").unwrap().as_deref(),
        Some("v")
    );
    assert!(
        client
            .set_multi([("a", 1), ("b", 2)], "sasl:", 0)
            .unwrap()
            .is_empty()
    );
    assert_eq!(client.incr("sasl:a", 1).unwrap(), 2);
    assert!(client.stats("").is_ok());
}

#[test]
fn a_wrong_password_is_a_typed_authentication_error_and_nothing_is_pooled() {
    let server = sasl_server();
    let client = Client::builder()
        .servers([server.spec()])
        .credentials("alice", "wrong")
        .retry_timeout(std::time::Duration::ZERO)
        .build()
        .unwrap();
    for _ in 0..3 {
        let err = client.get::<String>("sasl:k").unwrap_err();
        assert!(matches!(err, Error::Auth(_)), "{err:?}");
    }
    assert_eq!(
        client.pool_state()[0].0,
        0,
        "no unauthenticated connection in the pool"
    );
}

#[test]
fn without_credentials_a_sasl_server_refuses_with_an_authentication_error_and_the_connection_is_dropped()
 {
    let server = sasl_server();
    let client = Client::builder()
        .servers([server.spec()])
        .retry_timeout(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let err = client.get::<String>("sasl:k").unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert_eq!(
        client.pool_state()[0].0,
        0,
        "the refused connection was not kept"
    );
}
