//! Applying a step's writes to a checkpoint (LangGraph's `apply_writes`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::pending::is_control;
use crate::graph::channel::Conflict;
use crate::graph::error::GraphError;
use crate::graph::spec::GraphSpec;
use crate::graph::task::Task;
use crate::saver::{ChannelVersion, ChannelVersions, Checkpoint};

/// Why `apply_writes` refused a step.
#[derive(Debug)]
pub(crate) enum ApplyError {
    Conflict {
        channel: String,
        first: String,
        second: String,
    },
    UnknownChannel {
        channel: String,
        node: String,
    },
    ReducerPanicked {
        channel: String,
        message: String,
    },
}

impl ApplyError {
    pub(crate) fn into_graph_error(self, step: i64, thread_id: &str) -> GraphError {
        let thread_id = thread_id.to_owned();
        match self {
            ApplyError::Conflict {
                channel,
                first,
                second,
            } => GraphError::ConflictingUpdate {
                channel,
                first_node: first,
                second_node: second,
                step,
                thread_id,
            },
            ApplyError::ReducerPanicked { channel, message } => GraphError::ReducerPanicked {
                channel,
                step,
                thread_id,
                message,
            },
            ApplyError::UnknownChannel { channel, node } => GraphError::InvalidUpdate {
                node,
                step,
                thread_id,
                reason: format!("{channel:?} is not a channel of the graph"),
            },
        }
    }
}

/// One task's contribution to `apply_writes`.
pub(crate) struct TaskWrites<'a> {
    pub(crate) name: &'a str,
    pub(crate) triggers: &'a [String],
    pub(crate) writes: Vec<(String, Value)>,
}

/// The writes of a step's finished tasks in task-path order, the order
/// in which the reducers see them.
pub(crate) fn ordered_writes(done: &[(Task, Vec<(String, Value)>)]) -> Vec<TaskWrites<'_>> {
    let mut sorted: Vec<&(Task, Vec<(String, Value)>)> = done.iter().collect();
    sorted.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    sorted
        .into_iter()
        .map(|(t, w)| TaskWrites {
            name: &t.name,
            triggers: &t.triggers,
            writes: w.clone(),
        })
        .collect()
}

/// Applies a step's writes to `checkpoint` (LangGraph's `apply_writes`):
/// records what each task saw, resets consumed barriers, runs every
/// channel's reducer, clears ephemeral channels nobody wrote (when tasks
/// ran), and gives every changed channel one new version above the highest.
/// Returns the changed channels.
pub(crate) fn apply_writes(
    spec: &GraphSpec,
    checkpoint: &mut Checkpoint,
    tasks: Vec<TaskWrites<'_>>,
    next_version: &dyn Fn(Option<&ChannelVersion>) -> ChannelVersion,
) -> Result<BTreeSet<String>, ApplyError> {
    let max = checkpoint.channel_versions.values().max().copied();
    let mut step = StepApply {
        spec,
        checkpoint,
        next: next_version(max.as_ref()),
        updated: BTreeSet::new(),
    };
    let bump_step = tasks.iter().any(|t| !t.triggers.is_empty());
    step.record_seen(&tasks);
    step.consume_triggers(&tasks);
    let by_channel = writes_by_channel(spec, tasks)?;
    let written: BTreeSet<String> = by_channel.keys().cloned().collect();
    for (channel, writes) in by_channel {
        step.update_channel(channel, writes)?;
    }
    if bump_step {
        step.clear_unwritten_ephemerals(&written);
    }
    Ok(step.updated)
}

/// A step's writes grouped by channel, each as `(node, value)` in task
/// order; control writes are left out, a write to an unknown channel is an
/// error.
fn writes_by_channel(
    spec: &GraphSpec,
    tasks: Vec<TaskWrites<'_>>,
) -> Result<BTreeMap<String, Vec<(String, Value)>>, ApplyError> {
    let mut by_channel: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for t in tasks {
        for (ch, value) in t.writes {
            if is_control(&ch) {
                continue;
            }
            if !spec.channels.contains_key(&ch) {
                return Err(ApplyError::UnknownChannel {
                    channel: ch,
                    node: t.name.to_owned(),
                });
            }
            by_channel
                .entry(ch)
                .or_default()
                .push((t.name.to_owned(), value));
        }
    }
    Ok(by_channel)
}

/// The checkpoint being changed by one step, and what changed so far.
struct StepApply<'a> {
    spec: &'a GraphSpec,
    checkpoint: &'a mut Checkpoint,
    /// The one new version every changed channel gets.
    next: ChannelVersion,
    updated: BTreeSet<String>,
}

