//! Typed state (feature `derive`): a struct as a graph's state, one
//! channel per field. The documentation is on [`GraphState`].

mod builder;
mod command;
mod compiled;
mod decode;
mod reducers;
mod stream;

pub use builder::TypedStateGraph;
pub use command::TypedCommand;
pub use compiled::{TypedGraph, TypedInput, TypedOutcome, TypedSnapshot};
pub(crate) use decode::DecodedState;
pub use decode::StateDecodeError;
pub use stream::{TypedEvent, TypedStream};

use super::channel::Reducer;
use super::state::{State, Update};

/// A struct that is a graph's state, one channel per field (feature
/// `derive`): typed state.
///
/// `#[derive(GraphState)]` on a struct with named fields declares a
/// channel per field, each with the reducer its `#[state(...)]` attribute
/// names, and writes the struct's partial update type `<Name>Update`
/// (every field an `Option`, a setter per field). A
/// [`TypedStateGraph`] takes nodes from `&State` to that update, so a
/// misspelled field is a compile error; [`TypedGraph`] returns outcomes
/// and snapshots as the struct. Underneath it is the same runtime and the
/// same stored JSON as a [`StateGraph`](crate::graph::StateGraph) with
/// those channels: a thread is the same whichever API wrote it.
///
/// | attribute | reducer | the struct reads, unwritten |
/// |---|---|---|
/// | none | last value | `T::default()` (`None` for an `Option`) |
/// | `#[state(append)]` | [`Reducer::append`](crate::graph::Reducer::append) | `[]` |
/// | `#[state(add)]` | `current + update` | `T::default()` (`0`) |
/// | `#[state(merge)]` | a map's keys replaced or joined | `{}` |
/// | `#[state(reduce = f)]` | `f(current, update)`; the first write as it is | `T::default()` |
/// | `#[state(reduce = f, default)]` | `f(current, update)`, from `T::default()` | `T::default()` |
///
/// `#[state(required)]` on a field without a reducer default makes no
/// value a [`StateDecodeError`] instead of `T::default()` (and drops the
/// `Default` bound).
///
/// The reducer defaults (`append`, `add`, `merge`, `reduce` with
/// `default`) are the channels' defaults: the JSON API, snapshots and
/// outcomes read them too, as LangGraph reads `[]` for an unwritten
/// `Annotated[list, operator.add]`. The other fields' `T::default()` is
/// only how the struct reads an absent channel (the JSON shows it absent).
/// Like LangGraph, the stored `channel_values` hold no defaults.
/// Channel names are the field names (serde attributes such as `rename`
/// are not read); every field type is `Serialize + DeserializeOwned`, and
/// `Clone + Debug + PartialEq` for the update type's derives.
///
/// # What it costs
///
/// The JSON values of a step are shared by its tasks (no copy per task).
/// The first typed node of a step decodes them into the struct, field by
/// field, once; the other tasks of that step (and a retried attempt) share
/// that value through an `Arc`. A node started by a
/// [`SendTo`](crate::graph::SendTo) decodes its own packet. Each node's
/// update encodes only the fields it sets. A typed router decodes the
/// state with its node's update applied, once per call; a typed stream
/// decodes each `values` event once (and each `updates` event's writes);
/// reducers `add` and
/// `reduce` decode the current value and the update per write (`append`
/// and `merge` work on the JSON).
///
/// # Example
///
/// ```
/// use std::collections::BTreeMap;
/// use std::sync::Arc;
/// use checkpointer::graph::{CompileOptions, GraphState, NodeError, TypedStateGraph, START};
/// use checkpointer::{Config, InMemorySaver};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(GraphState, Serialize, Deserialize, Clone, Debug, PartialEq)]
/// struct Essay {
///     topic: String,
///     draft: Option<String>,
///     #[state(append)]
///     log: Vec<String>,
///     #[state(add)]
///     words: u64,
///     #[state(merge)]
///     scores: BTreeMap<String, f64>,
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut graph = TypedStateGraph::<Essay>::new();
/// graph
///     .add_sync_node("write", |essay: &Essay, _ctx| {
///         let draft = format!("all about {}", essay.topic);
///         Ok::<_, NodeError>(EssayUpdate::default()
///             .words(draft.split(' ').count() as u64)
///             .draft(draft)
///             .log(vec!["written".to_owned()]))
///     })
///     .add_sync_node("grade", |essay: &Essay, _ctx| {
///         Ok(EssayUpdate::default()
///             .scores(BTreeMap::from([("length".to_owned(), essay.words as f64)]))
///             .log(vec!["graded".to_owned()]))
///     })
///     .add_edge(START, "write")
///     .add_edge("write", "grade");
/// let app = graph.compile(CompileOptions::new().saver(Arc::new(InMemorySaver::new())))?;
///
/// let out = app.invoke(EssayUpdate::default().topic("owls"), &Config::thread("t")).await?;
/// assert_eq!(out.values.draft.as_deref(), Some("all about owls"));
/// assert_eq!(out.values.log, ["written", "graded"]);
/// assert_eq!((out.values.words, out.values.scores["length"]), (3, 3.0));
/// # Ok::<(), checkpointer::graph::GraphError>(())
/// # }).unwrap();
/// ```
///
/// A misspelled field does not compile:
///
/// ```compile_fail,E0609
/// use checkpointer::graph::GraphState;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(GraphState, Serialize, Deserialize)]
/// struct Essay {
///     topic: String,
/// }
///
/// let mut update = EssayUpdate::default();
/// update.topik = Some("owls".to_owned());
/// ```
///
/// (`update.topic = Some(...)` compiles.) Nor does a misspelled setter:
///
/// ```compile_fail,E0599
/// use checkpointer::graph::GraphState;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(GraphState, Serialize, Deserialize)]
/// struct Essay {
///     topic: String,
/// }
///
/// let update = EssayUpdate::default().topik("owls");
/// ```
///
/// Nor a node that returns another state's update:
///
/// ```compile_fail,E0277
/// use checkpointer::graph::{GraphState, NodeError, TypedStateGraph};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(GraphState, Serialize, Deserialize)]
/// struct Essay {
///     topic: String,
/// }
///
/// #[derive(GraphState, Serialize, Deserialize)]
/// struct Review {
///     topic: String,
/// }
///
/// let mut graph = TypedStateGraph::<Essay>::new();
/// graph.add_sync_node("write", |_, _| Ok::<_, NodeError>(ReviewUpdate::default().topic("owls")));
/// ```
///
/// # The trait
///
/// Its items say what the state's channels are and how to read the struct
/// from their values. Derive it: implementing it by hand is possible, but
/// the derive also writes the update type.
pub trait GraphState: Sized + Send + Sync + 'static {
    /// The partial update a node returns (`<Name>Update` when derived;
    /// the derive also converts it into a [`TypedCommand`]).
    type Update: Into<Update> + Send + 'static;

    /// One channel per field: its name and its reducer.
    fn channels() -> Vec<(&'static str, Reducer)>;

    /// The struct from the channels' values; a reducer channel with no
    /// value reads as its default.
    fn from_state(state: &State) -> Result<Self, StateDecodeError>;

    /// A node's writes (an object of channel values, as
    /// [`StreamEvent::Updates`](crate::graph::StreamEvent::Updates) holds
    /// them) as the update type: the fields written set, the others not.
    /// Writes that are not the fields' types (a JSON node's single item
    /// for an `append` field, say) are an error naming the field; writes
    /// that are not an object, or to a channel that is no field, one whose
    /// `field` is `"<update>"`.
    fn decode_update(writes: &serde_json::Value) -> Result<Self::Update, StateDecodeError>;
}

/// What the code `#[derive(GraphState)]` writes calls. Not a public API.
#[doc(hidden)]
pub mod __derive {
    pub use super::decode::{field, field_or_default, update_field, update_object};
    pub use super::reducers::{add, merge, reduce, reduce_from_default};
    pub use serde_json::Value;
}
