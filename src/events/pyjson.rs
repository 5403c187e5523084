//! JSON text as Python's `json.dumps` writes it (default `ensure_ascii`),
//! so that the files this crate writes are the bytes purpose-agent would
//! write: `", "` and `": "` on one line, or `indent=2`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// `json.dumps(value)`: one line, `", "` and `": "`, non-ASCII escaped.
pub(crate) fn to_line<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    to_string(value, None)
}

/// `json.dumps(value, indent=2)`.
pub(crate) fn to_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    to_string(value, Some(2))
}

fn to_string<T: Serialize + ?Sized>(
    value: &T,
    indent: Option<usize>,
) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let formatter = PyFormatter {
        indent,
        level: 0,
        has_value: false,
    };
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out, formatter,
    ))?;
    // Only ASCII was written.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

struct PyFormatter {
    indent: Option<usize>,
    level: usize,
    has_value: bool,
}

impl PyFormatter {
    fn separator<W: ?Sized + Write>(&self, writer: &mut W, first: bool) -> io::Result<()> {
        match self.indent {
            None if first => Ok(()),
            None => writer.write_all(b", "),
            Some(width) => {
                if !first {
                    writer.write_all(b",")?;
                }
                self.newline(writer, width)
            }
        }
    }

    fn newline<W: ?Sized + Write>(&self, writer: &mut W, width: usize) -> io::Result<()> {
        writer.write_all(b"\n")?;
        writer.write_all(" ".repeat(width * self.level).as_bytes())
    }

    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level = self.level.saturating_sub(1);
        if let (true, Some(width)) = (self.has_value, self.indent) {
            self.newline(writer, width)?;
        }
        writer.write_all(bracket)
    }
}

impl Formatter for PyFormatter {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.separator(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn writes_what_python_writes() {
        let value = json!({"a": [1, 2.5, {}], "b": {"c": "中é😀"}, "d": []});
        // json.dumps(value)
        assert_eq!(
            super::to_line(&value).unwrap(),
            r#"{"a": [1, 2.5, {}], "b": {"c": "\u4e2d\u00e9\ud83d\ude00"}, "d": []}"#
        );
        // json.dumps(value, indent=2)
        assert_eq!(
            super::to_pretty(&value).unwrap(),
            "{\n  \"a\": [\n    1,\n    2.5,\n    {}\n  ],\n  \"b\": {\n    \"c\": \"\\u4e2d\\u00e9\\ud83d\\ude00\"\n  },\n  \"d\": []\n}"
        );
    }
}
