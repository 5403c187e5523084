//! Channels: where the state lives, and how a step's writes combine.
//!
//! A graph has the state channels the user declares, each with a
//! [`Reducer`], and internal channels that carry control flow. Internal
//! channels are stored in checkpoints like any other, under these names
//! (LangGraph's):
//!
//! - `__start__`: the input of a run; triggers the built-in `__start__` task.
//! - `branch:to:<node>`: written by a node (or a router) whose successor is
//!   `<node>`; triggers `<node>` in the next step. Ephemeral: cleared at the
//!   end of the next step that does not write it.
//! - `join:<a>+<b>:<node>`: the barrier of `add_edge([a, b], node)`; holds the
//!   sorted names of the sources seen so far and triggers `<node>` once all
//!   have written. Reset when `<node>` runs.
//! - `__pregel_tasks`: the [`SendTo`](crate::graph::SendTo) packets of the
//!   next step, as `{"node", "arg"}` objects. Ephemeral.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// The channel that carries a run's input.
pub(crate) const START_CHANNEL: &str = "__start__";

/// The trigger channel of `node`.
pub(crate) fn branch_channel(node: &str) -> String {
    format!("branch:to:{node}")
}

/// The barrier channel of a join edge.
pub(crate) fn join_channel(sources: &[String], target: &str) -> String {
    format!("join:{}:{target}", sources.join("+"))
}

type ReduceFn = dyn Fn(&Value, Value) -> Value + Send + Sync;

/// How the writes to a state channel combine with its value.
///
/// ```
/// use checkpointer::graph::Reducer;
/// use serde_json::{json, Value};
///
/// let _last = Reducer::last_value();   // one write per step; the new value replaces the old
/// let _list = Reducer::append();       // lists concatenate (chat messages)
/// // A running sum: the current value (null when unset) and the update.
/// let _sum = Reducer::custom(|cur: &Value, upd: Value| {
///     json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0))
/// })
/// .with_default(json!(0));
/// ```
///
/// # Defaults
///
/// As in LangGraph (where `Annotated[list, operator.add]` starts at `[]`),
/// a reducer channel that was never written reads as its reducer's default:
/// [`append`](Reducer::append) as `[]`, a [`custom`](Reducer::custom) one
/// as the value given to [`with_default`](Reducer::with_default) (none
/// unless given). Nodes, routers, run outcomes and state snapshots see the
/// default; stored `channel_values` do not hold it (LangGraph does not
/// store it either). A [`last_value`](Reducer::last_value) channel has no
/// default: unset, it is absent.
#[derive(Clone)]
pub struct Reducer(ReducerKind, Option<Value>);

#[derive(Clone)]
enum ReducerKind {
    LastValue,
    Append,
    Custom(Arc<ReduceFn>),
}

impl Reducer {
    /// The channel keeps the last value written. Two writes in one step are
    /// an error naming both nodes.
    pub fn last_value() -> Self {
        Reducer(ReducerKind::LastValue, None)
    }

    /// The channel is a list: a list update is concatenated to it, any other
    /// value is appended as one element. Its default is `[]`.
    pub fn append() -> Self {
        Reducer(ReducerKind::Append, Some(Value::Array(Vec::new())))
    }

    /// The channel's new value is `f(current, update)`, applied once per
    /// write in task order; `current` is the default (see
    /// [`with_default`](Reducer::with_default)) while the channel is unset,
    /// `null` without one.
    pub fn custom<F>(f: F) -> Self
    where
        F: Fn(&Value, Value) -> Value + Send + Sync + 'static,
    {
        Reducer(ReducerKind::Custom(Arc::new(f)), None)
    }

    /// The same reducer, with `default` as the value of the channel before
    /// its first write (what nodes and snapshots read, and what a custom
    /// reducer's first write folds into). Ignored by
    /// [`last_value`](Reducer::last_value), which has no default.
    ///
    /// ```
    /// use checkpointer::graph::Reducer;
    /// use serde_json::{json, Value};
    ///
    /// let counts = Reducer::custom(|cur: &Value, upd: Value| {
    ///     json!(cur.as_i64().unwrap_or(0) + upd.as_i64().unwrap_or(0))
    /// })
    /// .with_default(json!(0));
    /// assert_eq!(counts.default_value(), Some(&json!(0)));
    /// assert_eq!(Reducer::append().default_value(), Some(&json!([])));
    /// assert_eq!(Reducer::last_value().with_default(json!(1)).default_value(), None);
    /// ```
    #[must_use]
    pub fn with_default(mut self, default: Value) -> Self {
        if !matches!(self.0, ReducerKind::LastValue) {
            self.1 = Some(default);
        }
        self
    }

