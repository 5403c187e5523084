//! `ledger`: the step ledger at a URL (mooncat-checkpoint's stores:
//! `file://DIR`, `sqlite://FILE`, `memory://`, `postgres://…`).

use std::sync::Arc;

use checkpointer::ledger::{
    Claim, ClaimOptions, StepLedger, StepRecord, StepStatus, open_ledger, resolve_ledger_url,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::error::{CliError, CliResult};
use super::table::print_json;

/// `ledger`.
#[derive(Debug, Args)]
pub(crate) struct LedgerArgs {
    /// The ledger's URL.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help = "The ledger: file://DIR, sqlite://FILE, memory:// or postgres://… \
                [default: $MOONCAT_CHECKPOINT_URL, else file://./.mooncat/checkpoints]"
    )]
    pub(crate) url: Option<String>,
    /// Print the records as mooncat's JSON (camelCase keys).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: LedgerCommand,
}

/// The `ledger` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// The steps of a namespace, newest first.
    List {
        /// The namespace.
        ns: String,
        /// Only the steps with this status.
        #[arg(long, value_parser = parse_status)]
        status: Option<StepStatus>,
    },
    /// One step's record.
    Get {
        /// The namespace.
        ns: String,
        /// The key.
        key: String,
    },
    /// Claim a step: prints `claimed` and the lease token, or why not
    /// (`done`, `busy`, `failed`).
    Claim {
        /// The namespace.
        ns: String,
        /// The key.
        key: String,
        /// The run claiming it (stored as ownerRunId).
        #[arg(long, value_name = "ID")]
        owner: Option<String>,
        /// The lease's length in ms [default: 60000].
        #[arg(long, value_name = "N")]
        lease_ms: Option<u64>,
    },
    /// Extend a claim's lease; fails when the token is not the claim's.
    Touch {
        /// The namespace.
        ns: String,
        /// The key.
        key: String,
        /// The claim's lease token.
        #[arg(long, value_name = "T")]
        token: String,
        /// The extension in ms [default: 60000].
        #[arg(long, value_name = "N")]
        extend_ms: Option<u64>,
    },
    /// Record a claimed step done.
    Done {
        /// The namespace.
        ns: String,
        /// The key.
        key: String,
        /// The claim's lease token.
        #[arg(long, value_name = "T")]
        token: String,
        /// The result, as JSON [default: null].
        #[arg(long, value_name = "JSON")]
        result: Option<String>,
        /// A reference to a result stored elsewhere.
        #[arg(long, value_name = "REF")]
        result_ref: Option<String>,
    },
    /// Record a claimed step failed (terminal until `reset`).
    Fail {
        /// The namespace.
        ns: String,
        /// The key.
        key: String,
        /// The claim's lease token.
        #[arg(long, value_name = "T")]
        token: String,
        /// What went wrong.
        #[arg(long, value_name = "TEXT")]
        error: String,
    },
    /// Delete a step's record, so that it runs again.
    Reset {
        /// The namespace.
        ns: String,
        /// The key.
        key: String,
    },
    /// Delete the claims whose lease ended (in every namespace).
    Gc {
        /// Only those that ended more than N ms ago [default: 0].
        #[arg(long, value_name = "N", default_value_t = 0)]
        older_than_ms: u64,
    },
}

fn parse_status(text: &str) -> Result<StepStatus, String> {
    text.parse()
}

