//! The `ServiceStore` contract: one suite of plain functions over
//! `&dyn ServiceStore`, run on the memory reference and on the store the
//! service ships (`SaverServiceStore`) over `InMemorySaver`, a SQLite file
//! and PostgreSQL; a differential model test (random call sequences,
//! memory against SQLite); and writers in two stores on one file losing
//! nothing.
#![cfg(feature = "server")]

use std::sync::Arc;

use checkpointer::server::{
    Account, Agent, AgentPut, ApiKeyRecord, MemoryServiceStore, SaverServiceStore, ServiceStore,
    StoreError, Webhook,
};
use checkpointer::{InMemorySaver, SqliteSaver};
use serde_json::json;

fn account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        name: format!("{id} name"),
        active: true,
        created_at: "2026-01-01T00:00:00.000Z".to_owned(),
    }
}

fn key(id: &str, account_id: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        account_id: account_id.to_owned(),
        key_hash: format!("hash-of-{id}"),
        key_prefix: "snp_00000000".to_owned(),
        label: None,
        created_at: "2026-01-01T00:00:00.000Z".to_owned(),
        expires_at: None,
        revoked_at: None,
    }
}

fn agent(agent_id: &str, created_at: &str) -> Agent {
    Agent {
        id: 0,
        agent_id: agent_id.to_owned(),
        name: Some(agent_id.to_uppercase()),
        description: None,
        capabilities: json!([]),
        metadata: json!({}),
        last_seen_at: None,
        created_at: created_at.to_owned(),
    }
}

fn hook(id: &str) -> Webhook {
    Webhook {
        webhook_id: id.to_owned(),
        url: "http://127.0.0.1:9/hook".to_owned(),
        events: vec!["checkpoint.saved".to_owned()],
        secret: Some("s".to_owned()),
        created_at: "2026-01-01T00:00:00.000Z".to_owned(),
    }
}

fn stored(put: AgentPut) -> Agent {
    match put {
        AgentPut::Stored(agent) => agent,
        AgentPut::TooMany => panic!("refused as too many"),
    }
}

fn accounts_are_unique_and_in_creation_order(store: &dyn ServiceStore) {
    for id in ["b", "a", "c"] {
        store.create_account(&account(id)).expect("create");
    }
    assert!(matches!(
        store.create_account(&account("a")),
        Err(StoreError::Exists { .. })
    ));
    let ids: Vec<String> = store
        .accounts()
        .expect("list")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["b", "a", "c"]);
    assert!(store.set_account_active("a", false).expect("deactivate"));
    assert!(!store.set_account_active("ghost", false).expect("unknown"));
    assert_eq!(
        store.account("a").expect("read").map(|a| a.active),
        Some(false)
    );
    assert_eq!(store.account("ghost").expect("read"), None);
}

fn keys_need_an_account_are_unique_and_revoke_once(store: &dyn ServiceStore) {
    assert!(matches!(
        store.add_key(&key("k1", "nobody")),
        Err(StoreError::NoAccount(_))
    ));
    store.create_account(&account("acc")).expect("create");
    store.add_key(&key("k1", "acc")).expect("add");
    store.add_key(&key("k2", "acc")).expect("add");
    let mut same_hash = key("k3", "acc");
    "hash-of-k1".clone_into(&mut same_hash.key_hash);
    assert!(matches!(
        store.add_key(&same_hash),
        Err(StoreError::Exists { .. })
    ));
    assert!(matches!(
        store.add_key(&key("k1", "acc")),
        Err(StoreError::Exists { .. })
    ));
    assert_eq!(
        store.keys().expect("list").len(),
        2,
        "a refused call changes nothing"
    );
    assert!(
        store
            .revoke_key("k1", "2026-02-01T00:00:00.000Z")
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_key("k1", "2026-03-01T00:00:00.000Z")
            .expect("again")
    );
    assert!(
        !store
            .revoke_key("ghost", "2026-03-01T00:00:00.000Z")
            .expect("unknown")
    );
    let k1 = store
        .key_by_hash("hash-of-k1")
        .expect("read")
        .expect("found, revoked or not");
    assert_eq!(k1.revoked_at.as_deref(), Some("2026-02-01T00:00:00.000Z"));
    assert_eq!(
        store
            .key_by_hash("hash-of-k2")
            .expect("read")
            .and_then(|k| k.revoked_at),
        None
    );
    assert_eq!(store.key_by_hash("nope").expect("read"), None);
}

