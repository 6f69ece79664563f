//! `portcullis serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::Config;
use crate::Error;

/// Log output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// TOML configuration file (see deploy/portcullis.toml).
    #[arg(long, conflicts_with = "dev")]
    config: Option<PathBuf>,
    /// Run on the embedded development defaults and certs-dev/.
    #[arg(long)]
    dev: bool,
    /// Listen address, overriding the configuration (`127.0.0.1:0` picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory, overriding the configuration.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value = "human")]
    log_format: LogFormat,
}

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

pub(crate) async fn run(args: Args) -> Result<(), Error> {
    init_logging(args.log_format);
    let mut config = match (&args.config, args.dev) {
        (Some(path), false) => Config::from_file(path)?,
        (None, true) => Config::dev(&Config::dev_certs_dir()),
        _ => {
            return Err(Error::Usage(
                "serve needs --config FILE, or --dev for the development defaults".into(),
            ))
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(data) = args.data {
        config.data_dir = data;
    }
    let running = crate::server::start(config).await?;
    tracing::info!(addr = %running.addr(), "ready");
    wait_for_signal().await;
    tracing::info!("shutting down: draining calls and flushing the audit log");
    running.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
