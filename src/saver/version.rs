//! Channel versions: totally ordered, unique across branches of a thread,
//! written in LangGraph's text form.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest version text kept (LangGraph's is 32 digits, a dot and a
/// float of at most 24 characters).
const MAX_TEXT: usize = 62;

/// The version of one channel in one checkpoint.
///
/// A version is a counter plus a random part that keeps versions unique
/// when two branches of a forked thread both move a channel from version
/// `n` to `n + 1` with different values: savers that store each channel
/// value once per `(channel, version)` would otherwise mix the branches
/// up.
///
/// New versions ([`next_after`](Self::next_after)) are written as
/// LangGraph writes them, `f"{n:032}.{random.random():016}"`, e.g.
/// `00000000000000000000000000000004.0.09076509913884345`, so a thread
/// this crate wrote continues in Python (which compares versions as
/// strings) and back. Any other version text read from a store (the
/// `"<counter>.<16 hex digits>"` form of older versions of this crate,
/// another saver's) is kept verbatim, and a JSON integer reads as a plain
/// counter ([`new`](Self::new)).
///
/// Versions order by counter first, then by the text after the counter
/// (for LangGraph's versions, the order of Python's string comparison).
///
/// ```
/// use checkpointer::ChannelVersion;
/// let v1 = ChannelVersion::new(1);
/// let v2 = ChannelVersion::next_after(Some(&v1));
/// assert!(v2 > v1);
/// assert_eq!(v2.counter(), 2);
/// assert!(v2.to_string().starts_with("00000000000000000000000000000002.0"));
/// assert_eq!("7".parse::<ChannelVersion>().unwrap(), ChannelVersion::new(7));
/// let python = "00000000000000000000000000000004.0.09076509913884345";
/// assert_eq!(python.parse::<ChannelVersion>().unwrap().to_string(), python);
/// ```
#[derive(Clone, Copy)]
pub struct ChannelVersion {
    counter: u64,
    /// The text as read or made, zero-padded; `len == 0`: a plain counter,
    /// written as its decimal digits.
    len: u8,
    text: [u8; MAX_TEXT],
}

impl ChannelVersion {
    /// A plain version with the given counter (written `"<counter>"`).
    pub const fn new(counter: u64) -> Self {
        ChannelVersion {
            counter,
            len: 0,
            text: [0; MAX_TEXT],
        }
    }

    /// A version in the form older versions of this crate wrote,
    /// `"<counter>.<salt as 16 hex digits>"` (a plain counter when `salt`
    /// is 0). New versions use LangGraph's form instead
    /// ([`next_after`](Self::next_after)).
    pub fn with_salt(counter: u64, salt: u64) -> Self {
        if salt == 0 {
            return ChannelVersion::new(counter);
        }
        Self::from_text(counter, &format!("{counter}.{salt:016x}"))
            .unwrap_or_else(|| ChannelVersion::new(counter))
    }

    /// The version for `text` (of at most [`MAX_TEXT`] bytes) whose counter
    /// is `counter`.
    fn from_text(counter: u64, text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|n| usize::from(*n) <= MAX_TEXT)?;
        let mut buf = [0; MAX_TEXT];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(ChannelVersion {
            counter,
            len,
            text: buf,
        })
    }

    /// The next version after `current` (`None`: the channel is new):
    /// LangGraph's `get_next_version`, `f"{n + 1:032}.{random.random():016}"`.
    ///
    /// The counter never wraps: after `u64::MAX - 1` it stays at
    /// [`u64::MAX`], the exhausted counter, which no saver stores (`put`
    /// refuses a checkpoint naming it with
    /// [`Error::InvalidCheckpoint`](crate::Error::InvalidCheckpoint), naming
    /// the channel). [`checked_next_after`](Self::checked_next_after) says
    /// so up front.
    pub fn next_after(current: Option<&ChannelVersion>) -> Self {
        let counter = current.map_or(0, |v| v.counter).saturating_add(1);
        let text = format!("{counter:032}.{}", python_fraction(random_fraction()));
        Self::from_text(counter, &text).unwrap_or_else(|| ChannelVersion::new(counter))
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

    /// The random part as a number: the 16 hex digits of the older form,
    /// a stable 64-bit hash of any other text after the counter
    /// (LangGraph's fraction), 0 for a plain counter.
    pub fn salt(&self) -> u64 {
        match self.tail() {
            None | Some("") => 0,
            Some(hex) if hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u64::from_str_radix(hex, 16).unwrap_or(0)
            }
            Some(other) => fold_salt(other),
        }
    }

    /// The stored text, `None` for a plain counter.
    fn stored(&self) -> Option<&str> {
        (self.len > 0)
            .then(|| std::str::from_utf8(&self.text[..usize::from(self.len)]).ok())
            .flatten()
    }

    /// The text after the counter's first `.`, `None` when there is none.
    fn tail(&self) -> Option<&str> {
        self.stored()
            .and_then(|t| t.split_once('.'))
            .map(|(_, tail)| tail)
    }

    /// The text form (what `Display` writes): the text as read or made, or
    /// `"<counter>"` for a plain counter. Built without the formatting
    /// machinery: a read of the SQLite saver builds one per value it names.
    pub(crate) fn text(&self) -> String {
        match self.stored() {
            Some(text) => text.to_owned(),
            None => self.counter.to_string(),
        }
    }
}

/// A `random.random()` value in `[1e-4, 1)`: Python prints those without
/// an exponent, so the text below is exactly Python's.
fn random_fraction() -> f64 {
    loop {
        let f = fastrand::f64();
        if f >= 1e-4 {
            return f;
        }
    }
}

