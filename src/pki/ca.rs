//! A production CA and the certificates it issues (`portcullis certs ca` and `certs issue`).
//!
//! Keys are ECDSA P-256 (PKCS#8 PEM), as in the development PKI. Every certificate gets a
//! random 127-bit serial number, so serials are distinct without a serial database. A client
//! certificate carries exactly one URI SAN, `spiffe://<trust-domain>/<role>/<org>/<user>`
//! (checked with the same parser the gateway uses) and clientAuth; a server certificate
//! carries its DNS and IP SANs and serverAuth. A leaf never outlives its CA.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PublicKeyData as _, SanType, SerialNumber,
};
use ring::rand::{SecureRandom as _, SystemRandom};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::files::{invalid, read_text, write_new, NewFile};
use super::{dn, gen_err, ia5, new_key, PkiError};

/// How far back a new certificate's validity starts, for clocks that are a little behind.
const BACKDATE: Duration = Duration::minutes(5);

/// What `certs ca` puts in the CA certificate.
#[derive(Debug, Clone)]
pub(crate) struct CaOptions {
    /// The CA's common name, e.g. "Example Portcullis CA".
    pub common_name: String,
    /// The CA's organisation.
    pub organisation: String,
    /// Validity in days from now.
    pub days: u32,
}

/// A random serial number: 16 bytes, positive, with no leading zero byte.
fn random_serial(rng: &SystemRandom) -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes).map_err(|_| PkiError::Crypto {
        what: "serial number",
    })?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// `now` and `now + days`, or [`PkiError::Clock`].
fn window(days: u32) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    if days == 0 {
        return Err(PkiError::Argument("--days: must be at least 1".into()));
    }
    let now = OffsetDateTime::now_utc();
    let from = now.checked_sub(BACKDATE).ok_or(PkiError::Clock)?;
    let to = now
        .checked_add(Duration::days(i64::from(days)))
        .ok_or(PkiError::Clock)?;
    Ok((from, to))
}

/// Writes a new self-signed CA: the certificate to `cert` and its private key (0600) to `key`.
/// Refuses if either file exists.
///
/// # Errors
/// [`PkiError::Exists`], [`PkiError::Argument`] for an empty name or zero days, and the
/// generation and I/O errors of [`PkiError`].
pub(crate) fn create_ca(
    cert: &Path,
    key: &Path,
    opts: &CaOptions,
) -> Result<Vec<PathBuf>, PkiError> {
    if opts.common_name.trim().is_empty() || opts.organisation.trim().is_empty() {
        return Err(PkiError::Argument(
            "--name and --org: must not be empty".into(),
        ));
    }
    let (not_before, not_after) = window(opts.days)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(&opts.common_name, &opts.organisation);
    params.serial_number = Some(random_serial(&SystemRandom::new())?);
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    let pair = new_key("CA key")?;
    let certificate = params
        .self_signed(&pair)
        .map_err(gen_err("CA certificate"))?;
    write_new(vec![
        NewFile {
            path: key.to_path_buf(),
            bytes: pair.serialize_pem().into_bytes(),
            secret: true,
        },
        NewFile {
            path: cert.to_path_buf(),
            bytes: certificate.pem().into_bytes(),
            secret: false,
        },
    ])
}

