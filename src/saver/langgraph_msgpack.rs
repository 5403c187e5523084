//! msgpack to `serde_json::Value` in one pass over the bytes (issue 11:
//! reads of PostgreSQL blobs spent their client time building an
//! `rmpv::Value` tree and then converting it).
//!
//! The result is the one `langgraph_values` documents, exactly as the
//! rmpv path made it: JSON where JSON can hold the value, else the
//! envelope `{"__msgpack__": "<hex>"}` of the value's *canonical*
//! encoding (rmpv's re-encoding: shortest length markers, a string that
//! is not UTF-8 as `bin`), and ext forms for LangGraph's constructor
//! exts. Marker 0xc1 (reserved) reads as nil, as rmpv reads it, so that
//! every blob that read before reads alike.

use serde_json::{Map, Number, Value};

use super::langgraph_ext as ext;
use super::langgraph_values::{envelope, envelope_bytes};

/// Containers (arrays, maps, exts) nested deeper than this are refused:
/// decoding recurses, and Python's serializer writes no deeper than 255.
pub(crate) const MAX_DEPTH: usize = 256;

/// The JSON value of the msgpack value `blob` holds (all of it).
pub(crate) fn decode(blob: &[u8]) -> Result<Value, String> {
    decode_at(blob, 0).map_err(|e| format!("invalid msgpack blob: {e}"))
}

/// [`decode`] of `blob` found `depth` containers deep.
fn decode_at(blob: &[u8], depth: usize) -> Result<Value, String> {
    let mut reader = Reader { buf: blob, pos: 0 };
    let value = reader.value(depth)?;
    if reader.pos != blob.len() {
        return Err(format!("{} bytes after the value", blob.len() - reader.pos));
    }
    Ok(value)
}