/// Python's `f"{f:016}"` for `f` in `[1e-4, 1)`: the shortest decimal that
/// reads back as `f` (Python's `repr`, as Rust's `Display`), left-padded
/// with zeros to 16 characters.
fn python_fraction(f: f64) -> String {
    format!("{:0>16}", f.to_string())
}

impl Default for ChannelVersion {
    fn default() -> Self {
        ChannelVersion::new(0)
    }
}

impl PartialEq for ChannelVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ChannelVersion {}

impl Hash for ChannelVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.counter.hash(state);
        self.stored().hash(state);
    }
}

impl PartialOrd for ChannelVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ChannelVersion {
    /// Counter, then the text after it (Python's string order for two
    /// LangGraph versions), then the whole text (so that only equal texts
    /// are equal).
    fn cmp(&self, other: &Self) -> Ordering {
        self.counter
            .cmp(&other.counter)
            .then_with(|| self.tail().cmp(&other.tail()))
            .then_with(|| self.stored().cmp(&other.stored()))
    }
}

impl fmt::Debug for ChannelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelVersion({:?})", self.text())
    }
}

impl From<u64> for ChannelVersion {
    fn from(counter: u64) -> Self {
        ChannelVersion::new(counter)
    }
}

impl fmt::Display for ChannelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stored() {
            Some(text) => f.write_str(text),
            None => write!(f, "{}", self.counter),
        }
    }
}

/// The text is not a channel version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid channel version {text:?}: expected \"<counter>\" or \"<counter>.<suffix>\" \
     (LangGraph's \"<32 digits>.<fraction>\"), at most 62 characters"
)]
pub struct ParseVersionError {
    text: String,
}

impl FromStr for ChannelVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseVersionError { text: s.to_owned() };
        let (digits, tail) = match s.split_once('.') {
            None => (s, None),
            Some((c, rest)) => (c, Some(rest)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let counter: u64 = digits.parse().map_err(|_| bad())?;
        let plain = tail.is_none() && counter.to_string() == digits;
        if plain {
            return Ok(ChannelVersion::new(counter));
        }
        // A salt, a float's text: hex digits, dots, exponent signs.
        let suffix_ok = |t: &str| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'-' | b'+'))
        };
        if tail.is_some_and(|t| !suffix_ok(t)) {
            return Err(bad());
        }
        ChannelVersion::from_text(counter, s).ok_or_else(bad)
    }
}

/// A stable 64-bit FNV-1a hash, the number [`ChannelVersion::salt`] gives
/// for a foreign suffix.
fn fold_salt(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Serialize for ChannelVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.stored() {
            None => serializer.serialize_u64(self.counter),
            Some(text) => serializer.serialize_str(text),
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
            assert_eq!(v.text(), v.to_string());
        }
    }

    #[test]
    fn new_versions_are_in_langgraphs_form() {
        let mut current: Option<ChannelVersion> = None;
        for n in 1..200u64 {
            let v = ChannelVersion::next_after(current.as_ref());
            let text = v.to_string();
            let (digits, fraction) = text.split_once('.').unwrap();
            assert_eq!(digits, format!("{n:032}"));
            assert!(fraction.len() >= 16, "{text}");
            let f: f64 = fraction.parse().unwrap();
            assert!((1e-4..1.0).contains(&f), "{text}");
            assert!(current.is_none_or(|c| c < v));
            // Python compares the texts: the same order.
            assert!(current.is_none_or(|c| c.to_string() < text));
            current = Some(v);
        }
    }

    #[test]
    fn fractions_print_as_python_prints_them() {
        // Python 3: f"{0.09076509913884345:016}", f"{0.5:016}", f"{0.000123:016}".
        assert_eq!(
            python_fraction(0.090_765_099_138_843_45),
            "0.09076509913884345"
        );
        assert_eq!(python_fraction(0.5), "00000000000000.5");
        assert_eq!(python_fraction(0.000_123), "000000000.000123");
    }

    #[test]
    fn foreign_and_old_text_is_kept_verbatim() {
        for text in [
            "00000000000000000000000000000004.0.09076509913884345",
            "00000000000000000000000000000002.00000000000000.5",
            "7.00000000deadbeef",
            "0007",
            "3.1e-05",
        ] {
            let v: ChannelVersion = text.parse().unwrap();
            assert_eq!(v.to_string(), text);
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(text));
        }
        let old: ChannelVersion = "7.00000000deadbeef".parse().unwrap();
        assert_eq!((old.counter(), old.salt()), (7, 0xdead_beef));
        assert_eq!(old, ChannelVersion::with_salt(7, 0xdead_beef));
        assert_eq!(
            serde_json::from_str::<ChannelVersion>("7").unwrap(),
            ChannelVersion::new(7)
        );
    }

    #[test]
    fn orders_by_counter_then_the_text_after_it() {
        let a = ChannelVersion::with_salt(2, u64::MAX);
        let b = ChannelVersion::with_salt(10, 1);
        assert!(a < b);
        assert!(ChannelVersion::with_salt(2, 1) < ChannelVersion::with_salt(2, 2));
        let py = |t: &str| t.parse::<ChannelVersion>().unwrap();
        let p3 = py("00000000000000000000000000000003.0.9");
        let p4a = py("00000000000000000000000000000004.0.1");
        let p4b = py("00000000000000000000000000000004.0.2");
        assert!(p3 < p4a && p4a < p4b);
        // An old version of this crate against a newer one of Python's.
        assert!(py("3.00000000deadbeef") < p4a);
        assert!(ChannelVersion::new(4) < p4a);
        assert_ne!(py("0004"), ChannelVersion::new(4));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "x",
            "1.",
            ".5",
            "-1",
            "1.zz",
            &format!("1.{}", "0".repeat(70)),
        ] {
            assert!(bad.parse::<ChannelVersion>().is_err(), "{bad}");
        }
    }
}
