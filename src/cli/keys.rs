//! `keys`: the service's API keys in the database: create (the key is
//! printed once), list, revoke.

use std::path::Path;

use checkpointer::server::{DEFAULT_ACCOUNT, Service, ServiceOptions};
use clap::{Args, Subcommand};

use super::args::JsonFlag;
use super::error::{CliError, CliResult};
use super::serve::open_service_db;
use super::table::print_json;

/// `keys`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: KeysCommand,
}

/// The `keys` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Mint a key (`snp_` + 32 hex; shown once, stored as its SHA-256).
    Create {
        /// A label for people.
        #[arg(long, value_name = "LABEL")]
        label: Option<String>,
        /// The account (default: the default account, whose workflows are
        /// the threads of the same name).
        #[arg(long, value_name = "ID", default_value = DEFAULT_ACCOUNT)]
        account: String,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Every key: id, account, prefix, label, created, revoked.
    List(JsonFlag),
    /// Revoke a key at once (the service checks keys on every request).
    Revoke {
        /// The key's id (`key_…`, from `keys list`).
        id: String,
    },
    /// Make an account; prints its id.
    Account {
        /// Its name.
        name: String,
    },
}

fn failed(what: &str) -> impl FnOnce(checkpointer::server::ApiError) -> CliError + '_ {
    move |e| CliError::Io {
        what: what.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// `keys …`.
pub(crate) fn keys(path: &Path, args: &KeysArgs) -> CliResult<()> {
    let service = Service::new(open_service_db(path)?, ServiceOptions::default());
    match &args.command {
        KeysCommand::Create {
            label,
            account,
            out,
        } => {
            let minted = service
                .create_key(account, label.as_deref())
                .map_err(failed("create a key"))?;
            if out.json {
                print_json(&serde_json::json!({
                    "id": minted.record.id, "account_id": minted.record.account_id,
                    "label": minted.record.label, "api_key": minted.api_key,
                }))?;
            } else {
                outln!("{}", minted.api_key);
                eprintln!(
                    "key {} for account {} (shown once; revoke with `checkpointer keys revoke {}`)",
                    minted.record.id, minted.record.account_id, minted.record.id
                );
            }
        }
        KeysCommand::List(out) => {
            let keys = service
                .store()
                .keys()
                .map_err(|e| failed("list keys")(e.into()))?;
            if out.json {
                print_json(&keys)?;
            } else {
                outln!(
                    "{:<16} {:<20} {:<14} {:<24} {:<24} LABEL",
                    "ID",
                    "ACCOUNT",
                    "PREFIX",
                    "CREATED",
                    "REVOKED"
                );
                for k in keys {
                    outln!(
                        "{:<16} {:<20} {:<14} {:<24} {:<24} {}",
                        k.id,
                        k.account_id,
                        k.key_prefix,
                        k.created_at,
                        k.revoked_at.as_deref().unwrap_or("-"),
                        k.label.as_deref().unwrap_or("")
                    );
                }
            }
        }
        KeysCommand::Revoke { id } => {
            if service.revoke_key(id).map_err(failed("revoke a key"))? {
                outln!("revoked {id}");
            } else {
                return Err(failed("revoke a key")(
                    checkpointer::server::ApiError::not_found(format!("no active key {id}")),
                ));
            }
        }
        KeysCommand::Account { name } => {
            let account = service
                .ensure_account(None, name)
                .map_err(failed("create an account"))?;
            outln!("{}", account.id);
        }
    }
    Ok(())
}
