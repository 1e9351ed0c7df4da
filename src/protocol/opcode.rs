//! Magic bytes and opcodes of the binary protocol.

/// The first byte of every frame: which direction it travels.
///
/// ```
/// use quickmc::protocol::Magic;
/// assert_eq!(Magic::Request as u8, 0x80);
/// assert_eq!(Magic::from_u8(0x81), Some(Magic::Response));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Magic {
    /// A client-to-server frame (0x80).
    Request = 0x80,
    /// A server-to-client frame (0x81).
    Response = 0x81,
}

impl Magic {
    /// Parses a magic byte; `None` for anything but 0x80 and 0x81.
    ///
    /// ```
    /// use quickmc::protocol::Magic;
    /// assert_eq!(Magic::from_u8(0x80), Some(Magic::Request));
    /// assert_eq!(Magic::from_u8(0x00), None);
    /// ```
    pub fn from_u8(byte: u8) -> Option<Magic> {
        match byte {
            0x80 => Some(Magic::Request),
            0x81 => Some(Magic::Response),
            _ => None,
        }
    }
}

macro_rules! opcodes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// Every opcode memcached 1.6 implements in the binary protocol.
        ///
        /// Verbosity (0x1b) is deliberately absent: memcached does not
        /// implement it, and an unknown opcode with a body desynchronises the
        /// connection, so quickmc cannot send one.
        ///
        /// ```
        /// use quickmc::protocol::Opcode;
        /// assert_eq!(Opcode::GetKQ as u8, 0x0d);
        /// assert_eq!(Opcode::from_u8(0x0a), Some(Opcode::Noop));
        /// assert_eq!(Opcode::from_u8(0x1b), None);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Opcode {
            $($(#[$doc])* $name = $value,)*
        }

        impl Opcode {
            /// Every opcode, in numeric order.
            ///
            /// ```
            /// use quickmc::protocol::Opcode;
            /// assert!(Opcode::ALL.contains(&Opcode::Touch));
            /// ```
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name,)*];

            /// Parses an opcode byte; `None` for opcodes memcached does not implement.
            ///
            /// ```
            /// use quickmc::protocol::Opcode;
            /// assert_eq!(Opcode::from_u8(0x00), Some(Opcode::Get));
            /// ```
            pub fn from_u8(byte: u8) -> Option<Opcode> {
                match byte {
                    $($value => Some(Opcode::$name),)*
                    _ => None,
                }
            }
        }
    };
}

opcodes! {
    /// Get a value (a miss is answered).
    Get = 0x00,
    /// Store a value unconditionally (or compare-and-swap with a CAS).
    Set = 0x01,
    /// Store only if the key is missing.
    Add = 0x02,
    /// Store only if the key exists.
    Replace = 0x03,
    /// Delete a key.
    Delete = 0x04,
    /// Add to a counter.
    Increment = 0x05,
    /// Subtract from a counter (stops at 0).
    Decrement = 0x06,
    /// Close the connection after answering.
    Quit = 0x07,
    /// Invalidate every item (optionally after a delay).
    Flush = 0x08,
    /// Quiet get: misses are not answered.
    GetQ = 0x09,
    /// No operation; closes a batch of quiet requests.
    Noop = 0x0a,
    /// The server's version string.
    Version = 0x0b,
    /// Get, echoing the key.
    GetK = 0x0c,
    /// Quiet get echoing the key: misses are not answered.
    GetKQ = 0x0d,
    /// Append bytes to an existing value.
    Append = 0x0e,
    /// Prepend bytes to an existing value.
    Prepend = 0x0f,
    /// Statistics: one reply per statistic, ended by an empty one.
    Stat = 0x10,
    /// Quiet set: successes are not answered.
    SetQ = 0x11,
    /// Quiet add.
    AddQ = 0x12,
    /// Quiet replace.
    ReplaceQ = 0x13,
    /// Quiet delete.
    DeleteQ = 0x14,
    /// Quiet increment.
    IncrementQ = 0x15,
    /// Quiet decrement.
    DecrementQ = 0x16,
    /// Close the connection without a reply.
    QuitQ = 0x17,
    /// Quiet flush.
    FlushQ = 0x18,
    /// Quiet append.
    AppendQ = 0x19,
    /// Quiet prepend.
    PrependQ = 0x1a,
    /// Change a key's expiration.
    Touch = 0x1c,
    /// Get and touch.
    Gat = 0x1d,
    /// Quiet get and touch: misses are not answered.
    Gatq = 0x1e,
    /// List the SASL mechanisms the server offers.
    SaslListMechs = 0x20,
    /// Start SASL authentication.
    SaslAuth = 0x21,
    /// Continue SASL authentication.
    SaslStep = 0x22,
    /// Get and touch, echoing the key.
    Gatk = 0x23,
    /// Quiet get and touch echoing the key.
    Gatkq = 0x24,
}

