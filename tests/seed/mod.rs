//! One seed for a test's random choices (crash points, workloads, proptest
//! cases): `CHECKPOINTER_TEST_SEED` if set, else a fresh one. Either way it
//! is printed to stderr when the test starts, so a failure's output names
//! the seed that reproduces it (see `tests/README.md`).

// Each test file uses a different part of this module.
#![allow(dead_code)]

use proptest::test_runner::{Config as ProptestConfig, RngSeed};

/// The variable that fixes the seed.
pub const SEED_ENV: &str = "CHECKPOINTER_TEST_SEED";

/// The seed for `test`, printed with the variable that repeats it.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_ENV}={text:?} is not a u64")),
        Err(_) => fastrand::u64(..),
    };
    eprintln!("{test}: random choices from {SEED_ENV}={seed}");
    seed
}

/// A generator seeded with [`seed`]`(test)`.
pub fn rng(test: &str) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed(test))
}

/// `config` with its case generator seeded with [`seed`]`(test)`.
pub fn proptest_config(test: &str, config: ProptestConfig) -> ProptestConfig {
    ProptestConfig {
        rng_seed: RngSeed::Fixed(seed(test)),
        ..config
    }
}
