//! Short ids: a checkpoint may be named by any unambiguous prefix of its
//! id, and is shown by its shortest unambiguous prefix (at least
//! [`MIN_SHORT`] characters); an unknown thread gets "did you mean".

use std::collections::BTreeSet;
use std::path::Path;

use checkpointer::CheckpointAdmin;
use checkpointer::saver::CheckpointSummary;

use super::error::{CliError, CliResult};

/// The shortest prefix shown.
pub(crate) const MIN_SHORT: usize = 8;

/// At most this many candidates or suggestions in an error.
const MAX_LISTED: usize = 5;

/// One prefix length (at least [`MIN_SHORT`]) that tells every id of a
/// thread apart, as `git log --abbrev` uses one length for a listing.
#[derive(Debug)]
pub(crate) struct Shortener {
    len: usize,
}

impl Shortener {
    /// For the ids of `summaries`.
    pub(crate) fn new(summaries: &[CheckpointSummary]) -> Self {
        let set: BTreeSet<&str> = summaries.iter().map(|s| s.checkpoint.id.as_str()).collect();
        let ids: Vec<&str> = set.into_iter().collect();
        let shared =
            |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
        let len = ids
            .windows(2)
            .map(|w| shared(w[0], w[1]) + 1)
            .max()
            .unwrap_or(0)
            .max(MIN_SHORT);
        Shortener { len }
    }

    /// The short form of `id`.
    pub(crate) fn short<'a>(&self, id: &'a str) -> &'a str {
        id.char_indices()
            .nth(self.len)
            .map_or(id, |(i, _)| &id[..i])
    }
}

/// The full id (and namespace) of the checkpoint of `summaries` that
/// `given` names: the id itself, or the one id it is a prefix of. Only
/// namespace `ns` is searched when given.
pub(crate) fn resolve<'a>(
    summaries: &'a [CheckpointSummary],
    thread: &str,
    given: &str,
    ns: Option<&str>,
) -> CliResult<&'a CheckpointSummary> {
    let in_ns = |s: &&CheckpointSummary| ns.is_none_or(|n| s.checkpoint_ns == n);
    if let Some(exact) = summaries
        .iter()
        .filter(in_ns)
        .find(|s| s.checkpoint.id == given)
    {
        return Ok(exact);
    }
    let matches: Vec<&CheckpointSummary> = summaries
        .iter()
        .filter(in_ns)
        .filter(|s| !given.is_empty() && s.checkpoint.id.starts_with(given))
        .collect();
    let ids: BTreeSet<&str> = matches.iter().map(|s| s.checkpoint.id.as_str()).collect();
    match (matches.first(), ids.len()) {
        (Some(one), 1) => Ok(one),
        (None, _) => Err(CliError::UnknownCheckpoint {
            thread: thread.to_owned(),
            id: given.to_owned(),
        }),
        _ => Err(CliError::AmbiguousCheckpoint {
            thread: thread.to_owned(),
            prefix: given.to_owned(),
            candidates: listed(ids.into_iter(), ids_len(&matches)),
        }),
    }
}

/// How many distinct ids `matches` hold.
fn ids_len(matches: &[&CheckpointSummary]) -> usize {
    matches
        .iter()
        .map(|s| s.checkpoint.id.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

/// Up to [`MAX_LISTED`] items joined by ", ", then "and N more".
fn listed<'a>(items: impl Iterator<Item = &'a str>, total: usize) -> String {
    let shown: Vec<&str> = items.take(MAX_LISTED).collect();
    let mut text = shown.join(", ");
    if total > shown.len() {
        text = format!("{text} and {} more", total - shown.len());
    }
    text
}

/// Fails with [`CliError::UnknownThread`], with the closest existing
/// thread ids as suggestions, unless `thread` has checkpoints.
pub(crate) fn require_thread(
    saver: &dyn CheckpointAdmin,
    path: &Path,
    thread: &str,
) -> CliResult<()> {
    if !thread.is_empty() && saver.has_thread(thread)? {
        return Ok(());
    }
    let names: Vec<String> = saver
        .threads(None)?
        .into_iter()
        .map(|t| t.thread_id)
        .collect();
    Err(CliError::UnknownThread {
        thread: thread.to_owned(),
        path: path.to_path_buf(),
        suggestions: suggestions(thread, &names),
    })
}

/// The names closest to `wanted`: those it is a prefix of or that contain
/// it, and those within a small edit distance, closest first.
pub(crate) fn suggestions(wanted: &str, names: &[String]) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let limit = (wanted.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let distance = edit_distance(&wanted_lower, &lower);
            let contains = !wanted.is_empty() && lower.contains(&wanted_lower);
            (distance <= limit || contains).then_some((distance, name))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(MAX_LISTED)
        .map(|(_, n)| n.clone())
        .collect()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        let names: Vec<String> = ["demo", "customer-42", "customer-43", "other"]
            .map(String::from)
            .into();
        assert_eq!(suggestions("dmeo", &names), vec!["demo"]);
        assert_eq!(
            suggestions("customer-4", &names),
            vec!["customer-42", "customer-43"]
        );
        assert!(suggestions("zzzzzzzz", &names).is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
