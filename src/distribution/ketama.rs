//! The ketama continuum, built exactly like libmemcached's `update_continuum`
//! (libmemcached 1.1.4, `src/libmemcached/hosts.cc`) and searched like its
//! `dispatch_host`.

use std::fmt::Write as _;

use super::ServerPoint;
use super::hash::{HashAlgorithm, md5_digest};

/// `MEMCACHED_POINTS_PER_SERVER`: points per live server, unweighted ketama.
pub(crate) const POINTS_PER_SERVER: u32 = 100;

/// `MEMCACHED_POINTS_PER_SERVER_KETAMA`: the weighted (libketama) budget per
/// live server, before scaling by weight.
pub(crate) const POINTS_PER_SERVER_KETAMA: u32 = 160;

/// One point on the u32 circle. The derived order — by value, then by server
/// index — is libmemcached's `continuum_item_cmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Point {
    value: u32,
    index: usize,
}

/// A sorted ketama continuum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Continuum {
    points: Vec<Point>,
}

/// Points a live server gets under weighted ketama, computed in `f32` with
/// the same operation order as libmemcached:
/// `floor(pct * 160 / 4 * live + 1e-10f) * 4` where
/// `pct = (float) weight / (float) total_weight`.
pub(crate) fn weighted_point_count(weight: u32, total_weight: u64, live_servers: u32) -> u32 {
    if total_weight == 0 {
        return 0; // cannot happen with effective weights >= 1; avoids NaN/inf
    }
    let pct = weight as f32 / total_weight as f32;
    let scaled =
        pct * POINTS_PER_SERVER_KETAMA as f32 / 4.0 * live_servers as f32 + 0.000_000_000_1_f32;
    // `as` saturates (NaN -> 0), so this never overflows or panics.
    (scaled.floor() as u32).saturating_mul(4)
}

/// libmemcached replaces a weight of 0 by 1 (`_server_init`).
pub(crate) fn effective_weight(server: &ServerPoint) -> u32 {
    server.weight.max(1)
}

/// Writes the string libmemcached hashes for point `n` of `server` into
/// `buf` (cleared first): `host-n` on the default port, else `host:port-n`.
pub(crate) fn write_point_key(buf: &mut String, server: &ServerPoint, n: u32) {
    buf.clear();
    // Writing into a String cannot fail.
    let _ = if server.port == super::DEFAULT_PORT {
        write!(buf, "{}-{}", server.host, n)
    } else {
        write!(buf, "{}:{}-{}", server.host, server.port, n)
    };
}

impl Continuum {
    /// Builds the continuum over the servers for which `is_live(i)` holds.
    ///
    /// Unweighted: 100 points per live server, each `hash(point key)`.
    /// Weighted: [`weighted_point_count`] points per live server, four per
    /// MD5 digest of the point key (bytes `[4i..4i+4]` little-endian).
    pub(crate) fn build(
        servers: &[ServerPoint],
        is_live: impl Fn(usize) -> bool,
        weighted: bool,
        hash: HashAlgorithm,
    ) -> Continuum {
        let live_servers = (0..servers.len()).filter(|&i| is_live(i)).count();
        if live_servers == 0 {
            return Continuum::default();
        }
        let live_u32 = u32::try_from(live_servers).unwrap_or(u32::MAX);
        let total_weight: u64 = servers
            .iter()
            .enumerate()
            .filter(|&(i, _)| is_live(i))
            .map(|(_, s)| u64::from(effective_weight(s)))
            .sum();

        let per_server_estimate = if weighted {
            POINTS_PER_SERVER_KETAMA
        } else {
            POINTS_PER_SERVER
        } as usize;
        let mut points = Vec::with_capacity(live_servers.saturating_mul(per_server_estimate));
        let mut key = String::new();

        for (index, server) in servers.iter().enumerate() {
            if !is_live(index) {
                continue;
            }
            if weighted {
                let count = weighted_point_count(effective_weight(server), total_weight, live_u32);
                for n in 0..count / 4 {
                    write_point_key(&mut key, server, n);
                    let digest = md5_digest(key.as_bytes());
                    for word in digest.chunks_exact(4) {
                        let mut bytes = [0u8; 4];
                        for (dst, src) in bytes.iter_mut().zip(word) {
                            *dst = *src;
                        }
                        points.push(Point {
                            value: u32::from_le_bytes(bytes),
                            index,
                        });
                    }
                }
            } else {
                for n in 0..POINTS_PER_SERVER {
                    write_point_key(&mut key, server, n);
                    points.push(Point {
                        value: hash.hash(key.as_bytes()),
                        index,
                    });
                }
            }
        }

        points.sort_unstable();
        Continuum { points }
    }

