//! What the two serving commands (`serve`, `keyservice`) share about running a process: the log
//! set-up, and waiting for a stop signal while applying SIGHUP reloads.

use crate::Error;

/// Log output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr in `format`, filtered by `RUST_LOG` (default `info`); colours only on a
/// terminal.
pub(crate) fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Waits for SIGTERM or SIGINT; on SIGHUP calls `reload` (re-read the configuration and
/// apply it), logging a refused reload and keeping the running configuration.
#[cfg(unix)]
pub(crate) async fn wait_for_stop(mut reload: impl FnMut() -> Result<(), Error>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
            _ = hup.recv() => {
                if let Err(e) = reload() {
                    tracing::error!(error = %e, "reload refused; keeping the running configuration");
                }
            }
        }
    }
}

/// Waits for Ctrl-C (no SIGHUP reloads off Unix).
#[cfg(not(unix))]
pub(crate) async fn wait_for_stop(_reload: impl FnMut() -> Result<(), Error>) {
    let _ = tokio::signal::ctrl_c().await;
}