/// Runs `ledger ...`.
pub(crate) fn ledger(args: &LedgerArgs) -> CliResult<()> {
    let url = resolve_ledger_url(args.url.as_deref());
    let ledger = open_ledger(Some(&url))?;
    let json = args.json;
    match &args.command {
        LedgerCommand::List { ns, status } => list(&ledger, ns, *status, json),
        LedgerCommand::Get { ns, key } => {
            let record = ledger
                .get(ns, key)?
                .ok_or_else(|| step_error("get", ns, key, format!("no record in {url}")))?;
            show(&record, json)
        }
        LedgerCommand::Claim {
            ns,
            key,
            owner,
            lease_ms,
        } => {
            let options = ClaimOptions {
                owner_run_id: owner.clone(),
                lease_ms: *lease_ms,
            };
            claim(&ledger.claim(ns, key, &options)?, json)
        }
        LedgerCommand::Touch {
            ns,
            key,
            token,
            extend_ms,
        } => {
            let record = ledger.touch(ns, key, token, *extend_ms)?.ok_or_else(|| {
                step_error(
                    "touch",
                    ns,
                    key,
                    "the token is not the live claim's (lease lost)".into(),
                )
            })?;
            show(&record, json)
        }
        LedgerCommand::Done {
            ns,
            key,
            token,
            result,
            result_ref,
        } => {
            let result = match result {
                None => Value::Null,
                Some(text) => serde_json::from_str(text).map_err(|e| {
                    step_error("done", ns, key, format!("--result is not JSON: {e}"))
                })?,
            };
            show(
                &ledger.done(ns, key, token, result, result_ref.as_deref())?,
                json,
            )
        }
        LedgerCommand::Fail {
            ns,
            key,
            token,
            error,
        } => show(&ledger.fail(ns, key, token, error)?, json),
        LedgerCommand::Reset { ns, key } => {
            let existed = ledger.reset(ns, key)?;
            if json {
                return print_json(&json!({"reset": existed}));
            }
            outln!(
                "{}",
                if existed {
                    format!("reset {ns}/{key}")
                } else {
                    format!("{ns}/{key} had no record")
                }
            );
            Ok(())
        }
        LedgerCommand::Gc { older_than_ms } => {
            let removed = ledger.gc(*older_than_ms)?;
            if json {
                return print_json(&json!({"removed": removed}));
            }
            outln!("removed {removed} lapsed claim(s) from {url}");
            Ok(())
        }
    }
}

fn step_error(command: &'static str, ns: &str, key: &str, reason: String) -> CliError {
    CliError::LedgerStep {
        command,
        step: format!("{ns}/{key}"),
        reason,
    }
}

fn list(
    ledger: &Arc<dyn StepLedger>,
    ns: &str,
    status: Option<StepStatus>,
    json: bool,
) -> CliResult<()> {
    let records = ledger.list(ns, status)?;
    if json {
        return print_json(&records);
    }
    if records.is_empty() {
        outln!("no steps in namespace {ns}");
    }
    for r in &records {
        outln!(
            "{:<7}  {:>3}×  {}  {}  {}",
            r.status.as_str(),
            r.attempts,
            when(r.updated_at),
            r.owner_run_id.as_deref().unwrap_or("-"),
            r.key
        );
    }
    Ok(())
}

fn claim(claim: &Claim, json: bool) -> CliResult<()> {
    if json {
        return print_json(&json!({
            "kind": claim.kind(),
            "leaseToken": claim.token(),
            "checkpoint": claim.record(),
        }));
    }
    match claim {
        Claim::Claimed { token, .. } => outln!("claimed  token {token}"),
        other => outln!("{}", other.kind()),
    }
    show(claim.record(), false)
}

fn show(r: &StepRecord, json: bool) -> CliResult<()> {
    if json {
        return print_json(r);
    }
    outln!("step      {}/{}", r.namespace, r.key);
    outln!("status    {}", r.status);
    outln!("attempts  {}", r.attempts);
    if let Some(owner) = &r.owner_run_id {
        outln!("owner     {owner}");
    }
    if let Some(until) = r.lease_until {
        outln!("lease     until {}", when(until));
    }
    if r.status == StepStatus::Done {
        outln!("result    {}", r.result);
    }
    if let Some(reference) = &r.result_ref {
        outln!("ref       {reference}");
    }
    if let Some(error) = &r.error {
        outln!("error     {error}");
    }
    outln!("created   {}", when(r.created_at));
    outln!("updated   {}", when(r.updated_at));
    Ok(())
}

/// Epoch ms as an RFC 3339 UTC time.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}
