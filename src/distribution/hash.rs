//! Key hash functions, bit-for-bit compatible with libhashkit (libmemcached 1.1.4).
//!
//! libhashkit receives keys as `const char *`. On the platforms libmemcached
//! is built for (x86, x86-64, and most ARM Linux ABIs that pylibmc users run)
//! that `char` is signed, and several algorithms convert each `char` straight
//! to a wider unsigned type, so a byte >= 0x80 is *sign-extended* before it is
//! mixed in (`0xC3` becomes `0xFFFF_FFC3`). The functions here reproduce that
//! where libhashkit does it (one_at_a_time and the whole FNV family) and read
//! plain unsigned bytes where libhashkit does (md5, crc, murmur, murmur3,
//! jenkins).

use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};

/// A key hash algorithm of libhashkit (`MEMCACHED_HASH_*` / pylibmc's `hash`
/// behavior).
///
/// [`HashAlgorithm::hash`] returns exactly what
/// `memcached_generate_hash_value(key, len, algorithm)` returns in
/// libmemcached 1.1.4, including for keys with bytes >= 0x80 and NUL bytes.
/// (`hsieh` is not provided: Debian's libhashkit is built without it.)
///
/// ```
/// use quickmc::distribution::HashAlgorithm;
///
/// assert_eq!(HashAlgorithm::default(), HashAlgorithm::Default);
/// assert_eq!(HashAlgorithm::Md5.hash(b"foo"), 0xdb18_bdac);
/// let algo: HashAlgorithm = "fnv1a_32".parse().unwrap();
/// assert_eq!(algo, HashAlgorithm::Fnv1a_32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[allow(non_camel_case_types)]
pub enum HashAlgorithm {
    /// Bob Jenkins' one-at-a-time hash, libmemcached's default
    /// (`MEMCACHED_HASH_DEFAULT`). Bytes are sign-extended.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Default.name(), "default");
    /// ```
    #[default]
    Default,
    /// The first four bytes of the MD5 digest, read little-endian.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Md5.hash(b""), 0xd98c_1dd4);
    /// ```
    Md5,
    /// `(crc32(key) >> 16) & 0x7fff` — only 15 bits, as in libhashkit.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert!(HashAlgorithm::Crc.hash(b"any key") <= 0x7fff);
    /// ```
    Crc,
    /// 64-bit FNV-1 truncated to its low 32 bits. Bytes are sign-extended.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Fnv1_64.name(), "fnv1_64");
    /// ```
    Fnv1_64,
    /// libhashkit's "FNV-1a 64": computed in 32 bits with the low halves of
    /// the 64-bit offset basis and prime. Bytes are sign-extended.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Fnv1a_64.hash(b""), 0x8422_2325);
    /// ```
    Fnv1a_64,
    /// 32-bit FNV-1. Bytes are sign-extended.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Fnv1_32.hash(b""), 0x811c_9dc5);
    /// ```
    Fnv1_32,
    /// 32-bit FNV-1a. Bytes are sign-extended.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Fnv1a_32.hash(b"a"), 0xe40c_292c);
    /// ```
    Fnv1a_32,
    /// libhashkit's MurmurHash2 with seed `0xdeadbeef * len`.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Murmur.name(), "murmur");
    /// ```
    Murmur,
    /// MurmurHash3 x86_32 with seed `0xdeadbeef * len`.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Murmur3.hash(b""), 0);
    /// ```
    Murmur3,
    /// Bob Jenkins' lookup3 `hashlittle` with initval 13.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    /// assert_eq!(HashAlgorithm::Jenkins.hash(b""), 0xdead_befc);
    /// ```
    Jenkins,
}

/// Error returned when parsing an unknown hash algorithm name.
///
/// ```
/// use quickmc::distribution::{HashAlgorithm, UnknownHash};
///
/// let err = "hsieh".parse::<HashAlgorithm>().unwrap_err();
/// assert_eq!(err, UnknownHash("hsieh".to_string()));
/// assert_eq!(err.to_string(), "unknown hash algorithm: \"hsieh\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHash(pub String);

impl fmt::Display for UnknownHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown hash algorithm: {:?}", self.0)
    }
}

impl std::error::Error for UnknownHash {}

impl HashAlgorithm {
    /// Every algorithm, in libmemcached's `memcached_hash_t` order.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    ///
    /// for algo in HashAlgorithm::ALL {
    ///     assert_eq!(algo.name().parse::<HashAlgorithm>(), Ok(algo));
    /// }
    /// ```
    pub const ALL: [HashAlgorithm; 10] = [
        HashAlgorithm::Default,
        HashAlgorithm::Md5,
        HashAlgorithm::Crc,
        HashAlgorithm::Fnv1_64,
        HashAlgorithm::Fnv1a_64,
        HashAlgorithm::Fnv1_32,
        HashAlgorithm::Fnv1a_32,
        HashAlgorithm::Murmur,
        HashAlgorithm::Murmur3,
        HashAlgorithm::Jenkins,
    ];

