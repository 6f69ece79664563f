//! Composes the gateway: configuration → TLS acceptor → auth layer → services → domain →
//! store and audit log, served until a shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{oneshot, watch};

use crate::audit::receipts::Receipts;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::domain::{Gateway, Settings};
use crate::error::ServeError;
use crate::identity::Policy;
use crate::limits::Limiter;
use crate::proto::v1::advisory_service_server::AdvisoryServiceServer;
use crate::proto::v1::audit_service_server::AuditServiceServer;
use crate::proto::v1::key_service_server::KeyServiceServer;
use crate::proto::v1::vetting_service_server::VettingServiceServer;
use crate::running::{Reloadable, ServingTask};
use crate::service::advisory::Advisories;
use crate::service::audit::Auditing;
use crate::service::auth::AuthLayer;
use crate::service::vetting::Vetting;
use crate::startup::{check_ca, listen, open_audited_store, AuditedStore, Listening};
use crate::store::Store;
use crate::Error;

/// A running gateway.
pub struct Running {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    reload: Reload,
    serving: ServingTask,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The parts of a running gateway a configuration reload replaces: those a key service has
/// too, and the domain's settings.
struct Reload {
    shared: Reloadable,
    settings: Arc<ArcSwap<Settings>>,
}

fn settings_of(config: &Config) -> Settings {
    Settings {
        accredited_parties: config.accredited_parties.clone(),
        matching_key_ids: config.matching_key_ids.clone(),
        retention_secs: i64::try_from(config.retention.as_secs()).unwrap_or(i64::MAX),
    }
}

/// Starts a gateway: binds the listener, opens the store, checks the audit log against its
/// latest checkpoint (refusing to start on a mismatch), starts the audit writer and the
/// checkpoint signer, and serves. Returns once the gateway accepts connections.
pub async fn start(config: Config) -> Result<Running, ServeError> {
    check_ca(&config)?;
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
    let settings = Arc::new(ArcSwap::from_pointee(settings_of(&config)));
    let limiter = Arc::new(Limiter::new(config.limits));
    let settings_handle = settings.clone();
    let gateway = Arc::new(Gateway::new(store.clone(), log.clone(), settings));
    let expiries = tokio::spawn(crate::domain::announce_expiries(Arc::downgrade(&gateway)));
    let notices = tokio::spawn(crate::domain::sweep_notices(Arc::downgrade(&gateway)));
    let closer = gateway.clone();
    let key_service = dev_key_service(&config, &policy, &log, &limiter)?;

    let Listening {
        addr,
        acceptor,
        incoming,
    } = listen(&config, tls).await?;
    let metrics = match config.metrics_listen {
        Some(addr) => Some(
            crate::metrics::bind(addr)
                .await
                .map_err(ServeError::Config)?,
        ),
        None => None,
    };
    let metrics_addr = metrics.as_ref().and_then(|l| l.local_addr().ok());

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<VettingServiceServer<Vetting>>()
        .await;
    health_reporter
        .set_serving::<AdvisoryServiceServer<Advisories>>()
        .await;
    health_reporter
        .set_serving::<AuditServiceServer<Auditing>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Config(format!("reflection: {e}")))?;

    if let Some(listener) = metrics {
        tokio::spawn(crate::metrics::serve(listener, gateway.closing()));
    }
    tokio::spawn(report_health(
        health_reporter,
        log.writable(),
        gateway.closing(),
    ));

    let limit = crate::service::MAX_MESSAGE_BYTES;
    let router = tonic::transport::Server::builder()
        .max_connection_age(config.max_connection_age)
        .max_concurrent_streams(config.transport.max_concurrent_streams)
        .layer(AuthLayer::new(policy.clone(), log.clone(), limiter.clone()))
        .add_service(health)
        .add_service(reflection)
        .add_service(
            VettingServiceServer::new(Vetting::new(
                gateway.clone(),
                limiter.clone(),
                Receipts::new(store.clone(), checkpoints.clone()),
            ))
            .max_decoding_message_size(limit),
        )
        .add_service(
            AdvisoryServiceServer::new(Advisories::new(gateway)).max_decoding_message_size(limit),
        )
        .add_service(
            AuditServiceServer::new(Auditing::new(
                log.clone(),
                crate::audit::Reader::new(store.clone()),
                checkpoints,
                stopping,
            ))
            .max_decoding_message_size(limit),
        )
        .add_optional_service(key_service.map(|s| s.max_decoding_message_size(limit)));
    drop(log);
    // The closer is the only strong handle outside the router: once the router is gone and
    // the closer dropped, the expiry task's weak handle fails and every audit handle is gone.

    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = router
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = shutdown_rx.await;
                // End long-lived streams (watches, followed replays) so draining can finish.
                stopping_tx.send_replace(true);
                closer.close();
            })
            .await;
        if expiries.await.is_err() {
            tracing::error!("expiry task failed");
        }
        if notices.await.is_err() {
            tracing::error!("notice sweep task failed");
        }
        // The router (and every handle to the audit writer it held) is gone: the writer makes
        // its last batch durable and stops; the signer then signs the final size.
        if writer.await.is_err() {
            tracing::error!("audit writer task failed");
        }
        if signing.await.is_err() {
            tracing::error!("checkpoint signer task failed");
        }
        served.map_err(|e| ServeError::Serving(format!("serving: {e}")))
    });
    tracing::info!(%addr, "portcullis listening");
    Ok(Running {
        addr,
        metrics_addr,
        reload: Reload {
            shared: Reloadable {
                acceptor,
                policy,
                limiter,
                fixed: config,
            },
            settings: settings_handle,
        },
        serving: ServingTask {
            shutdown: Some(shutdown_tx),
            task,
            store,
        },
    })
}

