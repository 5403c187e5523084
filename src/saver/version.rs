//! Channel versions: totally ordered, unique across branches of a thread.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The version of one channel in one checkpoint.
///
/// A version is a counter plus a random salt, ordered by counter first. The
/// salt keeps versions unique when two branches of a forked thread both move
/// a channel from version `n` to `n + 1` with different values: savers that
/// store each channel value once per `(channel, version)` would otherwise mix
/// the branches up. LangGraph uses the same scheme
/// (`"{n+1:032}.{random:016}"`).
///
/// Written as text, a version is `"<counter>"` when the salt is zero and
/// `"<counter>.<salt as 16 hex digits>"` otherwise; it also reads from a
/// JSON integer and from LangGraph's zero-padded form.
///
/// ```
/// use checkpointer::ChannelVersion;
/// let v1 = ChannelVersion::new(1);
/// let v2 = ChannelVersion::next_after(Some(&v1));
/// assert!(v2 > v1);
/// assert_eq!(v2.counter(), 2);
/// assert_eq!("7".parse::<ChannelVersion>().unwrap(), ChannelVersion::new(7));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelVersion {
    counter: u64,
    salt: u64,
}

impl ChannelVersion {
    /// A version with the given counter and no salt.
    pub const fn new(counter: u64) -> Self {
        ChannelVersion { counter, salt: 0 }
    }

    /// A version with the given counter and salt.
    pub const fn with_salt(counter: u64, salt: u64) -> Self {
        ChannelVersion { counter, salt }
    }

    /// The next version after `current` (`None`: the channel is new), with
    /// a fresh random salt.
    ///
    /// The counter never wraps: after `u64::MAX - 1` it stays at
    /// [`u64::MAX`], the exhausted counter, which no saver stores (`put`
    /// refuses a checkpoint naming it with
    /// [`Error::InvalidCheckpoint`](crate::Error::InvalidCheckpoint), naming
    /// the channel). [`checked_next_after`](Self::checked_next_after) says
    /// so up front.
    pub fn next_after(current: Option<&ChannelVersion>) -> Self {
        let counter = current.map_or(0, |v| v.counter).saturating_add(1);
        // A zero salt is what `new` makes; keep generated ones distinct from it.
        let salt = fastrand::u64(1..);
        ChannelVersion { counter, salt }
    }

    /// As [`next_after`](Self::next_after), or `None` when the counter is
    /// exhausted: the next counter would be [`u64::MAX`] or more.
    ///
    /// ```
    /// use checkpointer::ChannelVersion;
    /// assert!(ChannelVersion::checked_next_after(Some(&ChannelVersion::new(u64::MAX - 1))).is_none());
    /// assert_eq!(ChannelVersion::checked_next_after(None).map(|v| v.counter()), Some(1));
    /// ```
    pub fn checked_next_after(current: Option<&ChannelVersion>) -> Option<Self> {
        let next = Self::next_after(current);
        (!next.is_exhausted()).then_some(next)
    }

    /// Whether the counter is [`u64::MAX`]: no version may follow it, and no
    /// saver stores it.
    pub const fn is_exhausted(&self) -> bool {
        self.counter == u64::MAX
    }

    /// The integer part: how many times the channel has been written.
    pub const fn counter(&self) -> u64 {
        self.counter
    }

    /// The random part that separates branches.
    pub const fn salt(&self) -> u64 {
        self.salt
    }

    /// The text form (what `Display` writes): `"<counter>"`, or
    /// `"<counter>.<salt as 16 hex digits>"`. Built without the formatting
    /// machinery: a read of the SQLite saver builds one per value it names.
    pub(crate) fn text(&self) -> String {
        let mut text = self.counter.to_string();
        if self.salt != 0 {
            text.reserve(17);
            text.push('.');
            for shift in (0..16).rev() {
                let digit = ((self.salt >> (shift * 4)) & 0xf) as u32;
                text.push(char::from_digit(digit, 16).unwrap_or('0'));
            }
        }
        text
    }
}

impl From<u64> for ChannelVersion {
    fn from(counter: u64) -> Self {
        ChannelVersion::new(counter)
    }
}

impl fmt::Display for ChannelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// The text is not a channel version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid channel version {text:?}: expected \"<counter>\" or \"<counter>.<hex salt>\"")]
pub struct ParseVersionError {
    text: String,
}

impl FromStr for ChannelVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseVersionError { text: s.to_owned() };
        let (counter, salt) = match s.split_once('.') {
            None => (s, None),
            Some((c, rest)) => (c, Some(rest)),
        };
        if counter.is_empty() || !counter.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let counter: u64 = counter.parse().map_err(|_| bad())?;
        let salt = match salt {
            None => 0,
            Some(hex) if hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u64::from_str_radix(hex, 16).map_err(|_| bad())?
            }
            // LangGraph's own form: "<032 digits>.<random float text>". Its
            // fraction is only a tie-breaker; fold it into a salt.
            Some(float)
                if float
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'-') =>
            {
                fold_salt(float)
            }
            Some(_) => return Err(bad()),
        };
        Ok(ChannelVersion { counter, salt })
    }
}

/// A stable 64-bit FNV-1a hash, used to turn a foreign salt into ours.
fn fold_salt(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Serialize for ChannelVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.salt == 0 {
            serializer.serialize_u64(self.counter)
        } else {
            serializer.collect_str(self)
        }
    }
}

impl<'de> Deserialize<'de> for ChannelVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VersionVisitor;
        impl Visitor<'_> for VersionVisitor {
            type Value = ChannelVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a channel version (integer or string)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ChannelVersion::new(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(ChannelVersion::new)
                    .map_err(|_| E::custom(format!("negative channel version {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(VersionVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for v in [
            ChannelVersion::new(0),
            ChannelVersion::new(42),
            ChannelVersion::with_salt(3, 0xdead_beef),
            ChannelVersion::next_after(None),
        ] {
            assert_eq!(v.to_string().parse::<ChannelVersion>().unwrap(), v);
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<ChannelVersion>(&json).unwrap(), v);
        }
    }

    #[test]
    fn text_is_counter_and_sixteen_hex_digits_of_salt() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..10_000 {
            let counter = match rng.u8(0..3) {
                0 => rng.u64(0..10),
                1 => rng.u64(..),
                _ => rng.u64(0..1_000_000),
            };
            let salt = match rng.u8(0..3) {
                0 => 0,
                1 => rng.u64(..),
                _ => rng.u64(0..256),
            };
            let expected = if salt == 0 {
                format!("{counter}")
            } else {
                format!("{counter}.{salt:016x}")
            };
            let version = ChannelVersion::with_salt(counter, salt);
            assert_eq!(version.to_string(), expected);
            assert_eq!(version.text(), expected);
        }
    }

    #[test]
    fn orders_by_counter_then_salt() {
        let a = ChannelVersion::with_salt(2, u64::MAX);
        let b = ChannelVersion::with_salt(10, 1);
        assert!(a < b);
        assert!(ChannelVersion::with_salt(2, 1) < ChannelVersion::with_salt(2, 2));
    }

    #[test]
    fn reads_langgraph_versions() {
        let v: ChannelVersion = "00000000000000000000000000000002.0.33042188792588556"
            .parse()
            .unwrap();
        assert_eq!(v.counter(), 2);
        assert_ne!(v.salt(), 0);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "x", "1.", ".5", "-1", "1.zz"] {
            assert!(bad.parse::<ChannelVersion>().is_err(), "{bad}");
        }
    }
}
