//! Where dcc-mcp-core keeps a DCC's checkpoint file.

use std::path::{Path, PathBuf};

/// The environment variable that names the base directory.
pub const ENV_CHECKPOINT_DIR: &str = "DCC_MCP_CHECKPOINT_DIR";
/// The environment variable that asks for in-memory checkpoints (`1`,
/// `true`, `yes` or `on`).
pub const ENV_CHECKPOINT_IN_MEMORY: &str = "DCC_MCP_CHECKPOINT_IN_MEMORY";
/// The file name of a checkpoint file.
pub const CHECKPOINT_FILE_NAME: &str = "checkpoints.json";

/// dcc-mcp-core's `resolve_checkpoint_path(dcc_name, instance_id, path=,
/// in_memory=)`, reading the process environment: `path` wins; otherwise
/// `None` (in memory) when `in_memory` is `Some(true)` or, when it is
/// `None`, when `DCC_MCP_CHECKPOINT_IN_MEMORY` is `1`/`true`/`yes`/`on`;
/// otherwise `${DCC_MCP_CHECKPOINT_DIR:-~/.dcc-mcp}/<dcc>/[<instance>/]checkpoints.json`
/// with each segment made safe as dcc-mcp-core does.
pub fn resolve_checkpoint_path(
    dcc_name: &str,
    instance_id: Option<&str>,
    path: Option<&Path>,
    in_memory: Option<bool>,
) -> Option<PathBuf> {
    resolve_checkpoint_path_in(dcc_name, instance_id, path, in_memory, |k| {
        std::env::var(k).ok()
    })
}

/// [`resolve_checkpoint_path`] with the environment given by `env`.
pub fn resolve_checkpoint_path_in(
    dcc_name: &str,
    instance_id: Option<&str>,
    path: Option<&Path>,
    in_memory: Option<bool>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    if let Some(path) = path {
        return Some(expand_user(&path.to_string_lossy(), &env));
    }
    let in_memory = in_memory.unwrap_or_else(|| {
        let value = env(ENV_CHECKPOINT_IN_MEMORY).unwrap_or_default();
        matches!(
            value.trim().to_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    });
    if in_memory {
        return None;
    }
    let configured = env(ENV_CHECKPOINT_DIR).unwrap_or_default();
    let base = if configured.trim().is_empty() {
        expand_user("~", &env).join(".dcc-mcp")
    } else {
        expand_user(configured.trim(), &env)
    };
    let mut dir = base.join(or_default(safe_segment(dcc_name), "dcc"));
    if let Some(instance) = instance_id.filter(|i| !i.is_empty()) {
        dir = dir.join(or_default(safe_segment(instance), "default"));
    }
    Some(dir.join(CHECKPOINT_FILE_NAME))
}

fn or_default(segment: String, default: &str) -> String {
    if segment.is_empty() {
        default.to_owned()
    } else {
        segment
    }
}

/// dcc-mcp-core's `_safe_segment`: runs of characters outside
/// `[A-Za-z0-9_.-]` become `_`, then `.`, `_` and `-` are stripped from
/// both ends and the first 96 characters kept.
pub fn safe_segment(value: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in value.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.trim_matches(|c| matches!(c, '.' | '_' | '-'))
        .chars()
        .take(96)
        .collect()
}

/// Python's `expanduser` for `~` and `~/...` (HOME, else USERPROFILE).
fn expand_user(path: &str, env: &impl Fn(&str) -> Option<String>) -> PathBuf {
    let home = || env("HOME").or_else(|| env("USERPROFILE"));
    match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match home() {
            Some(home) => PathBuf::from(format!("{home}{rest}")),
            None => PathBuf::from(path),
        },
        _ => PathBuf::from(path),
    }
}