fn agents_upsert_order_cap_and_scope(store: &dyn ServiceStore) {
    let first = stored(
        store
            .put_agent("acc", &agent("a1", "2026-01-01T00:00:01.000Z"), 3)
            .expect("put"),
    );
    let second = stored(
        store
            .put_agent("acc", &agent("a2", "2026-01-01T00:00:02.000Z"), 3)
            .expect("put"),
    );
    assert_eq!((first.id, second.id), (1, 2));
    let mut changed = agent("a1", "2026-09-09T00:00:00.000Z");
    changed.name = Some("renamed".to_owned());
    changed.capabilities = json!(["x"]);
    assert!(
        store
            .touch_agent("acc", "a1", "2026-01-05T00:00:00.000Z")
            .expect("touch")
    );
    let updated = stored(store.put_agent("acc", &changed, 3).expect("upsert"));
    assert_eq!(
        (updated.id, updated.name.as_deref(), &updated.capabilities),
        (1, Some("renamed"), &json!(["x"]))
    );
    assert_eq!(
        updated.created_at, "2026-01-01T00:00:01.000Z",
        "created_at kept"
    );
    assert_eq!(
        updated.last_seen_at.as_deref(),
        Some("2026-01-05T00:00:00.000Z"),
        "last_seen_at kept"
    );
    stored(
        store
            .put_agent("acc", &agent("a3", "2026-01-01T00:00:03.000Z"), 3)
            .expect("put"),
    );
    assert_eq!(
        store
            .put_agent("acc", &agent("a4", "2026-01-01T00:00:04.000Z"), 3)
            .expect("put"),
        AgentPut::TooMany
    );
    assert!(matches!(
        store
            .put_agent("acc", &changed, 3)
            .expect("upsert at the cap"),
        AgentPut::Stored(_)
    ));
    // Seen first (newest first), then never seen, newest created first.
    let order: Vec<String> = store
        .agents("acc")
        .expect("list")
        .into_iter()
        .map(|a| a.agent_id)
        .collect();
    assert_eq!(order, ["a1", "a3", "a2"]);
    assert!(
        store
            .touch_agent("acc", "a2", "2026-01-06T00:00:00.000Z")
            .expect("touch")
    );
    let order: Vec<String> = store
        .agents("acc")
        .expect("list")
        .into_iter()
        .map(|a| a.agent_id)
        .collect();
    assert_eq!(order, ["a2", "a1", "a3"]);
    assert!(
        !store
            .touch_agent("acc", "ghost", "2026-01-06T00:00:00.000Z")
            .expect("unknown")
    );
    assert!(
        store.agents("other").expect("list").is_empty(),
        "another account sees none"
    );
    assert_eq!(store.agent("other", "a1").expect("read"), None);
    assert!(!store.delete_agent("other", "a1").expect("not its agent"));
    assert!(store.delete_agent("acc", "a1").expect("delete"));
    assert!(!store.delete_agent("acc", "a1").expect("gone"));
    let next = stored(
        store
            .put_agent("acc", &agent("a5", "2026-01-01T00:00:05.000Z"), 3)
            .expect("put"),
    );
    assert_eq!(next.id, 4, "row ids are not reused while higher ones exist");
}

fn webhooks_per_account(store: &dyn ServiceStore) {
    store.add_webhook("acc", &hook("wh_1")).expect("add");
    store.add_webhook("acc", &hook("wh_2")).expect("add");
    assert!(matches!(
        store.add_webhook("acc", &hook("wh_1")),
        Err(StoreError::Exists { .. })
    ));
    let ids: Vec<String> = store
        .webhooks("acc")
        .expect("list")
        .into_iter()
        .map(|w| w.webhook_id)
        .collect();
    assert_eq!(ids, ["wh_1", "wh_2"]);
    assert!(store.webhooks("other").expect("list").is_empty());
    assert!(!store.delete_webhook("other", "wh_1").expect("not its hook"));
    assert!(store.delete_webhook("acc", "wh_1").expect("delete"));
    assert_eq!(store.webhooks("acc").expect("list"), vec![hook("wh_2")]);
}

/// One `#[test]` per case for a backend made by `$make` (which returns
/// the store and what must live as long as it).
macro_rules! store_suite {
    ($backend:ident, $make:expr) => {
        store_suite!($backend, $make, [
            accounts_are_unique_and_in_creation_order,
            keys_need_an_account_are_unique_and_revoke_once,
            agents_upsert_order_cap_and_scope,
            webhooks_per_account,
        ]);
    };
    ($backend:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        mod $backend {
            use super::*;
            $(
                #[test]
                fn $case() {
                    let (store, _keep) = $make;
                    super::$case(&*store);
                }
            )*
        }
    };
}

