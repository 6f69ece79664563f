//! `portcullis keyservice`: run the key service (tokens v2) in its own process.

use std::path::PathBuf;

use super::serving::{init_logging, wait_for_stop, LogFormat};
use crate::config::Config;
use crate::Error;

/// `portcullis keyservice`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// TOML configuration file (see deploy/keyservice.toml).
    #[arg(long, required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// Development: the development CA is accepted; without --config, runs on the
    /// development defaults (certs-dev/keyservice.key, listen 127.0.0.1:50061, data
    /// ./data-keyservice, its own log key certs-dev/keyservice-log.pk8).
    #[arg(long)]
    dev: bool,
    /// Listen address, overriding the configuration (`127.0.0.1:0` picks a free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (its own audit log), overriding the configuration.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value = "human")]
    log_format: LogFormat,
}

impl Args {
    /// The configuration these arguments describe (re-read on every reload).
    fn config(&self) -> Result<Config, Error> {
        let mut config = match &self.config {
            Some(path) => {
                let mut config = Config::keyservice_from_file(path)?;
                config.dev = self.dev;
                config
            }
            None => crate::keyservice::server::dev_config(&Config::dev_certs_dir()),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(data) = &self.data {
            config.data_dir = data.clone();
        }
        Ok(config)
    }
}

/// Runs the key service until SIGTERM or SIGINT, reloading its configuration on SIGHUP.
pub(crate) async fn run(args: Args) -> Result<(), Error> {
    init_logging(args.log_format);
    let running = crate::keyservice::server::start(args.config()?).await?;
    // Tests and scripts read the bound address from this line.
    println!("keyservice listening on {}", running.addr());
    tracing::info!(addr = %running.addr(), "ready");
    wait_for_stop(|| args.config().and_then(|c| running.reload(&c))).await;
    tracing::info!("shutting down: draining calls and flushing the audit log");
    running.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}
