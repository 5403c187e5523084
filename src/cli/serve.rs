//! `serve`: the SnapState-compatible HTTP service on the database
//! (SQLite by default, PostgreSQL with `--db postgres://…`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use checkpointer::server::{Service, ServiceOptions, ServiceSaver, serve};
use checkpointer::{SqliteOptions, SqliteSaver};
use clap::Args;

use super::error::{CliError, CliResult};

/// `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen (`127.0.0.1:0` picks a free port; the address is
    /// printed on standard output).
    #[arg(long, default_value = "127.0.0.1:3000", value_name = "ADDR")]
    pub(crate) addr: SocketAddr,
    /// Requests per API key per window (/checkpoints, /workflows, /webhooks).
    #[arg(
        long,
        env = "CHECKPOINTER_RATE_LIMIT",
        default_value_t = 100,
        value_name = "N"
    )]
    pub(crate) rate_limit: usize,
    /// The rate limit's sliding window, in milliseconds.
    #[arg(
        long,
        env = "CHECKPOINTER_RATE_WINDOW_MS",
        default_value_t = 60_000,
        value_name = "MS"
    )]
    pub(crate) rate_window_ms: u64,
    /// A workflow's TTL when a save has no `X-Checkpoint-TTL`, in seconds.
    #[arg(
        long,
        env = "CHECKPOINTER_DEFAULT_TTL",
        default_value_t = 604_800,
        value_name = "SECS"
    )]
    pub(crate) default_ttl: u64,
    /// How often expired workflows are deleted, in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub(crate) sweep_every: u64,
    /// The secret of the admin routes (`Authorization: Bearer SECRET`);
    /// without it they are off.
    #[arg(
        long,
        env = "CHECKPOINTER_ADMIN_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub(crate) admin_secret: Option<String>,
}

fn is_postgres_url(path: &Path) -> bool {
    path.to_str()
        .is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// The database, created if missing, with the pool's default size (the
/// service has many requests at once, unlike the other commands).
pub(crate) fn open_service_db(path: &Path) -> CliResult<Arc<dyn ServiceSaver>> {
    if is_postgres_url(path) {
        return open_postgres(path);
    }
    Ok(Arc::new(SqliteSaver::open_with(
        path,
        SqliteOptions::new(),
    )?))
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &Path) -> CliResult<Arc<dyn ServiceSaver>> {
    let url = url.to_string_lossy();
    let options = checkpointer::PostgresOptions::new();
    Ok(Arc::new(checkpointer::PostgresSaver::open_with(
        &url, options,
    )?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_url: &Path) -> CliResult<Arc<dyn ServiceSaver>> {
    Err(CliError::NoPostgres)
}

fn server_error(what: &str) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        what: what.to_owned(),
        source,
    }
}

/// `serve`: runs until killed.
pub(crate) fn serve_command(path: &Path, args: &ServeArgs) -> CliResult<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let saver = open_service_db(path)?;
    let options = ServiceOptions {
        rate_limit_max: args.rate_limit,
        rate_limit_window: Duration::from_millis(args.rate_window_ms),
        default_ttl: Duration::from_secs(args.default_ttl),
        sweep_interval: Duration::from_secs(args.sweep_every.max(1)),
        admin_secret: args.admin_secret.clone().filter(|s| !s.is_empty()),
        ..ServiceOptions::default()
    };
    let service = Service::new(saver, options);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(server_error("start the async runtime"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(server_error(&format!("listen on {}", args.addr)))?;
        let bound = listener
            .local_addr()
            .map_err(server_error("read the bound address"))?;
        outln!(
            "checkpointer serve: listening on http://{bound} (database {})",
            path.display()
        );
        serve(listener, service)
            .await
            .map_err(server_error("serve HTTP"))
    })
}
