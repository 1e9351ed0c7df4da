//! Key → server placement, compatible with libmemcached 1.1.4 (and therefore
//! pylibmc and every other libmemcached-based client).
//!
//! * [`HashAlgorithm`] — libhashkit's key hashes, bit for bit.
//! * [`Distribution`] — modula or ketama (consistent) placement over a list
//!   of [`ServerPoint`]s, with ejected servers left out of the continuum.
//!
//! Everything here is pure computation: no I/O, no panics, no `unsafe`.
//!
//! ```
//! use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
//!
//! let servers = [
//!     ServerPoint::new("mc1", 11211, 1),
//!     ServerPoint::new("mc2", 11211, 1),
//!     ServerPoint::new("mc3", 11211, 1),
//! ];
//! let dist = Distribution::new(
//!     DistributionKind::Ketama,
//!     HashAlgorithm::Fnv1a_32,
//!     &servers,
//!     &[true, true, true],
//! );
//! // Same server libmemcached picks for this key.
//! assert_eq!(dist.server_for(b"dms:3lkvzv541c2"), Some(0));
//! ```

use std::fmt;
use std::str::FromStr;

mod hash;
mod ketama;

pub use hash::{HashAlgorithm, UnknownHash};

use ketama::Continuum;

/// memcached's default port (`MEMCACHED_DEFAULT_PORT`). Continuum point
/// names leave it out: `host-N` instead of `host:11211-N`.
///
/// ```
/// use quickmc::distribution::{DEFAULT_PORT, ServerPoint};
///
/// assert_eq!(DEFAULT_PORT, 11211);
/// assert_eq!(ServerPoint::new("a", DEFAULT_PORT, 1).continuum_key(0), "a-0");
/// ```
pub const DEFAULT_PORT: u16 = 11211;

/// How keys are spread over servers (libmemcached's
/// `MEMCACHED_BEHAVIOR_DISTRIBUTION` plus `KETAMA_WEIGHTED`).
///
/// ```
/// use quickmc::distribution::DistributionKind;
///
/// assert_eq!(DistributionKind::default(), DistributionKind::Modula);
/// assert_eq!("consistent".parse(), Ok(DistributionKind::Ketama));
/// assert_eq!(DistributionKind::KetamaWeighted.to_string(), "ketama-weighted");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DistributionKind {
    /// `hash(key) % number_of_servers`. Never ejects servers.
    ///
    /// ```
    /// use quickmc::distribution::DistributionKind;
    /// assert_eq!(DistributionKind::Modula.name(), "modula");
    /// ```
    #[default]
    Modula,
    /// Consistent hashing, 100 points per live server, each the configured
    /// key hash of the point name.
    ///
    /// ```
    /// use quickmc::distribution::DistributionKind;
    /// assert_eq!("ketama".parse(), Ok(DistributionKind::Ketama));
    /// ```
    Ketama,
    /// libketama-compatible weighted consistent hashing: points are MD5-based
    /// and proportional to each live server's weight.
    ///
    /// ```
    /// use quickmc::distribution::DistributionKind;
    /// assert_eq!("consistent_weighted".parse(), Ok(DistributionKind::KetamaWeighted));
    /// ```
    KetamaWeighted,
}

impl DistributionKind {
    /// The canonical name: `modula`, `ketama` or `ketama-weighted`.
    ///
    /// ```
    /// use quickmc::distribution::DistributionKind;
    ///
    /// for kind in [DistributionKind::Modula, DistributionKind::Ketama, DistributionKind::KetamaWeighted] {
    ///     assert_eq!(kind.name().parse(), Ok(kind));
    /// }
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            DistributionKind::Modula => "modula",
            DistributionKind::Ketama => "ketama",
            DistributionKind::KetamaWeighted => "ketama-weighted",
        }
    }
}

