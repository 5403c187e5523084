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
