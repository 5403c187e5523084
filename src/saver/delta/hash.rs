//! The hash of array elements stored with array values, and the fast
//! hasher of the maps of one read.

use std::collections::HashMap;

/// The 64-bit FNV-1a hash of a sequence of element JSON texts, continued
/// from `hash` (each text is followed by the byte 0xff, which UTF-8 never
/// contains, so `["ab"]` and `["a","b"]` differ).
pub fn hash_elements<'a>(hash: u64, elements: impl IntoIterator<Item = &'a str>) -> u64 {
    use std::hash::Hasher;
    let mut hasher = Fnv(hash);
    for text in elements {
        hasher.write(text.as_bytes());
        hasher.write(&[0xff]);
    }
    hasher.finish()
}

/// The hash of an empty array.
pub const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// 64-bit FNV-1a as a `Hasher`: the element hashes stored with array
/// values ([`hash_elements`]), and the maps of one read (keyed by short
/// strings the saver builds, they hash much faster than with `SipHash`).
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(HASH_SEED)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A `HashMap` with [`Fnv`].
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;