/// A CA loaded from its certificate and private key, ready to sign.
pub(crate) struct Ca {
    /// The signer (name, key identifier, key).
    pub(crate) issuer: Issuer<'static, KeyPair>,
    /// The DER of the CA's subject name, to recognise what it issued.
    pub(crate) subject_der: Vec<u8>,
    /// How the CA's key identifier is found (its subjectKeyIdentifier), for a CRL's
    /// authorityKeyIdentifier.
    pub(crate) key_id: KeyIdMethod,
    /// The end of the CA's validity.
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// The first certificate of a PEM file, as DER.
pub(crate) fn certificate_der(path: &Path) -> Result<Vec<u8>, PkiError> {
    use rustls::pki_types::pem::PemObject as _;
    // Read first so that a missing file is a read error, not a PEM one.
    let text = read_text(path)?;
    match rustls::pki_types::CertificateDer::pem_slice_iter(text.as_bytes()).next() {
        Some(Ok(der)) => Ok(der.to_vec()),
        Some(Err(e)) => Err(invalid(path, format!("not PEM: {e}"))),
        None => Err(invalid(path, "no PEM CERTIFICATE block")),
    }
}

impl Ca {
    /// Loads the CA certificate `cert` (PEM) and its private key `key` (PKCS#8 PEM), and
    /// checks that they belong together and that the certificate is a CA.
    ///
    /// # Errors
    /// [`PkiError::Read`] or [`PkiError::Invalid`] naming the file.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Ca, PkiError> {
        let der = certificate_der(cert)?;
        let (_, x509) = X509Certificate::from_der(&der)
            .map_err(|e| invalid(cert, format!("not an X.509 certificate: {e}")))?;
        if !x509.is_ca() {
            return Err(invalid(
                cert,
                "not a CA certificate (basicConstraints CA:false)",
            ));
        }
        let pair = KeyPair::from_pem(&read_text(key)?)
            .map_err(|e| invalid(key, format!("not a PKCS#8 PEM private key: {e}")))?;
        if pair.subject_public_key_info() != x509.public_key().raw {
            return Err(invalid(
                key,
                format!("is not the private key of {}", cert.display()),
            ));
        }
        let not_after = OffsetDateTime::from_unix_timestamp(x509.validity().not_after.timestamp())
            .map_err(|_| invalid(cert, "validity out of range"))?;
        let subject_der = x509.subject().as_raw().to_vec();
        let key_id = x509
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(KeyIdMethod::PreSpecified(id.0.to_vec()))
                }
                _ => None,
            })
            .unwrap_or(KeyIdMethod::Sha256);
        let issuer = Issuer::from_ca_cert_der(&der.clone().into(), pair)
            .map_err(|e| invalid(cert, format!("unusable as an issuer: {e}")))?;
        Ok(Ca {
            issuer,
            subject_der,
            key_id,
            not_after,
        })
    }
}

/// What a certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Profile {
    /// A client: exactly this SPIFFE URI (see [`client_uri`]).
    Client {
        /// `spiffe://<trust-domain>/<role>/<org>/<user>`.
        uri: String,
    },
    /// The gateway: these DNS names and IP addresses.
    Server {
        /// DNS subjectAltNames.
        dns: Vec<String>,
        /// IP subjectAltNames.
        ips: Vec<IpAddr>,
    },
}

/// The SPIFFE URI of a client, checked exactly as the gateway checks it
/// ([`crate::identity::parse_uri`]): role `party`, `official` or `auditor`; org and user
/// `[a-z0-9-]{1,63}`; a trust domain of `[a-z0-9.-]`.
///
/// # Errors
/// [`PkiError::Argument`] naming the bad part.
pub(crate) fn client_uri(
    trust_domain: &str,
    role: &str,
    org: &str,
    user: &str,
) -> Result<String, PkiError> {
    let domain_ok = (1..=255).contains(&trust_domain.len())
        && trust_domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !domain_ok {
        return Err(PkiError::Argument(
            "--trust-domain: 1 to 255 of a-z 0-9 . - (trust_domain in portcullis.toml)".into(),
        ));
    }
    for (flag, value) in [("--org", org), ("--user", user)] {
        if !crate::identity::is_segment(value) {
            return Err(PkiError::Argument(format!("{flag}: 1 to 63 of a-z 0-9 -")));
        }
    }
    let uri = format!("spiffe://{trust_domain}/{role}/{org}/{user}");
    crate::identity::parse_uri(&uri, trust_domain)
        .map_err(|_| PkiError::Argument("--role: party, official or auditor".into()))?;
    Ok(uri)
}

/// What [`issue`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct Issued {
    /// The files written (`PREFIX.key` unless a CSR was given, and `PREFIX.crt`).
    pub files: Vec<PathBuf>,
    /// The serial number, lower-case hex (what `certs revoke --serial` takes).
    pub serial: String,
    /// The end of the validity.
    pub not_after: OffsetDateTime,
}

