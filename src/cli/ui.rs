//! `ui`: the web page on the database, read-only and without keys, on a
//! loopback address only; it prints its URL and serves until Ctrl-C.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use checkpointer::CheckpointAdmin;
use checkpointer::server::ui::{UiAccess, router};
use clap::Args;

use super::error::{CliError, CliResult};

/// `ui`.
#[derive(Debug, Args)]
pub(crate) struct UiArgs {
    /// Where to listen: a loopback address and port (`127.0.0.1:8080`,
    /// `[::1]:8080`, `localhost:8080`); port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) addr: String,
}

/// The address to listen on, refusing any that is not loopback: the page
/// has no keys, so it must not be reachable from another machine.
pub(crate) fn loopback_addr(text: &str) -> CliResult<SocketAddr> {
    let bad = |reason: String| CliError::Io {
        what: format!("ui --addr {text:?}"),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
    };
    let addr = match text.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .map_err(|e| bad(format!("bad port: {e}")))?,
        None => text.parse::<SocketAddr>().map_err(|e| {
            bad(format!(
                "{e} (give an address and a port, e.g. 127.0.0.1:8080)"
            ))
        })?,
    };
    if !addr.ip().is_loopback() {
        return Err(bad(format!(
            "{} is not a loopback address: `checkpointer ui` has no keys, so it listens \
             on 127.0.0.1 or ::1 only",
            addr.ip()
        )));
    }
    Ok(addr)
}

/// `ui [--addr ADDR]`.
pub(crate) fn ui(saver: Arc<dyn CheckpointAdmin>, path: &Path, args: &UiArgs) -> CliResult<()> {
    let addr = loopback_addr(&args.addr)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("start the server's runtime"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(CliError::io(format!("listen on {addr}")))?;
        let bound = listener
            .local_addr()
            .map_err(CliError::io("read the address listened on"))?;
        outln!("http://{bound}/");
        std::io::stdout()
            .flush()
            .map_err(CliError::io("write standard output"))?;
        eprintln!(
            "serving {} read-only at http://{bound}/ (Ctrl-C stops)",
            path.display()
        );
        let app = router(saver, UiAccess::Open);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // If the signal cannot be watched, serve until killed.
                if tokio::signal::ctrl_c().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
            .await
            .map_err(CliError::io(format!("serve http://{bound}/")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_accepted() {
        assert!(loopback_addr("127.0.0.1:0").is_ok());
        assert!(loopback_addr("[::1]:8080").is_ok());
        assert_eq!(loopback_addr("localhost:9").unwrap().port(), 9);
        let e = loopback_addr("0.0.0.0:8080").unwrap_err().to_string();
        assert!(e.contains("not a loopback address"), "{e}");
        assert!(loopback_addr("192.168.1.2:80").is_err());
        assert!(loopback_addr("127.0.0.1").is_err(), "a port is needed");
    }
}
