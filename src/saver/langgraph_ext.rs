//! LangGraph's msgpack ext types as JSON values, and the JSON forms the
//! graph runtime uses for Python's `Send` and `Interrupt`.
//!
//! Python's serializer (`_msgpack_default` in
//! `langgraph/checkpoint/serde/jsonplus.py`) writes an object it cannot
//! pack natively as an ext whose payload is the msgpack array
//! `[module, class, data]` or `[module, class, data, method]`; the code
//! says how `_msgpack_ext_hook` rebuilds it: 0 `cls(data)`, 1
//! `cls(*data)`, 2 `cls(**data)`, 3 `cls.method(data)`, 4 a pydantic v1
//! model, 5 a pydantic v2 model (`LangChain` messages among them).
//!
//! **The ext form.** Such a value reads as
//!
//! ```json
//! {"__ext__": {"code": 5, "module": "langchain_core.messages.ai",
//!              "class": "AIMessage", "data": {"content": "hi", ...},
//!              "method": "model_validate_json"},
//!  "__msgpack__": "c7b005..."}
//! ```
//!
//! (`method` only when the payload has one), so its fields can be read,
//! and `__msgpack__` keeps the exact bytes. Written back unchanged, it is
//! those bytes; with `__ext__` edited (or without `__msgpack__`: a value
//! made here) it is encoded from `__ext__`, as Python would. Other ext
//! codes (6 numpy arrays, 7 delta snapshots, unknown ones) and payloads of
//! another shape read as the bare envelope `{"__msgpack__": "<hex>"}`.
//!
//! **Sends and interrupts.** On the channels that hold them, Python's
//! objects read as the runtime's own forms, and the runtime's forms are
//! written as the objects Python rebuilds:
//! - `__pregel_tasks` (a Send, or a list of them): ext 1
//!   `langgraph.types.Send` `[node, arg]` is `{"node": .., "arg": ..}`
//!   (plus `"timeout"` when Python set one).
//! - `__interrupt__` (a list of interrupts): ext 2 (Interrupt is a
//!   dataclass) `langgraph.types.Interrupt` `{value, id, response_schema}`
//!   is `{"value": .., "id": ..}` (plus `"response_schema"` when not
//!   None).
//!
//! Resume values (`__resume__`) are plain values on both sides.

use serde_json::{Map, Value};

use super::{INTERRUPT, TASKS};

/// The key of the envelope of a value JSON cannot hold (its msgpack
/// bytes as hex).
pub(crate) const ENVELOPE: &str = "__msgpack__";

/// The key of the readable view of an ext value.
pub(crate) const EXT: &str = "__ext__";

/// The module of `Send` and `Interrupt`.
const TYPES_MODULE: &str = "langgraph.types";

/// `EXT_CONSTRUCTOR_POS_ARGS`: how Python writes a `Send`.
const SEND_CODE: i64 = 1;

/// `EXT_CONSTRUCTOR_KW_ARGS`: how Python writes a dataclass (`Interrupt`).
const INTERRUPT_CODE: i64 = 2;

/// The codes whose payload is `[module, class, data(, method)]`.
const CONSTRUCTOR_CODES: std::ops::RangeInclusive<i8> = 0..=5;

/// Whether an ext with `code` may have a readable view (see [`view`]).
pub(crate) fn is_constructor_code(code: i8) -> bool {
    CONSTRUCTOR_CODES.contains(&code)
}

