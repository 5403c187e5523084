//! The reference [`RecordTables`]: tables in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::store::{RecordTables, StoreError, StoreResult, TableStore};

/// Tables in memory, for tests and for a service that may forget its keys
/// on restart.
#[derive(Debug, Default)]
pub struct MemoryTables {
    tables: Mutex<HashMap<String, Vec<Value>>>,
}

/// The reference [`ServiceStore`](super::store::ServiceStore), in memory.
pub type MemoryServiceStore = TableStore<MemoryTables>;

impl MemoryServiceStore {
    /// An empty store.
    pub fn in_memory() -> Self {
        TableStore::new(MemoryTables::default())
    }
}

impl RecordTables for MemoryTables {
    fn read(&self, table: &str) -> StoreResult<Vec<Value>> {
        let tables = self
            .tables
            .lock()
            .map_err(|_| StoreError::Busy(table.to_owned()))?;
        Ok(tables.get(table).cloned().unwrap_or_default())
    }

    fn update(
        &self,
        table: &str,
        change: &mut dyn FnMut(&mut Vec<Value>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut tables = self
            .tables
            .lock()
            .map_err(|_| StoreError::Busy(table.to_owned()))?;
        let mut rows = tables.get(table).cloned().unwrap_or_default();
        change(&mut rows)?;
        tables.insert(table.to_owned(), rows);
        Ok(())
    }
}
