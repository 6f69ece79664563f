//! Who is calling, and may they: the caller's identity from its client certificate, the roles
//! of api.md, and the authorisation rules.
//!
//! A caller is identified by its certificate's single URI SAN
//! `spiffe://<trust-domain>/<role>/<org>/<user>`. The certificate chain, validity and revocation
//! were already checked by the TLS handshake ([`crate::tls`]); this module decides what the
//! verified certificate may do, and keeps its validity period so that every call re-checks it
//! (a connection must not outlive its certificate).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The three roles of api.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A party back-office system: may call `VettingService`.
    Party,
    /// A security official: may call `AdvisoryService`.
    Official,
    /// An auditor: may call `AuditService`.
    Auditor,
}

impl Role {
    /// The role's path segment in the URI (`party`, `official`, `auditor`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Party => "party",
            Role::Official => "official",
            Role::Auditor => "auditor",
        }
    }

    fn from_segment(s: &str) -> Option<Role> {
        match s {
            "party" => Some(Role::Party),
            "official" => Some(Role::Official),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

/// A well-formed caller identity from a certificate URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The full URI.
    pub uri: String,
    /// The role segment.
    pub role: Role,
    /// The organisation: a party id, an official's unit, an oversight body.
    pub org: String,
    /// The user within the organisation.
    pub user: String,
}

/// Why a verified certificate does not name a usable identity.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The certificate has no URI SAN.
    #[error("certificate has no URI SAN")]
    NoUri,
    /// The certificate has more than one URI SAN.
    #[error("certificate has {0} URI SANs, exactly one is required")]
    SeveralUris(usize),
    /// The URI is not `spiffe://<trust-domain>/<role>/<org>/<user>`.
    #[error("certificate URI is not spiffe://<trust-domain>/<role>/<org>/<user>")]
    Malformed,
    /// The URI belongs to another trust domain.
    #[error("certificate URI is from another trust domain")]
    ForeignTrustDomain,
    /// The role segment is not one of party, official, auditor.
    #[error("certificate URI names an unknown role")]
    UnknownRole,
    /// The certificate could not be parsed (should not happen after a verified handshake).
    #[error("certificate could not be parsed")]
    Unparseable,
}

/// What the gateway knows of the peer of one connection: computed once, at the handshake.
#[derive(Debug, Clone)]
pub struct PeerIdentity {
    /// The peer's address.
    pub addr: Option<SocketAddr>,
    /// SHA-256 of the DER certificate.
    pub cert_sha256: [u8; 32],
    /// The certificate serial number, lower-case hex.
    pub cert_serial: String,
    /// The URI SAN as presented (the first one if several), for the audit record.
    pub uri: String,
    /// The identity, or why the certificate does not give one.
    pub identity: Result<Identity, IdentityError>,
    /// The certificate's validity period, in seconds since the epoch (`not_before`,
    /// `not_after`), re-checked at every call: a connection outlives neither end.
    pub validity: (i64, i64),
}

impl PeerIdentity {
    /// Whether the certificate is outside its validity period at `now` (seconds since the
    /// epoch): the reason, or None while it is valid. The bounds are inclusive (RFC 5280).
    pub fn invalid_at(&self, now: i64) -> Option<String> {
        let (not_before, not_after) = self.validity;
        if now > not_after {
            Some(format!(
                "client certificate expired at {} (serial {})",
                rfc3339(not_after),
                self.cert_serial
            ))
        } else if now < not_before {
            Some(format!(
                "client certificate not valid before {} (serial {})",
                rfc3339(not_before),
                self.cert_serial
            ))
        } else {
            None
        }
    }