    /// Hashes `key` exactly as libhashkit does.
    ///
    /// Never panics; any byte string (empty, NUL bytes, non-UTF-8) is fine.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    ///
    /// // one_at_a_time sign-extends bytes >= 0x80, like libhashkit's `char`.
    /// assert_eq!(HashAlgorithm::Default.hash(&[0xa0, 0x9f]), 3_934_662_613);
    /// assert_eq!(HashAlgorithm::Default.hash(b""), 0);
    /// ```
    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            HashAlgorithm::Default => one_at_a_time(key),
            HashAlgorithm::Md5 => md5_u32(key),
            HashAlgorithm::Crc => crc(key),
            HashAlgorithm::Fnv1_64 => fnv1_64(key),
            HashAlgorithm::Fnv1a_64 => fnv1a_64(key),
            HashAlgorithm::Fnv1_32 => fnv1_32(key),
            HashAlgorithm::Fnv1a_32 => fnv1a_32(key),
            HashAlgorithm::Murmur => murmur2(key),
            HashAlgorithm::Murmur3 => murmur3_x86_32(key),
            HashAlgorithm::Jenkins => jenkins(key),
        }
    }

    /// The canonical (pylibmc / libmemcached) name of the algorithm.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    ///
    /// assert_eq!(HashAlgorithm::Fnv1a_64.name(), "fnv1a_64");
    /// assert_eq!(HashAlgorithm::Default.to_string(), "default");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Default => "default",
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Crc => "crc",
            HashAlgorithm::Fnv1_64 => "fnv1_64",
            HashAlgorithm::Fnv1a_64 => "fnv1a_64",
            HashAlgorithm::Fnv1_32 => "fnv1_32",
            HashAlgorithm::Fnv1a_32 => "fnv1a_32",
            HashAlgorithm::Murmur => "murmur",
            HashAlgorithm::Murmur3 => "murmur3",
            HashAlgorithm::Jenkins => "jenkins",
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlgorithm {
    type Err = UnknownHash;

    /// Parses a name case-insensitively: `default` (or `one_at_a_time`),
    /// `md5`, `crc`, `fnv1_64`, `fnv1a_64`, `fnv1_32`, `fnv1a_32`, `murmur`,
    /// `murmur3`, `jenkins`. A `-` may stand for `_`.
    ///
    /// ```
    /// use quickmc::distribution::HashAlgorithm;
    ///
    /// assert_eq!("ONE_AT_A_TIME".parse(), Ok(HashAlgorithm::Default));
    /// assert_eq!("fnv1a-32".parse(), Ok(HashAlgorithm::Fnv1a_32));
    /// assert!("sha1".parse::<HashAlgorithm>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_lowercase().replace('-', "_");
        let algo = match norm.as_str() {
            "default" | "one_at_a_time" => HashAlgorithm::Default,
            "md5" => HashAlgorithm::Md5,
            "crc" => HashAlgorithm::Crc,
            "fnv1_64" => HashAlgorithm::Fnv1_64,
            "fnv1a_64" => HashAlgorithm::Fnv1a_64,
            "fnv1_32" => HashAlgorithm::Fnv1_32,
            "fnv1a_32" => HashAlgorithm::Fnv1a_32,
            "murmur" => HashAlgorithm::Murmur,
            "murmur3" => HashAlgorithm::Murmur3,
            "jenkins" => HashAlgorithm::Jenkins,
            _ => return Err(UnknownHash(s.to_string())),
        };
        Ok(algo)
    }
}

/// A byte as libhashkit sees it after `(uint32_t) (char) byte` on a platform
/// with signed `char`: sign-extended.
#[inline]
fn signed_u32(byte: u8) -> u32 {
    i32::from(byte as i8) as u32
}

/// `(uint64_t) (char) byte`: sign-extended to 64 bits.
#[inline]
fn signed_u64(byte: u8) -> u64 {
    i64::from(byte as i8) as u64
}

