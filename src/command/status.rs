//! Reply statuses as errors: the one place a status becomes an [`Error`].

use crate::Error;
use crate::protocol::Status;

/// The error a non-success status means. `message` is the reply's value
/// (memcached sends an ASCII explanation with every error status).
///
/// ```
/// use quickmc::command::status_error;
/// use quickmc::protocol::Status;
/// assert!(matches!(status_error(Status::KeyExists, b"Data exists for key."), quickmc::Error::Exists));
/// assert!(matches!(status_error(Status::OutOfMemory, b"Out of memory"), quickmc::Error::Server { .. }));
/// ```
pub fn status_error(status: Status, message: &[u8]) -> Error {
    let text = || String::from_utf8_lossy(message).into_owned();
    match status {
        Status::KeyNotFound => Error::NotFound,
        Status::KeyExists => Error::Exists,
        Status::NotStored => Error::NotStored,
        Status::ValueTooLarge => Error::TooLarge,
        Status::NonNumeric => Error::NonNumeric,
        Status::AuthError | Status::AuthContinue => Error::Auth(text()),
        other => Error::Server {
            status: other,
            message: text(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_has_its_error_kind_and_unknown_codes_are_server_errors() {
        use crate::ErrorKind;
        let kind = |s| status_error(s, b"m").kind();
        assert_eq!(kind(Status::KeyNotFound), ErrorKind::NotFound);
        assert_eq!(kind(Status::KeyExists), ErrorKind::Conflict);
        assert_eq!(kind(Status::NotStored), ErrorKind::Conflict);
        assert_eq!(kind(Status::ValueTooLarge), ErrorKind::TooLarge);
        assert_eq!(kind(Status::NonNumeric), ErrorKind::NonNumeric);
        assert_eq!(kind(Status::AuthError), ErrorKind::Auth);
        assert_eq!(kind(Status::Unknown(0x99)), ErrorKind::Server);
        assert!(
            status_error(Status::InvalidArguments, b"Invalid arguments")
                .to_string()
                .contains("Invalid arguments")
        );
    }
}