    /// Parses a verified peer certificate.
    pub fn from_certificate(der: &[u8], addr: Option<SocketAddr>, trust_domain: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut cert_sha256 = [0u8; 32];
        cert_sha256.copy_from_slice(digest.as_ref());
        let mut peer = PeerIdentity {
            addr,
            cert_sha256,
            cert_serial: String::new(),
            uri: String::new(),
            identity: Err(IdentityError::Unparseable),
            // An unparseable certificate is valid at no time.
            validity: (i64::MAX, i64::MIN),
        };
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return peer;
        };
        peer.cert_serial = hex::encode(cert.raw_serial());
        peer.validity = (
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        );
        let uris: Vec<&str> = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::URI(u) => Some(*u),
                    _ => None,
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(_) => return peer,
        };
        peer.uri = uris.first().map(|u| (*u).to_owned()).unwrap_or_default();
        peer.identity = match uris.as_slice() {
            [] => Err(IdentityError::NoUri),
            [uri] => parse_uri(uri, trust_domain),
            several => Err(IdentityError::SeveralUris(several.len())),
        };
        peer
    }
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{secs} s after the epoch"))
}

/// Parses `spiffe://<trust-domain>/<role>/<org>/<user>`.
pub(crate) fn parse_uri(uri: &str, trust_domain: &str) -> Result<Identity, IdentityError> {
    let rest = uri
        .strip_prefix("spiffe://")
        .ok_or(IdentityError::Malformed)?;
    let mut parts = rest.split('/');
    let (Some(domain), Some(role), Some(org), Some(user), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(IdentityError::Malformed);
    };
    if domain != trust_domain {
        return Err(IdentityError::ForeignTrustDomain);
    }
    let role = Role::from_segment(role).ok_or(IdentityError::UnknownRole)?;
    if !is_segment(org) || !is_segment(user) {
        return Err(IdentityError::Malformed);
    }
    Ok(Identity {
        uri: uri.to_owned(),
        role,
        org: org.to_owned(),
        user: user.to_owned(),
    })
}

/// Whether `s` is a valid org or user segment: `[a-z0-9-]{1,63}`.
pub(crate) fn is_segment(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Which part of the API a gRPC path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `portcullis.v1.VettingService`.
    Vetting,
    /// `portcullis.v1.AdvisoryService`.
    Advisory,
    /// `portcullis.v1.AuditService`.
    Audit,
    /// Health checks: any authenticated caller, not audited.
    Health,
    /// Server reflection: any authenticated caller.
    Reflection,
    /// Anything else (answered UNIMPLEMENTED by the router).
    Unknown,
}

impl Surface {
    /// Classifies a gRPC request path such as `/portcullis.v1.VettingService/Vet`.
    pub fn of_path(path: &str) -> Surface {
        let service = path
            .strip_prefix('/')
            .and_then(|p| p.split('/').next())
            .unwrap_or("");
        match service {
            "portcullis.v1.VettingService" => Surface::Vetting,
            "portcullis.v1.AdvisoryService" => Surface::Advisory,
            "portcullis.v1.AuditService" => Surface::Audit,
            "grpc.health.v1.Health" => Surface::Health,
            "grpc.reflection.v1.ServerReflection" | "grpc.reflection.v1alpha.ServerReflection" => {
                Surface::Reflection
            }
            _ => Surface::Unknown,
        }
    }

    fn required_role(self) -> Option<Role> {
        match self {
            Surface::Vetting => Some(Role::Party),
            Surface::Advisory => Some(Role::Official),
            Surface::Audit => Some(Role::Auditor),
            Surface::Health | Surface::Reflection | Surface::Unknown => None,
        }
    }
}

/// The authorisation policy that can change at run time (reloaded with the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Party ids that may vet.
    pub accredited_parties: BTreeSet<String>,
}

/// Why a call was refused: the message returned with PERMISSION_DENIED and audited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