/// The MD5 digest of `data`.
pub(crate) fn md5_digest(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

fn md5_u32(key: &[u8]) -> u32 {
    let [b0, b1, b2, b3, ..] = md5_digest(key);
    u32::from_le_bytes([b0, b1, b2, b3])
}

fn one_at_a_time(key: &[u8]) -> u32 {
    let mut value: u32 = 0;
    for &byte in key {
        value = value.wrapping_add(signed_u32(byte));
        value = value.wrapping_add(value << 10);
        value ^= value >> 6;
    }
    value = value.wrapping_add(value << 3);
    value ^= value >> 11;
    value.wrapping_add(value << 15)
}

fn crc(key: &[u8]) -> u32 {
    // libhashkit masks `crc ^ key[x]` with 0xff, so sign extension is moot;
    // its final `~crc` is the standard CRC-32.
    (crc32fast::hash(key) >> 16) & 0x7fff
}

const FNV_64_INIT: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_64_PRIME: u64 = 0x0000_0100_0000_01b3;
const FNV_32_INIT: u32 = 2_166_136_261;
const FNV_32_PRIME: u32 = 16_777_619;

fn fnv1_64(key: &[u8]) -> u32 {
    let mut hash = FNV_64_INIT;
    for &byte in key {
        hash = hash.wrapping_mul(FNV_64_PRIME);
        hash ^= signed_u64(byte);
    }
    hash as u32
}

fn fnv1a_64(key: &[u8]) -> u32 {
    // libhashkit really does this in 32 bits with truncated constants.
    let mut hash = FNV_64_INIT as u32;
    for &byte in key {
        hash ^= signed_u32(byte);
        hash = hash.wrapping_mul(FNV_64_PRIME as u32);
    }
    hash
}

fn fnv1_32(key: &[u8]) -> u32 {
    let mut hash = FNV_32_INIT;
    for &byte in key {
        hash = hash.wrapping_mul(FNV_32_PRIME);
        hash ^= signed_u32(byte);
    }
    hash
}

fn fnv1a_32(key: &[u8]) -> u32 {
    let mut hash = FNV_32_INIT;
    for &byte in key {
        hash ^= signed_u32(byte);
        hash = hash.wrapping_mul(FNV_32_PRIME);
    }
    hash
}

/// Reads a 4-byte chunk little-endian (libhashkit's `memcpy` on x86).
#[inline]
fn le_u32(chunk: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    for (dst, src) in word.iter_mut().zip(chunk) {
        *dst = *src;
    }
    u32::from_le_bytes(word)
}

/// XORs the 1..=3 trailing bytes into one word, byte i at bits 8*i.
#[inline]
fn tail_u32(tail: &[u8]) -> u32 {
    tail.iter()
        .zip([0u32, 8, 16])
        .fold(0, |acc, (&byte, shift)| acc ^ (u32::from(byte) << shift))
}

fn murmur2(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // libhashkit: seed = 0xdeadbeef * (uint32_t)length; h = seed ^ length.
    let len = key.len() as u32;
    let seed = 0xdead_beef_u32.wrapping_mul(len);
    let mut h = seed ^ len;

    let chunks = key.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = le_u32(chunk);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    if !tail.is_empty() {
        h ^= tail_u32(tail);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

fn murmur3_x86_32(key: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let len = key.len() as u32;
    let mut h1 = 0xdead_beef_u32.wrapping_mul(len);

    let chunks = key.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k1 = le_u32(chunk);
        k1 = k1.wrapping_mul(C1);
        k1 = k1.rotate_left(15);
        k1 = k1.wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1.rotate_left(13);
        h1 = h1.wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    if !tail.is_empty() {
        let mut k1 = tail_u32(tail);
        k1 = k1.wrapping_mul(C1);
        k1 = k1.rotate_left(15);
        k1 = k1.wrapping_mul(C2);
        h1 ^= k1;
    }

    h1 ^= len;
    h1 ^= h1 >> 16;
    h1 = h1.wrapping_mul(0x85eb_ca6b);
    h1 ^= h1 >> 13;
    h1 = h1.wrapping_mul(0xc2b2_ae35);
    h1 ^ (h1 >> 16)
}

/// lookup3 `mix`.
#[inline]
fn jenkins_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// lookup3 `final`.
#[inline]
fn jenkins_final(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// Splits a 12-byte block into its three little-endian words.
#[inline]
fn jenkins_words(block: &[u8; 12]) -> (u32, u32, u32) {
    let [a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3] = *block;
    (
        u32::from_le_bytes([a0, a1, a2, a3]),
        u32::from_le_bytes([b0, b1, b2, b3]),
        u32::from_le_bytes([c0, c1, c2, c3]),
    )
}

fn jenkins(key: &[u8]) -> u32 {
    const JENKINS_INITVAL: u32 = 13;
    let init = 0xdead_beef_u32
        .wrapping_add(key.len() as u32)
        .wrapping_add(JENKINS_INITVAL);
    let (mut a, mut b, mut c) = (init, init, init);

    if key.is_empty() {
        return c; // zero-length keys need no mixing
    }

    // All but the last block (which holds 1..=12 bytes) go through `mix`.
    let mut rest = key;
    while let Some((block, after)) = rest.split_first_chunk::<12>() {
        if after.is_empty() {
            break;
        }
        let (x, y, z) = jenkins_words(block);
        a = a.wrapping_add(x);
        b = b.wrapping_add(y);
        c = c.wrapping_add(z);
        jenkins_mix(&mut a, &mut b, &mut c);
        rest = after;
    }

    // Last block, zero-padded (libhashkit's masks / byte-wise fall-through).
    let mut last = [0u8; 12];
    for (dst, src) in last.iter_mut().zip(rest) {
        *dst = *src;
    }
    let (x, y, z) = jenkins_words(&last);
    a = a.wrapping_add(x);
    b = b.wrapping_add(y);
    c = c.wrapping_add(z);
    jenkins_final(&mut a, &mut b, &mut c);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_hashes_empty_and_odd_keys_without_panicking() {
        let keys: [&[u8]; 6] = [
            b"",
            b"\0",
            &[0xff; 3],
            &[0x80; 12],
            &[0x7f; 13],
            &[0u8; 300],
        ];
        for algo in HashAlgorithm::ALL {
            for key in keys {
                let _ = algo.hash(key);
            }
        }
    }

    #[test]
    fn empty_key_values_match_libhashkit_initial_states() {
        assert_eq!(HashAlgorithm::Default.hash(b""), 0);
        assert_eq!(HashAlgorithm::Fnv1_32.hash(b""), FNV_32_INIT);
        assert_eq!(HashAlgorithm::Fnv1a_32.hash(b""), FNV_32_INIT);
        assert_eq!(HashAlgorithm::Fnv1_64.hash(b""), FNV_64_INIT as u32);
        assert_eq!(HashAlgorithm::Fnv1a_64.hash(b""), FNV_64_INIT as u32);
        assert_eq!(HashAlgorithm::Crc.hash(b""), 0);
        assert_eq!(HashAlgorithm::Jenkins.hash(b""), 0xdead_beef + 13);
        assert_eq!(HashAlgorithm::Md5.hash(b""), 0xd98c_1dd4);
    }

    #[test]
    fn sign_extension_changes_fnv_and_one_at_a_time_for_high_bytes() {
        // 0x80 is sign-extended to 0xFFFF_FF80 before mixing, so it must not
        // hash like an unsigned byte would.
        let unsigned_oaat = {
            let mut v: u32 = 0x80;
            v = v.wrapping_add(v << 10);
            v ^= v >> 6;
            v = v.wrapping_add(v << 3);
            v ^= v >> 11;
            v.wrapping_add(v << 15)
        };
        assert_ne!(HashAlgorithm::Default.hash(&[0x80]), unsigned_oaat);
        assert_eq!(
            HashAlgorithm::Fnv1a_32.hash(&[0x80]),
            (FNV_32_INIT ^ 0xffff_ff80).wrapping_mul(FNV_32_PRIME)
        );
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for algo in HashAlgorithm::ALL {
            assert_eq!(algo.name().to_uppercase().parse(), Ok(algo));
            assert_eq!(algo.to_string(), algo.name());
        }
        assert_eq!("one_at_a_time".parse(), Ok(HashAlgorithm::Default));
        assert_eq!(
            "hsieh".parse::<HashAlgorithm>(),
            Err(UnknownHash("hsieh".into()))
        );
        assert!("".parse::<HashAlgorithm>().is_err());
    }

    #[test]
    fn jenkins_block_boundaries_are_handled_like_lookup3() {
        // 12 bytes: one block, final only; 13 bytes: mix then final.
        let twelve = HashAlgorithm::Jenkins.hash(&[1u8; 12]);
        let thirteen = HashAlgorithm::Jenkins.hash(&[1u8; 13]);
        assert_ne!(twelve, thirteen);
        assert_eq!(HashAlgorithm::Jenkins.hash(&[1u8; 24]), {
            let init = 0xdead_beef_u32.wrapping_add(24 + 13);
            let (mut a, mut b, mut c) = (init, init, init);
            let w = 0x0101_0101_u32;
            a = a.wrapping_add(w);
            b = b.wrapping_add(w);
            c = c.wrapping_add(w);
            jenkins_mix(&mut a, &mut b, &mut c);
            a = a.wrapping_add(w);
            b = b.wrapping_add(w);
            c = c.wrapping_add(w);
            jenkins_final(&mut a, &mut b, &mut c);
            c
        });
    }
}