    /// The value the channel reads as before its first write, if any.
    pub fn default_value(&self) -> Option<&Value> {
        self.1.as_ref()
    }
}

impl Default for Reducer {
    fn default() -> Self {
        Reducer::last_value()
    }
}

impl fmt::Debug for Reducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ReducerKind::LastValue => f.write_str("Reducer::LastValue"),
            ReducerKind::Append => f.write_str("Reducer::Append"),
            ReducerKind::Custom(_) => match &self.1 {
                Some(d) => write!(f, "Reducer::Custom(.., default: {d})"),
                None => f.write_str("Reducer::Custom(..)"),
            },
        }
    }
}

/// Why a channel refused a step's writes.
#[derive(Debug)]
pub(crate) enum Conflict {
    /// Two writes to a last-value channel in one step, by these nodes.
    TwoWrites { first: String, second: String },
    /// A custom reducer panicked, with this message.
    ReducerPanicked(String),
}

/// The behaviour of one channel.
#[derive(Clone, Debug)]
pub(crate) enum ChannelKind {
    /// A user state channel.
    State(Reducer),
    /// A trigger (`__start__`, `branch:to:*`): holds the last write, cleared
    /// at the end of a step that does not write it.
    Ephemeral,
    /// A join barrier waiting for these (sorted) source names.
    Barrier(Vec<String>),
    /// `__pregel_tasks`: the step's Send packets, cleared like `Ephemeral`.
    Tasks,
}

impl ChannelKind {
    /// Whether a channel holding `value` can trigger a node.
    pub(crate) fn is_available(&self, value: Option<&Value>) -> bool {
        match self {
            ChannelKind::Barrier(names) => match value {
                Some(Value::Array(seen)) => names
                    .iter()
                    .all(|n| seen.iter().any(|s| s.as_str() == Some(n))),
                _ => false,
            },
            _ => value.is_some(),
        }
    }

    /// Whether this is a user channel with [`Reducer::last_value`].
    pub(crate) fn is_last_value(&self) -> bool {
        matches!(self, ChannelKind::State(Reducer(ReducerKind::LastValue, _)))
    }

    /// The value a never-written channel reads as: its reducer's default.
    pub(crate) fn default_value(&self) -> Option<&Value> {
        match self {
            ChannelKind::State(r) => r.default_value(),
            _ => None,
        }
    }

    /// Whether the channel is cleared at the end of a step that did not
    /// write it.
    pub(crate) fn is_ephemeral(&self) -> bool {
        matches!(self, ChannelKind::Ephemeral | ChannelKind::Tasks)
    }

    /// Applies one step's writes `(node, value)` in order. Returns whether
    /// the value changed (and the version must grow).
    pub(crate) fn update(
        &self,
        current: &mut Option<Value>,
        writes: Vec<(String, Value)>,
    ) -> Result<bool, Conflict> {
        if writes.is_empty() {
            return Ok(false);
        }
        match self {
            ChannelKind::State(Reducer(ReducerKind::LastValue, _)) => {
                if writes.len() > 1 {
                    return Err(Conflict::TwoWrites {
                        first: writes[0].0.clone(),
                        second: writes[1].0.clone(),
                    });
                }
                *current = writes.into_iter().next().map(|(_, v)| v);
            }
            ChannelKind::State(Reducer(ReducerKind::Append, _)) => {
                let mut list = match current.take() {
                    Some(Value::Array(list)) => list,
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => vec![other],
                };
                for (_, value) in writes {
                    append(&mut list, value);
                }
                *current = Some(Value::Array(list));
            }
            ChannelKind::State(Reducer(ReducerKind::Custom(f), default)) => {
                if current.is_none() {
                    current.clone_from(default);
                }
                fold_custom(f.as_ref(), current, writes)?;
            }
            ChannelKind::Ephemeral => {
                *current = writes.into_iter().last().map(|(_, v)| v);
            }
            ChannelKind::Tasks => {
                let mut list = Vec::new();
                for (_, value) in writes {
                    append(&mut list, value);
                }
                *current = Some(Value::Array(list));
            }
            ChannelKind::Barrier(names) => return Ok(mark_barrier(names, current, writes)),
        }
        Ok(true)
    }

