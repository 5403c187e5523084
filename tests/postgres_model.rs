//! Model test: random sequences of calls give the same results on
//! `PostgresSaver` (a fresh schema per case) as on `InMemorySaver`, the
//! reference implementation. Needs `CHECKPOINTER_PG_URL`.
#![cfg(feature = "postgres")]

use checkpointer::InMemorySaver;
use proptest::prelude::*;

mod model_support;
mod pg_support;
mod seed;

use model_support::{op, run_model};

proptest! {
    #![proptest_config(seed::proptest_config(
        "postgres_behaves_like_memory",
        ProptestConfig { cases: 32, ..ProptestConfig::default() },
    ))]

    #[test]
    fn postgres_behaves_like_memory(ops in prop::collection::vec(op(), 1..25)) {
        let Some((saver, _schema)) = pg_support::fresh("postgres_behaves_like_memory") else {
            return Ok(());
        };
        run_model(&ops, &saver, &InMemorySaver::new())?;
    }
}
