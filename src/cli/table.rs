//! Aligned text tables, local times and short JSON for people.

use chrono::{DateTime, Local};
use serde_json::Value;

/// A table: a header row and rows of cells, printed with each column as
/// wide as its widest cell.
#[derive(Debug, Default)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub(crate) fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, columns separated by two
    /// spaces, no trailing spaces.
    pub(crate) fn render(&self) -> String {
        self.render_from(true)
    }

    /// The rows alone, without the header line.
    pub(crate) fn render_rows(&self) -> String {
        self.render_from(false)
    }

    /// The table, with or without its header line. Colour escapes take no
    /// room: widths count what is seen.
    fn render_from(&self, header: bool) -> String {
        let width = |s: &str| visible_width(s);
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths: Vec<usize> = vec![0; columns];
        for (i, h) in self.header.iter().enumerate() {
            widths[i] = width(h);
        }
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let mut out = String::new();
        let head = header.then_some(&self.header);
        for row in head.into_iter().chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w.saturating_sub(width(cell))));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The characters of `s` a terminal shows: SGR colour sequences
/// (`ESC [ ... m`, which the tool itself writes) take no room.
fn visible_width(s: &str) -> usize {
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            n += 1;
        }
    }
    n
}

/// A stored ISO 8601 time in local time, `%Y-%m-%d %H:%M:%S`; the text as
/// is if it does not parse.
pub(crate) fn local_time(ts: &str) -> String {
    DateTime::parse_from_rfc3339(ts).map_or_else(
        |_| ts.to_owned(),
        |t| {
            t.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        },
    )
}

/// A value as compact JSON.
pub(crate) fn compact(value: &Value) -> String {
    value.to_string()
}

/// `"(root)"` for the root namespace, else the namespace.
pub(crate) fn ns_label(ns: &str) -> &str {
    if ns.is_empty() { "(root)" } else { ns }
}

/// Prints `value` as pretty JSON on standard output.
pub(crate) fn print_json(value: &impl serde::Serialize) -> super::error::CliResult<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| super::error::CliError::Io {
        what: "write JSON".into(),
        source: e.into(),
    })?;
    outln!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_widest_cell() {
        let mut t = Table::new(["A", "LONG HEADER", "C"]);
        t.row(vec!["wide cell".into(), "x".into(), "end".into()]);
        t.row(vec!["y".into(), "z".into(), String::new()]);
        assert_eq!(
            t.render(),
            "A          LONG HEADER  C\nwide cell  x            end\ny          z\n"
        );
    }
}
