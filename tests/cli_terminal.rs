//! The tool on a real terminal (a tmux pane): deleting commands ask
//! `[y/N]` and do what the answer says; output has colours there, none
//! with `NO_COLOR`. Needs tmux (`.ci/run` installs it): under `CI=true` a
//! missing tmux fails the test, elsewhere it is skipped with a line.
#![cfg(feature = "cli")]

mod cli_support;

use std::process::Command;
use std::time::{Duration, Instant};

use checkpointer::{BaseCheckpointSaver, Config};
use cli_support::{Fixture, golden_thread};

/// A tmux server of its own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server named for the test `name` and this process.
    fn start(fx: &Fixture, name: &str) -> Self {
        let socket = format!("checkpointer-{name}-{}", std::process::id());
        let tmux = Tmux { socket };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "150",
            "-y",
            "50",
            "-c",
            fx.dir.path().to_str().unwrap(),
            "env",
            "-u",
            "NO_COLOR",
            "TZ=UTC",
            "PS1=$ ",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` and Enter.
    fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
        self.run(&["send-keys", "-t", "t", "Enter"]);
    }

    /// The pane's text, with colour escapes (`-e`).
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-e", "-t", "t", "-S", "-200"])
    }

    /// Waits until the pane shows `needle` (at most 20 s) and returns the
    /// screen; fails with the screen if it never does. Commands end with
    /// `echo done-$((N+0))`, so that the typed line itself never matches
    /// `done-N`.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(Instant::now() < deadline, "never saw {needle:?}:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clears the pane and its history.
    fn clear(&self) {
        self.type_line("clear");
        self.run(&["clear-history", "-t", "t"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The golden thread in a fresh database, a tmux pane and the command
/// line that runs the tool on it; `None` (skip) without tmux off CI.
fn setup(name: &str) -> Option<(Fixture, Tmux, String)> {
    if !cli_support::require("tmux") {
        return None;
    }
    let fx = Fixture::new();
    golden_thread(&fx.saver());
    let tmux = Tmux::start(&fx, name);
    let tool = tool(&fx);
    Some((fx, tmux, tool))
}

fn tool(fx: &Fixture) -> String {
    format!(
        "{} --db {}",
        env!("CARGO_BIN_EXE_checkpointer"),
        fx.db.display()
    )
}

fn has_thread(fx: &Fixture, thread: &str) -> bool {
    fx.saver()
        .get_tuple(&Config::thread(thread))
        .unwrap()
        .is_some()
}

#[test]
fn delete_asks_on_a_terminal_and_does_what_the_answer_says() {
    let Some((fx, tmux, tool)) = setup("ask") else {
        return;
    };

    tmux.type_line(&format!("{tool} delete golden; echo exit=$?"));
    let screen = tmux.wait_for("[y/N]");
    assert!(
        screen.contains("  thread golden: 7 checkpoints, 1 pending write"),
        "{screen}"
    );
    assert!(
        screen.contains("Delete 1 thread (7 checkpoints, "),
        "{screen}"
    );
    tmux.type_line("n");
    let screen = tmux.wait_for("exit=1");
    assert!(
        screen.contains("error: aborted: nothing was removed"),
        "{screen}"
    );
    assert!(has_thread(&fx, "golden"));

    tmux.clear();
    tmux.type_line(&format!("{tool} prune golden --keep-latest; echo exit=$?"));
    tmux.wait_for("[y/N]");
    tmux.type_line("y");
    let screen = tmux.wait_for("exit=0");
    assert!(
        screen.contains("pruned 1 thread: removed 6 checkpoints, kept 1"),
        "{screen}"
    );

    tmux.clear();
    tmux.type_line(&format!("{tool} delete golden; echo exit=$?"));
    tmux.wait_for("[y/N]");
    tmux.type_line("yes");
    let screen = tmux.wait_for("exit=0");
    assert!(
        screen.contains("deleted thread \"golden\" (1 checkpoint)"),
        "{screen}"
    );
    assert!(!has_thread(&fx, "golden"));
}

#[test]
fn colours_on_a_terminal_and_none_with_no_color() {
    // `_fx` keeps the temp dir until the end.
    let Some((_fx, tmux, tool)) = setup("colours") else {
        return;
    };

    tmux.type_line(&format!("{tool} show golden; echo done-$((1+0))"));
    let screen = tmux.wait_for("done-1\n");
    let status = screen
        .lines()
        .find(|l| l.contains("waiting for a human"))
        .unwrap();
    assert!(
        status.contains("\u{1b}["),
        "the status is coloured: {status:?}"
    );
    tmux.type_line(&format!(
        "{tool} history golden --graph; echo done-$((2+0))"
    ));
    let screen = tmux.wait_for("done-2\n");
    let row = screen
        .lines()
        .find(|l| l.contains("1f0c0000-0007"))
        .unwrap();
    assert!(row.contains("\u{1b}["), "ids are coloured: {row:?}");

    tmux.clear();
    tmux.type_line(&format!("NO_COLOR=1 {tool} show golden; NO_COLOR=1 {tool} history golden --graph; echo done-$((3+0))"));
    let screen = tmux.wait_for("done-3\n");
    let output: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("waiting for a human") || l.contains("1f0c0000-000"))
        .collect();
    assert!(output.len() >= 8, "{screen}");
    for line in output {
        assert!(!line.contains("\u{1b}["), "NO_COLOR: {line:?}");
    }
}
