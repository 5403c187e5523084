//! JSON as JavaScript sees it: an order-keeping parse and
//! `JSON.stringify`, so that `etag` and `size_bytes` are bit-identical to
//! SnapState's (compact output, keys in JavaScript's property order, `1.0`
//! as `1`, `1e21` as `1e+21`, non-ASCII left raw).
//!
//! `serde_json`'s own map sorts its keys (the crate does not enable
//! `preserve_order`, which would change the key order of every JSON the
//! crate writes), so the body of a save is parsed a second time into
//! [`JsValue`], which keeps the order.

use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A JSON value with object keys in JavaScript's order and every number a
/// double, as `JSON.parse` gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum JsValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Every number is a double, as in JavaScript.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsValue>),
    /// An object: its properties in `Object.keys` order (array-index keys
    /// ascending, then the others in insertion order; a repeated key keeps
    /// its first place and its last value).
    Object(Vec<(String, JsValue)>),
}

/// Whether `key` is an array index for JavaScript's property order: a
/// canonical decimal below 2³² − 1.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

impl JsValue {
    /// Parses JSON text (as `JSON.parse`, except that nesting deeper than
    /// `serde_json`'s limit of 128 is an error).
    pub fn parse(bytes: &[u8]) -> Result<JsValue, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// `JSON.stringify(self)`.
    pub fn stringify(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            JsValue::Null => out.push_str("null"),
            JsValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            JsValue::Number(x) => js_number(*x, out),
            JsValue::String(s) => write_string(s, out),
            JsValue::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            JsValue::Object(props) => {
                out.push('{');
                for (i, (key, value)) in props.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The same value as `serde_json`'s (integral numbers within ±2⁵³ as
    /// integers, so that `1.0` is stored as `1`, the way JavaScript
    /// would send it back).
    pub fn to_value(&self) -> Value {
        match self {
            JsValue::Null => Value::Null,
            JsValue::Bool(b) => Value::Bool(*b),
            JsValue::Number(x) => number_value(*x),
            JsValue::String(s) => Value::String(s.clone()),
            JsValue::Array(items) => Value::Array(items.iter().map(JsValue::to_value).collect()),
            JsValue::Object(props) => Value::Object(
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// A `serde_json` value read the JavaScript way (its keys then come in
    /// `serde_json`'s order, with array indices first).
    pub fn from_value(value: &Value) -> JsValue {
        match value {
            Value::Null => JsValue::Null,
            Value::Bool(b) => JsValue::Bool(*b),
            Value::Number(n) => JsValue::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => JsValue::String(s.clone()),
            Value::Array(items) => JsValue::Array(items.iter().map(JsValue::from_value).collect()),
            Value::Object(map) => {
                let mut builder = ObjectBuilder::default();
                for (k, v) in map {
                    builder.insert(k.clone(), JsValue::from_value(v));
                }
                builder.finish()
            }
        }
    }

    /// The properties of an object, `None` for any other value.
    pub fn as_object(&self) -> Option<&[(String, JsValue)]> {
        match self {
            JsValue::Object(props) => Some(props),
            _ => None,
        }
    }

    /// The property `key` of an object.
    pub fn get(&self, key: &str) -> Option<&JsValue> {
        self.as_object()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// Integral doubles within ±2⁵³ become integers.
fn number_value(x: f64) -> Value {
    const SAFE: f64 = 9_007_199_254_740_992.0;
    if x.fract() == 0.0 && x.abs() <= SAFE {
        // In range and integral, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(x as i64);
    }
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn write_string(s: &str, out: &mut String) {
    // serde_json escapes exactly as JSON.stringify does: `"`, `\`, the
    // short forms \b \f \n \r \t, other controls as lowercase \u00xx, and
    // nothing else.
    match serde_json::to_string(s) {
        Ok(text) => out.push_str(&text),
        Err(_) => out.push_str("\"\""),
    }
}

/// JavaScript's `Number.prototype.toString()` for a finite double
/// (ECMA-262 `Number::toString`): the shortest digits that round-trip, in
/// fixed notation for exponents from -7 to 20, else `d.ddde±n`.
pub fn js_number(x: f64, out: &mut String) {
    if x == 0.0 || !x.is_finite() {
        // -0 prints as 0; non-finite doubles cannot come from JSON, and
        // JSON.stringify writes them as null.
        out.push_str(if x == 0.0 { "0" } else { "null" });
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(n - k).unwrap_or(0),
        ));
    } else if 0 < n && n <= 21 {
        let at = usize::try_from(n).unwrap_or(0);
        out.push_str(&digits[..at]);
        out.push('.');
        out.push_str(&digits[at..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', usize::try_from(-n).unwrap_or(0)));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

/// The UTF-8 length of `JSON.stringify(state)`: SnapState's `size_bytes`.
pub fn size_bytes(js: &str) -> u64 {
    u64::try_from(js.len()).unwrap_or(u64::MAX)
}

/// SnapState's etag of a state: `"` + the first 16 hex digits of
/// SHA-256(`JSON.stringify(state)`) + `"` (the quotes are part of it).
///
/// ```
/// use checkpointer::server::jsform::{JsValue, etag};
/// let state = JsValue::parse(br#"{"sources":["arxiv.org/123"],"progress":0.25}"#)?;
/// assert_eq!(etag(&state.stringify()), "\"99ebf23ad4d5b076\"");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn etag(js: &str) -> String {
    let digest = Sha256::digest(js.as_bytes());
    format!("\"{}\"", &super::keys::hex(&digest)[..16])
}

/// Builds an object in JavaScript's property order.
#[derive(Default)]
struct ObjectBuilder {
    indexed: Vec<(u32, String, JsValue)>,
    named: Vec<(String, JsValue)>,
    seen: HashMap<String, (bool, usize)>,
}

impl ObjectBuilder {
    fn insert(&mut self, key: String, value: JsValue) {
        if let Some(&(is_index, at)) = self.seen.get(&key) {
            if is_index {
                self.indexed[at].2 = value;
            } else {
                self.named[at].1 = value;
            }
            return;
        }
        if let Some(i) = array_index(&key) {
            self.seen.insert(key.clone(), (true, self.indexed.len()));
            self.indexed.push((i, key, value));
        } else {
            self.seen.insert(key.clone(), (false, self.named.len()));
            self.named.push((key, value));
        }
    }

    fn finish(mut self) -> JsValue {
        self.indexed.sort_by_key(|(i, _, _)| *i);
        let mut props: Vec<(String, JsValue)> =
            self.indexed.into_iter().map(|(_, k, v)| (k, v)).collect();
        props.extend(self.named);
        JsValue::Object(props)
    }
}

impl<'de> Deserialize<'de> for JsValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsValue, D::Error> {
        deserializer.deserialize_any(JsVisitor)
    }
}

struct JsVisitor;

impl<'de> Visitor<'de> for JsVisitor {
    type Value = JsValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<JsValue, E> {
        Ok(JsValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<JsValue, E> {
        Ok(JsValue::Bool(b))
    }

    // A JSON number is a double in JavaScript, large integers included.
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E>(self, n: i64) -> Result<JsValue, E> {
        Ok(JsValue::Number(n as f64))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E>(self, n: u64) -> Result<JsValue, E> {
        Ok(JsValue::Number(n as f64))
    }

    fn visit_f64<E>(self, x: f64) -> Result<JsValue, E> {
        Ok(JsValue::Number(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<JsValue, E> {
        Ok(JsValue::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<JsValue, E> {
        Ok(JsValue::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsValue, A::Error> {
        let mut builder = ObjectBuilder::default();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value()?;
            builder.insert(key, value);
        }
        Ok(builder.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(text: &str) -> String {
        JsValue::parse(text.as_bytes())
            .map(|v| v.stringify())
            .unwrap_or_default()
    }

    #[test]
    fn numbers_print_as_javascript_does() {
        let cases = [
            (1.0, "1"),
            (0.25, "0.25"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e-7, "1e-7"),
            (1e-6, "0.000001"),
            (-1.5e-9, "-1.5e-9"),
            (123.456, "123.456"),
            (-0.0, "0"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (x, want) in cases {
            let mut out = String::new();
            js_number(x, &mut out);
            assert_eq!(out, want, "{x}");
        }
    }

    #[test]
    fn keys_follow_javascript_property_order() {
        assert_eq!(
            js(r#"{"b":1,"10":2,"a":3,"2":4,"01":5}"#),
            r#"{"2":4,"10":2,"b":1,"a":3,"01":5}"#
        );
        assert_eq!(js(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        assert_eq!(js(r#"{"k":"é\u0001\n"}"#), "{\"k\":\"é\\u0001\\n\"}");
    }

    #[test]
    fn golden_etags_and_sizes() {
        for (state, size, tag) in [
            (
                r#"{"sources":["arxiv.org/123"],"progress":0.25}"#,
                45,
                "\"99ebf23ad4d5b076\"",
            ),
            ("{}", 2, "\"44136fa355b3678a\""),
            (
                r#"{"x":1.0,"k":"é","big":1e21,"small":1e-7}"#,
                41,
                "\"b777e38b315d09a9\"",
            ),
        ] {
            let text = js(state);
            assert_eq!(
                (size_bytes(&text), etag(&text).as_str()),
                (size, tag),
                "{state}"
            );
        }
    }
}
