//! What a running gateway ([`crate::server`]) and a running key service ([`crate::keyservice`])
//! share after start-up: the parts a configuration reload replaces, and the serving task a
//! shutdown stops and waits for.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::ServeError;
use crate::identity::Policy;
use crate::limits::Limiter;
use crate::startup::check_ca;
use crate::store::Store;
use crate::tls::Acceptor;
use crate::Error;

/// The parts of a running process a reload replaces, and the configuration it started with.
pub(crate) struct Reloadable {
    /// Admits connections: its certificate, CRL and transport limits are replaced.
    pub(crate) acceptor: Acceptor,
    /// The accredited parties.
    pub(crate) policy: Arc<ArcSwap<Policy>>,
    /// The per-certificate rate limits (the key service's quotas).
    pub(crate) limiter: Arc<Limiter>,
    /// The configuration at start-up, against which restart-only keys are compared.
    pub(crate) fixed: Config,
}

impl Reloadable {
    /// Refuses the reload if any key of `restart_only` (a key and whether `config` changes it)
    /// changed, naming the first and telling to restart `process`; otherwise loads the server
    /// certificate and CRL (refusing the development CA outside `--dev`) and only then replaces
    /// them, the transport limits, the accredited parties and the rate limits. On any error
    /// nothing is replaced.
    pub(crate) fn reload(
        &self,
        config: &Config,
        restart_only: &[(&str, bool)],
        process: &str,
    ) -> Result<(), Error> {
        if let Some((key, _)) = restart_only.iter().find(|(_, changed)| *changed) {
            return Err(Error::Config(format!(
                "{key}: cannot change while running; restart the {process}"
            )));
        }
        check_ca(config)?;
        let tls = crate::tls::server_config(&config.tls)?;
        self.acceptor.replace(tls);
        self.acceptor.replace_limits(config.transport);
        self.policy.store(Arc::new(Policy {
            accredited_parties: config.accredited_parties.clone(),
        }));
        self.limiter.replace(config.limits);
        Ok(())
    }
}

/// The task serving calls, the signal that stops it, and the store to make durable after it.
pub(crate) struct ServingTask {
    /// Sent once to stop accepting and drain.
    pub(crate) shutdown: Option<oneshot::Sender<()>>,
    /// The server, ending with its audit writer and checkpoint signer.
    pub(crate) task: JoinHandle<Result<(), ServeError>>,
    /// The data directory's store.
    pub(crate) store: Store,
}

impl ServingTask {
    /// Stops accepting, finishes in-flight calls, makes the audit log durable and returns.
    pub(crate) async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = (&mut self.task)
            .await
            .map_err(|e| ServeError::Serving(format!("server task: {e}")))?;
        self.store.flush().await?;
        result
    }

    /// Waits until the server stops by itself (it only does on error).
    pub(crate) async fn wait(&mut self) -> Result<(), ServeError> {
        (&mut self.task)
            .await
            .map_err(|e| ServeError::Serving(format!("server task: {e}")))?
    }
}
