//! Transport security: the one place the rustls crypto provider (ring) and the protocol versions
//! (TLS 1.3 only) are chosen, for the server and for clients.
//!
//! The server requires a client certificate issued by the configured CA, within its validity
//! period and not listed in its CRL. It issues no session tickets and keeps no session cache:
//! every connection is a full handshake, so a certificate that expired or was revoked after an
//! earlier connection cannot resume its way back in. Accepting connections (timeouts, caps,
//! eviction) is [`crate::transport`]'s job; the caller's identity is parsed once per connection
//! from the verified certificate and travels with the connection (see
//! `crate::identity::PeerIdentity`).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

pub use portcullis_client::tls::{
    client_config, load_certs, load_crls, load_key, provider, roots, TlsError, PROTOCOL_VERSIONS,
};

/// The PEM files of the server's TLS identity and its client trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that issues client (and server) certificates.
    pub ca: PathBuf,
    /// The server certificate chain.
    pub cert: PathBuf,
    /// The server private key (PKCS#8).
    pub key: PathBuf,
    /// The CA's certificate revocation list.
    pub crl: PathBuf,
}

/// The server's rustls configuration: TLS 1.3, client certificate required and verified
/// against the CA with the CRL enforced, ALPN `h2`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&files.ca)?), provider.clone())
            .with_crls(load_crls(&files.crl)?)
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
    let verifier = Arc::new(NotingVerifier(verifier));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(&files.cert)?, load_key(&files.key)?)
        .map_err(|e| TlsError::Config(format!("{}: {e}", files.key.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    // No resumption: a resumed session skips certificate verification, so a certificate that
    // expired (or was revoked) since the ticket was issued would live on.
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The CA verifier, noting the serial of each certificate it rejects for the refusal log.
#[derive(Debug)]
struct NotingVerifier(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for NotingVerifier {
    fn offer_client_auth(&self) -> bool {
        self.0.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.0.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self.0.verify_client_cert(end_entity, intermediates, now);
        if verified.is_err() {
            if let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity.as_ref()) {
                crate::transport::accept::note_rejected_serial(hex::encode(cert.raw_serial()));
            }
        }
        verified
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The acceptor and established connections now live in [`crate::transport`].
pub use crate::transport::{Acceptor, TlsConn};