/// Issues a certificate for `profile` signed by `ca`, valid for `days` (never past the CA's
/// own end), with subject CN `common_name`. Writes `PREFIX.crt`, and a new private key to
/// `PREFIX.key` (0600) — or, with `csr`, signs the public key of that certificate signing
/// request instead (its requested names are ignored: the profile decides them), so the key
/// never leaves its owner. Refuses to overwrite either file.
///
/// # Errors
/// [`PkiError::Exists`], [`PkiError::Argument`] for a bad name or address, the CSR's
/// [`PkiError::Read`]/[`PkiError::Invalid`], and generation and I/O errors.
pub(crate) fn issue(
    ca: &Ca,
    profile: &Profile,
    common_name: &str,
    days: u32,
    prefix: &Path,
    csr: Option<&Path>,
) -> Result<Issued, PkiError> {
    let (not_before, not_after) = window(days)?;
    let not_after = not_after.min(ca.not_after);
    let rng = SystemRandom::new();
    let serial = random_serial(&rng)?;
    let serial_hex = hex::encode(serial.as_ref());

    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.serial_number = Some(serial);
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    match profile {
        Profile::Client { uri } => {
            params.subject_alt_names = vec![SanType::URI(ia5(uri, "client certificate")?)];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        Profile::Server { dns, ips } => {
            if dns.is_empty() && ips.is_empty() {
                return Err(PkiError::Argument(
                    "a server certificate needs at least one --dns or --ip".into(),
                ));
            }
            for name in dns {
                let ok = !name.is_empty()
                    && name.len() <= 253
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'*'));
                if !ok {
                    return Err(PkiError::Argument(
                        "--dns: a DNS name of A-Z a-z 0-9 . - (and * for a wildcard)".into(),
                    ));
                }
                params
                    .subject_alt_names
                    .push(SanType::DnsName(ia5(name, "server certificate")?));
            }
            params
                .subject_alt_names
                .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
    }

    let crt_path = with_extension(prefix, "crt");
    let key_path = with_extension(prefix, "key");
    let mut files = Vec::new();
    let certificate = match csr {
        Some(csr_path) => {
            let mut request = CertificateSigningRequestParams::from_pem(&read_text(csr_path)?)
                .map_err(|e| {
                    invalid(
                        csr_path,
                        format!("not a valid PEM certificate signing request: {e}"),
                    )
                })?;
            request.params = params;
            request
                .signed_by(&ca.issuer)
                .map_err(gen_err("certificate"))?
        }
        None => {
            let pair = new_key("private key")?;
            let certificate = params
                .signed_by(&pair, &ca.issuer)
                .map_err(gen_err("certificate"))?;
            files.push(NewFile {
                path: key_path,
                bytes: pair.serialize_pem().into_bytes(),
                secret: true,
            });
            certificate
        }
    };
    files.push(NewFile {
        path: crt_path,
        bytes: certificate.pem().into_bytes(),
        secret: false,
    });
    Ok(Issued {
        files: write_new(files)?,
        serial: serial_hex,
        not_after,
    })
}