impl fmt::Display for DistributionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when parsing an unknown distribution name.
///
/// ```
/// use quickmc::distribution::{DistributionKind, UnknownDistribution};
///
/// let err = "random".parse::<DistributionKind>().unwrap_err();
/// assert_eq!(err, UnknownDistribution("random".to_string()));
/// assert_eq!(err.to_string(), "unknown distribution: \"random\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDistribution(pub String);

impl fmt::Display for UnknownDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown distribution: {:?}", self.0)
    }
}

impl std::error::Error for UnknownDistribution {}

impl FromStr for DistributionKind {
    type Err = UnknownDistribution;

    /// Parses case-insensitively; `-`, `_` and spaces are interchangeable.
    /// Accepts `modula`; `ketama`, `consistent`, `consistent ketama`;
    /// `ketama-weighted`, `consistent-weighted`, `consistent ketama weighted`.
    ///
    /// ```
    /// use quickmc::distribution::DistributionKind;
    ///
    /// assert_eq!("MODULA".parse(), Ok(DistributionKind::Modula));
    /// assert_eq!("consistent ketama".parse(), Ok(DistributionKind::Ketama));
    /// assert_eq!("ketama_weighted".parse(), Ok(DistributionKind::KetamaWeighted));
    /// assert!("random".parse::<DistributionKind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_lowercase().replace(['_', ' '], "-");
        match norm.as_str() {
            "modula" => Ok(DistributionKind::Modula),
            "ketama" | "consistent" | "consistent-ketama" => Ok(DistributionKind::Ketama),
            "ketama-weighted" | "consistent-weighted" | "consistent-ketama-weighted" => {
                Ok(DistributionKind::KetamaWeighted)
            }
            _ => Err(UnknownDistribution(s.to_string())),
        }
    }
}

/// A server as the distribution sees it: the host exactly as configured (not
/// resolved), its port and its weight.
///
/// For a Unix socket pass the socket path as `host` and port `0`, as
/// libmemcached does.
///
/// ```
/// use quickmc::distribution::ServerPoint;
///
/// let s = ServerPoint { host: "cache-b".into(), port: 22122, weight: 1 };
/// assert_eq!(s, ServerPoint::new("cache-b", 22122, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerPoint {
    /// Host name, IP address or Unix socket path, exactly as written.
    pub host: String,
    /// TCP port; `0` for a Unix socket.
    pub port: u16,
    /// Weight for [`DistributionKind::KetamaWeighted`]; `0` counts as `1`,
    /// as in libmemcached.
    pub weight: u32,
}

impl ServerPoint {
    /// Creates a server description.
    ///
    /// ```
    /// use quickmc::distribution::ServerPoint;
    ///
    /// let s = ServerPoint::new("10.0.0.1", 11211, 3);
    /// assert_eq!((s.host.as_str(), s.port, s.weight), ("10.0.0.1", 11211, 3));
    /// ```
    pub fn new(host: impl Into<String>, port: u16, weight: u32) -> ServerPoint {
        ServerPoint {
            host: host.into(),
            port,
            weight,
        }
    }

    /// The string libmemcached hashes for continuum point `n` (from 0) of
    /// this server: `host-n` when the port is 11211, else `host:port-n`.
    ///
    /// ```
    /// use quickmc::distribution::ServerPoint;
    ///
    /// assert_eq!(ServerPoint::new("10.0.0.1", 11211, 1).continuum_key(0), "10.0.0.1-0");
    /// assert_eq!(ServerPoint::new("cache-b", 22122, 1).continuum_key(99), "cache-b:22122-99");
    /// assert_eq!(ServerPoint::new("/run/mc.sock", 0, 1).continuum_key(1), "/run/mc.sock:0-1");
    /// ```
    pub fn continuum_key(&self, n: u32) -> String {
        let mut key = String::new();
        ketama::write_point_key(&mut key, self, n);
        key
    }
}

