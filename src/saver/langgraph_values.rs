//! Values as LangGraph's Python serializer stores them: primitives inline
//! in the checkpoint's JSONB, everything else msgpack (`langgraph_msgpack`
//! to read, `rmp` to write), and the blob types Python's `loads_typed` knows.
//!
//! JSON cannot hold everything msgpack can: an ext type (Python's `Send`,
//! `Interrupt`, `LangChain` messages, any other class), a binary string, a
//! map with non-string keys, a non-finite float or a string that is not
//! UTF-8. Such a value reads as the envelope `{"__msgpack__": "<hex>"}`,
//! the hex of its msgpack encoding, and an envelope is written back as
//! those bytes, so a value this crate does not understand survives a
//! round trip byte for byte. A user object with the single key
//! `__msgpack__` and a hex string is taken for an envelope.
//!
//! An ext with LangGraph's constructor payload also shows its class and
//! fields (`{"__ext__": {..}, "__msgpack__": ".."}`), and on the channels
//! of Sends and interrupts Python's objects read as the runtime's forms:
//! see `langgraph_ext` for both. The `*_channel` functions apply the
//! channel forms; the others see every ext as an ext form.

use serde_json::{Map, Number, Value};

use super::langgraph_ext as ext;

pub(crate) use super::langgraph_ext::ENVELOPE;

/// The blob type of msgpack values.
pub(crate) const MSGPACK: &str = "msgpack";