/// What a marker starts, with its length where it has one.
enum Item {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32,
    F64(f64),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
    Ext(usize),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let rest = self.buf.len() - self.pos;
        if n > rest {
            return Err(format!(
                "truncated: {n} bytes needed at byte {}, {rest} left",
                self.pos
            ));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len8(&mut self) -> Result<usize, String> {
        Ok(usize::from(self.array::<1>()?[0]))
    }

    fn len16(&mut self) -> Result<usize, String> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn len32(&mut self) -> Result<usize, String> {
        usize::try_from(u32::from_be_bytes(self.array()?))
            .map_err(|_| "a length that does not fit in memory".to_owned())
    }

    /// The marker at the cursor and what follows it up to the item's
    /// data (numbers are read whole; F32 leaves its 4 bytes).
    fn item(&mut self) -> Result<Item, String> {
        let marker = self.array::<1>()?[0];
        Ok(match marker {
            0x00..=0x7f => Item::Uint(u64::from(marker)),
            0x80..=0x8f => Item::Map(usize::from(marker & 0x0f)),
            0x90..=0x9f => Item::Array(usize::from(marker & 0x0f)),
            0xa0..=0xbf => Item::Str(usize::from(marker & 0x1f)),
            // 0xc1 is reserved: rmpv reads it as nil.
            0xc0 | 0xc1 => Item::Nil,
            0xc2 => Item::Bool(false),
            0xc3 => Item::Bool(true),
            0xc4 => Item::Bin(self.len8()?),
            0xc5 => Item::Bin(self.len16()?),
            0xc6 => Item::Bin(self.len32()?),
            0xc7 => Item::Ext(self.len8()?),
            0xc8 => Item::Ext(self.len16()?),
            0xc9 => Item::Ext(self.len32()?),
            0xca => Item::F32,
            0xcb => Item::F64(f64::from_be_bytes(self.array()?)),
            0xcc => Item::Uint(u64::from(self.array::<1>()?[0])),
            0xcd => Item::Uint(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => Item::Uint(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => Item::Uint(u64::from_be_bytes(self.array()?)),
            0xd0 => Item::Int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Item::Int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Item::Int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Item::Int(i64::from_be_bytes(self.array()?)),
            0xd4 => Item::Ext(1),
            0xd5 => Item::Ext(2),
            0xd6 => Item::Ext(4),
            0xd7 => Item::Ext(8),
            0xd8 => Item::Ext(16),
            0xd9 => Item::Str(self.len8()?),
            0xda => Item::Str(self.len16()?),
            0xdb => Item::Str(self.len32()?),
            0xdc => Item::Array(self.len16()?),
            0xdd => Item::Array(self.len32()?),
            0xde => Item::Map(self.len16()?),
            0xdf => Item::Map(self.len32()?),
            0xe0..=0xff => Item::Int(i64::from(i8::from_be_bytes([marker]))),
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        let start = self.pos;
        Ok(match self.item()? {
            Item::Nil => Value::Null,
            Item::Bool(b) => Value::Bool(b),
            Item::Uint(u) => Value::from(u),
            Item::Int(i) => Value::from(i),
            Item::F32 => {
                self.take(4)?;
                envelope(&self.buf[start..self.pos])
            }
            Item::F64(f) => match Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None => envelope(&self.buf[start..self.pos]),
            },
            Item::Str(len) => {
                let bytes = self.take(len)?;
                match std::str::from_utf8(bytes) {
                    Ok(text) => Value::String(text.to_owned()),
                    // rmpv re-encodes a string that is not UTF-8 as bin.
                    Err(_) => bin_envelope(bytes),
                }
            }
            Item::Bin(len) => bin_envelope(self.take(len)?),
            Item::Array(len) => {
                let depth = deeper(depth)?;
                // As rmpv: no allocation sized by an untrusted length.
                let mut items = Vec::with_capacity(len.min(self.buf.len() - self.pos));
                for _ in 0..len {
                    items.push(self.value(depth)?);
                }
                Value::Array(items)
            }
            Item::Map(len) => self.map(start, len, deeper(depth)?)?,
            Item::Ext(len) => {
                let code = i8::from_be_bytes(self.array()?);
                let payload = self.take(len)?;
                ext_value(code, payload, deeper(depth)?)
            }
        })
    }

    /// A map (its marker at `start`): an object when every key is a UTF-8
    /// string, none repeats and it would not read back as an envelope or
    /// an ext form; else the envelope of its canonical encoding.
    fn map(&mut self, start: usize, len: usize, depth: usize) -> Result<Value, String> {
        let mut map = Map::new();
        let mut plain = true;
        for _ in 0..len {
            if !plain {
                self.skip(depth)?;
                self.skip(depth)?;
                continue;
            }
            let key_start = self.pos;
            let key = match self.item()? {
                Item::Str(n) => std::str::from_utf8(self.take(n)?).ok(),
                _ => None,
            };
            let Some(key) = key else {
                self.pos = key_start;
                self.skip(depth)?;
                self.skip(depth)?;
                plain = false;
                continue;
            };
            let item = self.value(depth)?;
            if map.insert(key.to_owned(), item).is_some() {
                plain = false;
            }
        }
        if plain && envelope_bytes(&map).is_none() && !ext::is_ext_form(&map) {
            return Ok(Value::Object(map));
        }
        Ok(canonical_envelope(&self.buf[start..self.pos]))
    }

    /// Moves past one value, checking it as [`value`](Self::value) would.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        match self.item()? {
            Item::Nil | Item::Bool(_) | Item::Uint(_) | Item::Int(_) | Item::F64(_) => {}
            Item::F32 => {
                self.take(4)?;
            }
            Item::Str(len) | Item::Bin(len) => {
                self.take(len)?;
            }
            Item::Ext(len) => {
                self.take(1)?;
                self.take(len)?;
            }
            Item::Array(len) => {
                let depth = deeper(depth)?;
                for _ in 0..len {
                    self.skip(depth)?;
                }
            }
            Item::Map(len) => {
                let depth = deeper(depth)?;
                for _ in 0..len {
                    self.skip(depth)?;
                    self.skip(depth)?;
                }
            }
        }
        Ok(())
    }
}

/// The depth inside a container at `depth`.
fn deeper(depth: usize) -> Result<usize, String> {
    if depth >= MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(depth + 1)
}

fn bin_envelope(bytes: &[u8]) -> Value {
    let mut raw = Vec::with_capacity(bytes.len() + 5);
    // Writes into a Vec cannot fail.
    let _ = rmp::encode::write_bin(&mut raw, bytes);
    envelope(&raw)
}

/// An ext: its ext form when the payload has LangGraph's constructor
/// shape, else the bare envelope (a payload that does not decode is no
/// error: the bytes are kept).
fn ext_value(code: i8, payload: &[u8], depth: usize) -> Value {
    let mut raw = Vec::with_capacity(payload.len() + 6);
    let _ = rmp::encode::write_ext_meta(&mut raw, u32::try_from(payload.len()).unwrap_or(0), code);
    raw.extend_from_slice(payload);
    let envelope = envelope(&raw);
    if !ext::is_constructor_code(code) {
        return envelope;
    }
    let Some(view) = decode_at(payload, depth)
        .ok()
        .and_then(|payload| ext::view(code, payload))
    else {
        return envelope;
    };
    let mut form = Map::new();
    form.insert(ext::EXT.to_owned(), view);
    if let Value::Object(envelope) = envelope {
        form.extend(envelope);
    }
    Value::Object(form)
}

/// The envelope of a checked value's canonical encoding (rare: maps that
/// JSON cannot hold), re-encoded by rmpv as the envelope always was.
fn canonical_envelope(raw: &[u8]) -> Value {
    let mut reader = raw;
    let mut out = Vec::with_capacity(raw.len());
    match rmpv::decode::read_value(&mut reader) {
        Ok(value) if rmpv::encode::write_value(&mut out, &value).is_ok() => envelope(&out),
        _ => envelope(raw),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use proptest::prelude::*;
    use rmpv::Value as Mp;
    use serde_json::{Map, Number, Value, json};

    use super::{MAX_DEPTH, decode};
    use crate::saver::langgraph_ext as ext;
    use crate::saver::langgraph_values::{ENVELOPE, envelope, envelope_bytes};

    /// The rmpv path `langgraph_values::from_msgpack` took before this
    /// decoder: the oracle the decoder must agree with.
    fn reference(blob: &[u8]) -> Result<Value, String> {
        let mut cursor = Cursor::new(blob);
        let value = rmpv::decode::read_value(&mut cursor).map_err(|e| e.to_string())?;
        if usize::try_from(cursor.position()).ok() != Some(blob.len()) {
            return Err("bytes after the value".to_owned());
        }
        Ok(to_json(&value))
    }

    fn to_json(value: &Mp) -> Value {
        match value {
            Mp::Nil => Value::Null,
            Mp::Boolean(b) => Value::Bool(*b),
            Mp::Integer(i) => match (i.as_i64(), i.as_u64()) {
                (Some(v), _) => Value::from(v),
                (None, Some(v)) => Value::from(v),
                (None, None) => raw_envelope(value),
            },
            Mp::F64(f) => Number::from_f64(*f).map_or_else(|| raw_envelope(value), Value::Number),
            Mp::String(s) => match s.as_str() {
                Some(text) => Value::String(text.to_owned()),
                None => raw_envelope(value),
            },
            Mp::Array(items) => Value::Array(items.iter().map(to_json).collect()),
            Mp::Map(pairs) => {
                let mut map = Map::new();
                for (key, item) in pairs {
                    let Some(key) = key.as_str() else {
                        return raw_envelope(value);
                    };
                    map.insert(key.to_owned(), to_json(item));
                }
                if map.len() != pairs.len()
                    || envelope_bytes(&map).is_some()
                    || ext::is_ext_form(&map)
                {
                    return raw_envelope(value);
                }
                Value::Object(map)
            }
            Mp::Ext(code, payload) => {
                let envelope = raw_envelope(value);
                let Some(view) = reference(payload)
                    .ok()
                    .and_then(|payload| ext::view(*code, payload))
                else {
                    return envelope;
                };
                let mut form = Map::new();
                form.insert(ext::EXT.to_owned(), view);
                if let Value::Object(envelope) = envelope {
                    form.extend(envelope);
                }
                Value::Object(form)
            }
            Mp::F32(_) | Mp::Binary(_) => raw_envelope(value),
        }
    }

    fn raw_envelope(value: &Mp) -> Value {
        let mut raw = Vec::new();
        rmpv::encode::write_value(&mut raw, value).expect("encode into a Vec");
        envelope(&raw)
    }

    fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write as _;
        bytes.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
    }

    /// A length header: the shortest (`fix` when given) or a wider one
    /// (`wide` 0..=2 steps up), as other encoders may write.
    fn header(out: &mut Vec<u8>, len: usize, fix: Option<(u8, usize)>, markers: [u8; 3], wide: u8) {
        let choices: Vec<u8> = [
            fix.filter(|&(_, max)| len <= max).map(|_| 0xff),
            (len <= 0xff && markers[0] != 0).then_some(0),
            (len <= 0xffff).then_some(1),
            Some(2),
        ]
        .into_iter()
        .flatten()
        .collect();
        let pick = choices[usize::from(wide).min(choices.len() - 1)];
        match pick {
            0xff => {
                let (base, _) = fix.expect("fix");
                out.push(base | u8::try_from(len).expect("fix length"));
            }
            0 => out.extend([markers[0], u8::try_from(len).expect("8-bit length")]),
            1 => {
                out.push(markers[1]);
                out.extend(u16::try_from(len).expect("16-bit").to_be_bytes());
            }
            _ => {
                out.push(markers[2]);
                out.extend(u32::try_from(len).expect("32-bit").to_be_bytes());
            }
        }
    }

    fn str_bytes(bytes: &[u8], wide: u8) -> Vec<u8> {
        let mut out = Vec::new();
        header(
            &mut out,
            bytes.len(),
            Some((0xa0, 31)),
            [0xd9, 0xda, 0xdb],
            wide,
        );
        out.extend_from_slice(bytes);
        out
    }

    fn container(
        marker_fix: u8,
        markers: [u8; 3],
        items: &[Vec<u8>],
        n: usize,
        wide: u8,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        header(&mut out, n, Some((marker_fix, 15)), markers, wide);
        for item in items {
            out.extend_from_slice(item);
        }
        out
    }

    fn ext_bytes(code: i8, payload: &[u8], wide: u8) -> Vec<u8> {
        let mut out = Vec::new();
        let fixed = match payload.len() {
            1 => Some(0xd4),
            2 => Some(0xd5),
            4 => Some(0xd6),
            8 => Some(0xd7),
            16 => Some(0xd8),
            _ => None,
        };
        match fixed {
            Some(marker) if wide == 0 => out.push(marker),
            _ => header(
                &mut out,
                payload.len(),
                None,
                [0xc7, 0xc8, 0xc9],
                wide.saturating_sub(1),
            ),
        }
        out.extend(code.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn key_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(ENVELOPE.to_owned()),
            Just(ext::EXT.to_owned()),
            Just("code".to_owned()),
            Just("module".to_owned()),
            Just("class".to_owned()),
            Just("data".to_owned()),
            "[a-c]{0,2}",
            any::<String>(),
        ]
    }

    /// One leaf value's bytes, in any of its encodings.
    fn leaf() -> impl Strategy<Value = Vec<u8>> {
        let width = 0u8..4;
        prop_oneof![
            Just(vec![0xc0]),
            Just(vec![0xc1]),
            any::<bool>().prop_map(|b| vec![if b { 0xc3 } else { 0xc2 }]),
            (any::<u64>(), width.clone()).prop_map(|(u, w)| uint(u, w)),
            (0u64..200, width.clone()).prop_map(|(u, w)| uint(u, w)),
            (any::<i64>(), width.clone()).prop_map(|(i, w)| sint(i, w)),
            (-40i64..0, width.clone()).prop_map(|(i, w)| sint(i, w)),
            any::<u32>().prop_map(|bits| [&[0xca][..], &bits.to_be_bytes()].concat()),
            any::<f64>().prop_map(|f| [&[0xcb][..], &f.to_bits().to_be_bytes()].concat()),
            prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(-0.0),
                Just(f64::NEG_INFINITY)
            ]
            .prop_map(|f| [&[0xcb][..], &f.to_bits().to_be_bytes()].concat()),
            (key_text(), width.clone()).prop_map(|(s, w)| str_bytes(s.as_bytes(), w)),
            (prop::collection::vec(any::<u8>(), 0..40), width.clone())
                .prop_map(|(b, w)| str_bytes(&b, w)),
            (prop::collection::vec(any::<u8>(), 0..40), width).prop_map(|(b, w)| {
                let mut out = Vec::new();
                header(&mut out, b.len(), None, [0xc4, 0xc5, 0xc6], w);
                out.extend(b);
                out
            }),
        ]
    }

    fn uint(u: u64, wide: u8) -> Vec<u8> {
        let mut options: Vec<Vec<u8>> = Vec::new();
        if u < 128 {
            options.push(vec![u8::try_from(u).expect("fixint")]);
        }
        if let Ok(v) = u8::try_from(u) {
            options.push(vec![0xcc, v]);
        }
        if let Ok(v) = u16::try_from(u) {
            options.push([&[0xcd][..], &v.to_be_bytes()].concat());
        }
        if let Ok(v) = u32::try_from(u) {
            options.push([&[0xce][..], &v.to_be_bytes()].concat());
        }
        options.push([&[0xcf][..], &u.to_be_bytes()].concat());
        if let Ok(v) = i64::try_from(u) {
            options.push([&[0xd3][..], &v.to_be_bytes()].concat());
        }
        options.swap_remove(usize::from(wide) % options.len())
    }

    fn sint(i: i64, wide: u8) -> Vec<u8> {
        if let Ok(u) = u64::try_from(i) {
            return uint(u, wide);
        }
        let mut options: Vec<Vec<u8>> = Vec::new();
        if i >= -32 {
            options.push(i8::try_from(i).expect("fixneg").to_be_bytes().to_vec());
        }
        if let Ok(v) = i8::try_from(i) {
            options.push([&[0xd0][..], &v.to_be_bytes()].concat());
        }
        if let Ok(v) = i16::try_from(i) {
            options.push([&[0xd1][..], &v.to_be_bytes()].concat());
        }
        if let Ok(v) = i32::try_from(i) {
            options.push([&[0xd2][..], &v.to_be_bytes()].concat());
        }
        options.push([&[0xd3][..], &i.to_be_bytes()].concat());
        options.swap_remove(usize::from(wide) % options.len())
    }

    /// Any value's bytes: leaves, arrays, maps (string keys, repeated
    /// keys, other keys), exts (constructor payloads, others, garbage).
    fn value() -> impl Strategy<Value = Vec<u8>> {
        leaf().prop_recursive(5, 64, 6, |inner| {
            let width = 0u8..3;
            let key = prop_oneof![
                3 => (key_text(), 0u8..2).prop_map(|(s, w)| str_bytes(s.as_bytes(), w)),
                1 => inner.clone(),
            ];
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..6), width.clone()).prop_map(
                    |(items, w)| container(0x90, [0, 0xdc, 0xdd], &items, items.len(), w)
                ),
                (
                    prop::collection::vec((key, inner.clone()), 0..5),
                    width.clone()
                )
                    .prop_map(|(pairs, w)| {
                        let n = pairs.len();
                        let items: Vec<Vec<u8>> =
                            pairs.into_iter().map(|(k, v)| [k, v].concat()).collect();
                        container(0x80, [0, 0xde, 0xdf], &items, n, w)
                    }),
                (-2i8..8, constructor(inner.clone()), width.clone())
                    .prop_map(|(code, payload, w)| ext_bytes(code, &payload, w)),
                (any::<i8>(), inner, width.clone())
                    .prop_map(|(code, payload, w)| ext_bytes(code, &payload, w)),
                (
                    any::<i8>(),
                    prop::collection::vec(any::<u8>(), 0..20),
                    width
                )
                    .prop_map(|(code, payload, w)| ext_bytes(code, &payload, w)),
            ]
        })
    }

    /// A payload `[module, class, data(, method)]`, sometimes with a
    /// fifth part or a part of the wrong kind.
    fn constructor(data: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
        let text = || key_text().prop_map(|s| str_bytes(s.as_bytes(), 0));
        let part = prop_oneof![3 => text(), 1 => data.clone()];
        (text(), part, data, prop::collection::vec(text(), 0..3)).prop_map(
            |(module, class, data, rest)| {
                let mut items = vec![module, class, data];
                items.extend(rest);
                container(0x90, [0, 0xdc, 0xdd], &items, items.len(), 0)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decodes_as_the_rmpv_path(blob in value()) {
            let ours = decode(&blob);
            let theirs = reference(&blob);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{} -> {:?} / {:?}", hex(&blob), ours, theirs);
            if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                prop_assert_eq!(ours, theirs, "{}", hex(&blob));
            }
        }

        #[test]
        fn truncated_and_padded_blobs_are_refused(blob in value(), cut in any::<prop::sample::Index>()) {
            let cut = cut.index(blob.len());
            prop_assert!(decode(&blob[..cut]).is_err());
            prop_assert!(reference(&blob[..cut]).is_err());
            let padded = [&blob[..], &[0xc0]].concat();
            prop_assert!(decode(&padded).is_err());
        }

        #[test]
        fn any_bytes_read_as_the_rmpv_path(blob in prop::collection::vec(any::<u8>(), 0..64)) {
            let (ours, theirs) = (decode(&blob), reference(&blob));
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{}", hex(&blob));
            if let (Ok(ours), Ok(theirs)) = (ours, theirs) {
                prop_assert_eq!(ours, theirs, "{}", hex(&blob));
            }
        }
    }

    #[test]
    fn nesting_is_capped() {
        let nested = |depth: usize| [vec![0x91; depth], vec![0xc0]].concat();
        assert_eq!(decode(&nested(MAX_DEPTH)), reference(&nested(MAX_DEPTH)));
        let err = decode(&nested(MAX_DEPTH + 1)).expect_err("too deep");
        assert!(err.contains("nested deeper than 256"), "{err}");
        // Exts count too: a chain of constructor exts, each payload
        // `["m", "C", <the next ext>]`, cannot recurse without bound.
        let mut chain = vec![0xc0];
        for _ in 0..2 * MAX_DEPTH {
            let payload = [&[0x93, 0xa1, b'm', 0xa1, b'C'][..], &chain].concat();
            let len = u32::try_from(payload.len()).expect("length").to_be_bytes();
            chain = [&[0xc9][..], &len, &[0x00], &payload].concat();
        }
        let read = decode(&chain).expect("deep exts read, the deepest as bytes");
        assert_eq!(read[ext::EXT]["class"], "C");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = decode(&[0xda, 0x00, 0x05, b'a']).expect_err("truncated");
        assert!(err.starts_with("invalid msgpack blob: truncated"), "{err}");
        let err = decode(&[0x01, 0x02]).expect_err("trailing");
        assert_eq!(err, "invalid msgpack blob: 1 bytes after the value");
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn envelopes_are_canonical_as_before() {
        // A str8 that is not UTF-8 reads as the envelope of a bin8 (rmpv's
        // re-encoding), a map with an int key in canonical form.
        assert_eq!(decode(&[0xd9, 0x01, 0xff]), Ok(json!({ENVELOPE: "c401ff"})));
        let map = [0xde, 0x00, 0x01, 0xcc, 0x01, 0xd9, 0x01, b'x'];
        assert_eq!(decode(&map), Ok(json!({ENVELOPE: "8101a178"})));
        assert_eq!(decode(&map), reference(&map));
        // An ext8 of one byte is re-encoded as a fixext1.
        assert_eq!(
            decode(&[0xc7, 0x01, 0x63, 0x01]),
            Ok(json!({ENVELOPE: "d46301"}))
        );
    }
}
