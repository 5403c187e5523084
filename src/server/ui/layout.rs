//! The picture of a thread's branches: which lane (column) and row each
//! checkpoint of one namespace takes, from parent ids alone.
//!
//! Rows are newest first (row 0 is the newest checkpoint). A checkpoint's
//! oldest child continues its branch; every later child (a fork: a run
//! resumed from an older checkpoint, an `update_state`) starts a new
//! branch, and that first node of the branch names the checkpoint it
//! branched from in [`HistoryNode::branch_from`]. Each branch gets a lane
//! for the rows from its origin to its newest checkpoint; a lane is reused
//! by a later branch once the earlier one has ended, so a history with many
//! short forks stays narrow. A checkpoint whose parent is not
//! in the list (pruned away, or older than the page shown) starts a lane
//! of its own with `parent_missing` set.

use std::collections::HashMap;

use serde::Serialize;

use crate::saver::CheckpointSummary;

/// One checkpoint of the history picture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryNode {
    /// The checkpoint.
    pub checkpoint_id: String,
    /// Its namespace.
    pub checkpoint_ns: String,
    /// The checkpoint it was made from, if any.
    pub parent_checkpoint_id: Option<String>,
    /// Its metadata `step`.
    pub step: i64,
    /// Its metadata `source` (`input`, `loop`, `update`, `fork`).
    pub source: &'static str,
    /// Its `ts` as stored (RFC 3339).
    pub ts: String,
    /// Its column, from 0.
    pub lane: usize,
    /// Its row, from 0 (the newest).
    pub row: usize,
    /// On the first node of a branch: the checkpoint the branch started
    /// from (in another lane).
    pub branch_from: Option<String>,
    /// Whether it names a parent that is not in the picture.
    pub parent_missing: bool,
    /// How many checkpoints were made from it.
    pub children: usize,
}

/// Lays out `summaries` (one namespace, any order): the nodes newest
/// first, and the number of lanes used.
pub(crate) fn layout(summaries: &[CheckpointSummary]) -> (Vec<HistoryNode>, usize) {
    // Oldest first: checkpoint ids sort by time.
    let mut order: Vec<&CheckpointSummary> = summaries.iter().collect();
    order.sort_by(|a, b| a.checkpoint.id.cmp(&b.checkpoint.id));
    let index: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, s)| (s.checkpoint.id.as_str(), i))
        .collect();
    let parent_of = |s: &CheckpointSummary| {
        s.parent_checkpoint_id
            .as_deref()
            .and_then(|p| index.get(p).copied())
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    let mut roots = Vec::new();
    for (i, s) in order.iter().enumerate() {
        match parent_of(s) {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let branches = assign_branches(&roots, &children);
    let lanes = pack_lanes(&branches, &children, order.len());
    let newest = order.len().saturating_sub(1);
    let mut nodes: Vec<HistoryNode> = order
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let parent = parent_of(s);
            let branch_from = parent
                .filter(|&p| branches[p] != branches[i])
                .map(|p| order[p].checkpoint.id.clone());
            HistoryNode {
                checkpoint_id: s.checkpoint.id.clone(),
                checkpoint_ns: s.checkpoint_ns.clone(),
                parent_checkpoint_id: s.parent_checkpoint_id.clone(),
                step: s.metadata.step,
                source: s.metadata.source.as_str(),
                ts: s.checkpoint.ts.clone(),
                lane: lanes[i],
                row: newest - i,
                branch_from,
                parent_missing: s.parent_checkpoint_id.is_some() && parent.is_none(),
                children: children[i].len(),
            }
        })
        .collect();
    nodes.reverse();
    let lane_count = lanes.iter().max().map_or(0, |m| m + 1);
    (nodes, lane_count)
}

/// Depth first from each root (without recursion: a chain may be long):
/// the oldest child stays on its parent's branch, every other child
/// starts the next new branch. Branch numbers, per node.
fn assign_branches(roots: &[usize], children: &[Vec<usize>]) -> Vec<usize> {
    let mut branch = vec![0; children.len()];
    let mut next = 0;
    let mut stack: Vec<(usize, Option<usize>)> = roots.iter().rev().map(|&r| (r, None)).collect();
    while let Some((node, inherited)) = stack.pop() {
        branch[node] = inherited.unwrap_or_else(|| {
            next += 1;
            next - 1
        });
        // Pushed newest first, so the oldest child is laid out first and
        // its branch gets the lower number.
        for (k, &child) in children[node].iter().enumerate().rev() {
            stack.push((child, (k == 0).then_some(branch[node])));
        }
    }
    branch
}