/// The readable view (`{"code", "module", "class", "data"(, "method")}`)
/// of an ext with `code` whose payload decoded to `payload`, if it has
/// the constructor shape.
pub(crate) fn view(code: i8, payload: Value) -> Option<Value> {
    if !CONSTRUCTOR_CODES.contains(&code) {
        return None;
    }
    let Value::Array(parts) = payload else {
        return None;
    };
    let mut parts = parts.into_iter();
    let (Some(Value::String(module)), Some(Value::String(class)), Some(data)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let method = match (parts.next(), parts.next()) {
        (None, _) => None,
        (Some(Value::String(method)), None) => Some(method),
        _ => return None,
    };
    Some(make_view(i64::from(code), &module, &class, data, method))
}

fn make_view(code: i64, module: &str, class: &str, data: Value, method: Option<String>) -> Value {
    let mut view = Map::new();
    view.insert("code".to_owned(), Value::from(code));
    view.insert("module".to_owned(), Value::from(module));
    view.insert("class".to_owned(), Value::from(class));
    view.insert("data".to_owned(), data);
    if let Some(method) = method {
        view.insert("method".to_owned(), Value::String(method));
    }
    Value::Object(view)
}

/// `(code, payload)` to encode for a readable view, if `view` is one.
pub(crate) fn payload(view: &Value) -> Option<(i8, Value)> {
    let view = view.as_object()?;
    let code = i8::try_from(view.get("code")?.as_i64()?).ok()?;
    let module = view.get("module")?.as_str()?;
    let class = view.get("class")?.as_str()?;
    let data = view.get("data")?;
    let known = ["code", "module", "class", "data", "method"];
    if !CONSTRUCTOR_CODES.contains(&code) || view.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let mut parts = vec![Value::from(module), Value::from(class), data.clone()];
    match view.get("method") {
        None => {}
        Some(Value::String(method)) => parts.push(Value::from(method.as_str())),
        Some(_) => return None,
    }
    Some((code, Value::Array(parts)))
}

/// Whether `map` has the shape of an ext form (`__ext__` with a view,
/// and at most `__msgpack__` beside it), so that a user map of that shape
/// is kept as bytes instead.
pub(crate) fn is_ext_form(map: &Map<String, Value>) -> bool {
    map.get(EXT).and_then(payload).is_some() && map.keys().all(|k| k == EXT || k == ENVELOPE)
}

/// `value` of `channel` with Python's `Send`s and `Interrupt`s (as ext
/// forms) turned into the runtime's forms.
pub(crate) fn to_runtime_forms(channel: &str, value: Value) -> Value {
    match channel {
        TASKS => map_one_or_list(value, &send_from_ext),
        INTERRUPT => map_one_or_list(value, &interrupt_from_ext),
        _ => value,
    }
}

/// `value` of `channel` with the runtime's Sends and interrupts turned
/// into ext forms (views without bytes), which encode as Python's objects.
pub(crate) fn to_ext_forms(channel: &str, value: &Value) -> Option<Value> {
    let convert: &dyn Fn(&Value) -> Option<Value> = match channel {
        TASKS => &send_to_ext,
        INTERRUPT => &interrupt_to_ext,
        _ => return None,
    };
    match value {
        Value::Array(items) if items.iter().any(|item| convert(item).is_some()) => {
            Some(Value::Array(
                items
                    .iter()
                    .map(|item| convert(item).unwrap_or_else(|| item.clone()))
                    .collect(),
            ))
        }
        other => convert(other),
    }
}

fn map_one_or_list(value: Value, convert: &dyn Fn(&Value) -> Option<Value>) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| convert(&item).unwrap_or(item))
                .collect(),
        ),
        other => convert(&other).unwrap_or(other),
    }
}

/// The view of an ext form of `class` in `langgraph.types` with `code`.
fn types_view<'a>(value: &'a Value, code: i64, class: &str) -> Option<&'a Value> {
    let view = value.as_object().filter(|m| is_ext_form(m))?.get(EXT)?;
    let is_it = view.get("code")?.as_i64()? == code
        && view.get("module")?.as_str()? == TYPES_MODULE
        && view.get("class")?.as_str()? == class
        && view.get("method").is_none();
    is_it.then(|| view.get("data")).flatten()
}

fn send_from_ext(value: &Value) -> Option<Value> {
    let args = types_view(value, SEND_CODE, "Send")?.as_array()?;
    let mut send = Map::new();
    match args.as_slice() {
        [node @ Value::String(_), arg] => {
            send.insert("node".to_owned(), node.clone());
            send.insert("arg".to_owned(), arg.clone());
        }
        [node @ Value::String(_), arg, timeout] => {
            send.insert("node".to_owned(), node.clone());
            send.insert("arg".to_owned(), arg.clone());
            send.insert("timeout".to_owned(), timeout.clone());
        }
        _ => return None,
    }
    Some(Value::Object(send))
}

