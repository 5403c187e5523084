//! The ledger conformance group ([`checkpointer::conformance::ledger`]) on
//! every step ledger backend.
#![cfg(feature = "ledger")]

use checkpointer::ledger::{MemoryLedger, StepLedger};
use checkpointer::ledger_suite;

ledger_suite!(memory, (MemoryLedger::new(), ()));

ledger_suite!(
    boxed,
    (Box::new(MemoryLedger::new()) as Box<dyn StepLedger>, ())
);

/// A ledger in a fresh temp dir (the guard).
fn in_dir<L>(open: impl FnOnce(&std::path::Path) -> L) -> (L, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (open(dir.path()), dir)
}

ledger_suite!(
    file,
    in_dir(|d| checkpointer::ledger::FileLedger::open(d.join("steps")).expect("open"))
);

#[cfg(feature = "sqlite")]
ledger_suite!(
    sqlite,
    in_dir(|d| checkpointer::ledger::SqliteLedger::open(d.join("steps.db")).expect("open"))
);

#[cfg(feature = "sqlite")]
ledger_suite!(
    sqlite_arc,
    in_dir(|d| {
        std::sync::Arc::new(
            checkpointer::ledger::SqliteLedger::open(d.join("steps.db")).expect("open"),
        ) as std::sync::Arc<dyn StepLedger>
    })
);
