//! What the lease test files share: finding forks in a history.

use std::collections::BTreeMap;

use checkpointer::Config;

/// The checkpoint ids that are the parent of two or more checkpoints (a
/// fork), given the parent config of every checkpoint of a thread.
pub fn forked<'a>(parents: impl IntoIterator<Item = Option<&'a Config>>) -> Vec<String> {
    let mut children: BTreeMap<String, usize> = BTreeMap::new();
    for parent in parents.into_iter().flatten() {
        if let Some(id) = &parent.checkpoint_id {
            *children.entry(id.clone()).or_default() += 1;
        }
    }
    children
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id)
        .collect()
}