/// Which extras a request with an opcode carries.
///
/// ```
/// use quickmc::protocol::{ExtrasKind, Opcode};
/// assert_eq!(Opcode::SetQ.extras_kind(), ExtrasKind::Store);
/// assert_eq!(Opcode::Delete.extras_kind(), ExtrasKind::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtrasKind {
    /// No extras.
    None,
    /// Flags and expiration (8 bytes).
    Store,
    /// Delta, initial value and expiration (20 bytes).
    Counter,
    /// An expiration (4 bytes).
    Expiration,
    /// No extras, or a 4-byte delay (Flush).
    OptionalDelay,
}

/// Whether a request with an opcode names a key.
///
/// ```
/// use quickmc::protocol::{KeyRule, Opcode};
/// assert_eq!(Opcode::Get.key_rule(), KeyRule::Required);
/// assert_eq!(Opcode::Noop.key_rule(), KeyRule::Forbidden);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// A key of 1..=250 bytes is required.
    Required,
    /// A key of up to 250 bytes may be given (a stat group, a SASL mechanism).
    Optional,
    /// No key.
    Forbidden,
}

impl Opcode {
    /// The extras a request with this opcode carries.
    ///
    /// ```
    /// use quickmc::protocol::{ExtrasKind, Opcode};
    /// assert_eq!(Opcode::Gatq.extras_kind(), ExtrasKind::Expiration);
    /// ```
    pub fn extras_kind(self) -> ExtrasKind {
        use Opcode::*;
        match self {
            Set | Add | Replace | SetQ | AddQ | ReplaceQ => ExtrasKind::Store,
            Increment | Decrement | IncrementQ | DecrementQ => ExtrasKind::Counter,
            Touch | Gat | Gatq | Gatk | Gatkq => ExtrasKind::Expiration,
            Flush | FlushQ => ExtrasKind::OptionalDelay,
            _ => ExtrasKind::None,
        }
    }

    /// Whether a request with this opcode names a key.
    ///
    /// ```
    /// use quickmc::protocol::{KeyRule, Opcode};
    /// assert_eq!(Opcode::Stat.key_rule(), KeyRule::Optional);
    /// ```
    pub fn key_rule(self) -> KeyRule {
        use Opcode::*;
        match self {
            Quit | QuitQ | Flush | FlushQ | Noop | Version | SaslListMechs => KeyRule::Forbidden,
            Stat | SaslAuth | SaslStep => KeyRule::Optional,
            _ => KeyRule::Required,
        }
    }

    /// Whether a request with this opcode may carry a value.
    ///
    /// ```
    /// use quickmc::protocol::Opcode;
    /// assert!(Opcode::Append.takes_value());
    /// assert!(!Opcode::Get.takes_value());
    /// ```
    pub fn takes_value(self) -> bool {
        use Opcode::*;
        matches!(
            self,
            Set | Add
                | Replace
                | SetQ
                | AddQ
                | ReplaceQ
                | Append
                | Prepend
                | AppendQ
                | PrependQ
                | SaslAuth
                | SaslStep
        )
    }

    /// Whether this is a quiet opcode (success or miss goes unanswered).
    ///
    /// ```
    /// use quickmc::protocol::Opcode;
    /// assert!(Opcode::GetKQ.is_quiet());
    /// assert!(!Opcode::GetK.is_quiet());
    /// ```
    pub fn is_quiet(self) -> bool {
        use Opcode::*;
        matches!(
            self,
            GetQ | GetKQ
                | SetQ
                | AddQ
                | ReplaceQ
                | DeleteQ
                | IncrementQ
                | DecrementQ
                | QuitQ
                | FlushQ
                | AppendQ
                | PrependQ
                | Gatq
                | Gatkq
        )
    }

    /// Whether a successful reply echoes the key (GetK, GetKQ, GATK, GATKQ).
    ///
    /// ```
    /// use quickmc::protocol::Opcode;
    /// assert!(Opcode::GetKQ.echoes_key());
    /// assert!(!Opcode::GetQ.echoes_key());
    /// ```
    pub fn echoes_key(self) -> bool {
        matches!(
            self,
            Opcode::GetK | Opcode::GetKQ | Opcode::Gatk | Opcode::Gatkq
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_round_trips_through_its_byte() {
        for &op in Opcode::ALL {
            assert_eq!(Opcode::from_u8(op as u8), Some(op));
        }
        assert_eq!(Opcode::ALL.len(), 35);
    }

    #[test]
    fn unimplemented_opcodes_do_not_parse() {
        for byte in [0x1b_u8, 0x1f, 0x25, 0x30, 0xff] {
            assert_eq!(Opcode::from_u8(byte), None, "{byte:#x}");
        }
    }
}