/// Which server each key goes to, exactly as libmemcached's
/// `memcached_generate_hash` decides.
///
/// Build it once per server-list / liveness change; lookups are cheap and
/// allocation-free (a hash plus, for ketama, a binary search).
///
/// ```
/// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
///
/// let servers = [
///     ServerPoint::new("10.0.0.1", 11211, 1),
///     ServerPoint::new("10.0.0.2", 11211, 1),
///     ServerPoint::new("10.0.0.3", 11211, 1),
/// ];
/// let modula = Distribution::new(
///     DistributionKind::Modula,
///     HashAlgorithm::Default,
///     &servers,
///     &[true; 3],
/// );
/// assert_eq!(modula.server_for(b"dms:3lkvzv541c2"), Some(0));
/// assert_eq!(modula.server_for(b"r__xxbkwdygi_3_:dhav-9u9p"), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    kind: DistributionKind,
    hash: HashAlgorithm,
    server_count: usize,
    /// Empty for modula.
    continuum: Continuum,
}

impl Distribution {
    /// Builds the placement for `servers` (in the order they were added).
    ///
    /// `live[i] == false` means server `i` is ejected: under ketama it gets
    /// no points and its keys move to the remaining servers (other keys stay
    /// put). Modula ignores `live` — libmemcached never ejects under modula.
    /// A `live` slice shorter than `servers` counts the missing ones as live.
    ///
    /// The kind is used as given: libmemcached switches on weighted ketama by
    /// itself when a server with weight > 1 is added to a consistent
    /// distribution — callers mirroring that should pass
    /// [`DistributionKind::KetamaWeighted`]. For `KetamaWeighted` the
    /// continuum points are always MD5 (libketama); `hash` is the key hash.
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
    ///
    /// let servers = [
    ///     ServerPoint::new("host-x", 11211, 1),
    ///     ServerPoint::new("host-y", 11300, 2),
    ///     ServerPoint::new("host-z", 11211, 5),
    /// ];
    /// let d = Distribution::new(
    ///     DistributionKind::KetamaWeighted,
    ///     HashAlgorithm::Md5,
    ///     &servers,
    ///     &[true, true, true],
    /// );
    /// assert_eq!(d.server_for(b"dms:3lkvzv541c2"), Some(2));
    ///
    /// // host-z ejected: its keys go elsewhere.
    /// let d = Distribution::new(
    ///     DistributionKind::KetamaWeighted,
    ///     HashAlgorithm::Md5,
    ///     &servers,
    ///     &[true, true, false],
    /// );
    /// assert_ne!(d.server_for(b"dms:3lkvzv541c2"), Some(2));
    /// ```
    pub fn new(
        kind: DistributionKind,
        hash: HashAlgorithm,
        servers: &[ServerPoint],
        live: &[bool],
    ) -> Distribution {
        let is_live = |i: usize| live.get(i).copied().unwrap_or(true);
        let continuum = match kind {
            DistributionKind::Modula => Continuum::default(),
            DistributionKind::Ketama => Continuum::build(servers, is_live, false, hash),
            DistributionKind::KetamaWeighted => Continuum::build(servers, is_live, true, hash),
        };
        Distribution {
            kind,
            hash,
            server_count: servers.len(),
            continuum,
        }
    }

    /// The index (into the `servers` given to [`Distribution::new`]) of the
    /// server `key` belongs to.
    ///
    /// `None` only when there are no servers, or under ketama when every
    /// server is ejected. With exactly one server the answer is `Some(0)`
    /// without hashing, even if that server is ejected — as libmemcached does.
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
    ///
    /// let none = Distribution::new(DistributionKind::Ketama, HashAlgorithm::Default, &[], &[]);
    /// assert_eq!(none.server_for(b"k"), None);
    ///
    /// let one = [ServerPoint::new("solo", 11211, 1)];
    /// let d = Distribution::new(DistributionKind::Ketama, HashAlgorithm::Default, &one, &[true]);
    /// assert_eq!(d.server_for(b"anything"), Some(0));
    /// ```
    pub fn server_for(&self, key: &[u8]) -> Option<usize> {
        match self.server_count {
            0 => None,
            1 => Some(0),
            _ => self.dispatch(self.raw_hash(key)),
        }
    }

