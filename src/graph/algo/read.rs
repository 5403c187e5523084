//! What a checkpoint says about the state and the node that ran last.

use serde_json::{Map, Value};

use crate::graph::spec::{GraphSpec, START};
use crate::saver::{ChannelVersion, Checkpoint};

/// Every state channel with a value, as one object; a reducer channel never
/// written reads as its reducer's default, as in LangGraph.
pub(crate) fn state_values(spec: &GraphSpec, checkpoint: &Checkpoint) -> Map<String, Value> {
    spec.state_channels
        .iter()
        .filter_map(|ch| {
            let value = checkpoint
                .channel_values
                .get(ch)
                .or_else(|| spec.channels.get(ch)?.default_value())?;
            Some((ch.clone(), value.clone()))
        })
        .collect()
}

/// The node that ran last: the one whose seen versions are newest (`START`
/// when no node ran); an error naming them when several ran last together.
pub(crate) fn last_node(spec: &GraphSpec, checkpoint: &Checkpoint) -> Result<String, String> {
    let mut best: Option<(ChannelVersion, Vec<&String>)> = None;
    for (node, seen) in &checkpoint.versions_seen {
        if !spec.nodes.contains_key(node) {
            continue;
        }
        let Some(max) = seen.values().max().copied() else {
            continue;
        };
        match &mut best {
            Some((v, names)) if *v == max => names.push(node),
            Some((v, _)) if *v > max => {}
            _ => best = Some((max, vec![node])),
        }
    }
    match best {
        None => Ok(START.to_owned()),
        Some((_, names)) if names.len() == 1 => Ok(names[0].clone()),
        Some((_, names)) => Err(format!(
            "nodes {names:?} ran last together; pass as_node to say which one the update comes from"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::graph::algo::fixture;

    fn saw(cp: &mut Checkpoint, node: &str, version: u64) {
        cp.versions_seen
            .entry(node.to_owned())
            .or_default()
            .insert(format!("branch:to:{node}"), version.into());
    }

    #[test]
    fn the_state_is_the_state_channels_only_with_reducer_defaults() {
        let cp = Checkpoint::new(0)
            .with_value("x", json!(1), 1u64)
            .with_value("branch:to:a", json!("__start__"), 1u64);
        // `log` (append) was never written: it reads as `[]`, as in LangGraph.
        assert_eq!(
            Value::Object(state_values(&fixture::spec(), &cp)),
            json!({"x": 1, "log": []})
        );
    }

    #[test]
    fn the_last_node_is_the_one_that_saw_the_newest_version() {
        let spec = fixture::spec();
        let mut cp = Checkpoint::new(0);
        assert_eq!(last_node(&spec, &cp).as_deref(), Ok(START));
        saw(&mut cp, "a", 1);
        saw(&mut cp, "b", 2);
        saw(&mut cp, "ghost", 9);
        assert_eq!(last_node(&spec, &cp).as_deref(), Ok("b"));
        saw(&mut cp, "c", 2);
        assert!(last_node(&spec, &cp).is_err());
    }
}
