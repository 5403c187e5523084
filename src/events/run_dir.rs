//! The directory name of a run in a file backend.

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// The longest run id kept as a file name.
const MAX_SAFE_LEN: usize = 128;

/// The file name a file backend keeps run `run_id` under.
///
/// An id of at most 128 characters from `[A-Za-z0-9_.-]`, other than `.`
/// and `..`, is kept as it is (so purpose-agent, which uses the id as the
/// directory name, finds the same directory). Any other id (a path such
/// as `../x`, a URL, non-ASCII text) becomes `sha256-` and the first 32
/// hex digits of the SHA-256 of its UTF-8 bytes, as mooncat-checkpoint
/// names its keys: it is never used as a path.
///
/// ```
/// use checkpointer::events::run_dir_name;
///
/// assert_eq!(run_dir_name("run-001"), "run-001");
/// assert_eq!(run_dir_name("https://x/y"), "sha256-5b416034726ea113e80d7e32328af6fe");
/// assert!(run_dir_name("../etc").starts_with("sha256-"));
/// ```
pub fn run_dir_name(run_id: &str) -> String {
    if is_safe(run_id) {
        return run_id.to_owned();
    }
    let digest = Sha256::digest(run_id.as_bytes());
    let mut name = String::from("sha256-");
    for byte in &digest[..16] {
        // Writing to a String cannot fail.
        let _ = write!(name, "{byte:02x}");
    }
    name
}

/// Whether `run_id` is kept as its own file name.
pub(crate) fn is_safe(run_id: &str) -> bool {
    !run_id.is_empty()
        && run_id.len() <= MAX_SAFE_LEN
        && run_id != "."
        && run_id != ".."
        && run_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::run_dir_name;

    #[test]
    fn golden_vectors() {
        assert_eq!(
            run_dir_name("https://example.com/x?a=1 中文"),
            "sha256-89816c1a34c4db899f59cd6d223bc843"
        );
        assert_eq!(run_dir_name("img-001"), "img-001");
        for unsafe_id in [".", "..", "a/b", "a\\b", "", &"x".repeat(129)] {
            assert!(
                run_dir_name(unsafe_id).starts_with("sha256-"),
                "{unsafe_id:?}"
            );
        }
        assert_eq!(run_dir_name(&"x".repeat(128)), "x".repeat(128));
    }
}
