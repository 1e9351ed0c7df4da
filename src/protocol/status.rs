//! Response status codes.

/// The status of a response, as memcached 1.6 sends it.
///
/// Codes quickmc does not know are kept as [`Status::Unknown`] rather than
/// rejected, so a newer server's answer surfaces as a typed error.
///
/// ```
/// use quickmc::protocol::Status;
/// assert_eq!(Status::from_u16(0x0001), Status::KeyNotFound);
/// assert_eq!(Status::from_u16(0x0099), Status::Unknown(0x0099));
/// assert_eq!(Status::Unknown(0x0099).to_u16(), 0x0099);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0x0000: success.
    Ok,
    /// 0x0001: key not found.
    KeyNotFound,
    /// 0x0002: key exists (add on an existing key, CAS mismatch).
    KeyExists,
    /// 0x0003: value too large for the server's item size.
    ValueTooLarge,
    /// 0x0004: invalid arguments.
    InvalidArguments,
    /// 0x0005: item not stored (append/prepend on a missing key).
    NotStored,
    /// 0x0006: incr/decr on a non-numeric value.
    NonNumeric,
    /// 0x0007: the vbucket belongs to another server.
    VbucketElsewhere,
    /// 0x0020: authentication error (or authentication required).
    AuthError,
    /// 0x0021: authentication continues.
    AuthContinue,
    /// 0x0081: unknown command.
    UnknownCommand,
    /// 0x0082: out of memory.
    OutOfMemory,
    /// Any other code.
    Unknown(u16),
}

impl Status {
    /// Parses a status code; never fails.
    ///
    /// ```
    /// use quickmc::protocol::Status;
    /// assert_eq!(Status::from_u16(0), Status::Ok);
    /// ```
    pub fn from_u16(code: u16) -> Status {
        match code {
            0x0000 => Status::Ok,
            0x0001 => Status::KeyNotFound,
            0x0002 => Status::KeyExists,
            0x0003 => Status::ValueTooLarge,
            0x0004 => Status::InvalidArguments,
            0x0005 => Status::NotStored,
            0x0006 => Status::NonNumeric,
            0x0007 => Status::VbucketElsewhere,
            0x0020 => Status::AuthError,
            0x0021 => Status::AuthContinue,
            0x0081 => Status::UnknownCommand,
            0x0082 => Status::OutOfMemory,
            other => Status::Unknown(other),
        }
    }

    /// The code on the wire.
    ///
    /// ```
    /// use quickmc::protocol::Status;
    /// assert_eq!(Status::NonNumeric.to_u16(), 6);
    /// ```
    pub fn to_u16(self) -> u16 {
        match self {
            Status::Ok => 0x0000,
            Status::KeyNotFound => 0x0001,
            Status::KeyExists => 0x0002,
            Status::ValueTooLarge => 0x0003,
            Status::InvalidArguments => 0x0004,
            Status::NotStored => 0x0005,
            Status::NonNumeric => 0x0006,
            Status::VbucketElsewhere => 0x0007,
            Status::AuthError => 0x0020,
            Status::AuthContinue => 0x0021,
            Status::UnknownCommand => 0x0081,
            Status::OutOfMemory => 0x0082,
            Status::Unknown(code) => code,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Status::Ok => "ok",
            Status::KeyNotFound => "key not found",
            Status::KeyExists => "key exists",
            Status::ValueTooLarge => "value too large",
            Status::InvalidArguments => "invalid arguments",
            Status::NotStored => "item not stored",
            Status::NonNumeric => "incr/decr on a non-numeric value",
            Status::VbucketElsewhere => "vbucket belongs to another server",
            Status::AuthError => "authentication error",
            Status::AuthContinue => "authentication continues",
            Status::UnknownCommand => "unknown command",
            Status::OutOfMemory => "out of memory",
            Status::Unknown(code) => return write!(f, "unknown status {code:#06x}"),
        };
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_u16_round_trips_through_status() {
        for code in 0..=u16::MAX {
            assert_eq!(Status::from_u16(code).to_u16(), code);
        }
    }

    #[test]
    fn auth_codes_are_the_ones_memcached_uses() {
        assert_eq!(Status::from_u16(0x20), Status::AuthError);
        assert_eq!(Status::from_u16(0x21), Status::AuthContinue);
        assert_eq!(Status::from_u16(0x08), Status::Unknown(0x08));
    }
}
