//! `portcullis serve`: run the gateway.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::serving::{init_logging, wait_for_stop, LogFormat};
use crate::config::Config;
use crate::Error;

/// `portcullis serve`.
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

/// Runs the gateway until SIGTERM or SIGINT, reloading its configuration on SIGHUP.
pub(crate) async fn run(args: Args) -> Result<(), Error> {
    init_logging(args.log_format);
    let running = crate::server::start(args.config()?).await?;
    tracing::info!(addr = %running.addr(), "ready");
    if let Some(metrics) = running.metrics_addr() {
        tracing::info!(%metrics, "metrics at http://{metrics}/metrics");
    }
    wait_for_stop(|| args.config().and_then(|c| running.reload(&c))).await;
    tracing::info!("shutting down: draining calls and flushing the audit log");
    running.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}