impl StepApply<'_> {
    fn bump(&mut self, channel: &str) {
        self.checkpoint
            .channel_versions
            .insert(channel.to_owned(), self.next);
        self.updated.insert(channel.to_owned());
    }

    /// Records the trigger versions each task consumed in `versions_seen`.
    fn record_seen(&mut self, tasks: &[TaskWrites<'_>]) {
        for t in tasks {
            let seen_now: ChannelVersions = t
                .triggers
                .iter()
                .filter_map(|ch| Some((ch.clone(), *self.checkpoint.channel_versions.get(ch)?)))
                .collect();
            if !seen_now.is_empty() {
                self.checkpoint
                    .versions_seen
                    .entry(t.name.to_owned())
                    .or_default()
                    .extend(seen_now);
            }
        }
    }

    /// Resets the join barriers the tasks were triggered by.
    fn consume_triggers(&mut self, tasks: &[TaskWrites<'_>]) {
        for t in tasks {
            for ch in t.triggers {
                let Some(kind) = self.spec.channels.get(ch) else {
                    continue;
                };
                let mut value = self.checkpoint.channel_values.remove(ch);
                let changed = kind.consume(&mut value);
                if let Some(v) = value {
                    self.checkpoint.channel_values.insert(ch.clone(), v);
                }
                if changed {
                    self.bump(ch);
                }
            }
        }
    }

    /// Runs `channel`'s reducer over the step's writes to it.
    fn update_channel(
        &mut self,
        channel: String,
        writes: Vec<(String, Value)>,
    ) -> Result<(), ApplyError> {
        let Some(kind) = self.spec.channels.get(&channel) else {
            return Ok(());
        };
        let mut value = self.checkpoint.channel_values.remove(&channel);
        let result = kind.update(&mut value, writes);
        if let Some(v) = value {
            self.checkpoint.channel_values.insert(channel.clone(), v);
        }
        match result {
            Ok(true) => self.bump(&channel),
            Ok(false) => {}
            Err(Conflict::TwoWrites { first, second }) => {
                return Err(ApplyError::Conflict {
                    channel,
                    first,
                    second,
                });
            }
            Err(Conflict::ReducerPanicked(message)) => {
                return Err(ApplyError::ReducerPanicked { channel, message });
            }
        }
        Ok(())
    }

    /// Clears the ephemeral channels (triggers, Send packets) that the step
    /// did not write: they triggered this step, not the next one.
    fn clear_unwritten_ephemerals(&mut self, written: &BTreeSet<String>) {
        let spec = self.spec;
        for (ch, kind) in &spec.channels {
            if kind.is_ephemeral()
                && !written.contains(ch)
                && self.checkpoint.channel_values.remove(ch).is_some()
            {
                self.bump(ch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::graph::algo::fixture;

    fn next(v: Option<&ChannelVersion>) -> ChannelVersion {
        ChannelVersion::from(v.map_or(0, ChannelVersion::counter) + 1)
    }

    fn task<'a>(name: &'a str, triggers: &'a [String], writes: Value) -> TaskWrites<'a> {
        let writes = match writes {
            Value::Object(map) => map.into_iter().collect(),
            _ => Vec::new(),
        };
        TaskWrites {
            name,
            triggers,
            writes,
        }
    }

    #[test]
    fn writes_go_through_reducers_and_changed_channels_get_one_new_version() {
        let spec = fixture::spec();
        let triggers = vec!["branch:to:a".to_owned()];
        let mut cp = Checkpoint::new(0)
            .with_value("branch:to:a", json!("__start__"), 3u64)
            .with_value("log", json!(["old"]), 1u64);
        let updated = apply_writes(
            &spec,
            &mut cp,
            vec![task("a", &triggers, json!({"x": 1, "log": "new"}))],
            &next,
        )
        .expect("applies");
        assert_eq!(cp.channel_values["x"], json!(1));
        assert_eq!(cp.channel_values["log"], json!(["old", "new"]));
        // The trigger nobody wrote again is cleared.
        assert!(!cp.channel_values.contains_key("branch:to:a"));
        let names: Vec<&str> = updated.iter().map(String::as_str).collect();
        assert_eq!(names, ["branch:to:a", "log", "x"]);
        assert!(
            updated
                .iter()
                .all(|ch| cp.channel_versions[ch] == 4u64.into())
        );
        assert_eq!(cp.versions_seen["a"]["branch:to:a"], 3u64.into());
    }

    #[test]
    fn two_writes_to_a_last_value_channel_conflict() {
        let spec = fixture::spec();
        let mut cp = Checkpoint::new(0);
        let err = apply_writes(
            &spec,
            &mut cp,
            vec![
                task("a", &[], json!({"x": 1})),
                task("b", &[], json!({"x": 2})),
            ],
            &next,
        )
        .expect_err("conflict");
        assert!(
            matches!(&err, ApplyError::Conflict { channel, first, second }
                if channel == "x" && first == "a" && second == "b"),
            "{err:?}"
        );
    }

    #[test]
    fn an_unknown_channel_is_refused_and_control_writes_are_ignored() {
        let spec = fixture::spec();
        let mut cp = Checkpoint::new(0);
        let updated = apply_writes(
            &spec,
            &mut cp,
            vec![task("a", &[], json!({"__no_writes__": null}))],
            &next,
        )
        .expect("control writes are not applied");
        assert!(updated.is_empty());
        let err = apply_writes(&spec, &mut cp, vec![task("a", &[], json!({"y": 1}))], &next)
            .expect_err("unknown");
        assert!(matches!(err, ApplyError::UnknownChannel { channel, .. } if channel == "y"));
    }

    #[test]
    fn a_complete_join_resets_when_its_target_runs() {
        let spec = fixture::spec();
        let join = vec![fixture::join()];
        let mut cp = Checkpoint::new(0).with_value(fixture::join(), json!(["a", "b"]), 2u64);
        let updated =
            apply_writes(&spec, &mut cp, vec![task("c", &join, json!({}))], &next).expect("ok");
        assert!(!cp.channel_values.contains_key(&fixture::join()));
        assert!(updated.contains(&fixture::join()));
    }
}
