//! The size limit of an inline result, measured as mooncat measures it.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{Formatter, Serializer};

/// The largest result `done` stores inline: 64 KiB of JSON (mooncat's
/// `MAX_INLINE_RESULT_BYTES`). Larger results belong in a file or an
/// object store, named by a `result_ref`.
pub const MAX_INLINE_RESULT_BYTES: usize = 64 * 1024;

/// The UTF-8 size of `value` as Python's `json.dumps(value,
/// ensure_ascii=False)` writes it (`", "` and `": "` separators), the
/// measure mooncat's client checks the limit on.
pub fn python_json_len(value: &Value) -> usize {
    let mut counter = Counter(0);
    let mut serializer = Serializer::with_formatter(&mut counter, PythonSeparators);
    // Writing to a counter cannot fail, and a `Value` always serialises.
    let _ = value.serialize(&mut serializer);
    counter.0
}

/// Counts the bytes written.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Compact JSON with Python's default separators.
struct PythonSeparators;

/// `", "` before every item but the first.
fn separator<W: ?Sized + io::Write>(writer: &mut W, first: bool) -> io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl Formatter for PythonSeparators {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_python_separators_and_utf8_bytes() {
        // json.dumps({"a": [1, 2], "b": "中"}, ensure_ascii=False)
        // == '{"a": [1, 2], "b": "中"}': 23 characters, 25 bytes.
        assert_eq!(python_json_len(&json!({"a": [1, 2], "b": "中"})), 25);
        assert_eq!(python_json_len(&Value::Null), 4);
    }
}
