//! TLS to PostgreSQL (feature `postgres-tls`): a server of the test's own
//! with `ssl=on` and a certificate signed by a CA made here (`openssl`
//! CLI). `require` connects and works, `verify-full` works with the right
//! CA and fails clearly with a wrong one, and `require` on the shared
//! server (no TLS) fails clearly. Needs root (the server runs as the
//! `postgres` user via `runuser`, as .ci/postgres does), PostgreSQL's
//! binaries and `openssl`; skips without them, and fails under `CI=true`.
#![cfg(feature = "postgres-tls")]

mod pg_support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use checkpointer::{
    BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
    PostgresOptions, PostgresSaver, PostgresTlsMode,
};
use serde_json::json;

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (prints why) or, under CI, fails.
fn missing(test: &str, what: &str) -> Option<TlsServer> {
    assert!(!under_ci(), "{test}: CI=true but {what}");
    eprintln!("{test}: skipped, {what}");
    None
}

fn run(what: &str, cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pg_bin() -> Option<PathBuf> {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    bins.sort();
    bins.pop()
}

fn pg_bin_tool(tool: &str) -> PathBuf {
    pg_bin().unwrap_or_default().join(tool)
}

/// A PostgreSQL server with `ssl=on`, stopped and removed on drop.
struct TlsServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl TlsServer {
    fn start(test: &str) -> Option<TlsServer> {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !is_root {
            return missing(test, "not root (the server runs as `postgres` via runuser)");
        }
        let Some(bin) = pg_bin() else {
            return missing(test, "no PostgreSQL binaries in /usr/lib/postgresql");
        };
        if Command::new("openssl").arg("version").output().is_err() {
            return missing(test, "no `openssl` command (.ci/run installs it)");
        }
        let dir =
            std::env::temp_dir().join(format!("checkpointer-tls-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the server's dir");
        make_certificates(&dir);
        run(
            "chown",
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir),
        );
        let as_postgres = |tool: &str| {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(pg_bin_tool(tool));
            cmd
        };
        run(
            "initdb",
            as_postgres("initdb").arg("-D").arg(dir.join("data")).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ]),
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let settings = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {dir} -c fsync=off -c ssl=on \
             -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
            dir = dir.display()
        );
        let server = TlsServer { dir, bin, port };
        run(
            "pg_ctl start",
            as_postgres("pg_ctl")
                .arg("-D")
                .arg(server.dir.join("data"))
                .arg("-l")
                .arg(server.dir.join("log"))
                .args(["-w", "-t", "60", "-s", "-o", &settings, "start"]),
        );
        Some(server)
    }

    fn url(&self, params: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/postgres{params}",
            self.port
        )
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "-s", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `ca.crt` (the CA), `server.crt`/`server.key` (signed by it, for
/// 127.0.0.1 and localhost) and `other-ca.crt` (an unrelated CA).
fn make_certificates(dir: &Path) {
    let openssl = |what: &str, args: &[&str]| {
        run(what, Command::new("openssl").current_dir(dir).args(args));
    };
    for ca in ["ca", "other-ca"] {
        let (key, crt, subject) = (
            format!("{ca}.key"),
            format!("{ca}.crt"),
            format!("/CN={ca}"),
        );
        openssl(
            "make a CA",
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subject,
                "-keyout", &key, "-out", &crt,
            ],
        );
    }
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("the extensions file");
    openssl(
        "make the server's request",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        "sign the server's certificate",
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
    run(
        "chmod the key",
        Command::new("chmod").arg("600").arg(dir.join("server.key")),
    );
}

/// Short waits: a refused connection fails the call soon.
fn options() -> PostgresOptions {
    PostgresOptions::new()
        .with_pool_size(2)
        .with_pool_timeout(Duration::from_secs(3))
        .with_connect_timeout(Duration::from_secs(3))
}

/// A put and a get through `saver`.
fn round_trip(saver: &PostgresSaver, thread: &str) {
    let config = Config::thread(thread);
    let cp = Checkpoint::new(-1).with_value("k", json!({"over": "tls"}), 1);
    let md = CheckpointMetadata::new(CheckpointSource::Input, -1);
    let stored = saver
        .put(&config, &cp, &md, &ChannelVersions::new())
        .expect("put over TLS");
    let got = saver
        .get_tuple(&stored)
        .expect("get over TLS")
        .expect("the checkpoint");
    assert_eq!(got.checkpoint.channel_values["k"], json!({"over": "tls"}));
}

/// The error and its sources, one line.
fn chain(err: &checkpointer::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[test]
fn require_and_verify_full_connect_to_a_tls_server() {
    let Some(server) = TlsServer::start("tls_modes") else {
        return;
    };
    let saver = PostgresSaver::open_with(&server.url("?sslmode=require"), options())
        .expect("sslmode=require");
    round_trip(&saver, "require");
    drop(saver);

    let ca = server.file("ca.crt");
    let url = server.url(&format!(
        "?sslmode=verify-full&sslrootcert={}",
        ca.display()
    ));
    let saver = PostgresSaver::open_with(&url, options()).expect("verify-full, the right CA");
    round_trip(&saver, "verify-full");
    drop(saver);

    // The option wins over the URL.
    let verify = PostgresTlsMode::VerifyFull { ca_file: ca };
    let saver = PostgresSaver::open_with(&server.url(""), options().with_tls(verify))
        .expect("verify-full as an option");
    round_trip(&saver, "option");
    drop(saver);
}

#[test]
fn verify_full_with_a_wrong_ca_fails_clearly() {
    let Some(server) = TlsServer::start("tls_wrong_ca") else {
        return;
    };
    let wrong = PostgresTlsMode::VerifyFull {
        ca_file: server.file("other-ca.crt"),
    };
    let err = PostgresSaver::open_with(&server.url(""), options().with_tls(wrong))
        .expect_err("a certificate the CA did not sign");
    let text = chain(&err);
    eprintln!("the error: {text}");
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("127.0.0.1"), "names the server: {text}");
}

#[test]
fn require_on_a_server_without_tls_fails_clearly() {
    let Some(url) = pg_support::server_url("tls_plain_server") else {
        return;
    };
    let err = PostgresSaver::open_with(&url, options().with_tls(PostgresTlsMode::Require))
        .expect_err("the shared server has no TLS");
    let text = chain(&err);
    eprintln!("the error: {text}");
    assert!(text.contains("server does not support TLS"), "{text}");
}