    /// Number of points on the circle.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    /// The server owning `hash`: the first point whose value is >= `hash`,
    /// wrapping to the first point. `None` for an empty continuum.
    pub(crate) fn locate(&self, hash: u32) -> Option<usize> {
        let at = self.points.partition_point(|p| p.value < hash);
        self.points
            .get(at)
            .or_else(|| self.points.first())
            .map(|p| p.index)
    }

    /// Fraction of the 2^32 hash values each of `server_count` servers owns.
    ///
    /// Point `i` owns `(value[i-1], value[i]]`; the first point also owns
    /// everything above the last point (the wrap-around).
    pub(crate) fn shares(&self, server_count: usize) -> Vec<f64> {
        const SPACE: f64 = 4_294_967_296.0; // 2^32
        let mut owned = vec![0u64; server_count];
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return vec![0.0; server_count];
        };
        let mut previous: Option<u32> = None;
        for point in &self.points {
            let arc = match previous {
                // Wrap-around arc: (last, 2^32) plus [0, first].
                None => u64::from(first.value) + (1u64 << 32) - u64::from(last.value),
                Some(prev) => u64::from(point.value.wrapping_sub(prev)),
            };
            if let Some(slot) = owned.get_mut(point.index) {
                *slot = slot.saturating_add(arc);
            }
            previous = Some(point.value);
        }
        owned.into_iter().map(|n| n as f64 / SPACE).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: u16, weight: u32) -> ServerPoint {
        ServerPoint {
            host: host.to_string(),
            port,
            weight,
        }
    }

    #[test]
    fn point_keys_omit_the_default_port_only() {
        let mut buf = String::from("garbage");
        write_point_key(&mut buf, &server("10.0.0.1", 11211, 1), 0);
        assert_eq!(buf, "10.0.0.1-0");
        write_point_key(&mut buf, &server("cache-b", 22122, 1), 99);
        assert_eq!(buf, "cache-b:22122-99");
        write_point_key(&mut buf, &server("/tmp/mc.sock", 0, 1), 7);
        assert_eq!(buf, "/tmp/mc.sock:0-7");
    }

    #[test]
    fn weighted_point_counts_follow_libketama_formula() {
        // Equal weights: 40 digests * 4 points = 160 each.
        assert_eq!(weighted_point_count(1, 3, 3), 160);
        // host-x:1, host-y:2, host-z:5 (total 8, 3 live).
        assert_eq!(weighted_point_count(1, 8, 3), 60);
        assert_eq!(weighted_point_count(2, 8, 3), 120);
        assert_eq!(weighted_point_count(5, 8, 3), 300);
        // Degenerate input never panics.
        assert_eq!(weighted_point_count(1, 0, 1), 0);
        assert_eq!(weighted_point_count(u32::MAX, u64::from(u32::MAX), 1), 160);
        assert_eq!(weighted_point_count(0, 0, 0), 0);
    }

    #[test]
    fn unweighted_continuum_has_100_points_per_live_server() {
        let servers = [server("a", 11211, 1), server("b", 11211, 9)];
        let all = Continuum::build(&servers, |_| true, false, HashAlgorithm::Default);
        assert_eq!(all.len(), 200);
        let one = Continuum::build(&servers, |i| i == 1, false, HashAlgorithm::Default);
        assert_eq!(one.len(), 100);
        assert!((0..1000u32).all(|h| one.locate(h.wrapping_mul(0x9e37_79b9)) == Some(1)));
    }

    #[test]
    fn empty_continuum_locates_nothing_and_owns_nothing() {
        let empty = Continuum::default();
        assert_eq!(empty.locate(0), None);
        assert_eq!(empty.locate(u32::MAX), None);
        assert_eq!(empty.shares(2), vec![0.0, 0.0]);
    }

    #[test]
    fn lookup_takes_first_point_at_or_above_and_wraps() {
        let c = Continuum {
            points: vec![
                Point {
                    value: 10,
                    index: 1,
                },
                Point {
                    value: 10,
                    index: 2,
                },
                Point {
                    value: 20,
                    index: 0,
                },
            ],
        };
        assert_eq!(c.locate(0), Some(1));
        assert_eq!(c.locate(10), Some(1));
        assert_eq!(c.locate(11), Some(0));
        assert_eq!(c.locate(20), Some(0));
        assert_eq!(c.locate(21), Some(1));
        assert_eq!(c.locate(u32::MAX), Some(1));
        let shares = c.shares(3);
        let total: f64 = shares.iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(shares[2], 0.0);
        assert_eq!(shares[0], 10.0 / 4_294_967_296.0);
    }
}
