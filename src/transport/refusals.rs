//! Why a connection was refused or closed by the transport, counted in
//! `portcullis_handshakes_refused_total{reason}` / `portcullis_connections_refused_total{reason}`
//! and logged at INFO with the certificate serial when there is one, at most
//! `refusal_logs_per_sec` lines a second (the rest are counted in the next line's `suppressed`).

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use rustls::{CertificateError, PeerIncompatible};

/// A refusal reason: the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The complete ClientHello did not arrive within `hello_timeout_ms`.
    HelloTimeout,
    /// The handshake did not complete within `handshake_timeout_ms`.
    HandshakeTimeout,
    /// A newer connection took the place of this pending handshake (a cap was reached).
    Evicted,
    /// The client presented no certificate.
    NoCertificate,
    /// The client certificate is outside its validity period.
    Expired,
    /// The client certificate is revoked by the CRL.
    Revoked,
    /// The client certificate is not issued by the configured CA.
    UnknownCa,
    /// The client certificate is unusable for another reason.
    BadCertificate,
    /// The client offered no protocol version the gateway speaks (only TLS 1.3).
    ProtocolVersion,
    /// Any other TLS failure (bad records, unsupported algorithms, a closed socket).
    TlsError,
    /// The HTTP/2 connection preface did not arrive within `preface_timeout_ms`.
    PrefaceTimeout,
    /// The first bytes after the handshake were not the HTTP/2 connection preface.
    BadPreface,
    /// No call was in progress for `idle_timeout_ms`.
    IdleTimeout,
    /// `max_connections` established connections were already open.
    ConnectionCap,
    /// The certificate already had `max_connections_per_cert` connections open.
    CertConnectionCap,
}

impl Reason {
    /// The metric label and log field.
    pub fn label(self) -> &'static str {
        match self {
            Reason::HelloTimeout => "hello_timeout",
            Reason::HandshakeTimeout => "handshake_timeout",
            Reason::Evicted => "evicted",
            Reason::NoCertificate => "no_certificate",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::UnknownCa => "unknown_ca",
            Reason::BadCertificate => "bad_certificate",
            Reason::ProtocolVersion => "protocol_version",
            Reason::TlsError => "tls_error",
            Reason::PrefaceTimeout => "preface_timeout",
            Reason::BadPreface => "bad_preface",
            Reason::IdleTimeout => "idle_timeout",
            Reason::ConnectionCap => "connection_cap",
            Reason::CertConnectionCap => "cert_connection_cap",
        }
    }

    /// Whether this refusal happens before the handshake completes (counted as a refused
    /// handshake) rather than to an established connection.
    pub fn is_handshake(self) -> bool {
        match self {
            Reason::HelloTimeout
            | Reason::HandshakeTimeout
            | Reason::Evicted
            | Reason::NoCertificate
            | Reason::Expired
            | Reason::Revoked
            | Reason::UnknownCa
            | Reason::BadCertificate
            | Reason::ProtocolVersion
            | Reason::TlsError => true,
            Reason::PrefaceTimeout
            | Reason::BadPreface
            | Reason::IdleTimeout
            | Reason::ConnectionCap
            | Reason::CertConnectionCap => false,
        }
    }

    /// The reason of a failed handshake, from the error tokio-rustls returns.
    pub fn of_io(e: &io::Error) -> Reason {
        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(tls) => Reason::of_tls(tls),
            None => Reason::TlsError,
        }
    }

    /// The reason of a rustls error.
    pub fn of_tls(e: &rustls::Error) -> Reason {
        match e {
            rustls::Error::NoCertificatesPresented => Reason::NoCertificate,
            rustls::Error::InvalidCertificate(c) => Reason::of_certificate(c),
            rustls::Error::PeerIncompatible(
                PeerIncompatible::Tls12NotOffered
                | PeerIncompatible::Tls12NotOfferedOrEnabled
                | PeerIncompatible::Tls13RequiredForQuic
                | PeerIncompatible::SupportedVersionsExtensionRequired
                | PeerIncompatible::ServerDoesNotSupportTls12Or13
                | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
            ) => Reason::ProtocolVersion,
            _ => Reason::TlsError,
        }
    }

    /// The reason of a rejected certificate.
    pub fn of_certificate(e: &CertificateError) -> Reason {
        match e {
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => Reason::Expired,
            CertificateError::Revoked => Reason::Revoked,
            CertificateError::UnknownIssuer => Reason::UnknownCa,
            _ => Reason::BadCertificate,
        }
    }
}

/// Rate-limited INFO logging of refusals (the counters are always updated).
#[derive(Debug)]
pub struct RefusalLog {
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for RefusalLog {
    fn default() -> Self {
        RefusalLog {
            window: Mutex::new(Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            }),
        }
    }
}

impl RefusalLog {
    /// Counts a refusal and logs it unless `per_sec` lines were already logged this second.
    pub fn refuse(
        &self,
        reason: Reason,
        peer: Option<SocketAddr>,
        serial: Option<&str>,
        per_sec: u32,
    ) {
        let metrics = crate::metrics::global();
        if reason.is_handshake() {
            metrics.handshake_refused(reason.label());
        } else {
            metrics.connection_refused(reason.label());
        }
        let Some(suppressed) = self.admit(per_sec) else {
            return;
        };
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        let serial = serial.unwrap_or("");
        if reason.is_handshake() {
            tracing::info!(reason = reason.label(), %peer, serial, suppressed, "handshake refused");
        } else {
            tracing::info!(reason = reason.label(), %peer, serial, suppressed, "connection refused");
        }
    }

    /// Whether a line may be logged now; if so, how many were suppressed since the last one.
    fn admit(&self, per_sec: u32) -> Option<u64> {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.started.elapsed().as_secs() >= 1 {
            w.started = Instant::now();
            w.logged = 0;
        }
        if w.logged >= per_sec {
            w.suppressed += 1;
            return None;
        }
        w.logged += 1;
        Some(std::mem::take(&mut w.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_tls_errors() {
        let io = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        assert_eq!(
            Reason::of_io(&io(rustls::Error::NoCertificatesPresented)),
            Reason::NoCertificate
        );
        assert_eq!(
            Reason::of_io(&io(rustls::Error::InvalidCertificate(
                CertificateError::Revoked
            ))),
            Reason::Revoked
        );
        assert_eq!(
            Reason::of_io(&io(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))),
            Reason::UnknownCa
        );
        assert_eq!(
            Reason::of_tls(&rustls::Error::PeerIncompatible(
                PeerIncompatible::SupportedVersionsExtensionRequired
            )),
            Reason::ProtocolVersion
        );
        assert_eq!(
            Reason::of_tls(&rustls::Error::PeerIncompatible(
                PeerIncompatible::Tls12NotOfferedOrEnabled
            )),
            Reason::ProtocolVersion
        );
        assert_eq!(
            Reason::of_io(&io::Error::from(io::ErrorKind::UnexpectedEof)),
            Reason::TlsError
        );
    }

    #[test]
    fn logging_is_rate_limited_and_counts_what_it_skips() {
        let log = RefusalLog::default();
        assert_eq!(log.admit(2), Some(0));
        assert_eq!(log.admit(2), Some(0));
        assert_eq!(log.admit(2), None);
        assert_eq!(log.admit(2), None);
        log.window.lock().unwrap().started -= std::time::Duration::from_secs(2);
        assert_eq!(
            log.admit(2),
            Some(2),
            "the next line reports what was skipped"
        );
    }
}