/// Whether a channel value is stored inline in the checkpoint's JSONB (as
/// Python does for `None`, `str`, `int`, `float` and `bool`). JSONB
/// refuses strings with NUL: those go to blobs. (PostgreSQL only: a
/// LangGraph SQLite file keeps the whole checkpoint in one blob.)
#[cfg(feature = "postgres")]
pub(crate) fn is_inline(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
        Value::String(s) => !s.contains('\0'),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// `(type, blob)` of a value as Python's `dumps_typed` stores it: `None`
/// as `null` with an empty blob, everything else msgpack.
pub(crate) fn dump_typed(value: &Value) -> (&'static str, Vec<u8>) {
    if value.is_null() {
        return ("null", Vec::new());
    }
    (MSGPACK, to_msgpack(value))
}

/// The value of a typed blob, as Python's `loads_typed` reads it: `null`
/// is None, `json` is JSON text, `bytes`/`bytearray` a binary string (as
/// an envelope), `msgpack` msgpack. `Ok(None)` for `empty` (a legacy row
/// that stands for no value).
pub(crate) fn load_typed(kind: &str, blob: Option<&[u8]>) -> Result<Option<Value>, String> {
    let blob = blob.unwrap_or_default();
    match kind {
        "empty" => Ok(None),
        "null" => Ok(Some(Value::Null)),
        MSGPACK => from_msgpack(blob).map(Some),
        "json" => serde_json::from_slice(blob)
            .map(Some)
            .map_err(|e| format!("invalid JSON blob: {e}")),
        "bytes" | "bytearray" => {
            let mut out = Vec::with_capacity(blob.len() + 5);
            rmp::encode::write_bin(&mut out, blob).map_err(|e| e.to_string())?;
            Ok(Some(envelope(&out)))
        }
        other => Err(format!(
            "blob type {other:?} is not one this saver reads (msgpack, json, null, bytes, empty)"
        )),
    }
}

/// [`dump_typed`] of a value of `channel`: the runtime's Sends and
/// interrupts written as Python's objects.
pub(crate) fn dump_channel(channel: &str, value: &Value) -> (&'static str, Vec<u8>) {
    match ext::to_ext_forms(channel, value) {
        Some(converted) => dump_typed(&converted),
        None => dump_typed(value),
    }
}

/// [`to_msgpack`] of a value of `channel` (see [`dump_channel`]).
#[cfg(feature = "postgres")]
pub(crate) fn channel_msgpack(channel: &str, value: &Value) -> Vec<u8> {
    match ext::to_ext_forms(channel, value) {
        Some(converted) => to_msgpack(&converted),
        None => to_msgpack(value),
    }
}

/// [`load_typed`] of a blob of `channel`: Python's Sends and interrupts
/// read as the runtime's forms.
pub(crate) fn load_channel(
    channel: &str,
    kind: &str,
    blob: Option<&[u8]>,
) -> Result<Option<Value>, String> {
    Ok(load_typed(kind, blob)?.map(|value| ext::to_runtime_forms(channel, value)))
}

/// The msgpack encoding of `value` (envelopes written as their bytes).
pub(crate) fn to_msgpack(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    // Writes into a Vec cannot fail: the results below are infallible.
    match value {
        Value::Null => {
            let _ = rmp::encode::write_nil(out);
        }
        Value::Bool(b) => {
            let _ = rmp::encode::write_bool(out, *b);
        }
        Value::Number(n) => write_number(out, n),
        Value::String(s) => {
            let _ = rmp::encode::write_str(out, s);
        }
        Value::Array(items) => {
            let _ = rmp::encode::write_array_len(out, len_u32(items.len()));
            for item in items {
                write_value(out, item);
            }
        }
        Value::Object(map) => {
            if let Some(raw) = envelope_bytes(map) {
                out.extend_from_slice(&raw);
                return;
            }
            if ext::is_ext_form(map) {
                write_ext(out, map);
                return;
            }
            let _ = rmp::encode::write_map_len(out, len_u32(map.len()));
            for (key, item) in map {
                let _ = rmp::encode::write_str(out, key);
                write_value(out, item);
            }
        }
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.as_i64() {
        let _ = rmp::encode::write_sint(out, i);
    } else if let Some(u) = n.as_u64() {
        let _ = rmp::encode::write_uint(out, u);
    } else {
        let _ = rmp::encode::write_f64(out, n.as_f64().unwrap_or(f64::NAN));
    }
}

/// An ext form: its bytes while it reads as they do (unchanged), else
/// encoded from its view (edited, or made here).
fn write_ext(out: &mut Vec<u8>, form: &Map<String, Value>) {
    if let Some(raw) = envelope_hex(form).and_then(from_hex)
        && from_msgpack(&raw).is_ok_and(|read| read.as_object() == Some(form))
    {
        out.extend_from_slice(&raw);
        return;
    }
    let Some((code, payload)) = form.get(ext::EXT).and_then(ext::payload) else {
        return;
    };
    let body = to_msgpack(&payload);
    let _ = rmp::encode::write_ext_meta(out, len_u32(body.len()), code);
    out.extend_from_slice(&body);
}

/// msgpack lengths are 32-bit; a longer JSON array or map cannot exist in
/// memory on any machine this runs on, so saturate rather than fail.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The bytes an envelope stands for, if `map` is one.
pub(crate) fn envelope_bytes(map: &Map<String, Value>) -> Option<Vec<u8>> {
    if map.len() != 1 {
        return None;
    }
    from_hex(envelope_hex(map)?)
}

fn envelope_hex(map: &Map<String, Value>) -> Option<&str> {
    map.get(ENVELOPE)?.as_str()
}

pub(crate) fn envelope(raw: &[u8]) -> Value {
    let mut map = Map::new();
    map.insert(ENVELOPE.to_owned(), Value::String(to_hex(raw)));
    Value::Object(map)
}

/// The JSON value of a msgpack blob (`langgraph_msgpack`, one pass).
pub(crate) fn from_msgpack(blob: &[u8]) -> Result<Value, String> {
    super::langgraph_msgpack::decode(blob)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

pub(crate) fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Bytes Python wrote (`pg-rows/01-after-interrupt.txt`): a Send, as
    /// the `__pregel_tasks` write of the planning task.
    const SEND: &str = "c72b0193af6c616e6767726170682e7479706573a453656e64\
        92a4776f726b82a46974656d00a5746f706963a174";

    #[test]
    fn json_values_round_trip_through_msgpack() {
        let value = json!({"a": [1, -2, 3.5, "x", null, true], "b": {"c": u64::MAX}});
        assert_eq!(from_msgpack(&to_msgpack(&value)), Ok(value));
    }

    #[test]
    fn an_ext_round_trips_byte_for_byte() {
        let raw = from_hex(SEND).expect("hex");
        let value = from_msgpack(&raw).expect("decode");
        assert_eq!(value[ENVELOPE], SEND);
        assert_eq!(value[ext::EXT]["class"], "Send");
        let list = json!([value, 1]);
        let mut expected = vec![0x92];
        expected.extend_from_slice(&raw);
        expected.push(1);
        assert_eq!(to_msgpack(&list), expected);
    }

    #[test]
    fn bytes_and_int_keys_become_envelopes() {
        let bin = load_typed("bytes", Some(b"\x00\xff")).expect("bytes");
        assert_eq!(bin, Some(json!({ENVELOPE: "c40200ff"})));
        let int_keys = [0x81, 0x01, 0xa1, b'x'];
        assert_eq!(from_msgpack(&int_keys), Ok(json!({ENVELOPE: "8101a178"})));
        assert_eq!(to_msgpack(&from_msgpack(&int_keys).expect("map")), int_keys);
    }

    #[test]
    fn blob_types_python_writes_are_read() {
        assert_eq!(load_typed("null", Some(b"")), Ok(Some(Value::Null)));
        assert_eq!(load_typed("empty", None), Ok(None));
        assert_eq!(load_typed("json", Some(b"[1]")), Ok(Some(json!([1]))));
        assert!(load_typed("msgpack+aes", Some(b"x")).is_err());
        assert!(from_msgpack(&[0x92, 0x01]).is_err(), "a truncated array");
        // An ext code LangGraph does not use: the bare envelope.
        assert_eq!(
            from_msgpack(&[0xd4, 0x63, 0x01]),
            Ok(json!({ENVELOPE: "d46301"}))
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn strings_with_nul_are_not_inline() {
        assert!(is_inline(&json!("plain")));
        assert!(!is_inline(&json!("a\u{0}b")));
        assert!(!is_inline(&json!([1])));
    }
}
