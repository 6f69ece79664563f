//! `portcullis keyservice`: run the key service (tokens v2) in its own process.

use std::path::PathBuf;

use super::serve::{init_logging, LogFormat};
use crate::config::Config;
use crate::Error;

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

pub(crate) async fn run(args: Args) -> Result<(), Error> {
    init_logging(args.log_format);
    let running = crate::keyservice::server::start(args.config()?).await?;
    // Tests and scripts read the bound address from this line.
    println!("keyservice listening on {}", running.addr());
    tracing::info!(addr = %running.addr(), "ready");
    wait_for_stop(&args, &running).await;
    tracing::info!("shutting down: draining calls and flushing the audit log");
    running.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT; on SIGHUP re-reads the configuration (quotas, parties,
/// certificates) and applies it, keeping the running one if it is bad.
#[cfg(unix)]
async fn wait_for_stop(args: &Args, running: &crate::keyservice::server::Running) {
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
                if let Err(e) = args.config().and_then(|c| running.reload(&c)) {
                    tracing::error!(error = %e, "reload refused; keeping the running configuration");
                }
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(_args: &Args, _running: &crate::keyservice::server::Running) {
    let _ = tokio::signal::ctrl_c().await;
}