    /// Like [`Distribution::server_for`], for a key hash already computed
    /// with [`Distribution::raw_hash`].
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
    ///
    /// let servers = [ServerPoint::new("a", 11211, 1), ServerPoint::new("b", 11211, 1)];
    /// let d = Distribution::new(DistributionKind::Modula, HashAlgorithm::Default, &servers, &[]);
    /// let h = d.raw_hash(b"user:42");
    /// assert_eq!(d.server_for_hash(h), d.server_for(b"user:42"));
    /// assert_eq!(d.server_for_hash(7), Some(1));
    /// ```
    pub fn server_for_hash(&self, hash: u32) -> Option<usize> {
        match self.server_count {
            0 => None,
            1 => Some(0),
            _ => self.dispatch(hash),
        }
    }

    fn dispatch(&self, hash: u32) -> Option<usize> {
        match self.kind {
            DistributionKind::Modula => {
                let n = u64::try_from(self.server_count).ok()?;
                usize::try_from(u64::from(hash).checked_rem(n)?).ok()
            }
            DistributionKind::Ketama | DistributionKind::KetamaWeighted => {
                self.continuum.locate(hash)
            }
        }
    }

    /// The key's hash under the configured [`HashAlgorithm`] (what
    /// `memcached_generate_hash_value` returns).
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm};
    ///
    /// let d = Distribution::new(DistributionKind::Modula, HashAlgorithm::Md5, &[], &[]);
    /// assert_eq!(d.raw_hash(b"foo"), HashAlgorithm::Md5.hash(b"foo"));
    /// ```
    pub fn raw_hash(&self, key: &[u8]) -> u32 {
        self.hash.hash(key)
    }

    /// The distribution kind this was built with.
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm};
    ///
    /// let d = Distribution::new(DistributionKind::Ketama, HashAlgorithm::Default, &[], &[]);
    /// assert_eq!(d.kind(), DistributionKind::Ketama);
    /// ```
    pub fn kind(&self) -> DistributionKind {
        self.kind
    }

    /// The key hash algorithm this was built with.
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm};
    ///
    /// let d = Distribution::new(DistributionKind::Modula, HashAlgorithm::Crc, &[], &[]);
    /// assert_eq!(d.hash_algorithm(), HashAlgorithm::Crc);
    /// ```
    pub fn hash_algorithm(&self) -> HashAlgorithm {
        self.hash
    }

    /// Number of servers (live or not).
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
    ///
    /// let servers = [ServerPoint::new("a", 11211, 1), ServerPoint::new("b", 11211, 1)];
    /// let d = Distribution::new(DistributionKind::Ketama, HashAlgorithm::Default, &servers, &[false, true]);
    /// assert_eq!(d.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.server_count
    }

    /// `true` when there are no servers at all.
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm};
    ///
    /// assert!(Distribution::new(DistributionKind::Modula, HashAlgorithm::Default, &[], &[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.server_count == 0
    }

    /// Fraction of the 2^32 key-hash space each server owns, index-aligned
    /// with the server list; sums to 1 unless no server can take keys.
    ///
    /// Modula gives each server its exact share of `hash % n` (≈ 1/n); ketama
    /// gives each server the arcs of the circle ending at its points (0 for
    /// ejected servers). A single server owns everything.
    ///
    /// ```
    /// use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
    ///
    /// let servers = [
    ///     ServerPoint::new("a", 11211, 1),
    ///     ServerPoint::new("b", 11211, 1),
    ///     ServerPoint::new("c", 11211, 1),
    /// ];
    /// let d = Distribution::new(DistributionKind::Ketama, HashAlgorithm::Md5, &servers, &[true, false, true]);
    /// let shares = d.key_space_shares();
    /// assert_eq!(shares.len(), 3);
    /// assert_eq!(shares[1], 0.0);
    /// assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    /// ```
    pub fn key_space_shares(&self) -> Vec<f64> {
        const SPACE: u64 = 1 << 32;
        match (self.server_count, self.kind) {
            (0, _) => Vec::new(),
            (1, _) => vec![1.0],
            (n, DistributionKind::Modula) => {
                let n64 = n as u64;
                (0..n64)
                    .map(|i| {
                        // Hash values h in [0, 2^32) with h % n == i.
                        let count = if i < SPACE {
                            (SPACE - 1 - i) / n64 + 1
                        } else {
                            0
                        };
                        count as f64 / SPACE as f64
                    })
                    .collect()
            }
            (n, DistributionKind::Ketama | DistributionKind::KetamaWeighted) => {
                self.continuum.shares(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(n: usize) -> Vec<ServerPoint> {
        (0..n)
            .map(|i| ServerPoint::new(format!("10.0.0.{}", i + 1), 11211, 1))
            .collect()
    }

    fn keys() -> impl Iterator<Item = Vec<u8>> {
        (0..2000u32).map(|i| format!("key:{i}").into_bytes())
    }

    const KETAMAS: [DistributionKind; 2] =
        [DistributionKind::Ketama, DistributionKind::KetamaWeighted];
    const ALL_KINDS: [DistributionKind; 3] = [
        DistributionKind::Modula,
        DistributionKind::Ketama,
        DistributionKind::KetamaWeighted,
    ];

    #[test]
    fn no_servers_gives_none_for_every_kind() {
        for kind in ALL_KINDS {
            let d = Distribution::new(kind, HashAlgorithm::Default, &[], &[]);
            assert_eq!(d.server_for(b"k"), None);
            assert_eq!(d.server_for(b""), None);
            assert_eq!(d.server_for_hash(0), None);
            assert!(d.key_space_shares().is_empty());
            assert!(d.is_empty());
        }
    }

    #[test]
    fn single_server_is_always_index_zero_even_when_ejected() {
        let one = servers(1);
        for kind in ALL_KINDS {
            for live in [[true], [false]] {
                let d = Distribution::new(kind, HashAlgorithm::Md5, &one, &live);
                assert_eq!(d.server_for(b""), Some(0));
                assert_eq!(d.server_for(b"anything"), Some(0));
                assert_eq!(d.key_space_shares(), vec![1.0]);
            }
        }
    }

    #[test]
    fn empty_key_is_placed_like_any_other_key() {
        let list = servers(4);
        for kind in ALL_KINDS {
            for algo in HashAlgorithm::ALL {
                let d = Distribution::new(kind, algo, &list, &[true; 4]);
                let expected = d.server_for_hash(algo.hash(b""));
                assert_eq!(d.server_for(b""), expected);
                assert!(expected.is_some_and(|i| i < 4));
            }
        }
    }

    #[test]
    fn all_servers_ejected_gives_none_under_ketama_but_modula_ignores_liveness() {
        let list = servers(3);
        for kind in KETAMAS {
            let d = Distribution::new(kind, HashAlgorithm::Default, &list, &[false; 3]);
            assert_eq!(d.server_for(b"k"), None);
            assert_eq!(d.key_space_shares(), vec![0.0; 3]);
        }
        let modula = Distribution::new(
            DistributionKind::Modula,
            HashAlgorithm::Default,
            &list,
            &[false; 3],
        );
        let all_live = Distribution::new(
            DistributionKind::Modula,
            HashAlgorithm::Default,
            &list,
            &[true; 3],
        );
        for key in keys() {
            assert_eq!(modula.server_for(&key), all_live.server_for(&key));
        }
    }

    #[test]
    fn ejecting_a_server_moves_only_its_keys_and_only_to_others() {
        let list = servers(5);
        for kind in KETAMAS {
            for algo in [HashAlgorithm::Default, HashAlgorithm::Md5] {
                let before = Distribution::new(kind, algo, &list, &[true; 5]);
                let after = Distribution::new(kind, algo, &list, &[true, true, false, true, true]);
                let mut moved = 0;
                for key in keys() {
                    let (b, a) = (before.server_for(&key), after.server_for(&key));
                    assert_ne!(a, Some(2), "{kind} {algo}: key sent to ejected server");
                    if b == Some(2) {
                        assert!(a.is_some());
                        moved += 1;
                    } else {
                        assert_eq!(a, b, "{kind} {algo}: key of a live server moved");
                    }
                }
                assert!(moved > 0, "{kind} {algo}: server 2 owned no test keys");
            }
        }
    }

    #[test]
    fn short_live_slice_counts_missing_servers_as_live() {
        let list = servers(3);
        for kind in KETAMAS {
            let short = Distribution::new(kind, HashAlgorithm::Default, &list, &[true]);
            let full = Distribution::new(kind, HashAlgorithm::Default, &list, &[true; 3]);
            assert_eq!(short, full);
            let long = Distribution::new(kind, HashAlgorithm::Default, &list, &[true; 7]);
            assert_eq!(long, full);
        }
    }

    #[test]
    fn zero_weight_counts_as_weight_one_like_libmemcached() {
        let mut zero = servers(3);
        zero[0].weight = 0;
        let one = servers(3);
        let a = Distribution::new(
            DistributionKind::KetamaWeighted,
            HashAlgorithm::Md5,
            &zero,
            &[],
        );
        let b = Distribution::new(
            DistributionKind::KetamaWeighted,
            HashAlgorithm::Md5,
            &one,
            &[],
        );
        assert_eq!(a, b);
    }

    #[test]
    fn key_space_shares_sum_to_one_and_follow_weights() {
        let list = vec![
            ServerPoint::new("host-x", 11211, 1),
            ServerPoint::new("host-y", 11300, 2),
            ServerPoint::new("host-z", 11211, 5),
        ];
        for kind in ALL_KINDS {
            let d = Distribution::new(kind, HashAlgorithm::Md5, &list, &[true; 3]);
            let shares = d.key_space_shares();
            assert_eq!(shares.len(), 3);
            assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{kind}");
        }
        let weighted = Distribution::new(
            DistributionKind::KetamaWeighted,
            HashAlgorithm::Md5,
            &list,
            &[],
        );
        let shares = weighted.key_space_shares();
        assert!(shares[2] > shares[1] && shares[1] > shares[0], "{shares:?}");
        let modula = Distribution::new(DistributionKind::Modula, HashAlgorithm::Md5, &list, &[]);
        for share in modula.key_space_shares() {
            assert!((share - 1.0 / 3.0).abs() < 1e-9);
        }
    }

    #[test]
    fn modula_is_hash_mod_server_count() {
        let list = servers(5);
        let d = Distribution::new(DistributionKind::Modula, HashAlgorithm::Crc, &list, &[]);
        for key in keys() {
            let expected = (HashAlgorithm::Crc.hash(&key) % 5) as usize;
            assert_eq!(d.server_for(&key), Some(expected));
        }
        assert_eq!(d.server_for_hash(u32::MAX), Some((u32::MAX % 5) as usize));
    }

    #[test]
    fn distribution_names_parse_and_display() {
        for kind in ALL_KINDS {
            assert_eq!(kind.to_string().parse(), Ok(kind));
        }
        for name in [
            "ketama",
            "Consistent",
            "consistent_ketama",
            "CONSISTENT KETAMA",
        ] {
            assert_eq!(name.parse(), Ok(DistributionKind::Ketama), "{name}");
        }
        for name in [
            "ketama-weighted",
            "ketama_weighted",
            "consistent-weighted",
            "consistent weighted",
        ] {
            assert_eq!(name.parse(), Ok(DistributionKind::KetamaWeighted), "{name}");
        }
        assert_eq!(
            "vbucket".parse::<DistributionKind>(),
            Err(UnknownDistribution("vbucket".into()))
        );
    }
}
