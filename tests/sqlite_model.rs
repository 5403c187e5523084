//! Model test: random sequences of calls give the same results on
//! `SqliteSaver` as on `InMemorySaver`, the reference implementation.

use checkpointer::{InMemorySaver, SqliteSaver};
use proptest::prelude::*;

mod model_support;
mod seed;

use model_support::{op, run_model};

proptest! {
    #![proptest_config(seed::proptest_config(
        "sqlite_behaves_like_memory",
        ProptestConfig { cases: 48, ..ProptestConfig::default() },
    ))]

    #[test]
    fn sqlite_behaves_like_memory(ops in prop::collection::vec(op(), 1..25)) {
        let sqlite = SqliteSaver::in_memory().unwrap();
        run_model(&ops, &sqlite, &InMemorySaver::new())?;
    }
}
