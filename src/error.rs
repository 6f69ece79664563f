//! The errors of the processes, one per layer: [`ServeError`], what stops a gateway or key
//! service from starting or serving, and [`Error`], what stops a CLI command from completing (a
//! command that serves answers with the serving error's kinds). A configuration file's own error
//! is [`crate::config::ConfigError`]; errors of a single call are [`crate::domain::Error`],
//! mapped to gRPC in `crate::service`.

use std::path::PathBuf;

use crate::config::ConfigError;

/// An error starting, reloading or running a gateway or a key service.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is invalid; the message names the key.
    #[error("configuration: {0}")]
    Config(String),
    /// Certificates, keys or the CRL could not be loaded or used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The data directory could not be opened or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The audit log could not be written or failed verification.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// A file or directory could not be read or created.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The server task failed while serving (the message says how).
    #[error("{0}")]
    Serving(String),
}

impl ServeError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ServeError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<ConfigError> for ServeError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid(text) => ServeError::Config(text),
            ConfigError::Io { path, source } => ServeError::Io { path, source },
        }
    }
}

/// An error running a CLI command.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; the message names the key.
    #[error("configuration: {0}")]
    Config(String),
    /// Certificates, keys or the CRL could not be loaded or used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The data directory could not be opened or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The audit log could not be written or failed verification.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// Generating the development PKI failed.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// A tokens v2 key, answer or proof is unusable (the message names the key id).
    #[error(transparent)]
    Oprf(#[from] portcullis_client::oprf::OprfError),
    /// The key service could not be reached or refused a call: no token was computed (there
    /// is never a fallback to another scheme).
    #[error("key service {url}: {reason}")]
    KeyService {
        /// The key service's address.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Identity fields could not be turned into tokens.
    #[error(transparent)]
    Token(#[from] crate::tokens::TokenError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The connection to a gateway could not be made.
    #[error("connecting to the gateway: {0}")]
    Connect(String),
    /// The gateway answered a call with an error status.
    #[error("{}", call_text(.0))]
    Call(Box<tonic::Status>),
    /// The command line is inconsistent (clap catches the rest).
    #[error("{0}")]
    Usage(String),
    /// A gateway or key service this command runs failed while serving.
    #[error("{0}")]
    Serving(String),
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid(text) => Error::Config(text),
            ConfigError::Io { path, source } => Error::Io { path, source },
        }
    }
}

/// A command that serves fails with the serving error's kind, as the same kind of command
/// error (a refused start-up on a corrupt log stays [`Error::Audit`]).
impl From<ServeError> for Error {
    fn from(e: ServeError) -> Self {
        match e {
            ServeError::Config(text) => Error::Config(text),
            ServeError::Tls(e) => Error::Tls(e),
            ServeError::Store(e) => Error::Store(e),
            ServeError::Audit(e) => Error::Audit(e),
            ServeError::Io { path, source } => Error::Io { path, source },
            ServeError::Serving(text) => Error::Serving(text),
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::Call(Box::new(status))
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// `CODE: message`, with the transport cause when the call never reached the gateway.
fn call_text(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(" (");
        text.push_str(&portcullis_client::channel::error_chain(source));
        text.push(')');
    }
    text
}
