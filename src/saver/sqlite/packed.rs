//! Compressed channel values (migration 5). A value's JSON longer than
//! [`MIN_LEN`] bytes is stored DEFLATE-compressed when that saves at least
//! an eighth of it: the state of an agent (message texts, tool output,
//! identifiers) is text that compresses 2-4x, and every byte saved is a
//! byte less in the WAL, the fsync and the page cache.
//!
//! A packed value is a BLOB: [`MAGIC`] (0xF5, a byte that never starts
//! UTF-8 text, so a packed value cannot be taken for JSON text stored as a
//! BLOB), a codec byte ([`DEFLATE`]), the length of the JSON as a
//! little-endian `u32`, then the raw DEFLATE stream. Files written before
//! migration 5 hold JSON text only and read as before; a file with packed
//! values is at schema 5, which an older version of this crate refuses to
//! open rather than misread.
//!
//! Since schema 6 values are written with [`ZSTD`] (a zstd frame after the
//! same header): each DEFLATE stream of `miniz_oxide` cleared about 300 KB
//! of compressor state, two thirds of a put's instructions for a 1 KiB
//! value, where a zstd context is kept per thread and sized to the value.
//! DEFLATE values of older files read as before.

use std::cell::RefCell;

use miniz_oxide::inflate::decompress_to_vec_with_limit;

/// The first byte of a packed value.
pub(crate) const MAGIC: u8 = 0xF5;

/// The codec byte of raw DEFLATE (RFC 1951): read, no longer written.
pub(crate) const DEFLATE: u8 = 1;

/// The codec byte of a zstd frame (RFC 8878), written since schema 6.
pub(crate) const ZSTD: u8 = 2;

/// Values shorter than this are stored as text: the short values of a
/// typical history (deltas of an appended list, ~200 bytes of new
/// messages) did not pack by an eighth.
pub(crate) const MIN_LEN: usize = 512;

/// The zstd level: 1 keeps the put's CPU low; on text of this kind higher
/// levels save a few percent more for several times the time.
const LEVEL: i32 = 1;

thread_local! {
    /// zstd contexts of this thread, made on first use and kept: making one
    /// per value would allocate and clear its tables every time.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Bytes before the DEFLATE stream: magic, codec and the length.
const HEADER: usize = 6;

/// `json` packed, or `None` if it is short or does not compress by an
/// eighth (it is then stored as text).
pub(crate) fn pack(json: &str) -> Option<Vec<u8>> {
    if json.len() < MIN_LEN {
        return None;
    }
    let len = u32::try_from(json.len()).ok()?;
    // A context that cannot be made (out of memory) stores the text as is.
    let frame = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        slot.as_mut()?.compress(json.as_bytes()).ok()
    })?;
    if HEADER + frame.len() > json.len() - json.len() / 8 {
        return None;
    }
    let mut out = Vec::with_capacity(HEADER + frame.len());
    out.push(MAGIC);
    out.push(ZSTD);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame);
    Some(out)
}

/// The `len` bytes of a zstd frame.
fn unzstd(frame: &[u8], len: usize) -> Result<Vec<u8>, String> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| format!("no zstd context for a packed value: {e}"))?,
            );
        }
        let Some(decompressor) = slot.as_mut() else {
            return Err("no zstd context for a packed value".to_owned());
        };
        decompressor
            .decompress(frame, len)
            .map_err(|e| format!("packed value does not decompress: {e}"))
    })
}

/// Whether a stored BLOB is a packed value (else it is JSON text).
pub(crate) fn is_packed(blob: &[u8]) -> bool {
    blob.first() == Some(&MAGIC)
}

/// The JSON text of a packed value; the error says what is wrong with it.
pub(crate) fn unpack(blob: &[u8]) -> Result<String, String> {
    let Some((header, stream)) = blob.split_at_checked(HEADER) else {
        return Err(format!(
            "packed value of {} bytes has no header",
            blob.len()
        ));
    };
    let mut len = [0; 4];
    len.copy_from_slice(&header[2..]);
    let len = usize::try_from(u32::from_le_bytes(len)).map_err(|e| e.to_string())?;
    let bytes = match header[1] {
        ZSTD => unzstd(stream, len)?,
        DEFLATE => decompress_to_vec_with_limit(stream, len)
            .map_err(|e| format!("packed value does not inflate: {:?}", e.status))?,
        codec => {
            return Err(format!(
                "packed value has unknown codec {codec} (written by a newer version?)"
            ));
        }
    };
    if bytes.len() != len {
        return Err(format!(
            "packed value inflates to {} bytes, not {len}",
            bytes.len()
        ));
    }
    String::from_utf8(bytes).map_err(|e| format!("packed value is not UTF-8: {}", e.utf8_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hexish(n: usize) -> String {
        // Text like the benchmark's: random hex, about 4 bits per byte.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b"0123456789abcdef"[(x % 16) as usize])
            })
            .collect()
    }

    #[test]
    fn text_that_compresses_round_trips() {
        let json = format!("[\"{}\",\"{}\"]", hexish(400), hexish(2000));
        let packed = pack(&json).expect("hex text compresses by more than an eighth");
        assert!(is_packed(&packed));
        assert!(
            packed.len() < json.len() * 3 / 4,
            "{} of {}",
            packed.len(),
            json.len()
        );
        assert_eq!(unpack(&packed).unwrap(), json);
    }

    #[test]
    fn values_are_written_with_zstd() {
        let json = format!("\"{}\"", hexish(1000));
        let packed = pack(&json).unwrap();
        assert_eq!(packed[1], ZSTD);
        // Random hex holds 4 bits per byte; zstd's entropy coder gets near.
        assert!(packed.len() < json.len() * 6 / 10, "{}", packed.len());
    }

    #[test]
    fn deflate_values_of_older_files_still_read() {
        // The form schema 5 wrote: magic, DEFLATE, length, raw DEFLATE.
        let json = format!("[\"{}\",\"{}\"]", hexish(700), hexish(300));
        let deflated = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 1);
        let mut old = vec![MAGIC, DEFLATE];
        old.extend_from_slice(&u32::try_from(json.len()).unwrap().to_le_bytes());
        old.extend_from_slice(&deflated);
        assert!(is_packed(&old));
        assert_eq!(unpack(&old).unwrap(), json);
        let mut short = old.clone();
        short.truncate(old.len() / 2);
        assert!(unpack(&short).is_err());
    }

    #[test]
    fn short_values_stay_text() {
        assert_eq!(pack("[1,2,3]"), None);
        assert_eq!(pack(&format!("\"{}\"", "a".repeat(MIN_LEN - 3))), None);
        assert!(pack(&format!("\"{}\"", "a".repeat(MIN_LEN))).is_some());
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let json = format!("\"{}\"", hexish(1000));
        let packed = pack(&json).unwrap();
        assert!(unpack(&packed[..3]).unwrap_err().contains("no header"));
        let mut codec = packed.clone();
        codec[1] = 9;
        assert!(unpack(&codec).unwrap_err().contains("unknown codec 9"));
        let mut short = packed.clone();
        short.truncate(packed.len() / 2);
        assert!(unpack(&short).is_err());
        let mut long = packed;
        long[2] = long[2].wrapping_add(1);
        assert!(unpack(&long).is_err());
    }
}
