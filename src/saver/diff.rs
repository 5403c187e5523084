//! How the channels of two checkpoints differ: the comparison behind the
//! command line's `diff` and the web page's "diff against the parent".

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// How one channel differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in the new checkpoint.
    Added,
    /// Only in the old checkpoint.
    Removed,
    /// The new list is the old list with items added at the end.
    Appended,
    /// The new list is a prefix of the old list.
    Truncated,
    /// Both are lists that share a first part and then differ.
    Diverged,
    /// Any other difference.
    Changed,
}

/// One differing channel, borrowing the values compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChannelDiff<'a> {
    /// The channel.
    pub channel: &'a str,
    /// How it differs.
    pub change: Change,
    /// Its old value (absent for [`Change::Added`]).
    pub old: Option<&'a Value>,
    /// Its new value (absent for [`Change::Removed`]).
    pub new: Option<&'a Value>,
    /// For `appended` and `diverged`: the items the new list has after the
    /// common first part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_items: Option<&'a [Value]>,
    /// For `truncated` and `diverged`: the items the old list has after the
    /// common first part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_items: Option<&'a [Value]>,
    /// For lists: how many first items both share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_items: Option<usize>,
}

/// Compares one channel's old and new values; `None` if they are equal.
///
/// ```
/// use checkpointer::saver::diff::{Change, compare};
/// use serde_json::json;
///
/// let (old, new) = (json!(["hi"]), json!(["hi", "hello!"]));
/// let d = compare("messages", Some(&old), Some(&new)).expect("they differ");
/// assert_eq!(d.change, Change::Appended);
/// assert_eq!(d.added_items, Some(&[json!("hello!")][..]));
/// assert!(compare("messages", Some(&old), Some(&old)).is_none());
/// ```
pub fn compare<'a>(
    channel: &'a str,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
) -> Option<ChannelDiff<'a>> {
    let mut diff = ChannelDiff {
        channel,
        change: Change::Changed,
        old,
        new,
        added_items: None,
        removed_items: None,
        common_items: None,
    };
    match (old, new) {
        (None, None) => return None,
        (Some(a), Some(b)) if a == b => return None,
        (None, Some(_)) => diff.change = Change::Added,
        (Some(_), None) => diff.change = Change::Removed,
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            diff.common_items = Some(common);
            let (removed, added) = (&a[common..], &b[common..]);
            diff.change = match (removed.is_empty(), added.is_empty()) {
                (true, _) => Change::Appended,
                (false, true) => Change::Truncated,
                (false, false) => Change::Diverged,
            };
            diff.removed_items = (!removed.is_empty()).then_some(removed);
            diff.added_items = (!added.is_empty()).then_some(added);
        }
        _ => {}
    }
    Some(diff)
}

/// Every channel that differs between two sets of channel values, in
/// channel order.
pub fn diff_channels<'a>(
    old: &'a BTreeMap<String, Value>,
    new: &'a BTreeMap<String, Value>,
) -> Vec<ChannelDiff<'a>> {
    let channels: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    channels
        .into_iter()
        .filter_map(|ch| compare(ch, old.get(ch), new.get(ch)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_show_what_was_appended() {
        let (a, b) = (json!(["x"]), json!(["x", "y", "z"]));
        let d = compare("m", Some(&a), Some(&b)).unwrap();
        assert_eq!(d.change, Change::Appended);
        assert_eq!(d.added_items.unwrap(), &[json!("y"), json!("z")]);
        let d = compare("m", Some(&b), Some(&a)).unwrap();
        assert_eq!(d.change, Change::Truncated);
        assert_eq!(d.removed_items.unwrap(), &[json!("y"), json!("z")]);
        let c = json!(["x", "q"]);
        let d = compare("m", Some(&c), Some(&b)).unwrap();
        assert_eq!(d.change, Change::Diverged);
        assert_eq!(d.common_items, Some(1));
        assert!(compare("m", Some(&a), Some(&a)).is_none());
        let (one, two) = (json!(1), json!(2));
        let d = compare("m", Some(&one), Some(&two)).unwrap();
        assert_eq!(d.change, Change::Changed);
    }

    #[test]
    fn channels_only_on_one_side_are_added_or_removed() {
        let old = BTreeMap::from([("a".to_owned(), json!(1)), ("b".to_owned(), json!(2))]);
        let new = BTreeMap::from([("b".to_owned(), json!(2)), ("c".to_owned(), json!(3))]);
        let diffs = diff_channels(&old, &new);
        let got: Vec<_> = diffs.iter().map(|d| (d.channel, d.change)).collect();
        assert_eq!(got, [("a", Change::Removed), ("c", Change::Added)]);
    }
}
