//! The state a node reads and the update it returns.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::GraphError;
use super::interrupt::Goto;

/// A read-only view of the graph's state channels, as a node sees them.
///
/// Values are JSON; [`get`](State::get) reads one as any
/// `T: DeserializeOwned`. A node started by a [`SendTo`](crate::graph::SendTo)
/// sees the packet's argument instead: its keys when it is a JSON object,
/// otherwise the whole argument under the key `"arg"`.
///
/// ```
/// use checkpointer::graph::State;
/// use serde_json::json;
///
/// let state = State::from_value(json!({"count": 2, "names": ["a", "b"]}));
/// let count: i64 = state.get("count")?;
/// let names: Vec<String> = state.get("names")?;
/// assert_eq!((count, names.len()), (2, 2));
/// assert_eq!(state.get_or_default::<i64>("missing")?, 0);
/// # Ok::<(), checkpointer::graph::GraphError>(())
/// ```
///
/// Cloning is cheap: the values are shared (a step's tasks all read one
/// copy), and so is the typed value a typed graph's nodes decode from
/// them, once per step (feature `derive`).
#[derive(Clone, Debug, Default)]
pub struct State {
    values: Arc<Map<String, Value>>,
    /// The values decoded as a typed state, once, for every clone.
    #[cfg(feature = "derive")]
    decoded: Arc<super::typed::DecodedState>,
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl State {
    /// A state holding the keys of `value` (an object); any other value is
    /// held under the key `"arg"`, and `null` gives an empty state.
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(values) => State::from_map(values),
            Value::Null => State::default(),
            other => {
                let mut values = Map::new();
                values.insert("arg".to_owned(), other);
                State::from_map(values)
            }
        }
    }

    pub(crate) fn from_map(values: Map<String, Value>) -> Self {
        State {
            values: Arc::new(values),
            #[cfg(feature = "derive")]
            decoded: Arc::default(),
        }
    }

    /// The typed value decoded from these values, shared by every clone.
    #[cfg(feature = "derive")]
    pub(crate) fn decoded(&self) -> &super::typed::DecodedState {
        &self.decoded
    }

    /// The value of `channel` as a `T`; [`GraphError::MissingChannel`] if it
    /// has no value, [`GraphError::StateType`] if it is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, channel: &str) -> Result<T, GraphError> {
        let value = self
            .values
            .get(channel)
            .ok_or_else(|| GraphError::MissingChannel {
                channel: channel.to_owned(),
            })?;
        T::deserialize(value).map_err(|source| GraphError::StateType {
            channel: channel.to_owned(),
            source,
        })
    }

    /// The value of `channel` as a `T`, or `T::default()` if it has no value.
    pub fn get_or_default<T: DeserializeOwned + Default>(
        &self,
        channel: &str,
    ) -> Result<T, GraphError> {
        match self.values.get(channel) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(_) => self.get(channel),
        }
    }

    /// The raw JSON value of `channel`.
    pub fn value(&self, channel: &str) -> Option<&Value> {
        self.values.get(channel)
    }

    /// Every channel with a value.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// The state as one JSON object.
    pub fn to_value(&self) -> Value {
        Value::Object(Map::clone(&self.values))
    }

    pub(crate) fn set(&mut self, channel: &str, value: Option<Value>) {
        // Other values: this state no longer shares its decoded form.
        #[cfg(feature = "derive")]
        {
            self.decoded = Arc::default();
        }
        let values = Arc::make_mut(&mut self.values);
        match value {
            Some(v) => {
                values.insert(channel.to_owned(), v);
            }
            None => {
                values.remove(channel);
            }
        }
    }
}

/// An update's writes `(channel, value)` and its gotos.
pub(crate) type UpdateParts = (Vec<(String, Value)>, Vec<Goto>);

