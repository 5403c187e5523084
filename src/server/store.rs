//! The service's own records (accounts, API keys, agents, webhooks): the
//! [`ServiceStore`] contract and the record types.
//!
//! The rules live once, in [`TableStore`], over [`RecordTables`]: a few
//! named tables of JSON rows, read whole and changed whole. A backend
//! only stores tables: [`MemoryTables`](super::memory_store::MemoryTables)
//! (the reference) and [`SaverTables`](super::saver_store::SaverTables),
//! which keeps each table as a reserved thread of any checkpoint saver,
//! so that SQLite and PostgreSQL both hold them with no schema of their
//! own (see that type for why).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An account: the owner of keys, agents, webhooks and workflows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its id (`default` for the first, else `acct_` + 12 hex digits).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// An inactive account's keys get 403.
    pub active: bool,
    /// When it was made (ISO 8601, milliseconds, `Z`).
    pub created_at: String,
}

/// A stored API key: never the key itself, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// Its id (`key_` + 12 hex digits), for listing and revoking.
    pub id: String,
    /// The account it acts for.
    pub account_id: String,
    /// Lowercase hex SHA-256 of the key text.
    pub key_hash: String,
    /// The key's first 12 characters, to recognise it.
    pub key_prefix: String,
    /// A label for people.
    pub label: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// When it stops working, if ever (ISO 8601).
    pub expires_at: Option<String>,
    /// When it was revoked; a revoked key is refused at once.
    pub revoked_at: Option<String>,
}

/// An agent, in SnapState's row shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The row id (an integer, unique in the account).
    pub id: u64,
    /// The caller's id for the agent (`^[a-zA-Z0-9_-]{1,255}$`).
    pub agent_id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its description.
    pub description: Option<Value>,
    /// Its capabilities (a JSON value, `[]` when not given).
    pub capabilities: Value,
    /// Free metadata (`{}` when not given).
    pub metadata: Value,
    /// When it last saved a checkpoint (`null` until then).
    pub last_seen_at: Option<String>,
    /// When it was registered.
    pub created_at: String,
}

/// A webhook of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// `wh_` + 24 hex digits.
    pub webhook_id: String,
    /// Where events are sent (`POST`).
    pub url: String,
    /// The events it wants (`checkpoint.saved`, `workflow.resumed`,
    /// `workflow.expired`).
    pub events: Vec<String>,
    /// The HMAC secret, if any (never returned by the API).
    pub secret: Option<String>,
    /// When it was registered.
    pub created_at: String,
}

/// What went wrong in a [`ServiceStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage underneath failed.
    #[error("service store: {operation} of table {table}: {source}")]
    Storage {
        /// What was being done.
        operation: &'static str,
        /// Which table.
        table: String,
        /// Why.
        #[source]
        source: crate::Error,
    },
    /// A stored row is not what the store wrote.
    #[error("service store: a row of table {table} is damaged: {reason}")]
    Corrupt {
        /// Which table.
        table: String,
        /// What is wrong.
        reason: String,
    },
    /// An id that must be new is already there.
    #[error("service store: {what} {id} already exists")]
    Exists {
        /// What kind of record.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A key for an account that does not exist.
    #[error("service store: no account {0}")]
    NoAccount(String),
    /// Other writers kept changing the table.
    #[error("service store: table {0} kept changing under this write; try again")]
    Busy(String),
}

/// The result of a [`ServiceStore`] call.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// What [`ServiceStore::put_agent`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentPut {
    /// The agent was new, or updated: the stored row.
    Stored(Agent),
    /// The agent was new and the account already had `max` agents.
    TooMany,
}

