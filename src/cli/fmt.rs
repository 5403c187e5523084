//! Words and numbers for people: plurals, byte units, escaped control
//! characters, colours (on a terminal only) and folding to the width of
//! the terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// `"1 thread"`, `"2 threads"`, `"0 threads"`.
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A byte count in binary units: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Tenths of the unit, computed in integers: exact for every u64.
    let mut unit = 0;
    let mut scale: u128 = 1024;
    while unit + 1 < UNITS.len() && u128::from(n) >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    let tenths = (u128::from(n) * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// `text` with control characters (and so every terminal escape
/// sequence) written as Rust escapes (`\u{1b}`, `\n`, `\t`), so that a
/// thread id or a value cannot move the cursor or recolour the terminal.
/// Other text is unchanged.
pub(crate) fn escape(text: &str) -> String {
    if !text.chars().any(needs_escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` escaped as [`escape`] does, in double quotes (a thread id in a
/// sentence).
pub(crate) fn quoted(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

/// Control characters (C0, DEL, C1) and the bidirectional overrides.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether standard output gets colours: it is a terminal and `NO_COLOR`
/// is unset or empty (<https://no-color.org>).
pub(crate) fn colours() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    })
}

/// The colours the tool uses.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Colour {
    /// Ids.
    Yellow,
    /// Good news: finished.
    Green,
    /// Waiting for someone.
    Magenta,
    /// Failures.
    Red,
    /// Headings and marks.
    Bold,
    /// Less important: times.
    Dim,
}

/// `text` in `colour` when [`colours`] are on, else as is.
pub(crate) fn paint(text: &str, colour: Colour) -> String {
    if !colours() || text.is_empty() {
        return text.to_owned();
    }
    let code = match colour {
        Colour::Yellow => "33",
        Colour::Green => "32",
        Colour::Magenta => "35",
        Colour::Red => "31",
        Colour::Bold => "1",
        Colour::Dim => "2",
    };
    format!("\u{1b}[{code}m{text}\u{1b}[0m")
}

/// The width to fold to: `COLUMNS` if set (shells export it, tests set
/// it), else the terminal's, else 100.
pub(crate) fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= 20)
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
        .unwrap_or(100)
}

/// `text` cut to at most `max` characters, the last one `…` if cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` cut into lines of at most `width` characters (at spaces when
/// there are some), the lines after the first indented by `indent`
/// spaces; `width` counts the indent.
pub(crate) fn fold(text: &str, indent: usize, first: usize, width: usize) -> Vec<String> {
    let room = |i: usize| {
        if i == 0 {
            width.saturating_sub(first).max(10)
        } else {
            width.saturating_sub(indent).max(10)
        }
    };
    let mut lines: Vec<String> = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while !rest.is_empty() {
        let max = room(lines.len());
        if rest.len() <= max {
            lines.push(rest.iter().collect());
            break;
        }
        let cut = rest[..max]
            .iter()
            .rposition(|c| *c == ' ')
            .filter(|p| *p > max / 2)
            .map_or(max, |p| p + 1);
        let line: String = rest[..cut].iter().collect();
        lines.push(line.trim_end().to_owned());
        rest.drain(..cut);
    }
    for line in lines.iter_mut().skip(1) {
        line.insert_str(0, &" ".repeat(indent));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_bytes() {
        assert_eq!(count(1, "thread", "threads"), "1 thread");
        assert_eq!(count(0, "thread", "threads"), "0 threads");
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain ü"), "plain ü");
        assert_eq!(escape("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(escape("x\ny\r"), "x\\ny\\r");
        assert_eq!(escape("\u{9b}2J\u{202e}"), "\\u{9b}2J\\u{202e}");
    }

    #[test]
    fn folding_keeps_every_character() {
        let text = "one two three four five six seven eight nine ten";
        let lines = fold(text, 4, 0, 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(lines[0], "one two three four");
        assert!(lines[1].starts_with("    "));
        let joined: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(joined.join(" "), text);
        let long = "x".repeat(45);
        let lines = fold(&long, 2, 0, 20);
        assert_eq!(lines.concat().replace(' ', ""), long);
    }
}