    /// Called when a node triggered by this channel ran: a complete barrier
    /// resets. Returns whether the value changed.
    pub(crate) fn consume(&self, current: &mut Option<Value>) -> bool {
        match self {
            ChannelKind::Barrier(_) if self.is_available(current.as_ref()) => {
                *current = None;
                true
            }
            _ => false,
        }
    }
}

/// Folds the writes through a custom reducer; a reducer that panics fails
/// the step, not the process, and leaves the value as it was.
fn fold_custom(
    f: &ReduceFn,
    current: &mut Option<Value>,
    writes: Vec<(String, Value)>,
) -> Result<(), Conflict> {
    let start = current.clone().unwrap_or(Value::Null);
    let folded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        writes
            .into_iter()
            .fold(start, |value, (_, update)| f(&value, update))
    }));
    match folded {
        Ok(value) => {
            *current = Some(value);
            Ok(())
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".to_owned());
            Err(Conflict::ReducerPanicked(message))
        }
    }
}

/// Adds the writers among a barrier's `names` to the sorted names seen;
/// returns whether one was new.
fn mark_barrier(
    names: &[String],
    current: &mut Option<Value>,
    writes: Vec<(String, Value)>,
) -> bool {
    let mut seen: Vec<String> = match current.take() {
        Some(Value::Array(seen)) => seen
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let before = seen.len();
    for (_, value) in writes {
        if let Some(name) = value.as_str()
            && names.iter().any(|n| n == name)
            && !seen.iter().any(|s| s == name)
        {
            seen.push(name.to_owned());
        }
    }
    seen.sort();
    let changed = seen.len() != before;
    *current = Some(Value::Array(seen.into_iter().map(Value::from).collect()));
    changed
}

fn append(list: &mut Vec<Value>, value: Value) {
    match value {
        Value::Array(items) => list.extend(items),
        other => list.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn w(node: &str, v: Value) -> (String, Value) {
        (node.to_owned(), v)
    }

    #[test]
    fn last_value_rejects_two_writes_naming_both_nodes() {
        let ch = ChannelKind::State(Reducer::last_value());
        let mut cur = None;
        let err = ch
            .update(&mut cur, vec![w("a", json!(1)), w("b", json!(2))])
            .unwrap_err();
        assert!(
            matches!(err, Conflict::TwoWrites { ref first, ref second } if first == "a" && second == "b")
        );
        assert!(ch.update(&mut cur, vec![w("a", json!(1))]).unwrap());
        assert_eq!(cur, Some(json!(1)));
    }

    #[test]
    fn append_concatenates_lists_and_pushes_scalars() {
        let ch = ChannelKind::State(Reducer::append());
        let mut cur = Some(json!(["a"]));
        ch.update(
            &mut cur,
            vec![w("x", json!(["b", "c"])), w("y", json!("d"))],
        )
        .unwrap();
        assert_eq!(cur, Some(json!(["a", "b", "c", "d"])));
    }

    #[test]
    fn custom_reducer_folds_in_order() {
        let ch = ChannelKind::State(Reducer::custom(|c, u| {
            json!(c.as_i64().unwrap_or(0) + u.as_i64().unwrap_or(0))
        }));
        let mut cur = None;
        ch.update(&mut cur, vec![w("x", json!(2)), w("y", json!(3))])
            .unwrap();
        assert_eq!(cur, Some(json!(5)));
    }

    #[test]
    fn a_panicking_reducer_is_an_error_and_keeps_the_value() {
        let ch = ChannelKind::State(Reducer::custom(|_, _| panic!("bad reducer")));
        let mut cur = Some(json!(1));
        let err = ch.update(&mut cur, vec![w("x", json!(2))]).unwrap_err();
        assert!(matches!(err, Conflict::ReducerPanicked(ref m) if m == "bad reducer"));
        assert_eq!(cur, Some(json!(1)));
    }

    #[test]
    fn barrier_is_available_when_all_sources_wrote_and_resets_on_consume() {
        let ch = ChannelKind::Barrier(vec!["a".into(), "b".into()]);
        let mut cur = None;
        ch.update(&mut cur, vec![w("a", json!("a"))]).unwrap();
        assert!(!ch.is_available(cur.as_ref()));
        ch.update(&mut cur, vec![w("b", json!("b"))]).unwrap();
        assert!(ch.is_available(cur.as_ref()));
        assert!(ch.consume(&mut cur));
        assert!(!ch.is_available(cur.as_ref()));
    }
}