/// The lane of each node: each branch occupies its lane from the row of
/// the checkpoint it started from (or its first) to its newest; branches
/// are placed oldest first in the lowest lane free for all those rows.
fn pack_lanes(branches: &[usize], children: &[Vec<usize>], nodes: usize) -> Vec<usize> {
    let count = branches.iter().max().map_or(0, |m| m + 1);
    // Node indices are oldest first: (start, end) of each branch.
    let mut spans: Vec<(usize, usize)> = vec![(usize::MAX, 0); count];
    for node in 0..nodes {
        let span = &mut spans[branches[node]];
        span.0 = span.0.min(node);
        span.1 = span.1.max(node);
        for &child in &children[node] {
            if branches[child] != branches[node] {
                let fork = &mut spans[branches[child]];
                fork.0 = fork.0.min(node);
            }
        }
    }
    let mut by_start: Vec<usize> = (0..count).collect();
    by_start.sort_by_key(|&b| (spans[b].0, b));
    let mut lane_of = vec![0; count];
    // The last row (node index) taken in each lane so far.
    let mut lane_ends: Vec<usize> = Vec::new();
    for branch in by_start {
        let (start, end) = spans[branch];
        let lane = if let Some(free) = lane_ends.iter().position(|&taken| taken < start) {
            free
        } else {
            lane_ends.push(0);
            lane_ends.len() - 1
        };
        lane_ends[lane] = end;
        lane_of[branch] = lane;
    }
    branches.iter().map(|&b| lane_of[b]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saver::{Checkpoint, CheckpointMetadata, CheckpointSource};

    fn summary(id: &str, parent: Option<&str>, step: i64) -> CheckpointSummary {
        let mut checkpoint = Checkpoint::new(0);
        checkpoint.id = id.to_owned();
        CheckpointSummary {
            checkpoint_ns: String::new(),
            checkpoint,
            metadata: CheckpointMetadata::new(CheckpointSource::Loop, step),
            parent_checkpoint_id: parent.map(str::to_owned),
        }
    }

    #[test]
    fn a_fork_starts_a_lane_that_names_its_origin() {
        // a <- b <- c, and d forked from b (made after c); e continues d.
        let history = [
            summary("e", Some("d"), 3),
            summary("d", Some("b"), 2),
            summary("c", Some("b"), 2),
            summary("b", Some("a"), 1),
            summary("a", None, 0),
        ];
        let (nodes, lanes) = layout(&history);
        assert_eq!(lanes, 2);
        let by_id = |id: &str| nodes.iter().find(|n| n.checkpoint_id == id).unwrap();
        assert_eq!(
            nodes
                .iter()
                .map(|n| n.checkpoint_id.as_str())
                .collect::<Vec<_>>(),
            ["e", "d", "c", "b", "a"]
        );
        assert_eq!(
            nodes.iter().map(|n| n.row).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        for id in ["a", "b", "c"] {
            assert_eq!(by_id(id).lane, 0, "{id} is on the first branch");
        }
        assert_eq!((by_id("d").lane, by_id("e").lane), (1, 1));
        assert_eq!(by_id("d").branch_from.as_deref(), Some("b"));
        assert_eq!(by_id("e").branch_from, None);
        assert_eq!(by_id("b").children, 2);
    }

    #[test]
    fn forks_that_ended_give_their_lane_to_later_ones() {
        // Trunk a <- b <- c <- e <- f; d forked from b, g from e; each fork
        // ends before the next begins.
        let history = [
            summary("a", None, 0),
            summary("b", Some("a"), 1),
            summary("c", Some("b"), 2),
            summary("d", Some("b"), 2),
            summary("e", Some("c"), 3),
            summary("f", Some("e"), 4),
            summary("g", Some("e"), 4),
        ];
        let (nodes, lanes) = layout(&history);
        assert_eq!(lanes, 2);
        let lane = |id: &str| nodes.iter().find(|n| n.checkpoint_id == id).unwrap().lane;
        assert_eq!([lane("a"), lane("c"), lane("e"), lane("f")], [0; 4]);
        assert_eq!((lane("d"), lane("g")), (1, 1));
    }

    #[test]
    fn a_missing_parent_starts_a_branch_of_its_own() {
        let history = [summary("c", Some("b"), 2), summary("x", Some("gone"), 5)];
        let (nodes, lanes) = layout(&history);
        // Two branches, one after the other: they share a lane, unlinked.
        assert_eq!(lanes, 1);
        assert!(nodes.iter().all(|n| n.parent_missing));
        assert!(nodes.iter().all(|n| n.branch_from.is_none()));
    }

    #[test]
    fn a_long_chain_is_one_lane() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("{i:08}")).collect();
        let history: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| summary(id, i.checked_sub(1).map(|p| ids[p].as_str()), 0))
            .collect();
        let (nodes, lanes) = layout(&history);
        assert_eq!((nodes.len(), lanes), (20_000, 1));
    }

    #[test]
    fn an_empty_history_has_no_lanes() {
        assert_eq!(layout(&[]), (Vec::new(), 0));
    }
}