fn send_to_ext(value: &Value) -> Option<Value> {
    let send = value.as_object()?;
    let node = send.get("node").filter(|n| n.is_string())?;
    let arg = send.get("arg")?;
    let mut args = vec![node.clone(), arg.clone()];
    let expected = match send.get("timeout") {
        // Python adds the timeout only when it is set.
        Some(Value::Null) | None => 2,
        Some(timeout) => {
            args.push(timeout.clone());
            3
        }
    };
    let extra_keys = send.len() - 2 - usize::from(send.contains_key("timeout"));
    if extra_keys != 0 || args.len() != expected {
        return None;
    }
    Some(ext_form(make_view(
        SEND_CODE,
        TYPES_MODULE,
        "Send",
        Value::Array(args),
        None,
    )))
}

fn interrupt_from_ext(value: &Value) -> Option<Value> {
    let fields = types_view(value, INTERRUPT_CODE, "Interrupt")?.as_object()?;
    fields.get("id")?.as_str()?;
    let mut interrupt = Map::new();
    interrupt.insert("value".to_owned(), fields.get("value")?.clone());
    for (key, field) in fields {
        if key != "value" && !field.is_null() {
            interrupt.insert(key.clone(), field.clone());
        }
    }
    Some(Value::Object(interrupt))
}

fn interrupt_to_ext(value: &Value) -> Option<Value> {
    let interrupt = value.as_object()?;
    let known = ["value", "id", "response_schema"];
    if interrupt.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let mut fields = Map::new();
    fields.insert("value".to_owned(), interrupt.get("value")?.clone());
    fields.insert(
        "id".to_owned(),
        interrupt.get("id").filter(|id| id.is_string())?.clone(),
    );
    // A dataclass is written with every field, None included.
    fields.insert(
        "response_schema".to_owned(),
        interrupt
            .get("response_schema")
            .cloned()
            .unwrap_or(Value::Null),
    );
    Some(ext_form(make_view(
        INTERRUPT_CODE,
        TYPES_MODULE,
        "Interrupt",
        Value::Object(fields),
        None,
    )))
}

