//! The ledger conformance group on `PostgresLedger` (feature `postgres`),
//! each case in a fresh schema, directly and as `Box<dyn StepLedger>`.
//! Needs `CHECKPOINTER_PG_URL` (`. .ci/postgres` starts a server).
#![cfg(all(feature = "postgres", feature = "ledger"))]

mod pg_support;

use checkpointer::ledger::{PostgresLedger, StepLedger, open_ledger};
use checkpointer::ledger_suite;

/// A ledger on a fresh schema (the guard); `None` to skip.
fn fresh() -> Option<(PostgresLedger, pg_support::Schema)> {
    let url = pg_support::server_url("ledger_postgres")?;
    let schema = pg_support::Schema::new(&url);
    let ledger = PostgresLedger::connect(&schema.url()).expect("connect a PostgresLedger");
    Some((ledger, schema))
}

ledger_suite!(
    postgres,
    match crate::fresh() {
        Some(made) => made,
        None => return,
    }
);

ledger_suite!(
    postgres_dyn,
    match crate::fresh() {
        Some((ledger, schema)) => (Box::new(ledger) as Box<dyn StepLedger>, schema),
        None => return,
    }
);

/// `open_ledger` opens a `postgres://` URL, and a second connect to the
/// same schema sees the first one's records (the table is created once).
#[test]
fn postgres_url_opens_the_shared_table() {
    let Some((first, schema)) = fresh() else {
        return;
    };
    let second = open_ledger(Some(&schema.url())).expect("open_ledger of a postgres:// URL");
    let claim = first
        .claim("ns", "k", &checkpointer::ledger::ClaimOptions::new())
        .expect("claim");
    let seen = second.get("ns", "k").expect("get").expect("the record");
    assert_eq!(&seen, claim.record());
    let mut client = schema.client();
    let columns: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'mooncat_checkpoints' \
             AND table_schema = current_schema()",
            &[],
        )
        .expect("columns")
        .get(0);
    assert_eq!(columns, 13, "mooncat's 13 columns");
}

/// Connected, claimed, finished and read from async code on either kind
/// of tokio runtime: the blocking driver runs off the runtime's worker
/// (as for `PostgresSaver`), instead of panicking inside it.
#[test]
fn works_from_inside_a_tokio_runtime() {
    use checkpointer::ledger::{Claim, ClaimOptions, StepStatus};
    let Some(url) = pg_support::server_url("ledger_postgres") else {
        return;
    };
    let schema = pg_support::Schema::new(&url);
    let runtimes = [
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    ];
    for (n, runtime) in runtimes.iter().enumerate() {
        let key = format!("step-{n}");
        let record = runtime.block_on(async {
            let ledger = PostgresLedger::connect(&schema.url()).expect("connect in a runtime");
            let Claim::Claimed { token, .. } = ledger
                .claim("async", &key, &ClaimOptions::new().with_owner("run-1"))
                .expect("claim")
            else {
                panic!("a fresh step is claimed");
            };
            ledger
                .done("async", &key, &token, serde_json::json!({"n": n}), None)
                .expect("done");
            ledger.get("async", &key).expect("get")
        });
        let record = record.expect("the step is stored");
        assert_eq!(record.status, StepStatus::Done);
        assert_eq!(record.result, serde_json::json!({"n": n}));
    }
}
