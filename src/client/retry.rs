//! The retry rule, once for single operations and batches alike.

use crate::Error;
use crate::command::Idempotence;
use crate::connection::Failure;

/// What an attempt was.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    /// The connection waited in the pool before this attempt (rather than
    /// being made for it).
    pub(super) from_pool: bool,
    pub(super) idempotence: Idempotence,
    /// No attempt ran before this one.
    pub(super) first: bool,
}

/// Whom a failure says something about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blame {
    /// The server could not be connected to: it is skipped for the retry
    /// timeout, and the failure counts towards ejecting it.
    Unreachable,
    /// The server (a timeout, a connection dying, a protocol violation):
    /// the failure counts towards ejecting it; the next call tries it.
    Server,
    /// Only the pooled connection, gone stale (a server restart, an idle
    /// timeout): the other idle connections are retired with it.
    StaleConnection,
    /// Neither (the client's own limit, a status answer, local load).
    Nobody,
}

/// What to do about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verdict {
    pub(super) retry: bool,
    pub(super) blame: Blame,
}

/// The retry rule.
///
/// - A value above the client's `max_value_size` is nobody's failure; a
///   repeatable batch goes on with the keys after it on a fresh connection.
/// - A connection that waited in the pool and died before any reply came
///   (the peer closed it) went stale: that says nothing about the server.
///   The attempt runs once more on a fresh connection if it is repeatable
///   or never reached the socket.
/// - Anything else that says the server failed (a failed connect, timeouts,
///   protocol violations, a fresh connection dying) counts against it and
///   is not retried: repeating a timeout would double the wait. Only a
///   failed connect skips the server for the retry timeout: a connect
///   refused or timed out, a TLS handshake failed, or a connection made for
///   the attempt timing out before a byte of it was written (its connect,
///   handshake or authentication did).
pub(super) fn classify(failure: &Failure, attempt: &Attempt) -> Verdict {
    let repeatable = attempt.idempotence == Idempotence::Repeatable;
    let stale = attempt.from_pool && !failure.replied && matches!(failure.error, Error::Io { .. });
    match &failure.error {
        // The health gate said so: nothing new about the server.
        Error::ServerDown { .. } => Verdict {
            retry: false,
            blame: Blame::Nobody,
        },
        Error::ValueTooLarge { .. } => Verdict {
            retry: repeatable,
            blame: Blame::Nobody,
        },
        _ if stale => Verdict {
            retry: attempt.first && (repeatable || !failure.written),
            blame: Blame::StaleConnection,
        },
        Error::Connect { .. } | Error::HostLookup { .. } | Error::Tls { .. } => Verdict {
            retry: false,
            blame: Blame::Unreachable,
        },
        Error::Timeout { .. } if !attempt.from_pool && !failure.written && !failure.replied => {
            Verdict {
                retry: false,
                blame: Blame::Unreachable,
            }
        }
        error if error.is_server_failure() => Verdict {
            retry: false,
            blame: Blame::Server,
        },
        _ => Verdict {
            retry: false,
            blame: Blame::Nobody,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn io() -> Error {
        Error::Io {
            server: "s".into(),
            source: Arc::new(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
        }
    }

    fn failure(error: Error, written: bool, replied: bool) -> Failure {
        Failure {
            error,
            written,
            replied,
            counted: false,
        }
    }

    fn attempt(from_pool: bool, idempotence: Idempotence, first: bool) -> Attempt {
        Attempt {
            from_pool,
            idempotence,
            first,
        }
    }

    #[test]
    fn a_stale_pooled_connection_retries_repeatable_work_once_and_blames_only_the_connection() {
        let f = failure(io(), true, false);
        let first = classify(&f, &attempt(true, Idempotence::Repeatable, true));
        assert_eq!(
            first,
            Verdict {
                retry: true,
                blame: Blame::StaleConnection
            }
        );
        let second = classify(&f, &attempt(true, Idempotence::Repeatable, false));
        assert!(!second.retry);
        let once = classify(&f, &attempt(true, Idempotence::Once, true));
        assert!(!once.retry);
        assert_eq!(once.blame, Blame::StaleConnection);
    }

    #[test]
    fn a_request_that_never_reached_the_socket_is_sent_again_whatever_it_is() {
        let f = failure(io(), false, false);
        assert!(classify(&f, &attempt(true, Idempotence::Once, true)).retry);
    }

    #[test]
    fn a_fresh_connection_dying_or_any_timeout_counts_against_the_server_and_is_not_retried() {
        let f = failure(io(), true, false);
        let fresh = classify(&f, &attempt(false, Idempotence::Repeatable, true));
        assert_eq!(
            fresh,
            Verdict {
                retry: false,
                blame: Blame::Server
            }
        );
        let timeout = failure(Error::Timeout { server: "s".into() }, true, false);
        let verdict = classify(&timeout, &attempt(true, Idempotence::Repeatable, true));
        assert_eq!(verdict.blame, Blame::Server);
        assert!(!verdict.retry);
    }

    #[test]
    fn only_a_failed_connect_says_the_server_is_unreachable() {
        for error in [
            Error::Connect {
                server: "s".into(),
                source: Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            },
            Error::Tls {
                server: "s".into(),
                reason: "unknown issuer".into(),
            },
            Error::HostLookup {
                server: "s".into(),
                source: Arc::new(std::io::Error::from(std::io::ErrorKind::NotFound)),
            },
        ] {
            let verdict = classify(
                &failure(error, false, false),
                &attempt(false, Idempotence::Repeatable, true),
            );
            assert_eq!(verdict.blame, Blame::Unreachable);
            assert!(!verdict.retry);
        }
    }

    #[test]
    fn a_timeout_before_anything_was_written_on_a_new_connection_is_a_connect_that_timed_out() {
        let timeout = || Error::Timeout { server: "s".into() };
        let connecting = classify(
            &failure(timeout(), false, false),
            &attempt(false, Idempotence::Repeatable, true),
        );
        assert_eq!(connecting.blame, Blame::Unreachable);
        let waiting = classify(
            &failure(timeout(), true, false),
            &attempt(false, Idempotence::Repeatable, true),
        );
        assert_eq!(
            waiting.blame,
            Blame::Server,
            "a request written: the server is slow"
        );
    }

    #[test]
    fn a_reply_already_received_means_the_connection_was_not_stale() {
        let f = failure(io(), true, true);
        let verdict = classify(&f, &attempt(true, Idempotence::Repeatable, true));
        assert_eq!(verdict.blame, Blame::Server);
        assert!(!verdict.retry);
    }

    #[test]
    fn the_clients_own_value_limit_blames_nobody() {
        let big = Error::ValueTooLarge {
            key: "k".into(),
            size: 2,
            limit: 1,
        };
        let verdict = classify(
            &failure(big, true, true),
            &attempt(false, Idempotence::Repeatable, false),
        );
        assert_eq!(
            verdict,
            Verdict {
                retry: true,
                blame: Blame::Nobody
            }
        );
        let exhausted = failure(Error::PoolTimeout { server: "s".into() }, false, false);
        let verdict = classify(&exhausted, &attempt(false, Idempotence::Repeatable, true));
        assert_eq!(verdict.blame, Blame::Nobody);
        let down = failure(Error::ServerDown { server: "s".into() }, false, false);
        let verdict = classify(&down, &attempt(false, Idempotence::Repeatable, true));
        assert_eq!(verdict.blame, Blame::Nobody);
    }
}
