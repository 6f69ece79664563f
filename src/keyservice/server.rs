//! `portcullis keyservice`: the key service in its own process, with its own TLS server
//! certificate, data directory and tamper-evident audit log (the gateway's log format, with
//! its own origin and signing key). It serves `KeyService` to parties and officials and
//! `AuditService` to auditors, so `portcullis audit verify --server` works against it.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{oneshot, watch};

use crate::config::Config;
use crate::error::ServeError;
use crate::identity::Policy;
use crate::keyservice::service::KeyServing;
use crate::keyservice::KeyRing;
use crate::limits::Limiter;
use crate::proto::v1::audit_service_server::AuditServiceServer;
use crate::proto::v1::key_service_server::KeyServiceServer;
use crate::running::{Reloadable, ServingTask};
use crate::service::audit::Auditing;
use crate::service::auth::AuthLayer;
use crate::startup::{check_ca, listen, open_audited_store, AuditedStore, Listening};
use crate::Error;

/// The development key service's defaults (`portcullis keyservice --dev`): the development
/// PKI's server certificate and `keyservice.key`, listen `127.0.0.1:50061`, data
/// `./data-keyservice`, its own log origin and signing key.
pub fn dev_config(certs_dir: &std::path::Path) -> Config {
    let mut config = Config::dev(certs_dir);
    config.listen = SocketAddr::from(([127, 0, 0, 1], 50061));
    config.data_dir = "data-keyservice".into();
    config.audit.origin = crate::pki::DEV_KEYSERVICE_LOG_NAME.to_owned();
    config.audit.signing_key = certs_dir.join(crate::pki::DEV_KEYSERVICE_LOG_KEY_FILE);
    config
}

/// A running key service.
pub struct Running {
    addr: SocketAddr,
    reload: Reloadable,
    serving: ServingTask,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("keyservice::Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Starts a key service: loads its keys, checks its audit log against the latest checkpoint
/// (refusing to start on a mismatch), starts the writer and the checkpoint signer, and serves.
pub async fn start(config: Config) -> Result<Running, ServeError> {
    check_ca(&config)?;
    let keys = KeyRing::load(
        &config.key_service_keys,
        config.matching_key_ids.iter().cloned(),
    )?;
    if keys.is_empty() {
        return Err(ServeError::Config(
            "key_service_keys: a key service needs at least one private key file".into(),
        ));
    }
    let tls = crate::tls::server_config(&config.tls)?;
    let AuditedStore {
        store,
        log,
        writer,
        checkpoints,
        signing,
    } = open_audited_store(&config)?;
    let (stopping_tx, stopping) = watch::channel(false);
    let policy = Arc::new(ArcSwap::from_pointee(Policy {
        accredited_parties: config.accredited_parties.clone(),
    }));
    let limiter = Arc::new(Limiter::new(config.limits));

    let Listening {
        addr,
        acceptor,
        incoming,
    } = listen(&config, tls).await?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<KeyServiceServer<KeyServing>>()
        .await;
    health_reporter
        .set_serving::<AuditServiceServer<Auditing>>()
        .await;

    let limit = crate::service::MAX_MESSAGE_BYTES;
    let router = tonic::transport::Server::builder()
        .max_connection_age(config.max_connection_age)
        .max_concurrent_streams(config.transport.max_concurrent_streams)
        .layer(AuthLayer::new(policy.clone(), log.clone(), limiter.clone()))
        .add_service(health)
        .add_service(
            KeyServiceServer::new(KeyServing::new(
                Arc::new(keys),
                policy.clone(),
                log.clone(),
                limiter.clone(),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            AuditServiceServer::new(Auditing::new(
                log,
                crate::audit::Reader::new(store.clone()),
                checkpoints,
                stopping,
            ))
            .max_decoding_message_size(limit),
        );

    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = router
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = shutdown_rx.await;
                stopping_tx.send_replace(true);
            })
            .await;
        // The router and every audit handle it held are gone: the writer makes its last
        // batch durable and stops; the signer then signs the final size.
        if writer.await.is_err() {
            tracing::error!("audit writer task failed");
        }
        if signing.await.is_err() {
            tracing::error!("checkpoint signer task failed");
        }
        served.map_err(|e| ServeError::Serving(format!("serving: {e}")))
    });
    tracing::info!(%addr, "portcullis key service listening");
    Ok(Running {
        addr,
        reload: Reloadable {
            acceptor,
            policy,
            limiter,
            fixed: config,
        },
        serving: ServingTask {
            shutdown: Some(shutdown_tx),
            task,
            store,
        },
    })
}

impl Running {
    /// The address the key service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies a new configuration without dropping calls: server certificate, CRL,
    /// accredited parties, quotas and transport limits (for new connections). Everything else (keys included) needs a restart; a
    /// change to it is refused. On any error nothing is replaced.
    ///
    /// It answers with the command error, which the serve command chains after re-reading its
    /// configuration.
    pub fn reload(&self, config: &Config) -> Result<(), Error> {
        let fixed = &self.reload.fixed;
        let restart_only = [
            ("listen", fixed.listen != config.listen),
            ("data_dir", fixed.data_dir != config.data_dir),
            ("trust_domain", fixed.trust_domain != config.trust_domain),
            ("audit", fixed.audit != config.audit),
            (
                "key_service_keys",
                fixed.key_service_keys != config.key_service_keys,
            ),
            (
                "matching_key_ids",
                fixed.matching_key_ids != config.matching_key_ids,
            ),
            (
                "transport.max_concurrent_streams",
                fixed.transport.max_concurrent_streams != config.transport.max_concurrent_streams,
            ),
        ];
        self.reload.reload(config, &restart_only, "key service")?;
        tracing::info!("key service configuration reloaded");
        Ok(())
    }

    /// Stops accepting, finishes in-flight calls, makes the audit log durable and returns.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.serving.shutdown().await
    }
}
