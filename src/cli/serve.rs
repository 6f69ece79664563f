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
    #[arg(long)]
    config: Option<PathBuf>,
    /// Development mode: the development CA is accepted. Without --config, runs on the
    /// embedded development defaults and certs-dev/.
    #[arg(long)]
    dev: bool,
    /// Listen address, overriding the configuration (`127.0.0.1:0` picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory, overriding the configuration.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Serve Prometheus metrics on this loopback address, overriding the configuration.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Log format.
    #[arg(long, value_enum, default_value = "human")]
    log_format: LogFormat,
}

impl Args {
    /// The configuration these arguments describe (re-read on every reload).
    fn config(&self) -> Result<Config, Error> {
        let mut config = match (&self.config, self.dev) {
            (Some(path), dev) => {
                let mut config = Config::from_file(path)?;
                config.dev = dev;
                config
            }
            (None, true) => Config::dev(&Config::dev_certs_dir()),
            (None, false) => {
                return Err(Error::Usage(
                    "serve needs --config FILE, or --dev for the development defaults".into(),
                ))
            }
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(data) = &self.data {
            config.data_dir = data.clone();
        }
        if let Some(metrics) = self.metrics_listen {
            config.metrics_listen = Some(metrics);
        }
        Ok(config)
    }
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
    let running = crate::server::start(args.config()?).await?;
    tracing::info!(addr = %running.addr(), "ready");
    if let Some(metrics) = running.metrics_addr() {
        tracing::info!(%metrics, "metrics at http://{metrics}/metrics");
    }
    wait_for_stop(&args, &running).await;
    tracing::info!("shutting down: draining calls and flushing the audit log");
    running.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT; on SIGHUP re-reads the configuration and applies it (a bad
/// configuration is logged and the running one kept).
#[cfg(unix)]
async fn wait_for_stop(args: &Args, running: &crate::server::Running) {
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
                match args.config().and_then(|c| running.reload(&c)) {
                    Ok(()) => {}
                    Err(e) => tracing::error!(error = %e, "reload refused; keeping the running configuration"),
                }
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(_args: &Args, _running: &crate::server::Running) {
    let _ = tokio::signal::ctrl_c().await;
}
