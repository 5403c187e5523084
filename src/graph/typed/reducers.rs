//! The reducers `#[derive(GraphState)]` gives a field: typed wrappers
//! over [`Reducer::custom`], so the stored values are the JSON the JSON
//! API would store.
//!
//! A reducer cannot return an error; one whose stored value or update does
//! not decode panics with a message naming the field, which the runtime
//! catches and reports as
//! [`GraphError::ReducerPanicked`](crate::graph::GraphError::ReducerPanicked)
//! (the step is not applied).

use std::ops::Add;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::graph::channel::Reducer;

/// `T::default()` as JSON: the value an unwritten channel reads as.
fn default_json<T: Serialize + Default>() -> Value {
    serde_json::to_value(T::default()).unwrap_or(Value::Null)
}

fn decode<T: DeserializeOwned>(channel: &str, what: &str, value: &Value) -> T {
    T::deserialize(value).unwrap_or_else(|e| panic!("field `{channel}`: the {what} {e}"))
}

/// Folds `update` into `current` through `f` on the field's type; a
/// channel with no value yet (`null`) takes the update as it is, as
/// LangGraph's reducer channels do without a default.
fn fold<T, F>(channel: &str, current: &Value, update: Value, f: &F) -> Value
where
    T: Serialize + DeserializeOwned,
    F: Fn(T, T) -> T,
{
    if current.is_null() {
        return update;
    }
    let current: T = decode(channel, "stored value", current);
    let update: T = decode(channel, "update", &update);
    serde_json::to_value(f(current, update))
        .unwrap_or_else(|e| panic!("field `{channel}`: the reduced value does not encode: {e}"))
}

/// `#[state(add)]`: updates are added with `+`; unwritten, `T::default()`.
pub fn add<T>(channel: &'static str) -> Reducer
where
    T: Serialize + DeserializeOwned + Add<Output = T> + Default + 'static,
{
    Reducer::custom(move |cur: &Value, upd: Value| fold::<T, _>(channel, cur, upd, &|a, b| a + b))
        .with_default(default_json::<T>())
}

/// `#[state(merge)]`: an object; an update's keys replace or join the
/// current ones (on the JSON, so the map is not decoded per write);
/// unwritten, `{}`.
pub fn merge(channel: &'static str) -> Reducer {
    Reducer::custom(move |cur: &Value, upd: Value| merge_maps(channel, cur, upd))
        .with_default(Value::Object(serde_json::Map::new()))
}

fn merge_maps(channel: &str, current: &Value, update: Value) -> Value {
    let mut merged = match current {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    match update {
        Value::Object(update) => merged.extend(update),
        other => panic!("field `{channel}`: a merge update must be a map, got {other}"),
    }
    Value::Object(merged)
}

/// `#[state(reduce = f)]`: `f(current, update)`; the first write is kept
/// as it is.
pub fn reduce<T, F>(channel: &'static str, f: F) -> Reducer
where
    T: Serialize + DeserializeOwned + 'static,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    Reducer::custom(move |cur: &Value, upd: Value| fold::<T, F>(channel, cur, upd, &f))
}

/// `#[state(reduce = f, default)]`: `f(current, update)`, starting from
/// `T::default()`.
pub fn reduce_from_default<T, F>(channel: &'static str, f: F) -> Reducer
where
    T: Serialize + DeserializeOwned + Default + 'static,
    F: Fn(T, T) -> T + Send + Sync + 'static,
{
    reduce::<T, F>(channel, f).with_default(default_json::<T>())
}
