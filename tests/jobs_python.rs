//! The JSON file store against the real dcc-mcp-core 0.20.49
//! `CheckpointStore`: each side reads the file the other wrote.
//! `CHECKPOINTER_DCC_PYTHON` is a Python with `dcc-mcp-core` (`.ci/run`
//! makes the venv); under `CI=true` the tests fail without it.

use std::process::Command;

use checkpointer::jobs::{JobStore, JsonFileJobStore, resolve_checkpoint_path_in};
use serde_json::{Value, json};

fn python(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_DCC_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: CI=true but CHECKPOINTER_DCC_PYTHON is unset (.ci/run makes the venv)")
        }
        _ => {
            println!("{test}: skipped, CHECKPOINTER_DCC_PYTHON is unset");
            None
        }
    }
}

/// Runs the Python `code` with `args` and parses what it prints.
fn python_json(python: &str, code: &str, args: &[&std::ffi::OsStr]) -> Value {
    let out = Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// Runs `code` with `s`, a `CheckpointStore` on `path`.
fn run(python: &str, path: &std::path::Path, code: &str) -> Value {
    let code = format!(
        "import json, sys\nfrom dcc_mcp_core.checkpoint import CheckpointStore\ns = CheckpointStore(sys.argv[1])\n{code}"
    );
    python_json(python, &code, &[path.as_os_str()])
}

#[test]
fn python_reads_what_this_crate_wrote() {
    let Some(python) = python("python_reads") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    let store = JsonFileJobStore::new(&path);
    store
        .save(
            "render",
            json!({"done": 120, "files": ["a.ma", "b.ma"], "名": "ü"}),
            "120/200",
        )
        .unwrap();
    store.save("index", json!({}), "").unwrap();
    let theirs = run(
        &python,
        &path,
        "print(json.dumps({'ids': sorted(s.list_ids()), 'render': s.get('render'), 'index': s.get('index')}))",
    );
    let render = store.get("render").unwrap().unwrap();
    assert_eq!(theirs["ids"], json!(["index", "render"]));
    assert_eq!(theirs["render"], serde_json::to_value(&render).unwrap());
    assert_eq!(theirs["index"]["context"], json!({}));
}

#[test]
fn this_crate_reads_what_python_wrote() {
    let Some(python) = python("we_read") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    let theirs = run(
        &python,
        &path,
        "s.save('bake', {'frame': 42, 'é': [1, 2.5, None]}, '42/100')\ns.save('gone', {'x': 1})\ns.clear('gone')\nprint(json.dumps(s.get('bake')))",
    );
    let store = JsonFileJobStore::new(&path);
    assert_eq!(store.list_ids().unwrap(), ["bake"]);
    let ours = store.get("bake").unwrap().unwrap();
    assert_eq!(serde_json::to_value(&ours).unwrap(), theirs);
    // Python sees our save next to its own after its next write merges.
    store.save("ours", json!({"n": 1}), "from rust").unwrap();
    let both = run(
        &python,
        &path,
        "s.save('bake2', {})\nprint(json.dumps(sorted(s.list_ids())))",
    );
    assert_eq!(both, json!(["bake", "bake2", "ours"]));
}

#[test]
fn python_and_rust_saving_at_once_lose_no_job() {
    let Some(python) = python("at_once") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoints.json");
    let mut child = Command::new(&python)
        .arg("-c")
        .arg("import sys\nfrom dcc_mcp_core.checkpoint import CheckpointStore\ns = CheckpointStore(sys.argv[1])\nfor i in range(150):\n    s.save(f'py{i}', {'i': i}, 'python')")
        .arg(&path)
        .spawn()
        .expect("start python");
    let store = JsonFileJobStore::new(&path);
    // Start once Python has begun writing, so that both write at once.
    while store.list_ids().unwrap().is_empty() && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for i in 0..150 {
        store
            .save(&format!("rs{i}"), json!({"i": i}), "rust")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let ids = store.list_ids().unwrap();
    let lost: Vec<String> = (0..150)
        .flat_map(|i| [format!("py{i}"), format!("rs{i}")])
        .filter(|id| !ids.contains(id))
        .collect();
    assert!(lost.is_empty(), "jobs lost: {lost:?}");
    let theirs = run(&python, &path, "print(len(s.list_ids()))");
    assert_eq!(theirs, json!(300));
}

#[test]
fn default_paths_match_python() {
    let Some(python) = python("paths") else {
        return;
    };
    let cases = [
        ("maya", None),
        (" Blender 4.2 / main ", Some("#1 ü")),
        ("...", Some("__")),
        ("", None),
    ];
    for (dcc, instance) in cases {
        for base in ["", "/srv/dcc", "~/x"] {
            let code = format!(
                "from dcc_mcp_core.checkpoint import resolve_checkpoint_path\nimport json, os\nos.environ['HOME'] = '/home/h'\nos.environ['DCC_MCP_CHECKPOINT_DIR'] = {base:?}\nos.environ.pop('DCC_MCP_CHECKPOINT_IN_MEMORY', None)\nprint(json.dumps(str(resolve_checkpoint_path({dcc:?}, {}))))",
                instance.map_or("None".to_owned(), |i| format!("{i:?}"))
            );
            let theirs = python_json(&python, &code, &[]);
            let ours = resolve_checkpoint_path_in(dcc, instance, None, None, |k| match k {
                "HOME" => Some("/home/h".into()),
                "DCC_MCP_CHECKPOINT_DIR" => Some(base.into()),
                _ => None,
            });
            assert_eq!(
                Value::from(ours.unwrap().to_str().unwrap()),
                theirs,
                "dcc {dcc:?}, instance {instance:?}, base {base:?}"
            );
        }
    }
    let in_memory = resolve_checkpoint_path_in("maya", None, None, None, |k| {
        (k == "DCC_MCP_CHECKPOINT_IN_MEMORY").then(|| " Yes ".to_owned())
    });
    assert_eq!(in_memory, None);
}