impl Policy {
    /// Decides whether `peer` may call a method of `surface`. Health, reflection and unknown
    /// paths only need an authenticated connection.
    pub fn authorize(&self, peer: &PeerIdentity, surface: Surface) -> Result<(), Denied> {
        let Some(required) = surface.required_role() else {
            return Ok(());
        };
        let identity = peer.identity.as_ref().map_err(|e| Denied(e.to_string()))?;
        if identity.role != required {
            return Err(Denied(format!(
                "role {} may not call this service (requires {})",
                identity.role.as_str(),
                required.as_str()
            )));
        }
        if identity.role == Role::Party && !self.accredited_parties.contains(&identity.org) {
            return Err(Denied(format!("party {} is not accredited", identity.org)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TD: &str = "portcullis.dev";

    #[test]
    fn parses_well_formed_uris() {
        let id = parse_uri("spiffe://portcullis.dev/party/alpha/alice", TD).unwrap();
        assert_eq!(id.role, Role::Party);
        assert_eq!(id.org, "alpha");
        assert_eq!(id.user, "alice");
    }

    #[test]
    fn rejects_malformed_uris() {
        for (uri, err) in [
            (
                "https://portcullis.dev/party/alpha/a",
                IdentityError::Malformed,
            ),
            (
                "spiffe://evil.example/party/alpha/a",
                IdentityError::ForeignTrustDomain,
            ),
            (
                "spiffe://portcullis.dev/admin/alpha/a",
                IdentityError::UnknownRole,
            ),
            (
                "spiffe://portcullis.dev/party/Alpha/a",
                IdentityError::Malformed,
            ),
            (
                "spiffe://portcullis.dev/party/alpha",
                IdentityError::Malformed,
            ),
            (
                "spiffe://portcullis.dev/party/alpha/a/b",
                IdentityError::Malformed,
            ),
            ("spiffe://portcullis.dev/party//a", IdentityError::Malformed),
        ] {
            assert_eq!(parse_uri(uri, TD), Err(err), "{uri}");
        }
    }

    fn peer(uri: &str) -> PeerIdentity {
        PeerIdentity {
            addr: None,
            cert_sha256: [0; 32],
            cert_serial: "01".into(),
            uri: uri.into(),
            identity: parse_uri(uri, TD),
            validity: (100, 200),
        }
    }

    #[test]
    fn validity_is_checked_at_both_ends() {
        let p = peer("spiffe://portcullis.dev/party/alpha/alice");
        assert!(p.invalid_at(100).is_none());
        assert!(p.invalid_at(200).is_none());
        let late = p.invalid_at(201).unwrap();
        assert!(
            late.starts_with("client certificate expired at 1970-01-01T00:03:20Z"),
            "{late}"
        );
        let early = p.invalid_at(99).unwrap();
        assert!(
            early.starts_with("client certificate not valid before"),
            "{early}"
        );
        let unparsed = PeerIdentity::from_certificate(b"junk", None, TD);
        assert!(unparsed.invalid_at(150).is_some());
    }

    #[test]
    fn authorizes_by_role_and_accreditation() {
        let policy = Policy {
            accredited_parties: ["alpha".to_owned()].into_iter().collect(),
        };
        let alpha = peer("spiffe://portcullis.dev/party/alpha/alice");
        let gamma = peer("spiffe://portcullis.dev/party/gamma/gary");
        let official = peer("spiffe://portcullis.dev/official/liaison/olivia");
        assert!(policy.authorize(&alpha, Surface::Vetting).is_ok());
        assert!(policy.authorize(&alpha, Surface::Advisory).is_err());
        assert!(policy.authorize(&alpha, Surface::Audit).is_err());
        assert!(policy.authorize(&gamma, Surface::Vetting).is_err());
        assert!(policy.authorize(&gamma, Surface::Health).is_ok());
        assert!(policy.authorize(&official, Surface::Advisory).is_ok());
        assert!(policy.authorize(&official, Surface::Vetting).is_err());
    }

    #[test]
    fn classifies_paths() {
        assert_eq!(
            Surface::of_path("/portcullis.v1.VettingService/Vet"),
            Surface::Vetting
        );
        assert_eq!(
            Surface::of_path("/grpc.health.v1.Health/Check"),
            Surface::Health
        );
        assert_eq!(Surface::of_path("/x.Y/Z"), Surface::Unknown);
        assert_eq!(Surface::of_path(""), Surface::Unknown);
    }
}
