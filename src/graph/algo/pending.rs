//! What a checkpoint's pending writes say: which tasks finished, what a
//! [`Command`](crate::graph::Command) left for the next step, the answers
//! a task has.

use serde_json::{Value, json};

use crate::graph::interrupt::Interrupt;
use crate::graph::spec::GraphSpec;
use crate::saver::{ERROR, INTERRUPT, NO_WRITES, NULL_TASK_ID, PendingWrite, RESUME, SCHEDULED};

/// The node name of writes that come from the caller, not a task (a
/// [`Command`](crate::graph::Command)'s update and goto, a new input).
pub(crate) const INPUT_NODE: &str = "__input__";

/// Whether `channel` is a control channel (never applied to the state).
pub(crate) fn is_control(channel: &str) -> bool {
    matches!(channel, ERROR | INTERRUPT | RESUME | SCHEDULED | NO_WRITES)
}

/// The value that replaces the NULL task's `__resume__` write once a task
/// has taken it: `null`, which LangGraph's `interrupt()` also reads as no
/// answer ("None cannot be used as a resume value"), so nothing private
/// is stored.
pub(crate) fn taken_resume() -> Value {
    Value::Null
}

/// The answer the NULL task's `__resume__` write still offers (a
/// [`Command::resume`](crate::graph::Command::resume) value no task took
/// yet): `None` when there is none, when it is `null` (taken), or when it
/// is the `{"__resume_consumed__": true}` marker older versions of this
/// crate wrote instead.
pub(crate) fn shared_resume(pending: &[PendingWrite]) -> Option<Value> {
    let legacy_marker = json!({"__resume_consumed__": true});
    pending_value(pending, NULL_TASK_ID, RESUME).filter(|v| !v.is_null() && *v != legacy_marker)
}

/// The saved writes of task `task_id` if it finished, without the control
/// writes; `None` if it did not finish.
///
/// A task finished when it saved anything besides an error, an interrupt
/// or its answers (its writes, or `__no_writes__`): a resumed run does not
/// run it again, `update_state` applies its writes, and a snapshot shows
/// them as its result.
pub(crate) fn finished_writes(
    pending: &[PendingWrite],
    task_id: &str,
) -> Option<Vec<(String, Value)>> {
    let mine = || pending.iter().filter(|w| w.task_id == task_id);
    if !mine().any(|w| !matches!(w.channel.as_str(), ERROR | INTERRUPT | RESUME)) {
        return None;
    }
    Some(
        mine()
            .filter(|w| !is_control(&w.channel))
            .map(|w| (w.channel.clone(), w.value.clone()))
            .collect(),
    )
}

/// The interrupts task `task_id` saved (stopped on), in order.
pub(crate) fn task_interrupts(pending: &[PendingWrite], task_id: &str) -> Vec<Interrupt> {
    pending
        .iter()
        .filter(|w| w.task_id == task_id && w.channel == INTERRUPT)
        .filter_map(|w| serde_json::from_value::<Vec<Interrupt>>(w.value.clone()).ok())
        .flatten()
        .collect()
}

/// The value task `task_id` saved on `channel`, if any.
pub(crate) fn pending_value(
    pending: &[PendingWrite],
    task_id: &str,
    channel: &str,
) -> Option<Value> {
    pending
        .iter()
        .find(|w| w.task_id == task_id && w.channel == channel)
        .map(|w| w.value.clone())
}

/// The NULL-task writes pending at a checkpoint (the update and goto of the
/// [`Command`](crate::graph::Command)s sent there), in order, as one
/// batch. Several commands can land on one checkpoint (the run stopped
/// again before a new checkpoint): for a last-value channel only the last
/// command's value is kept, as if they had been applied one after the
/// other, instead of a conflict that no later run could get past.
pub(crate) fn null_task_writes(spec: &GraphSpec, pending: &[PendingWrite]) -> Vec<(String, Value)> {
    let writes: Vec<(String, Value)> = pending
        .iter()
        .filter(|w| w.task_id == NULL_TASK_ID && !is_control(&w.channel))
        .map(|w| (w.channel.clone(), w.value.clone()))
        .collect();
    let last_value = |ch: &str| matches!(spec.channels.get(ch), Some(k) if k.is_last_value());
    writes
        .iter()
        .enumerate()
        .filter(|(i, (ch, _))| {
            !last_value(ch) || !writes[i + 1..].iter().any(|(later, _)| later == ch)
        })
        .map(|(_, w)| w.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::algo::fixture;

    fn write(task_id: &str, channel: &str, value: Value) -> PendingWrite {
        PendingWrite {
            task_id: task_id.to_owned(),
            channel: channel.to_owned(),
            value,
            task_path: String::new(),
            idx: 0,
        }
    }

    #[test]
    fn a_task_finished_when_it_saved_more_than_errors_interrupts_and_answers() {
        let pending = vec![
            write("failed", ERROR, json!("boom")),
            write("failed", RESUME, json!(["yes"])),
            write("asking", INTERRUPT, json!([])),
            write("quiet", NO_WRITES, Value::Null),
            write("done", "x", json!(1)),
            write("done", RESUME, json!(["yes"])),
        ];
        assert_eq!(finished_writes(&pending, "failed"), None);
        assert_eq!(finished_writes(&pending, "asking"), None);
        assert_eq!(finished_writes(&pending, "unknown"), None);
        assert_eq!(finished_writes(&pending, "quiet"), Some(Vec::new()));
        assert_eq!(
            finished_writes(&pending, "done"),
            Some(vec![("x".to_owned(), json!(1))])
        );
        assert_eq!(
            pending_value(&pending, "done", RESUME),
            Some(json!(["yes"]))
        );
    }

    #[test]
    fn a_taken_or_old_marked_shared_resume_no_longer_answers() {
        let with = |v: Value| vec![write(NULL_TASK_ID, RESUME, v)];
        assert_eq!(shared_resume(&with(json!("yes"))), Some(json!("yes")));
        assert_eq!(shared_resume(&with(taken_resume())), None);
        assert_eq!(
            shared_resume(&with(json!({"__resume_consumed__": true}))),
            None
        );
        assert_eq!(shared_resume(&[]), None);
    }

    #[test]
    fn later_commands_replace_earlier_last_value_writes_and_append_to_lists() {
        let spec = fixture::spec();
        let pending = vec![
            write(NULL_TASK_ID, "x", json!(1)),
            write(NULL_TASK_ID, "log", json!("a")),
            write(NULL_TASK_ID, RESUME, json!("answer")),
            write("task", "x", json!(9)),
            write(NULL_TASK_ID, "x", json!(2)),
            write(NULL_TASK_ID, "log", json!("b")),
        ];
        assert_eq!(
            null_task_writes(&spec, &pending),
            vec![
                ("log".to_owned(), json!("a")),
                ("x".to_owned(), json!(2)),
                ("log".to_owned(), json!("b")),
            ]
        );
    }
}