/// What a node returns: values to write to state channels, and where to
/// go next.
///
/// Each value goes through its channel's reducer at the end of the step.
/// Build one with [`set`](Update::set) (any `T: Serialize`) or convert a
/// JSON object (`json!({...}).into()`). A value that cannot be serialised,
/// or a JSON value that is not an object, makes the task fail with
/// [`GraphError::InvalidUpdate`] when the update is applied.
///
/// [`goto`](Update::goto) routes without a conditional edge, as a node
/// returning LangGraph's `Command(update=..., goto=...)` does.
///
/// ```
/// use checkpointer::graph::Update;
/// use serde_json::json;
///
/// let a = Update::new().set("count", 3).set("messages", vec!["hi"]);
/// let b: Update = json!({"count": 3, "messages": ["hi"]}).into();
/// assert_eq!(a, b);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    writes: Vec<(String, Value)>,
    gotos: Vec<Goto>,
    error: Option<String>,
    /// For the parent graph ([`Update::to_parent`]).
    to_parent: bool,
}

impl Update {
    /// An empty update: the node writes nothing.
    pub fn new() -> Self {
        Update::default()
    }

    /// The same update, also writing `value` to `channel`.
    ///
    /// JSON has no NaN or infinity, and `serde_json` would store one as
    /// `null` without a word: a value holding one (anywhere inside it) is
    /// refused instead, and the task fails with
    /// [`GraphError::InvalidUpdate`] naming the channel and where in the
    /// value it is. (Store such a number as a string, or as `null` on
    /// purpose.)
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, GraphError, Reducer, StateGraph, Update, START};
    /// use checkpointer::Config;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("scores", Reducer::last_value())
    ///     .add_sync_node("score", |_, _| Ok(Update::new().set("scores", vec![0.5, f64::NAN])))
    ///     .add_edge(START, "score");
    /// let app = graph.compile(CompileOptions::new())?;
    /// let err = app.invoke(json!({}), &Config::default()).await.unwrap_err();
    /// assert!(matches!(&err, GraphError::InvalidUpdate { node, reason, .. }
    ///     if node == "score" && reason.contains("\"scores\"") && reason.contains("NaN at $[1]")));
    /// # Ok::<(), GraphError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn set(mut self, channel: impl Into<String>, value: impl Serialize) -> Self {
        let channel = channel.into();
        if let Err(found) = super::finite::check(&value) {
            self.error.get_or_insert_with(|| {
                format!(
                    "the value for {channel:?} holds {found}, which JSON cannot store                      (serde_json would silently make it null)"
                )
            });
            return self;
        }
        match serde_json::to_value(value) {
            Ok(v) => self.writes.push((channel, v)),
            Err(e) => {
                self.error.get_or_insert_with(|| {
                    format!("cannot serialise the value for {channel:?}: {e}")
                });
            }
        }
        self
    }

    /// The same update, also running `goto` in the next step: a node by
    /// name, or a [`SendTo`](crate::graph::SendTo) packet (that node with
    /// the packet's argument as its state); [`END`](crate::graph::END)
    /// goes nowhere. As LangGraph's `Command(goto=...)` returned by a
    /// node: the node's static edges and conditional edges still apply
    /// too, and a name that is not a node of the graph fails the task with
    /// [`GraphError::InvalidUpdate`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, SendTo, StateGraph, Update, START};
    /// use checkpointer::{Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("triage", |_, _| {
    ///         Ok(Update::new()
    ///             .set("log", "triaged")
    ///             .goto("billing")
    ///             .goto(SendTo::new("notify", json!({"log": ["to notify"]}))))
    ///     })
    ///     .add_sync_node("billing", |_, _| Ok(Update::new().set("log", "billed")))
    ///     .add_sync_node("notify", |s, _| {
    ///         // A Send task sees its packet, not the graph's state.
    ///         Ok(Update::new().set("log", format!("notified {}", s.get::<Vec<String>>("log")?[0])))
    ///     })
    ///     .add_destinations("triage", &["billing", "notify"])
    ///     .add_edge(START, "triage");
    /// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
    /// let out = app.invoke(json!({}), &Config::thread("t")).await?;
    /// assert_eq!(out.values["log"], json!(["triaged", "billed", "notified to notify"]));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn goto(mut self, goto: impl Into<Goto>) -> Self {
        self.gotos.push(goto.into());
        self
    }

    /// The same update, for the graph that runs this one as a subgraph,
    /// as LangGraph's `Command(graph=Command.PARENT, update=..., goto=...)`:
    /// the subgraph's run stops in this step (the step is not
    /// checkpointed; the other tasks' writes are saved as usual), and the
    /// parent's subgraph task returns this update (its writes and gotos)
    /// instead of the subgraph's state. It goes one level up; in a graph
    /// that is not a subgraph the run fails with
    /// [`GraphError::ParentCommand`](crate::graph::GraphError::ParentCommand),
    /// as LangGraph raises `ParentCommand` there.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use checkpointer::graph::{CompileOptions, Reducer, StateGraph, Update, START};
    /// use checkpointer::{BaseCheckpointSaver, Config, InMemorySaver};
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let saver: Arc<dyn BaseCheckpointSaver> = Arc::new(InMemorySaver::new());
    /// let mut check = StateGraph::new();
    /// check
    ///     .add_channel("log", Reducer::append())
    ///     .add_sync_node("check", |_, _| {
    ///         Ok(Update::new().set("log", "rejected").goto("fix").to_parent())
    ///     })
    ///     .add_edge(START, "check");
    /// let check = check.compile(CompileOptions::new().saver(Arc::clone(&saver)))?;
    /// let mut graph = StateGraph::new();
    /// graph
    ///     .add_channel("log", Reducer::append())
    ///     .add_subgraph("review", check)
    ///     .add_sync_node("fix", |_, _| Ok(Update::new().set("log", "fixed")))
    ///     .add_destinations("review", &["fix"])
    ///     .add_edge(START, "review");
    /// let app = graph.compile(CompileOptions::new().saver(saver))?;
    /// let out = app.invoke(json!({}), &Config::thread("t")).await?;
    /// assert_eq!(out.values["log"], json!(["rejected", "fixed"]));
    /// # Ok::<(), checkpointer::graph::GraphError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn to_parent(mut self) -> Self {
        self.to_parent = true;
        self
    }

    /// Whether the update is for the parent graph ([`to_parent`](Self::to_parent)).
    pub fn is_for_parent(&self) -> bool {
        self.to_parent
    }

    /// The same update for the graph it is returned in (the parent's
    /// subgraph task applies it there).
    pub(crate) fn into_own(mut self) -> Self {
        self.to_parent = false;
        self
    }

    /// The writes, in order.
    pub fn writes(&self) -> &[(String, Value)] {
        &self.writes
    }

    /// Where the node goes next besides its edges, in order.
    pub fn gotos(&self) -> &[Goto] {
        &self.gotos
    }

    /// Whether the update writes nothing and goes nowhere.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.gotos.is_empty()
    }

    /// The writes as a JSON object (an input), or why the update is
    /// invalid; its gotos, if any, are dropped.
    #[cfg(feature = "derive")]
    pub(crate) fn into_value(self) -> Result<Value, String> {
        let (writes, _gotos) = self.into_parts()?;
        Ok(Value::Object(writes.into_iter().collect()))
    }

    /// The same update, refused with `reason` when it is applied (the
    /// first reason is kept): a typed `Send` whose packet does not encode.
    #[cfg(feature = "derive")]
    pub(crate) fn refused(mut self, reason: String) -> Self {
        self.error.get_or_insert(reason);
        self
    }

    /// The writes and the gotos, or why the update is invalid.
    pub(crate) fn into_parts(self) -> Result<UpdateParts, String> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.writes, self.gotos)),
        }
    }
}

impl From<Value> for Update {
    fn from(value: Value) -> Self {
        match value {
            Value::Object(map) => map.into(),
            Value::Null => Update::new(),
            other => Update {
                writes: Vec::new(),
                gotos: Vec::new(),
                error: Some(format!("an update must be a JSON object, got {other}")),
                to_parent: false,
            },
        }
    }
}

impl From<Map<String, Value>> for Update {
    fn from(map: Map<String, Value>) -> Self {
        Update {
            writes: map.into_iter().collect(),
            gotos: Vec::new(),
            error: None,
            to_parent: false,
        }
    }
}