/// `PREFIX.ext` (appending, so `alice.v2` gives `alice.v2.crt`).
fn with_extension(prefix: &Path, ext: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_os_string();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    use x509_parser::extensions::GeneralName;

    fn ca(dir: &Path) -> Ca {
        let opts = CaOptions {
            common_name: "Test CA".into(),
            organisation: "Test".into(),
            days: 30,
        };
        create_ca(&dir.join("ca.crt"), &dir.join("ca.key"), &opts).unwrap();
        Ca::load(&dir.join("ca.crt"), &dir.join("ca.key")).unwrap()
    }

    fn sans(path: &Path) -> (Vec<String>, bool) {
        let der = certificate_der(path).unwrap();
        let (_, x) = X509Certificate::from_der(&der).unwrap();
        let names = x
            .subject_alternative_name()
            .unwrap()
            .map(|s| {
                s.value
                    .general_names
                    .iter()
                    .map(|g| match g {
                        GeneralName::URI(u) => format!("URI:{u}"),
                        GeneralName::DNSName(d) => format!("DNS:{d}"),
                        GeneralName::IPAddress(ip) => format!("IP:{ip:?}"),
                        other => format!("{other:?}"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        (names, x.is_ca())
    }

    #[test]
    fn client_uris_are_exactly_what_the_gateway_accepts() {
        assert_eq!(
            client_uri("gw.example", "party", "alpha", "alice").unwrap(),
            "spiffe://gw.example/party/alpha/alice"
        );
        let err = |d, r, o, u| client_uri(d, r, o, u).unwrap_err().to_string();
        assert!(err("gw.example", "admin", "alpha", "alice").starts_with("--role"));
        assert!(err("gw.example", "party", "Alpha", "alice").starts_with("--org"));
        assert!(err("gw.example", "party", "alpha", "a/b").starts_with("--user"));
        assert!(err("gw/x", "party", "alpha", "alice").starts_with("--trust-domain"));
        assert!(err("", "party", "alpha", "alice").starts_with("--trust-domain"));
    }

    #[test]
    fn issues_clients_and_servers_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca(dir.path());
        let uri = client_uri("gw.example", "official", "liaison", "olivia").unwrap();
        let p = dir.path().join("olivia");
        let issued = issue(
            &ca,
            &Profile::Client { uri: uri.clone() },
            "olivia",
            90,
            &p,
            None,
        )
        .unwrap();
        assert_eq!(issued.files.len(), 2);
        assert_eq!(issued.serial.len(), 32);
        assert_eq!(
            sans(&dir.path().join("olivia.crt")),
            (vec![format!("URI:{uri}")], false)
        );
        let again = issue(&ca, &Profile::Client { uri }, "olivia", 90, &p, None).unwrap_err();
        assert!(matches!(again, PkiError::Exists { .. }), "{again}");

        let server = Profile::Server {
            dns: vec!["gw.example".into()],
            ips: vec!["127.0.0.1".parse().unwrap()],
        };
        let s = issue(
            &ca,
            &server,
            "gw.example",
            397,
            &dir.path().join("server"),
            None,
        )
        .unwrap();
        assert_ne!(s.serial, issued.serial);
        // A leaf never outlives its 30-day CA.
        assert!(s.not_after <= ca.not_after);
        let (names, is_ca) = sans(&dir.path().join("server.crt"));
        assert_eq!(names[0], "DNS:gw.example");
        assert_eq!(names.len(), 2);
        assert!(!is_ca);
        let none = Profile::Server {
            dns: vec![],
            ips: vec![],
        };
        assert!(issue(&ca, &none, "x", 1, &dir.path().join("x"), None).is_err());
    }

    #[test]
    fn a_csr_is_signed_without_a_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca(dir.path());
        let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = CertificateParams::new(vec!["ignored.example".to_owned()])
            .unwrap()
            .serialize_request(&pair)
            .unwrap();
        let csr_path = dir.path().join("alice.csr");
        std::fs::write(&csr_path, csr.pem().unwrap()).unwrap();
        let uri = client_uri("gw.example", "party", "alpha", "alice").unwrap();
        let prefix = dir.path().join("alice");
        let issued = issue(
            &ca,
            &Profile::Client { uri: uri.clone() },
            "alice",
            90,
            &prefix,
            Some(&csr_path),
        )
        .unwrap();
        assert_eq!(issued.files, vec![dir.path().join("alice.crt")]);
        assert!(!dir.path().join("alice.key").exists());
        // The requested name is ignored: the URI is the profile's.
        assert_eq!(
            sans(&dir.path().join("alice.crt")).0,
            vec![format!("URI:{uri}")]
        );
        let der = certificate_der(&dir.path().join("alice.crt")).unwrap();
        let (_, x) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(x.public_key().raw, pair.subject_public_key_info());
    }

    #[test]
    fn a_key_that_is_not_the_cas_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _ = ca(dir.path());
        let other = tempfile::tempdir().unwrap();
        let _ = ca(other.path());
        let e = Ca::load(&dir.path().join("ca.crt"), &other.path().join("ca.key")).unwrap_err();
        assert!(e.to_string().contains("is not the private key of"), "{e}");
    }
}