/// `serve --dev` hosts the key service with the development key (keyservice.md, "Where it
/// runs"); its calls go to the gateway's own log. Development only: a configuration that
/// hands a key-service private key to a gateway outside `--dev` is refused.
fn dev_key_service(
    config: &Config,
    policy: &Arc<ArcSwap<Policy>>,
    log: &AuditLog,
    limiter: &Arc<Limiter>,
) -> Result<Option<KeyServiceServer<crate::keyservice::service::KeyServing>>, ServeError> {
    if config.key_service_keys.is_empty() {
        return Ok(None);
    }
    if !config.dev {
        return Err(ServeError::Config(
            "key_service_keys: the gateway refuses a key-service private key outside --dev \
             (run `portcullis keyservice --config FILE`)"
                .into(),
        ));
    }
    let keys = crate::keyservice::KeyRing::load(
        &config.key_service_keys,
        config.matching_key_ids.iter().cloned(),
    )?;
    tracing::warn!("development key service hosted in the gateway: for development only");
    Ok(Some(KeyServiceServer::new(
        crate::keyservice::service::KeyServing::new(
            Arc::new(keys),
            policy.clone(),
            log.clone(),
            limiter.clone(),
        ),
    )))
}

/// Keeps the health service in step with this gateway's audit log: NOT_SERVING while its
/// writer cannot write (every call would fail closed anyway) or has stopped.
async fn report_health(
    reporter: tonic_health::server::HealthReporter,
    mut writable: watch::Receiver<bool>,
    mut closing: watch::Receiver<bool>,
) {
    use tonic_health::ServingStatus;
    loop {
        let status = if *writable.borrow_and_update() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        set_health(&reporter, status).await;
        tokio::select! {
            changed = writable.changed() => {
                if changed.is_err() {
                    // The writer stopped: nothing more can be recorded.
                    set_health(&reporter, ServingStatus::NotServing).await;
                    return;
                }
            }
            _ = closing.changed() => return,
        }
    }
}

/// Sets the status of the gateway as a whole and of each of its services.
async fn set_health(
    reporter: &tonic_health::server::HealthReporter,
    status: tonic_health::ServingStatus,
) {
    for name in [
        "",
        "portcullis.v1.VettingService",
        "portcullis.v1.AdvisoryService",
        "portcullis.v1.AuditService",
    ] {
        reporter.set_service_status(name, status).await;
    }
}

impl Running {
    /// The address the gateway listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the metrics endpoint, if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Applies a new configuration without dropping calls: the server certificate and key,
    /// the CRL (new connections are checked against it; existing ones end within
    /// `max_connection_age`), accredited parties, matching-key ids, retention and rate
    /// limits and the transport limits (for new connections). Listen address, data directory,
    /// trust domain, audit settings and `transport.max_concurrent_streams` need a restart; a
    /// change to them is refused. On any error nothing is replaced.
    ///
    /// `serve` re-applies its `--listen`/`--data` overrides before reloading, so a configured
    /// `listen = "…:0"` (any free port) is compared as configured, not as bound.
    ///
    /// It answers with the command error, which the serve command chains after re-reading its
    /// configuration.
    pub fn reload(&self, config: &Config) -> Result<(), Error> {
        let fixed = &self.reload.shared.fixed;
        let restart_only = [
            ("listen", fixed.listen != config.listen),
            ("data_dir", fixed.data_dir != config.data_dir),
            ("trust_domain", fixed.trust_domain != config.trust_domain),
            ("audit", fixed.audit != config.audit),
            ("cache_mb", fixed.cache_bytes != config.cache_bytes),
            (
                "transport.max_concurrent_streams",
                fixed.transport.max_concurrent_streams != config.transport.max_concurrent_streams,
            ),
        ];
        self.reload
            .shared
            .reload(config, &restart_only, "gateway")?;
        self.reload.settings.store(Arc::new(settings_of(config)));
        tracing::info!(
            parties = config.accredited_parties.len(),
            "configuration reloaded"
        );
        Ok(())
    }

    /// TLS handshakes in progress and established client connections, for tests.
    #[doc(hidden)]
    pub fn connection_counts(&self) -> (usize, usize) {
        self.reload.shared.acceptor.counts()
    }

    /// The gateway's store, for tests that inspect or inject faults into it.
    #[doc(hidden)]
    pub fn store(&self) -> &Store {
        &self.serving.store
    }

    /// Stops accepting, finishes in-flight calls, makes the audit log durable and returns.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.serving.shutdown().await
    }

    /// Waits until the server stops by itself (it only does on error).
    pub async fn wait(&mut self) -> Result<(), ServeError> {
        self.serving.wait().await
    }
}
