//! Reading a typed state from a step's JSON values: once per step, shared
//! by every task of the step, with errors that name the field.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::GraphState;
use crate::graph::state::State;

/// A stored value that does not decode as the field of the typed state it
/// belongs to (or a field with no value whose type needs one).
///
/// A node that gets such a state fails with it as the
/// [`source`](std::error::Error::source) of
/// [`GraphError::NodeFailed`](crate::graph::GraphError::NodeFailed) (which
/// names the node, the step and the thread), and is not retried: it would
/// read the same values again. Outcomes and snapshots that do not decode
/// are [`GraphError::StateDecode`](crate::graph::GraphError::StateDecode).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` of `{state}` does not decode: {reason}")]
pub struct StateDecodeError {
    /// The typed state's name.
    pub state: &'static str,
    /// The field (and channel).
    pub field: &'static str,
    /// Why: the deserialiser's message, or that the channel has no value.
    pub reason: String,
}

/// The slot a [`State`] keeps its typed form in, shared by its clones: a
/// step's tasks get clones of one state, so the first typed node to run
/// decodes it and the others reuse that.
#[derive(Default)]
pub(crate) struct DecodedState(OnceLock<Result<Arc<dyn Any + Send + Sync>, StateDecodeError>>);

impl fmt::Debug for DecodedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DecodedState")
            .field(&self.0.get().map(Result::is_ok))
            .finish()
    }
}

/// `state` as an `S`, decoded at most once for all of its clones.
pub(crate) fn decode_shared<S: GraphState>(state: &State) -> Result<Arc<S>, StateDecodeError> {
    let slot = state
        .decoded()
        .0
        .get_or_init(|| S::from_state(state).map(|s| Arc::new(s) as Arc<dyn Any + Send + Sync>));
    match slot {
        Ok(any) => match Arc::clone(any).downcast::<S>() {
            Ok(typed) => Ok(typed),
            // Another typed state was decoded from these values first (a
            // state shared across graphs): decode this one on its own.
            Err(_) => S::from_state(state).map(Arc::new),
        },
        Err(e) => Err(e.clone()),
    }
}

/// Field `channel` of `state` (for the derived code, `#[state(required)]`);
/// a channel with no value reads as `null` (`None` for an `Option`), else
/// it is an error.
pub fn field<T: DeserializeOwned>(
    state: &State,
    type_name: &'static str,
    channel: &'static str,
) -> Result<T, StateDecodeError> {
    let error = |reason: String| StateDecodeError {
        state: type_name,
        field: channel,
        reason,
    };
    match state.value(channel) {
        Some(value) => T::deserialize(value).map_err(|e| error(e.to_string())),
        None => T::deserialize(&Value::Null)
            .map_err(|_| error("the channel has no value, and the field is `required`".to_owned())),
    }
}

/// Field `channel` of `state` (for the derived code); a channel with no
/// value (or `null`) reads as `T::default()`.
pub fn field_or_default<T: DeserializeOwned + Default>(
    state: &State,
    type_name: &'static str,
    channel: &'static str,
) -> Result<T, StateDecodeError> {
    match state.value(channel) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(_) => field(state, type_name, channel),
    }
}

/// [`StateDecodeError::field`] for an update that is wrong as a whole (not
/// an object, or writing a channel that is no field).
const WHOLE_UPDATE: &str = "<update>";

/// A node's writes as an object (for the derived
/// [`GraphState::decode_update`]): `null` is no writes; a write to a
/// channel that is not one of `fields` is an error.
pub fn update_object<'a>(
    writes: &'a Value,
    type_name: &'static str,
    fields: &[&'static str],
) -> Result<Option<&'a serde_json::Map<String, Value>>, StateDecodeError> {
    let map = match writes {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(StateDecodeError {
                state: type_name,
                field: WHOLE_UPDATE,
                reason: format!("an update must be an object, got {other}"),
            });
        }
    };
    if let Some(stray) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(StateDecodeError {
            state: type_name,
            field: WHOLE_UPDATE,
            reason: format!("the update writes {stray:?}, which is not a field"),
        });
    }
    Ok(Some(map))
}

/// Field `channel` of a node's writes (for the derived
/// [`GraphState::decode_update`]): `None` if it is not written.
pub fn update_field<T: DeserializeOwned>(
    writes: Option<&serde_json::Map<String, Value>>,
    type_name: &'static str,
    channel: &'static str,
) -> Result<Option<T>, StateDecodeError> {
    writes
        .and_then(|map| map.get(channel))
        .map(|value| {
            T::deserialize(value).map_err(|e| StateDecodeError {
                state: type_name,
                field: channel,
                reason: e.to_string(),
            })
        })
        .transpose()
}
