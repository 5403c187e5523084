//! The command line for people (issue 15), run as a process: deleting
//! commands ask first, `show` says what the thread waits for, short ids,
//! "did you mean", `history --graph`, plurals, byte units, `--limit 0`,
//! `diff` against the latest, colours only on a terminal, `--json`
//! everywhere, completions, export trailers and escaped control
//! characters. The terminal itself (the question, colours) is in
//! `cli_terminal.rs`.
#![cfg(feature = "cli")]

mod cli_support;

use checkpointer::{BaseCheckpointSaver, Checkpoint, CheckpointMetadata, CheckpointSource, Config};
use cli_support::{Fixture, Step, gid, golden_thread};
use serde_json::json;

fn fixture() -> (Fixture, Vec<Config>) {
    let fx = Fixture::new();
    let configs = golden_thread(&fx.saver());
    (fx, configs)
}

fn count(fx: &Fixture, thread: &str) -> usize {
    fx.saver()
        .list(
            Some(&Config::thread(thread)),
            &checkpointer::ListOptions::new(),
        )
        .unwrap()
        .len()
}

/// A second thread `other` of `n` checkpoints.
fn other_thread(fx: &Fixture, n: u32) {
    let saver = fx.saver();
    let mut parent = Config::thread("other");
    let mut cp = None;
    let mut counter = 100;
    for i in 0..n {
        let (c, k, next) = Step::after(cp.as_ref(), 40 + i, counter)
            .push("messages", "x")
            .put(&saver, &parent, CheckpointSource::Loop, i64::from(i));
        let mut k: Checkpoint = k;
        k.id = gid(40 + i);
        (parent, cp, counter) = (c, Some(k), next);
    }
}

// ------------------------------------------------------ safe by default

#[test]
fn delete_without_yes_off_a_terminal_is_refused_and_says_what_it_would_remove() {
    let (fx, _) = fixture();
    let line = fx.fails(
        &["delete", "golden"],
        "refusing to delete 1 thread (7 checkpoints",
    );
    assert!(
        line.contains("--yes") && line.contains("--dry-run"),
        "{line}"
    );
    assert_eq!(count(&fx, "golden"), 7);
}

