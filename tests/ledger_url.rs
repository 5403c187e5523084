//! Choosing a ledger backend by URL (`open_ledger`, `LedgerUrl`). The
//! environment variable and the default are tested through the CLI
//! (`tests/ledger_cli.rs`), in processes of their own.
#![cfg(all(feature = "ledger", feature = "sqlite"))]

use checkpointer::ledger::{ClaimOptions, LedgerError, LedgerUrl, open_ledger, resolve_ledger_url};

#[test]
fn urls_parse_as_mooncat_parses_them() {
    let cases = [
        ("memory://", LedgerUrl::Memory),
        ("memory://anything", LedgerUrl::Memory),
        (
            "file://./.mooncat/checkpoints",
            LedgerUrl::File("./.mooncat/checkpoints".into()),
        ),
        (
            "file:///var/data/cp",
            LedgerUrl::File("/var/data/cp".into()),
        ),
        (
            "sqlite://./checkpoints.db",
            LedgerUrl::Sqlite("./checkpoints.db".into()),
        ),
        (
            "sqlite:///var/data/cp.db",
            LedgerUrl::Sqlite("/var/data/cp.db".into()),
        ),
        (
            "postgres://u@h/db",
            LedgerUrl::Postgres("postgres://u@h/db".into()),
        ),
        (
            "postgresql://u@h/db",
            LedgerUrl::Postgres("postgresql://u@h/db".into()),
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(LedgerUrl::parse(url).expect(url), expected, "{url}");
    }
    match LedgerUrl::parse("redis://x") {
        Err(LedgerError::UnsupportedUrl { url, reason }) => {
            assert_eq!(url, "redis://x");
            assert!(
                reason.contains("sqlite://"),
                "the reason lists the schemes: {reason}"
            );
        }
        other => panic!("expected UnsupportedUrl, got {other:?}"),
    }
    assert_eq!(
        resolve_ledger_url(Some("memory://")),
        "memory://",
        "an explicit URL wins"
    );
}

#[test]
fn open_ledger_opens_each_backend() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file_url = format!("file://{}", dir.path().join("files").display());
    let sqlite_url = format!("sqlite://{}", dir.path().join("steps.db").display());
    for url in ["memory://", file_url.as_str(), sqlite_url.as_str()] {
        let ledger = open_ledger(Some(url)).expect(url);
        let claim = ledger
            .claim("ns", "k", &ClaimOptions::new())
            .expect("claim");
        assert_eq!(claim.kind(), "claimed", "{url}");
        // A second open of a durable URL sees the claim.
        if url != "memory://" {
            let again = open_ledger(Some(url))
                .expect(url)
                .claim("ns", "k", &ClaimOptions::new());
            assert_eq!(again.expect("claim").kind(), "busy", "{url}");
        }
    }
    assert!(dir.path().join("files").join("ns").join("k.json").is_file());
    assert!(dir.path().join("steps.db").is_file());
}