/// Where the service keeps accounts, keys, agents and webhooks.
///
/// # Contract
///
/// - Accounts: [`create_account`](Self::create_account) refuses an id that
///   exists ([`StoreError::Exists`]); [`accounts`](Self::accounts) lists
///   them in creation order; [`set_account_active`](Self::set_account_active)
///   returns whether the account exists.
/// - Keys: [`add_key`](Self::add_key) needs the account
///   ([`StoreError::NoAccount`]) and a new id and hash;
///   [`key_by_hash`](Self::key_by_hash) finds a key, revoked or not;
///   [`revoke_key`](Self::revoke_key) sets `revoked_at` once and returns
///   whether the key was active; every later read sees it revoked (no
///   cache: the CLI and the service may be different processes).
/// - Agents, per account: [`put_agent`](Self::put_agent) inserts a new
///   `agent_id` with the next row id (1, 2, …) unless the account has
///   `max` agents ([`AgentPut::TooMany`]), and for a known one replaces
///   name, description, capabilities and metadata, keeping `id`,
///   `created_at` and `last_seen_at`; [`agents`](Self::agents) orders by
///   `last_seen_at` newest first (never seen last), then `created_at`
///   newest first; [`touch_agent`](Self::touch_agent) sets `last_seen_at`
///   of a known agent; another account never sees them.
/// - Webhooks, per account: added, listed in creation order, deleted by
///   id (whether it existed); another account never sees them.
/// - Every call is safe from many threads, and a call that fails changes
///   nothing.
pub trait ServiceStore: Send + Sync + fmt::Debug {
    /// Adds an account.
    fn create_account(&self, account: &Account) -> StoreResult<()>;
    /// Every account, in creation order.
    fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// Activates or deactivates an account; whether it exists.
    fn set_account_active(&self, account_id: &str, active: bool) -> StoreResult<bool>;
    /// Adds a key.
    fn add_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    /// Every key, in creation order.
    fn keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes a key at `at`; whether it was active.
    fn revoke_key(&self, key_id: &str, at: &str) -> StoreResult<bool>;
    /// Inserts or updates an agent.
    fn put_agent(&self, account_id: &str, agent: &Agent, max: usize) -> StoreResult<AgentPut>;
    /// The agents of an account, in listing order.
    fn agents(&self, account_id: &str) -> StoreResult<Vec<Agent>>;
    /// Sets `last_seen_at` of an agent; whether it exists.
    fn touch_agent(&self, account_id: &str, agent_id: &str, at: &str) -> StoreResult<bool>;
    /// Deletes an agent; whether it existed.
    fn delete_agent(&self, account_id: &str, agent_id: &str) -> StoreResult<bool>;
    /// Adds a webhook.
    fn add_webhook(&self, account_id: &str, webhook: &Webhook) -> StoreResult<()>;
    /// The webhooks of an account.
    fn webhooks(&self, account_id: &str) -> StoreResult<Vec<Webhook>>;
    /// Deletes a webhook; whether it existed.
    fn delete_webhook(&self, account_id: &str, webhook_id: &str) -> StoreResult<bool>;

    /// The account with this id.
    fn account(&self, account_id: &str) -> StoreResult<Option<Account>> {
        Ok(self.accounts()?.into_iter().find(|a| a.id == account_id))
    }
    /// The key whose hash this is.
    fn key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(self.keys()?.into_iter().find(|k| k.key_hash == key_hash))
    }
    /// One agent of an account.
    fn agent(&self, account_id: &str, agent_id: &str) -> StoreResult<Option<Agent>> {
        Ok(self
            .agents(account_id)?
            .into_iter()
            .find(|a| a.agent_id == agent_id))
    }
}

/// Named tables of JSON rows: what a backend of [`TableStore`] provides.
///
/// # Contract
///
/// - [`read`](Self::read) returns the rows last written to the table (none
///   for a table never written).
/// - [`update`](Self::update) calls `change` on the current rows and
///   stores what it leaves, atomically: if another writer changed the
///   table meanwhile, `change` runs again on the new rows, so it must
///   depend on nothing but its argument. When `change` fails nothing is
///   stored.
pub trait RecordTables: Send + Sync + fmt::Debug {
    /// The rows of `table`.
    fn read(&self, table: &str) -> StoreResult<Vec<Value>>;
    /// Changes the rows of `table`.
    fn update(
        &self,
        table: &str,
        change: &mut dyn FnMut(&mut Vec<Value>) -> StoreResult<()>,
    ) -> StoreResult<()>;
}

/// The [`ServiceStore`] rules over any [`RecordTables`].
#[derive(Debug)]
pub struct TableStore<T> {
    tables: T,
}

const ACCOUNTS: &str = "accounts";
const KEYS: &str = "keys";

fn agents_table(account_id: &str) -> String {
    format!("agents~{account_id}")
}

fn webhooks_table(account_id: &str) -> String {
    format!("webhooks~{account_id}")
}

fn decode<R: DeserializeOwned>(table: &str, rows: &[Value]) -> StoreResult<Vec<R>> {
    rows.iter()
        .map(|row| {
            R::deserialize(row).map_err(|e| StoreError::Corrupt {
                table: table.to_owned(),
                reason: e.to_string(),
            })
        })
        .collect()
}

fn encode<R: Serialize>(table: &str, rows: &[R]) -> StoreResult<Vec<Value>> {
    rows.iter()
        .map(|row| {
            serde_json::to_value(row).map_err(|e| StoreError::Corrupt {
                table: table.to_owned(),
                reason: e.to_string(),
            })
        })
        .collect()
}

impl<T: RecordTables> TableStore<T> {
    /// The store over `tables`.
    pub fn new(tables: T) -> Self {
        TableStore { tables }
    }

    /// The tables underneath.
    pub fn tables(&self) -> &T {
        &self.tables
    }

    fn rows<R: DeserializeOwned>(&self, table: &str) -> StoreResult<Vec<R>> {
        decode(table, &self.tables.read(table)?)
    }

    /// Runs `change` on the typed rows of `table`; its answer is returned.
    fn change<R, A>(
        &self,
        table: &str,
        mut change: impl FnMut(&mut Vec<R>) -> StoreResult<A>,
    ) -> StoreResult<A>
    where
        R: Serialize + DeserializeOwned,
    {
        let mut answer = None;
        self.tables.update(table, &mut |rows| {
            let mut typed: Vec<R> = decode(table, rows)?;
            answer = Some(change(&mut typed)?);
            *rows = encode(table, &typed)?;
            Ok(())
        })?;
        answer.ok_or_else(|| StoreError::Busy(table.to_owned()))
    }
}

