//! What every serving process does at start-up, the gateway ([`crate::server`]) and the key
//! service ([`crate::keyservice`]) alike: refuse the development CA outside `--dev`, open the
//! data directory with its audit log checked against the latest signed checkpoint, and bind the
//! listener behind the transport's admission control.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use crate::audit::checkpoint::{validate_origin, NoteSigner, NoteVerifier};
use crate::audit::{integrity, AuditError, AuditLog, Checkpointer};
use crate::config::Config;
use crate::error::ServeError;
use crate::store::Store;
use crate::tls::{Acceptor, TlsConn};

/// Refuses the development CA outside `--dev`.
pub(crate) fn check_ca(config: &Config) -> Result<(), ServeError> {
    if config.dev {
        return Ok(());
    }
    for cert in crate::tls::load_certs(&config.tls.ca)? {
        let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
            continue;
        };
        let is_dev = parsed
            .subject()
            .iter_common_name()
            .any(|cn| cn.as_str().ok() == Some(crate::pki::DEV_CA_COMMON_NAME));
        if is_dev {
            return Err(ServeError::Config(format!(
                "tls.ca: {} is the development CA; production mode refuses it (use --dev)",
                config.tls.ca.display()
            )));
        }
    }
    Ok(())
}

/// The checkpoint signer from `audit.signing_key`, named after the origin.
pub(crate) fn load_signer(config: &Config) -> Result<NoteSigner, ServeError> {
    let path = &config.audit.signing_key;
    validate_origin(&config.audit.origin).map_err(AuditError::from)?;
    let pkcs8 = std::fs::read(path).map_err(|e| ServeError::io(path, e))?;
    NoteSigner::from_pkcs8(&config.audit.origin, &pkcs8)
        .map_err(|e| ServeError::Config(format!("audit.signing_key: {}: {e}", path.display())))
}

/// A data directory opened for serving: the store, its audit log writer and the checkpoint
/// signer, shared by the gateway and the key service.
pub(crate) struct AuditedStore {
    /// The opened store.
    pub(crate) store: Store,
    /// The handle calls record their entries through.
    pub(crate) log: AuditLog,
    /// The group-commit writer task.
    pub(crate) writer: JoinHandle<()>,
    /// The checkpoint signer, for AuditService.
    pub(crate) checkpoints: Arc<Checkpointer>,
    /// The periodic signing task.
    pub(crate) signing: JoinHandle<()>,
}

/// Opens `config.data_dir`, checks its audit log against the latest signed checkpoint (refusing
/// to start on a mismatch), and starts the audit writer and the checkpoint signer.
pub(crate) fn open_audited_store(config: &Config) -> Result<AuditedStore, ServeError> {
    let signer = load_signer(config)?;
    let verifier = NoteVerifier::parse(&signer.verifier_key()).map_err(AuditError::from)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| ServeError::io(&config.data_dir, e))?;
    let store = Store::open_with_cache(&config.data_dir, config.cache_bytes)?;
    let latest = integrity::check_at_startup(&store, &verifier, &config.audit.origin)?;
    let (log, writer) = AuditLog::start(
        store.clone(),
        config.audit.write_timeout,
        config.audit.max_batch,
    )?;
    let checkpoints = Checkpointer::new(
        store.clone(),
        signer,
        config.audit.origin.clone(),
        log.durable(),
        latest,
    );
    let signing = checkpoints.spawn(config.audit.checkpoint_interval);
    Ok(AuditedStore {
        store,
        log,
        writer,
        checkpoints,
        signing,
    })
}

/// A bound listener, the acceptor that admits its connections (handshake admission, timeouts,
/// caps: `crate::transport`) and the stream of admitted connections to serve.
pub(crate) struct Listening {
    /// The address bound (the configured one, with the port chosen if it was 0).
    pub(crate) addr: SocketAddr,
    /// The acceptor, kept to reload its certificate, CRL and limits.
    pub(crate) acceptor: Acceptor,
    /// The admitted connections.
    pub(crate) incoming: ReceiverStream<Result<TlsConn, std::io::Error>>,
}

/// Binds `config.listen` and admits connections with `tls` under `config`'s transport limits:
/// the same for a gateway and a key service.
pub(crate) async fn listen(
    config: &Config,
    tls: Arc<rustls::ServerConfig>,
) -> Result<Listening, ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Config(format!("listen: cannot bind {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Config(format!("listen: {e}")))?;
    let acceptor = Acceptor::new(
        tls,
        config.handshake_timeout,
        &config.trust_domain,
        config.transport,
    );
    let incoming = acceptor.clone().incoming(listener);
    Ok(Listening {
        addr,
        acceptor,
        incoming,
    })
}