#[test]
fn dry_run_lists_threads_checkpoints_writes_and_bytes_and_removes_nothing() {
    let (fx, _) = fixture();
    other_thread(&fx, 2);
    let out = fx.ok(&["delete", "golden", "--dry-run"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("dry run: would delete 1 thread (7 checkpoints, "),
        "{out}"
    );
    assert!(
        lines[1].starts_with("  thread golden: 7 checkpoints, 1 pending write, "),
        "{out}"
    );
    assert!(
        lines[1].ends_with(" B") || lines[1].ends_with("KiB"),
        "{out}"
    );
    assert_eq!(count(&fx, "golden"), 7);

    let out = fx.ok(&["prune", "--all", "--keep-latest", "--dry-run"]);
    assert!(
        out.starts_with("dry run: would prune 7 checkpoints of 2 threads ("),
        "{out}"
    );
    assert!(out.contains("  from thread golden: 6 checkpoints"), "{out}");
    assert!(
        out.contains("  from thread other: 1 checkpoint, 0 pending writes"),
        "{out}"
    );
    assert_eq!((count(&fx, "golden"), count(&fx, "other")), (7, 2));

    // What --dry-run announced is what goes.
    let out = fx.ok(&["prune", "--all", "--keep-latest", "--yes"]);
    assert!(out.contains("removed 7 checkpoints, kept 2"), "{out}");
    assert_eq!((count(&fx, "golden"), count(&fx, "other")), (1, 1));
    let out = fx.ok(&["prune", "--all", "--keep-latest", "--dry-run"]);
    assert_eq!(out, "dry run: nothing to prune\n");
}

#[test]
fn dry_run_bytes_are_the_json_size_of_what_goes() {
    let (fx, _) = fixture();
    let out = fx.ok(&["delete", "golden", "--dry-run"]);
    let all = fx
        .saver()
        .list(
            Some(&Config::thread("golden")),
            &checkpointer::ListOptions::new(),
        )
        .unwrap();
    let exact: usize = all
        .iter()
        .map(|t| serde_json::to_vec(t).unwrap().len())
        .sum();
    let tenths = (exact * 10 + 512) / 1024;
    let kib = format!("{}.{} KiB", tenths / 10, tenths % 10);
    assert!(out.contains(&kib), "{out} lacks {kib} ({exact} bytes)");
}

#[test]
fn prune_all_alone_is_refused_with_an_explanation() {
    let (fx, _) = fixture();
    for extra in [&[][..], &["--yes"], &["--dry-run"]] {
        let mut args = vec!["prune", "--all"];
        args.extend_from_slice(extra);
        let line = fx.fails(
            &args,
            "refusing `prune --all` without --keep-latest or --older-than",
        );
        assert!(line.contains("every thread"), "{line}");
    }
    assert_eq!(count(&fx, "golden"), 7);
    // --yes and --dry-run together make no sense.
    fx.cmd()
        .args(["delete", "golden", "--yes", "--dry-run"])
        .assert()
        .code(2);
}

// ------------------------------------------------------------ show

#[test]
fn show_says_what_the_thread_waits_for_and_how_to_continue() {
    let (fx, c) = fixture();
    let out = fx.ok(&["show", "golden"]);
    assert!(
        out.starts_with("status      waiting for a human in node review\n"),
        "{out}"
    );
    assert!(
        out.contains(r#"  "question": "publish this draft?""#),
        "{out}"
    );
    assert!(out.contains("next        review\n"), "{out}");
    assert!(
        out.contains(
            r#"continue    graph.invoke(Command::resume(ANSWER), &Config::thread("golden"))"#
        ),
        "{out}"
    );
    let v = fx.json(&["show", "golden"]);
    assert_eq!(v["status"]["state"], "waiting");
    assert_eq!(v["status"]["nodes"], json!(["review"]));
    assert_eq!(v["status"]["values"][0]["question"], "publish this draft?");
    assert_eq!(v["next"], json!(["review"]));
    assert_eq!(v["latest"], true);

    // An older checkpoint: stopped before a node; continuing forks.
    let out = fx.ok(&["show", "golden", c[3].checkpoint_id.as_deref().unwrap()]);
    assert!(
        out.starts_with("status      interrupted before publish"),
        "{out}"
    );
    assert!(out.contains("next        publish\n"), "{out}");
    assert!(out.contains(".with_checkpoint_id(\"1f0c0000-0004"), "{out}");
    assert!(out.contains("this forks the thread"), "{out}");
    // A finished branch.
    let out = fx.ok(&["show", "golden", &gid(5)]);
    assert!(
        out.starts_with("status      finished\nnext        -\n\n"),
        "{out}"
    );
    assert!(!out.contains("continue"), "{out}");
}

#[test]
fn show_names_the_failed_node_and_its_error() {
    let (fx, c) = fixture();
    fx.saver()
        .put_writes(
            &c[3],
            &[(
                "__error__".to_owned(),
                json!("ValueError: no channel named 'draft'"),
            )],
            "task-publish",
            "~__pregel_pull, publish",
        )
        .unwrap();
    let out = fx.ok(&["show", "golden", &gid(4)]);
    assert!(
        out.starts_with("status      failed in node publish\n"),
        "{out}"
    );
    assert!(
        out.contains("error       ValueError: no channel named 'draft'\n"),
        "{out}"
    );
    assert!(
        out.contains("continue    graph.invoke(Input::Continue"),
        "{out}"
    );
    let v = fx.json(&["show", "golden", &gid(4)]);
    assert_eq!(v["status"]["state"], "failed");
    assert_eq!(
        v["status"]["errors"][0],
        "ValueError: no channel named 'draft'"
    );
}

#[test]
fn show_hides_internal_channels_unless_all() {
    let (fx, _) = fixture();
    let out = fx.ok(&["show", "golden"]);
    assert!(!out.contains("branch:to:review"), "{out}");
    assert!(out.contains("1 internal not shown (--all)"), "{out}");
    let out = fx.ok(&["show", "golden", "--all"]);
    assert!(out.contains("  branch:to:review = null"), "{out}");
    assert!(out.contains("state (3 channels)\n"), "{out}");
}

#[test]
fn long_lists_go_one_item_per_line_and_long_strings_fold_to_the_width() {
    let (fx, _) = fixture();
    let narrow = |cols: &str, args: &[&str]| {
        let out = fx.cmd().env("COLUMNS", cols).args(args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let out = narrow("40", &["show", "golden", &gid(5)]);
    assert!(
        out.contains("  messages = [4 items]\n    [0] user: explain checkpoints\n"),
        "{out}"
    );
    assert!(out.contains("    [3] assistant: published\n"), "{out}");
    let state: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("state"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(state.iter().all(|l| l.chars().count() <= 40), "{state:#?}");
    // Folded, nothing lost.
    let words: String = state
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        words.contains("every step is saved, so a run can stop, wait for a person and go on later"),
        "{words}"
    );
    // Wide enough: on one line, as JSON.
    let out = narrow("200", &["show", "golden", &gid(5)]);
    assert!(
        out.contains(r#"  messages = ["user: explain checkpoints","#),
        "{out}"
    );
}

// ------------------------------------------------------------ short ids

#[test]
fn any_unambiguous_prefix_names_a_checkpoint() {
    let (fx, _) = fixture();
    let prefix = &gid(4)[..13];
    let v = fx.json(&["show", "golden", prefix]);
    assert_eq!(v["checkpoint"]["id"], gid(4));
    let v = fx.json(&["diff", "golden", &gid(3)[..13], &gid(4)[..13]]);
    assert_eq!(
        (v["a"].as_str(), v["b"].as_str()),
        (Some(gid(3).as_str()), Some(gid(4).as_str()))
    );
    let v = fx.json(&["history", "golden", "--before", &gid(3)[..13]]);
    assert_eq!(v.as_array().unwrap().len(), 2);
}

#[test]
fn an_ambiguous_prefix_lists_the_candidates() {
    let (fx, _) = fixture();
    let line = fx.fails(
        &["show", "golden", "1f0c0000-000"],
        "is ambiguous in thread \"golden\"",
    );
    for n in 1..=5 {
        assert!(line.contains(&gid(n)), "{line}");
    }
    assert!(line.contains("and 2 more"), "{line}");
    fx.fails(
        &["show", "golden", "1f0c0000-0009"],
        "checkpoint \"1f0c0000-0009\" not found",
    );
}

#[test]
fn an_unknown_thread_gets_did_you_mean() {
    let (fx, _) = fixture();
    other_thread(&fx, 1);
    let line = fx.fails(&["show", "goldne"], "thread \"goldne\" not found");
    assert!(line.contains("did you mean \"golden\"?"), "{line}");
    let line = fx.fails(&["history", "othr"], "did you mean \"other\"?");
    assert!(!line.contains("golden"), "{line}");
    let line = fx.fails(&["delete", "zzzzzzzzzz", "--yes"], "not found");
    assert!(!line.contains("did you mean"), "{line}");
}

// ------------------------------------------------------------ history

#[test]
fn history_is_narrow_with_short_ids_and_a_node_column() {
    let (fx, _) = fixture();
    let out = fx.ok(&["history", "golden"]);
    let header = out.lines().next().unwrap();
    assert!(header.contains("NODE"), "{header}");
    assert!(out.lines().all(|l| l.chars().count() <= 100), "{out}");
    assert!(!out.contains(&gid(4)), "full ids are shortened: {out}");
    let row = out
        .lines()
        .find(|l| l.split_whitespace().find(|w| w.starts_with("1f0c")) == Some("1f0c0000-0004"))
        .unwrap();
    assert!(row.contains(" review "), "{row}");
    let v = fx.json(&["history", "golden"]);
    assert_eq!(v[3]["nodes"], json!(["review"]));
    assert_eq!(v[3]["checkpoint_id"], gid(4), "JSON keeps full ids");
}

#[test]
fn history_graph_draws_branches_and_marks_their_latest() {
    let (fx, _) = fixture();
    let out = fx.ok(&["history", "golden", "--graph"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 9, "7 checkpoints and 2 joins: {out}");
    let latest: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.ends_with("(latest)"))
        .collect();
    assert_eq!(latest.len(), 3, "{out}");
    assert!(lines[0].starts_with("*      1f0c0000-0007"), "{out}");
    assert_eq!(lines[3], "| |/");
    assert_eq!(lines[5], "|/");
    let v = fx.json(&["history", "golden", "--graph"]);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    let lanes: Vec<u64> = rows.iter().map(|r| r["lane"].as_u64().unwrap()).collect();
    assert_eq!(lanes, [0, 1, 2, 1, 0, 0, 0]);
    assert_eq!(rows[3]["joins"], json!(["| |/"]));
    assert_eq!(rows[0]["latest_of_branch"], true);
    assert_eq!(rows[0]["checkpoint_id"], gid(7));
}

// ------------------------------------------------------ small things

#[test]
fn plurals_are_right() {
    let (fx, _) = fixture();
    other_thread(&fx, 1);
    let out = fx.ok(&["copy", "other", "other2"]);
    assert!(out.contains("(1 checkpoint)"), "{out}");
    let out = fx.ok(&["delete", "other2", "--yes"]);
    assert!(
        out.contains("deleted thread \"other2\" (1 checkpoint)"),
        "{out}"
    );
    let out = fx.ok(&["prune", "other", "--keep-latest", "--yes"]);
    assert!(
        out.contains("pruned 1 thread: removed 0 checkpoints, kept 1"),
        "{out}"
    );
    let out = fx.ok(&["show", "golden", &gid(1), "--all"]);
    assert!(out.contains("state (1 channel)"), "{out}");
}

#[test]
fn limit_zero_is_refused() {
    let (fx, _) = fixture();
    for args in [
        ["threads", "--limit", "0"],
        ["history", "golden", "--limit"],
    ] {
        let mut a = args.to_vec();
        if a.len() == 3 && a[0] == "history" {
            a.push("0");
        }
        let out = fx.cmd().args(&a).assert().code(2);
        let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(err.contains("0 would show nothing"), "{err}");
    }
    assert_eq!(
        fx.json(&["threads", "--limit", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn diff_with_one_id_compares_with_the_latest() {
    let (fx, _) = fixture();
    let out = fx.ok(&["diff", "golden", &gid(3)[..13]]);
    assert!(
        out.contains(&format!("b: {} (step 2, the latest)", gid(7))),
        "{out}"
    );
    assert!(out.contains("draft: changed"), "{out}");
    assert!(out.contains("messages: appended"), "{out}");
    let v = fx.json(&["diff", "golden", &gid(3)]);
    assert_eq!(v["b"], gid(7));
}

#[test]
fn no_colours_when_piped_or_with_no_color() {
    let (fx, _) = fixture();
    for args in [&["show", "golden"][..], &["history", "golden", "--graph"]] {
        let piped = fx.ok(args);
        assert!(!piped.contains('\u{1b}'), "{piped}");
        let out = fx.cmd().env("NO_COLOR", "1").args(args).assert().success();
        assert!(!out.get_output().stdout.contains(&0x1b));
    }
}

#[test]
fn every_read_command_has_json() {
    let (fx, _) = fixture();
    for args in [
        &["threads"][..],
        &["history", "golden"],
        &["history", "golden", "--graph"],
        &["show", "golden"],
        &["diff", "golden", &gid(3)],
    ] {
        let v = fx.json(args);
        assert!(v.is_object() || v.is_array(), "{args:?}: {v}");
    }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let fx = Fixture::new();
    for (shell, needle) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef checkpointer"),
        ("fish", "complete -c checkpointer"),
    ] {
        let out = fx.ok(&["completions", shell]);
        assert!(out.contains(needle), "{shell}: {out}");
        assert!(out.contains("history"), "{shell}");
    }
    fx.cmd()
        .args(["completions", "powershell-9"])
        .assert()
        .code(2);
    assert!(!fx.db.exists(), "completions never open the database");
}

#[test]
fn vacuum_and_dry_runs_use_human_units_and_exact_bytes_in_json() {
    let (fx, _) = fixture();
    let out = fx.ok(&["vacuum"]);
    assert!(
        out.contains(" KiB before, ") || out.contains(" MiB before, "),
        "{out}"
    );
    assert!(out.contains(" bytes before, "), "exact bytes too: {out}");
    let v = fx.json(&["vacuum"]);
    let size = std::fs::metadata(&fx.db).unwrap().len();
    assert_eq!(v["bytes_after"], size);
    assert!(v["bytes_before"].as_u64().unwrap() >= size, "{v}");
    assert_eq!(
        v["bytes_freed"].as_u64().unwrap(),
        v["bytes_before"].as_u64().unwrap() - size
    );

    let v = fx.json(&["delete", "golden", "--dry-run"]);
    let all = fx
        .saver()
        .list(
            Some(&Config::thread("golden")),
            &checkpointer::ListOptions::new(),
        )
        .unwrap();
    let exact: usize = all
        .iter()
        .map(|t| serde_json::to_vec(t).unwrap().len())
        .sum();
    assert_eq!(v["bytes"], exact);
    assert_eq!(v["threads"][0]["thread_id"], "golden");
    assert_eq!(v["threads"][0]["checkpoints"], 7);
    assert_eq!(v["threads"][0]["pending_writes"], 1);
    assert_eq!(count(&fx, "golden"), 7);
    // --json only with --dry-run.
    fx.cmd()
        .args(["delete", "golden", "--yes", "--json"])
        .assert()
        .code(2);
    fx.fails(
        &["delete", "golden", "--json"],
        "--json goes with --dry-run",
    );
    assert_eq!(count(&fx, "golden"), 7);
}

// ------------------------------------------------------------ exports

#[test]
fn import_refuses_a_cut_export_and_warns_on_version_1() {
    let (fx, _) = fixture();
    let full = fx.ok(&["export", "golden"]);
    let lines: Vec<&str> = full.lines().collect();
    let cut = lines[..lines.len() - 2].join("\n");
    let out = fx
        .cmd()
        .args(["import", "--thread", "cut"])
        .write_stdin(cut)
        .assert()
        .code(1);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(err.contains("ends without its trailer line"), "{err}");
    assert_eq!(count(&fx, "cut"), 0, "nothing imported");

    let v1: Vec<String> = lines
        .iter()
        .filter(|l| !l.contains(r#""type":"trailer""#))
        .map(|l| l.replacen(r#""version":2"#, r#""version":1"#, 1))
        .collect();
    let out = fx
        .cmd()
        .args(["import", "--thread", "old"])
        .write_stdin(v1.join("\n"))
        .assert()
        .success();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(
        err.starts_with("warning: this export is format version 1 (no trailer)"),
        "{err}"
    );
    assert_eq!(count(&fx, "old"), 7);
}

// ------------------------------------------------- terminal escapes

#[test]
fn control_characters_are_escaped_in_text_and_exact_in_json() {
    let fx = Fixture::new();
    let saver = fx.saver();
    let evil = "evil\u{1b}]0;owned\u{7}\u{1b}[2J";
    let cp = Checkpoint::new(0).with_value("messages", json!(["hi\u{1b}[31m red"]), 1);
    saver
        .put(
            &Config::thread(evil),
            &cp,
            &CheckpointMetadata::new(CheckpointSource::Loop, 0),
            &cp.channel_versions,
        )
        .unwrap();
    drop(saver);
    for args in [
        &["threads"][..],
        &["show", evil],
        &["history", evil],
        &["history", evil, "--graph"],
        &["delete", evil, "--dry-run"],
    ] {
        let out = fx.cmd().args(args).assert().success();
        let stdout = &out.get_output().stdout;
        assert!(
            !stdout.contains(&0x1b) && !stdout.contains(&0x07),
            "{args:?}: {}",
            String::from_utf8_lossy(stdout)
        );
    }
    assert!(
        fx.ok(&["threads"])
            .contains(r"evil\u{1b}]0;owned\u{7}\u{1b}[2J")
    );
    let v = fx.json(&["threads"]);
    assert_eq!(v[0]["thread_id"], evil);
    let v = fx.json(&["show", evil]);
    assert_eq!(
        v["checkpoint"]["channel_values"]["messages"][0],
        "hi\u{1b}[31m red"
    );
    // Errors name the thread escaped, too.
    let line = fx.fails(&["show", evil, "nope"], "not found");
    assert!(!line.contains('\u{1b}'), "{line}");
}
