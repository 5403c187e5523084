//! SnapState's `diff_from_previous` (its `utils/diff.js`), rule for rule:
//! paths with dot keys and `[i]` indices; the first save lists every leaf
//! as added; an empty `{}` or `[]` contributes no path, `null` is a leaf;
//! a type change is one `changed` path; new keys are walked in order, the
//! removed ones after.

use serde::Serialize;

use super::jsform::JsValue;

/// The paths that differ between two states.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StateDiff {
    /// Leaves present only in the new state.
    pub added: Vec<String>,
    /// Leaves present only in the previous state.
    pub removed: Vec<String>,
    /// Paths whose value (or type) changed.
    pub changed: Vec<String>,
}

/// The diff from `prev` (`None` for a workflow's first save) to `next`.
///
/// ```
/// use checkpointer::server::diff::diff_state;
/// use checkpointer::server::jsform::JsValue;
/// let prev = JsValue::parse(br#"{"a":1,"b":{"c":[1,2]},"d":{}}"#)?;
/// let next = JsValue::parse(br#"{"a":2,"b":{"c":[1]},"e":{"f":null},"g":[]}"#)?;
/// let diff = diff_state(Some(&prev), &next);
/// assert_eq!((diff.added, diff.removed, diff.changed),
///     (vec!["e.f".to_owned()], vec!["b.c[1]".to_owned()], vec!["a".to_owned()]));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn diff_state(prev: Option<&JsValue>, next: &JsValue) -> StateDiff {
    let mut diff = StateDiff::default();
    match prev {
        None => collect(next, "", &mut diff.added),
        Some(prev) => walk(prev, next, "", &mut diff),
    }
    diff
}

fn key_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk(prev: &JsValue, next: &JsValue, prefix: &str, diff: &mut StateDiff) {
    match (prev, next) {
        (JsValue::Object(old), JsValue::Object(new)) => {
            for (key, value) in new {
                let path = key_path(prefix, key);
                match old.iter().find(|(k, _)| k == key) {
                    None => collect(value, &path, &mut diff.added),
                    Some((_, was)) => walk(was, value, &path, diff),
                }
            }
            for (key, was) in old {
                if !new.iter().any(|(k, _)| k == key) {
                    collect(was, &key_path(prefix, key), &mut diff.removed);
                }
            }
        }
        (JsValue::Array(old), JsValue::Array(new)) => {
            for i in 0..old.len().max(new.len()) {
                let path = format!("{prefix}[{i}]");
                match (old.get(i), new.get(i)) {
                    (Some(was), Some(value)) => walk(was, value, &path, diff),
                    (None, Some(value)) => collect(value, &path, &mut diff.added),
                    (Some(was), None) => collect(was, &path, &mut diff.removed),
                    (None, None) => {}
                }
            }
        }
        _ => {
            if !deep_equal(prev, next) && !prefix.is_empty() {
                diff.changed.push(prefix.to_owned());
            }
        }
    }
}

fn collect(value: &JsValue, prefix: &str, bucket: &mut Vec<String>) {
    match value {
        JsValue::Object(props) => {
            for (key, v) in props {
                collect(v, &key_path(prefix, key), bucket);
            }
        }
        JsValue::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect(v, &format!("{prefix}[{i}]"), bucket);
            }
        }
        _ => {
            if !prefix.is_empty() {
                bucket.push(prefix.to_owned());
            }
        }
    }
}

/// diff.js's `deepEqual` (reached only when the two are not both objects
/// or both arrays, so it is `===` on scalars).
fn deep_equal(a: &JsValue, b: &JsValue) -> bool {
    match (a, b) {
        (JsValue::Null, JsValue::Null) => true,
        (JsValue::Bool(x), JsValue::Bool(y)) => x == y,
        // `===` on doubles: exact, as in JavaScript.
        #[allow(clippy::float_cmp)]
        (JsValue::Number(x), JsValue::Number(y)) => x == y,
        (JsValue::String(x), JsValue::String(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(prev: Option<&str>, next: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
        let parse = |s: &str| JsValue::parse(s.as_bytes()).unwrap_or(JsValue::Null);
        let prev = prev.map(parse);
        let d = diff_state(prev.as_ref(), &parse(next));
        (d.added, d.removed, d.changed)
    }

    #[test]
    fn first_save_adds_every_leaf() {
        let (added, removed, changed) = diff(None, r#"{"a":{"b":[1,{}]},"c":null,"d":[]}"#);
        assert_eq!(added, ["a.b[0]", "c"]);
        assert!(removed.is_empty() && changed.is_empty());
    }

    #[test]
    fn type_change_is_one_changed_path() {
        let (added, removed, changed) =
            diff(Some(r#"{"a":{"b":1},"x":[1]}"#), r#"{"a":5,"x":{"0":1}}"#);
        assert!(added.is_empty() && removed.is_empty());
        assert_eq!(changed, ["a", "x"]);
    }
}