fn ext_form(view: Value) -> Value {
    let mut form = Map::new();
    form.insert(EXT.to_owned(), view);
    Value::Object(form)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::saver::langgraph_values::{
        dump_channel, from_hex, from_msgpack, load_channel, to_msgpack,
    };

    // Golden bytes: what Python 3 with langgraph 1.2.22 / langgraph-checkpoint
    // 4.3.2 / langchain-core 1.8.3 wrote, printed by
    // `JsonPlusSerializer().dumps_typed(v)[1].hex()` for the value named.

    /// `Send("work", {"item": 0, "topic": "t"})`
    const SEND: &str = "c72b0193af6c616e6767726170682e7479706573a453656e64\
        92a4776f726b82a46974656d00a5746f706963a174";
    /// `Send("work", 1, timeout=5)`
    const SEND_TIMEOUT: &str = "c7730193af6c616e6767726170682e7479706573a453656e6493a4776f726b01\
        c7530293af6c616e6767726170682e7479706573ad54696d656f7574506f6c69637983ab72756e5f74696d65\
        6f7574cb4014000000000000ac69646c655f74696d656f7574c0aa726566726573685f6f6ea46175746f";
    /// `[Interrupt(value={"q": 1}, id="i1")]`
    const INTERRUPTS: &str = "91c73d0293af6c616e6767726170682e7479706573a9496e746572727570\
        7483a576616c756581a17101a26964a26931af726573706f6e73655f736368656d61c0";
    /// `AIMessage(content="hi", id="m1")`
    const AI_MESSAGE: &str = "c7b00594ba6c616e67636861696e5f636f72652e6d657373616765732e6169\
        a941494d65737361676589a7636f6e74656e74a26869b16164646974696f6e616c5f6b776172677380b172\
        6573706f6e73655f6d6574616461746180a474797065a26169a46e616d65c0a26964a26d31aa746f6f6c5f\
        63616c6c7390b2696e76616c69645f746f6f6c5f63616c6c7390ae75736167655f6d65746164617461c0b3\
        6d6f64656c5f76616c69646174655f6a736f6e";
    /// A dataclass `Point(1, 2)` defined in `__main__`.
    const POINT: &str = "c7170293a85f5f6d61696e5f5fa5506f696e7482a17801a17902";

    fn bytes(hex: &str) -> Vec<u8> {
        from_hex(hex).unwrap_or_default()
    }

    #[test]
    fn a_python_send_reads_as_the_runtime_send_and_writes_back() {
        let send = load_channel(TASKS, "msgpack", Some(&bytes(SEND)));
        let expected = json!({"node": "work", "arg": {"item": 0, "topic": "t"}});
        assert_eq!(send, Ok(Some(expected.clone())));
        assert_eq!(dump_channel(TASKS, &expected), ("msgpack", bytes(SEND)));
        let list = json!([expected]);
        let mut listed = vec![0x91];
        listed.extend(bytes(SEND));
        assert_eq!(dump_channel(TASKS, &list).1, listed);
    }

    #[test]
    fn a_send_with_a_timeout_keeps_it() {
        let send = load_channel(TASKS, "msgpack", Some(&bytes(SEND_TIMEOUT)))
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(send["node"], "work");
        assert_eq!(send["arg"], 1);
        assert_eq!(send["timeout"][EXT]["class"], "TimeoutPolicy");
        assert_eq!(dump_channel(TASKS, &send).1, bytes(SEND_TIMEOUT));
    }

    #[test]
    fn python_interrupts_read_as_the_runtime_form() {
        let read = load_channel(INTERRUPT, "msgpack", Some(&bytes(INTERRUPTS)));
        let expected = json!([{"value": {"q": 1}, "id": "i1"}]);
        assert_eq!(read, Ok(Some(expected.clone())));
        // Written as Python does, fields in another order: same object.
        let written = dump_channel(INTERRUPT, &expected).1;
        let view = from_msgpack(&written).unwrap_or_default();
        let fields = &view[0][EXT]["data"];
        assert_eq!(
            fields,
            &json!({"value": {"q": 1}, "id": "i1", "response_schema": null})
        );
        assert_eq!(view[0][EXT]["code"], INTERRUPT_CODE);
    }

    #[test]
    fn a_message_exposes_its_fields_and_writes_back_byte_for_byte() {
        let message = from_msgpack(&bytes(AI_MESSAGE)).unwrap_or_default();
        assert_eq!(message[EXT]["class"], "AIMessage");
        assert_eq!(message[EXT]["code"], 5);
        assert_eq!(message[EXT]["method"], "model_validate_json");
        assert_eq!(message[EXT]["data"]["content"], "hi");
        assert_eq!(to_msgpack(&message), bytes(AI_MESSAGE));
        // Elsewhere than the runtime's channels a Send stays an ext form.
        let send = load_channel("messages", "msgpack", Some(&bytes(SEND)));
        assert_eq!(
            send.ok().flatten().unwrap_or_default()[EXT]["class"],
            "Send"
        );
    }

    #[test]
    fn an_edited_or_new_ext_form_is_encoded_from_its_view() {
        let mut point = from_msgpack(&bytes(POINT)).unwrap_or_default();
        assert_eq!(point[EXT]["data"], json!({"x": 1, "y": 2}));
        point[EXT]["data"]["x"] = json!(7);
        let edited = from_msgpack(&to_msgpack(&point)).unwrap_or_default();
        assert_eq!(edited[EXT]["data"], json!({"x": 7, "y": 2}));
        let new = json!({EXT: {"code": 2, "module": "__main__", "class": "Point",
            "data": {"x": 1, "y": 2}}});
        assert_eq!(to_msgpack(&new), bytes(POINT));
    }

    #[test]
    fn a_user_map_shaped_like_an_ext_form_stays_bytes() {
        let lookalike = json!({EXT: {"code": 0, "module": "m", "class": "c", "data": 1}});
        let mut raw = Vec::new();
        let _ = rmpv::encode::write_value(
            &mut raw,
            &rmpv::Value::Map(vec![(
                rmpv::Value::from(EXT),
                rmpv::Value::Map(vec![
                    (rmpv::Value::from("code"), rmpv::Value::from(0)),
                    (rmpv::Value::from("module"), rmpv::Value::from("m")),
                    (rmpv::Value::from("class"), rmpv::Value::from("c")),
                    (rmpv::Value::from("data"), rmpv::Value::from(1)),
                ]),
            )]),
        );
        let read = from_msgpack(&raw).unwrap_or_default();
        assert_ne!(read, lookalike);
        assert_eq!(to_msgpack(&read), raw);
    }
}