fn memory() -> (Box<dyn ServiceStore>, ()) {
    (Box::new(MemoryServiceStore::in_memory()), ())
}

fn in_memory_saver() -> (Box<dyn ServiceStore>, ()) {
    (
        Box::new(SaverServiceStore::in_saver(Arc::new(InMemorySaver::new()))),
        (),
    )
}

fn sqlite() -> (Box<dyn ServiceStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let saver = SqliteSaver::open(dir.path().join("store.db")).expect("open");
    (Box::new(SaverServiceStore::in_saver(Arc::new(saver))), dir)
}

store_suite!(memory_store, memory());
store_suite!(saver_store_in_memory, in_memory_saver());
store_suite!(saver_store_sqlite, sqlite());

#[cfg(feature = "postgres")]
mod pg_support;

#[cfg(feature = "postgres")]
fn postgres() -> (Box<dyn ServiceStore>, Option<pg_support::Schema>) {
    let Some(url) = pg_support::server_url("server_store postgres") else {
        // Skipped locally (printed); CI fails in server_url instead.
        return (Box::new(MemoryServiceStore::in_memory()), None);
    };
    let schema = pg_support::Schema::new(&url);
    let saver = checkpointer::PostgresSaver::open(&schema.url()).expect("open PostgreSQL");
    (
        Box::new(SaverServiceStore::in_saver(Arc::new(saver))),
        Some(schema),
    )
}

#[cfg(feature = "postgres")]
store_suite!(saver_store_postgres, postgres());

/// One random call, its answer as text (errors by kind).
fn step(store: &dyn ServiceStore, rng: &mut fastrand::Rng, at: usize) -> String {
    let acc = ["acc", "other"][rng.usize(..2)];
    let name = format!("a{}", rng.usize(..5));
    let when = format!("2026-01-01T00:00:{:02}.000Z", at % 60);
    match rng.usize(..8) {
        0 => format!(
            "{:?}",
            store
                .put_agent(acc, &agent(&name, &when), 3)
                .map(|p| matches!(p, AgentPut::Stored(_)))
        ),
        1 => format!("{:?}", store.touch_agent(acc, &name, &when)),
        2 => format!("{:?}", store.delete_agent(acc, &name)),
        3 => format!(
            "{:?}",
            store.agents(acc).map(|a| a
                .into_iter()
                .map(|a| (a.id, a.agent_id))
                .collect::<Vec<_>>())
        ),
        4 => format!(
            "{:?}",
            store
                .create_account(&account(acc))
                .map_err(|e| matches!(e, StoreError::Exists { .. }))
        ),
        5 => format!(
            "{:?}",
            store
                .add_key(&key(&name, acc))
                .map_err(|e| std::mem::discriminant(&e))
        ),
        6 => format!("{:?}", store.revoke_key(&name, &when)),
        _ => format!(
            "{:?}",
            store.keys().map(|k| k
                .into_iter()
                .map(|k| (k.id, k.revoked_at))
                .collect::<Vec<_>>())
        ),
    }
}

#[test]
fn sqlite_store_answers_as_the_memory_reference_does() {
    for seed in 0..8 {
        let reference = MemoryServiceStore::in_memory();
        let (store, _dir) = sqlite();
        let (mut a, mut b) = (
            fastrand::Rng::with_seed(seed),
            fastrand::Rng::with_seed(seed),
        );
        for at in 0..60 {
            assert_eq!(
                step(&*store, &mut a, at),
                step(&reference, &mut b, at),
                "seed {seed}, call {at}"
            );
        }
    }
}

#[test]
fn two_stores_on_one_file_lose_no_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("shared.db");
    let open = || SaverServiceStore::in_saver(Arc::new(SqliteSaver::open(&path).expect("open")));
    let stores = [Arc::new(open()), Arc::new(open())];
    stores[0].create_account(&account("acc")).expect("create");
    std::thread::scope(|scope| {
        for (n, store) in stores.iter().cycle().take(4).enumerate() {
            scope.spawn(move || {
                for i in 0..10 {
                    store
                        .add_key(&key(&format!("k{n}-{i}"), "acc"))
                        .expect("add");
                }
            });
        }
    });
    assert_eq!(
        stores[1].keys().expect("list").len(),
        40,
        "every write kept"
    );
}
