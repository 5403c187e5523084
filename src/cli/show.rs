//! `show`: one checkpoint in full.

use std::path::Path;

use checkpointer::{CheckpointAdmin, CheckpointTuple, Config, ListOptions};

use super::args::ShowArgs;
use super::error::{CliError, CliResult};
use super::open::require_thread;
use super::table::{Table, compact, local_time, ns_label, print_json};

/// The checkpoint `id` of `thread` (the latest of namespace `ns`, root by
/// default, if `id` is `None`). Without `ns`, an id is looked up in every
/// namespace of the thread.
pub(crate) fn find_tuple(
    saver: &dyn CheckpointAdmin,
    path: &Path,
    thread: &str,
    id: Option<&str>,
    ns: Option<&str>,
) -> CliResult<CheckpointTuple> {
    require_thread(saver, path, thread)?;
    let unknown = |id: &str| CliError::UnknownCheckpoint {
        thread: thread.to_owned(),
        id: id.to_owned(),
    };
    match id {
        None => {
            let config = Config::thread(thread).with_ns(ns.unwrap_or(""));
            saver
                .get_tuple(&config)?
                .ok_or_else(|| CliError::EmptyNamespace {
                    thread: thread.to_owned(),
                    ns: ns.unwrap_or("").to_owned(),
                })
        }
        Some(id) => {
            let mut config = Config::thread(thread).with_checkpoint_id(id);
            config.checkpoint_ns = ns.map(str::to_owned);
            saver
                .list_iter(Some(&config), &ListOptions::new().limit(1))?
                .next()
                .transpose()?
                .ok_or_else(|| unknown(id))
        }
    }
}

/// `show`: state, metadata, parent and pending writes of one checkpoint.
pub(crate) fn show(saver: &dyn CheckpointAdmin, path: &Path, args: &ShowArgs) -> CliResult<()> {
    let t = find_tuple(
        saver,
        path,
        &args.thread,
        args.checkpoint_id.as_deref(),
        args.ns.as_deref(),
    )?;
    if args.out.json {
        return print_json(&t);
    }
    let cp = &t.checkpoint;
    let parent = t
        .parent_config
        .as_ref()
        .and_then(|p| p.checkpoint_id.as_deref())
        .unwrap_or("-");
    let mut extra = serde_json::Map::new();
    if let Some(run_id) = &t.metadata.run_id {
        extra.insert("run_id".into(), run_id.clone().into());
    }
    if !t.metadata.parents.is_empty() {
        extra.insert(
            "parents".into(),
            serde_json::to_value(&t.metadata.parents).unwrap_or_default(),
        );
    }
    for (k, v) in &t.metadata.extra {
        extra.insert(k.clone(), v.clone());
    }
    outln!("thread      {}", t.config.thread_id);
    outln!("namespace   {}", ns_label(t.config.ns()));
    outln!("checkpoint  {}", cp.id);
    outln!("parent      {parent}");
    outln!("step        {}", t.metadata.step);
    outln!("source      {}", t.metadata.source);
    outln!("time        {}", local_time(&cp.ts));
    if !extra.is_empty() {
        outln!("metadata    {}", compact(&serde_json::Value::Object(extra)));
    }
    outln!();
    outln!("state ({} channels)", cp.channel_values.len());
    let width = cp
        .channel_values
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    for (channel, value) in &cp.channel_values {
        let pad = width - channel.chars().count();
        outln!("  {channel}{} = {}", " ".repeat(pad), compact(value));
    }
    outln!();
    if t.pending_writes.is_empty() {
        outln!("pending writes: none");
    } else {
        outln!("pending writes ({})", t.pending_writes.len());
        let mut table = Table::new(["TASK", "PATH", "IDX", "CHANNEL", "VALUE"]);
        for w in &t.pending_writes {
            table.row(vec![
                w.task_id.clone(),
                w.task_path.clone(),
                w.idx.to_string(),
                w.channel.clone(),
                compact(&w.value),
            ]);
        }
        for line in table.render().lines() {
            outln!("  {line}");
        }
    }
    Ok(())
}