impl<T: RecordTables> ServiceStore for TableStore<T> {
    fn create_account(&self, account: &Account) -> StoreResult<()> {
        self.change(ACCOUNTS, |rows: &mut Vec<Account>| {
            if rows.iter().any(|a| a.id == account.id) {
                return Err(StoreError::Exists {
                    what: "account",
                    id: account.id.clone(),
                });
            }
            rows.push(account.clone());
            Ok(())
        })
    }

    fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.rows(ACCOUNTS)
    }

    fn set_account_active(&self, account_id: &str, active: bool) -> StoreResult<bool> {
        self.change(ACCOUNTS, |rows: &mut Vec<Account>| {
            Ok(rows
                .iter_mut()
                .find(|a| a.id == account_id)
                .map(|a| a.active = active)
                .is_some())
        })
    }

    fn add_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        if self.account(&key.account_id)?.is_none() {
            return Err(StoreError::NoAccount(key.account_id.clone()));
        }
        self.change(KEYS, |rows: &mut Vec<ApiKeyRecord>| {
            if let Some(same) = rows
                .iter()
                .find(|k| k.id == key.id || k.key_hash == key.key_hash)
            {
                return Err(StoreError::Exists {
                    what: "key",
                    id: same.id.clone(),
                });
            }
            rows.push(key.clone());
            Ok(())
        })
    }

    fn keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.rows(KEYS)
    }

    fn revoke_key(&self, key_id: &str, at: &str) -> StoreResult<bool> {
        self.change(KEYS, |rows: &mut Vec<ApiKeyRecord>| {
            let Some(key) = rows.iter_mut().find(|k| k.id == key_id) else {
                return Ok(false);
            };
            if key.revoked_at.is_some() {
                return Ok(false);
            }
            key.revoked_at = Some(at.to_owned());
            Ok(true)
        })
    }

    fn put_agent(&self, account_id: &str, agent: &Agent, max: usize) -> StoreResult<AgentPut> {
        self.change(&agents_table(account_id), |rows: &mut Vec<Agent>| {
            if let Some(old) = rows.iter_mut().find(|a| a.agent_id == agent.agent_id) {
                old.name.clone_from(&agent.name);
                old.description.clone_from(&agent.description);
                old.capabilities.clone_from(&agent.capabilities);
                old.metadata.clone_from(&agent.metadata);
                return Ok(AgentPut::Stored(old.clone()));
            }
            if rows.len() >= max {
                return Ok(AgentPut::TooMany);
            }
            let mut new = agent.clone();
            new.id = rows.iter().map(|a| a.id).max().unwrap_or(0) + 1;
            rows.push(new.clone());
            Ok(AgentPut::Stored(new))
        })
    }

    fn agents(&self, account_id: &str) -> StoreResult<Vec<Agent>> {
        let mut agents: Vec<Agent> = self.rows(&agents_table(account_id))?;
        // last_seen_at DESC NULLS LAST, created_at DESC (ISO texts of one
        // format sort as their instants), then the newest row first.
        agents.sort_by(|a, b| {
            b.last_seen_at
                .is_some()
                .cmp(&a.last_seen_at.is_some())
                .then_with(|| b.last_seen_at.cmp(&a.last_seen_at))
                .then_with(|| b.created_at.cmp(&a.created_at))
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(agents)
    }

    fn touch_agent(&self, account_id: &str, agent_id: &str, at: &str) -> StoreResult<bool> {
        if self.agent(account_id, agent_id)?.is_none() {
            return Ok(false);
        }
        self.change(&agents_table(account_id), |rows: &mut Vec<Agent>| {
            Ok(rows
                .iter_mut()
                .find(|a| a.agent_id == agent_id)
                .map(|a| a.last_seen_at = Some(at.to_owned()))
                .is_some())
        })
    }

    fn delete_agent(&self, account_id: &str, agent_id: &str) -> StoreResult<bool> {
        self.change(&agents_table(account_id), |rows: &mut Vec<Agent>| {
            let before = rows.len();
            rows.retain(|a| a.agent_id != agent_id);
            Ok(rows.len() != before)
        })
    }

    fn add_webhook(&self, account_id: &str, webhook: &Webhook) -> StoreResult<()> {
        self.change(&webhooks_table(account_id), |rows: &mut Vec<Webhook>| {
            if rows.iter().any(|w| w.webhook_id == webhook.webhook_id) {
                return Err(StoreError::Exists {
                    what: "webhook",
                    id: webhook.webhook_id.clone(),
                });
            }
            rows.push(webhook.clone());
            Ok(())
        })
    }

    fn webhooks(&self, account_id: &str) -> StoreResult<Vec<Webhook>> {
        self.rows(&webhooks_table(account_id))
    }

    fn delete_webhook(&self, account_id: &str, webhook_id: &str) -> StoreResult<bool> {
        self.change(&webhooks_table(account_id), |rows: &mut Vec<Webhook>| {
            let before = rows.len();
            rows.retain(|w| w.webhook_id != webhook_id);
            Ok(rows.len() != before)
        })
    }
}
