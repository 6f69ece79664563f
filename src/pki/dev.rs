//! The development PKI generator (`portcullis certs dev`).
//!
//! [`generate_dev`] writes everything a developer needs to run Portcullis locally over mutual TLS
//! into one directory (committed to the repository as `certs-dev/`):
//!
//! | file | what it is |
//! |---|---|
//! | `ca.crt`, `ca.key` | self-signed development CA (ECDSA P-256), CN "Portcullis Development CA" |
//! | `server.crt`, `server.key` | server certificate for `localhost`, `127.0.0.1` and `::1` |
//! | `clients/<name>.crt`, `clients/<name>.key` | one client certificate per [`DEV_CLIENTS`] row |
//! | `crl.pem` | CRL signed by the CA, listing the `revoked` client's serial |
//! | `log-signing.pk8` | Ed25519 audit-log signing key, PKCS#8 v2 DER (binary) |
//! | `log.vkey` | C2SP signed-note verifier key for that signing key |
//! | `matching.key` | matching key `dev-1:<64 hex>` (tokens.md) |
//! | `keyservice.key` | key-service VOPRF private key of epoch `dev-2` (keyservice.md) |
//! | `keyservice.pub` | its pinned public key line `dev-2:voprf-ristretto255-sha512:<base64>` |
//! | `keyservice-log.pk8`, `keyservice-log.vkey` | the `portcullis keyservice --dev` process's own log-signing key |
//!
//! **Everything [`generate_dev`] produces is for development only.** The private keys are
//! committed to a public repository; the server refuses to run with the development CA outside
//! `--dev`. Production key material comes from the sibling modules ([`super::ca`], [`super::crl`],
//! [`super::keys`];
//! `portcullis certs ca|issue|crl|revoke|log-key|matching-key`), which never overwrite a file.
//!
//! Certificates have fixed, explicit serial numbers ([`CA_SERIAL`], [`SERVER_SERIAL`],
//! [`DevClient::serial`], [`ROGUE_CA_SERIAL`]) and a fixed validity window
//! ([`VALID_FROM_YEAR`] for [`VALID_YEARS`] years) so that committed files keep working; only
//! the `expired` client has a window that ended in the past. Keys, the CRL's dates, the log key
//! and the matching key are fresh on every run.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SanType, SerialNumber,
};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use time::{Duration, OffsetDateTime};

use super::{dn, gen_err, ia5, new_key, verifier_key, PkiError};

/// Common name of the development CA; the server uses it to recognise (and, outside `--dev`,
/// refuse) the development CA.
pub(crate) const DEV_CA_COMMON_NAME: &str = "Portcullis Development CA";

/// Organisation name in the subject of every development certificate issued by the CA.
pub(crate) const DEV_ORGANISATION: &str = "Portcullis Development";

/// SPIFFE trust domain of the development identities.
pub(crate) const DEV_TRUST_DOMAIN: &str = "portcullis.dev";

/// Name of the development audit-log signing key, as it appears in `log.vkey` and in checkpoint
/// signature lines (audit-log.md).
pub(crate) const DEV_LOG_KEY_NAME: &str = "portcullis.dev/audit";

/// Key id of the development matching key written to `matching.key` (tokens.md).
pub(crate) const DEV_MATCHING_KEY_ID: &str = "dev-1";

/// Key id (epoch) of the development key-service key (tokens v2).
pub(crate) const DEV_KEYSERVICE_KEY_ID: &str = "dev-2";

/// The development key service's private key file, in the development PKI directory.
pub(crate) const DEV_KEYSERVICE_KEY_FILE: &str = "keyservice.key";

/// The development key service's pinned public key file, in the development PKI directory.
pub(crate) const DEV_KEYSERVICE_PUB_FILE: &str = "keyservice.pub";

/// The checkpoint origin of the development key service's own audit log.
pub(crate) const DEV_KEYSERVICE_LOG_NAME: &str = "portcullis.dev/keyservice";

/// The development key service's log-signing key (its verifier key is
/// `keyservice-log.vkey`).
pub(crate) const DEV_KEYSERVICE_LOG_KEY_FILE: &str = "keyservice-log.pk8";

/// Serial number of the development CA certificate (`ca.crt`).
pub(crate) const CA_SERIAL: u64 = 1000;

/// Serial number of the development server certificate (`server.crt`).
pub(crate) const SERVER_SERIAL: u64 = 1001;

/// Serial number of the throwaway CA that signs the `rogue` client (never written out).
pub(crate) const ROGUE_CA_SERIAL: u64 = 1900;

/// Year (1 January, 00:00 UTC) from which every non-expired development certificate is valid.
pub(crate) const VALID_FROM_YEAR: i32 = 2025;

/// Number of years every non-expired development certificate is valid for.
pub(crate) const VALID_YEARS: i32 = 20;

/// Number of days between the CRL's `thisUpdate` (generation time) and its `nextUpdate`.
pub(crate) const CRL_LIFETIME_DAYS: i64 = 3653;

/// Who signed a development client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum DevIssuer {
    /// The development CA (`ca.crt`).
    DevCa,
    /// A throwaway CA generated for this run and never written out.
    Rogue,
}

/// Description of one development client certificate (`clients/<name>.crt|.key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct DevClient {
    /// File stem under `clients/` and the subject common name.
    pub name: &'static str,
    /// Explicit certificate serial number, distinct across all development certificates.
    pub serial: u64,
    /// URI SANs, in order (normally exactly one SPIFFE id).
    pub uris: &'static [&'static str],
    /// DNS SANs (only the `no-uri` client has one).
    pub dns_names: &'static [&'static str],
    /// Which CA signed the certificate.
    pub issuer: DevIssuer,
    /// Whether the serial is listed in `crl.pem`.
    pub revoked: bool,
    /// Whether the validity window (2024-01-01 .. 2025-01-01) lies in the past.
    pub expired: bool,
    /// What the certificate is for.
    pub note: &'static str,
}

const fn client(name: &'static str, serial: u64, uris: &'static [&'static str]) -> DevClient {
    DevClient {
        name,
        serial,
        uris,
        dns_names: &[],
        issuer: DevIssuer::DevCa,
        revoked: false,
        expired: false,
        note: "",
    }
}

/// Every development client certificate [`generate_dev`] writes, in serial order.
pub(crate) const DEV_CLIENTS: &[DevClient] = &[
    DevClient {
        note: "accredited party alpha",
        ..client(
            "alpha-officer",
            1101,
            &["spiffe://portcullis.dev/party/alpha/alice"],
        )
    },
    DevClient {
        note: "accredited party beta",
        ..client(
            "beta-officer",
            1102,
            &["spiffe://portcullis.dev/party/beta/bob"],
        )
    },
    DevClient {
        note: "valid certificate, party not accredited",
        ..client(
            "gamma-officer",
            1103,
            &["spiffe://portcullis.dev/party/gamma/gary"],
        )
    },
    DevClient {
        note: "official",
        ..client(
            "official",
            1104,
            &["spiffe://portcullis.dev/official/liaison/olivia"],
        )
    },
    DevClient {
        note: "auditor",
        ..client(
            "auditor",
            1105,
            &["spiffe://portcullis.dev/auditor/oversight/audrey"],
        )
    },
    DevClient {
        revoked: true,
        note: "listed in crl.pem; fails the TLS handshake",
        ..client(
            "revoked",
            1106,
            &["spiffe://portcullis.dev/party/alpha/mallory"],
        )
    },
    DevClient {
        expired: true,
        note: "validity 2024-01-01 .. 2025-01-01; fails the TLS handshake",
        ..client(
            "expired",
            1107,
            &["spiffe://portcullis.dev/party/beta/trent"],
        )
    },
    DevClient {
        issuer: DevIssuer::Rogue,
        note: "signed by a throwaway CA; fails the TLS handshake",
        ..client("rogue", 1108, &["spiffe://portcullis.dev/party/alpha/eve"])
    },
    DevClient {
        dns_names: &["no-uri.clients.portcullis.dev"],
        note: "valid certificate with a DNS SAN and no URI SAN; PERMISSION_DENIED",
        ..client("no-uri", 1109, &[])
    },
    DevClient {
        note: "valid certificate with two URI SANs; PERMISSION_DENIED",
        ..client(
            "two-uris",
            1110,
            &[
                "spiffe://portcullis.dev/party/alpha/ann",
                "spiffe://portcullis.dev/party/alpha/abe",
            ],
        )
    },
    DevClient {
        note: "valid certificate, another trust domain; PERMISSION_DENIED",
        ..client(
            "other-domain",
            1111,
            &["spiffe://evil.example/party/alpha/eve"],
        )
    },
];

/// What [`generate_dev`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct DevPki {
    /// The output directory, as given.
    pub out: PathBuf,
    /// Every file written, in the order written (each path is `out` joined with a relative name).
    pub files: Vec<PathBuf>,
    /// The verifier key line written to `log.vkey`, without the trailing newline.
    pub log_vkey: String,
}

/// Generate the development PKI into `out`, creating `out` and `out/clients` if needed and
/// overwriting existing files of the same names (other files are left alone).
///
/// Private keys (`*.key`, `log-signing.pk8`, `matching.key`) are created with mode 0600 on Unix.
///
/// # Errors
/// [`PkiError::Io`] if a directory or file cannot be written, [`PkiError::Generate`] or
/// [`PkiError::Crypto`] if key, certificate or CRL generation fails, [`PkiError::Clock`] if the
/// system clock is unusable.
pub(crate) fn generate_dev(out: &Path) -> Result<DevPki, PkiError> {
    let mut w = Writer {
        out,
        files: Vec::new(),
    };
    w.mkdir(Path::new(""))?;
    w.mkdir(Path::new("clients"))?;

    let ca = write_ca(&mut w)?;
    write_server(&mut w, &ca)?;
    write_clients(&mut w, &ca)?;
    write_crl(&mut w, &ca)?;
    let rng = SystemRandom::new();
    let log_vkey = write_log_key(&mut w, &rng)?;
    write_matching_key(&mut w, &rng)?;
    write_keyservice_key(&mut w, DEV_KEYSERVICE_KEY_ID, "keyservice")?;
    write_named_log_key(
        &mut w,
        &rng,
        DEV_KEYSERVICE_LOG_NAME,
        DEV_KEYSERVICE_LOG_KEY_FILE,
        "keyservice-log.vkey",
    )?;

    Ok(DevPki {
        out: out.to_path_buf(),
        files: w.files,
        log_vkey,
    })
}

/// Validity window of every non-expired certificate.
fn validity() -> (OffsetDateTime, OffsetDateTime) {
    (
        rcgen::date_time_ymd(VALID_FROM_YEAR, 1, 1),
        rcgen::date_time_ymd(VALID_FROM_YEAR + VALID_YEARS, 1, 1),
    )
}

/// Parameters of a CA certificate (path length 0, keyCertSign + cRLSign).
fn ca_params(common_name: &str, organisation: &str, serial: u64) -> CertificateParams {
    let (not_before, not_after) = validity();
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name, organisation);
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params
}

/// Writes `ca.crt` and `ca.key` and returns the CA as an issuer.
fn write_ca(w: &mut Writer<'_>) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let params = ca_params(DEV_CA_COMMON_NAME, DEV_ORGANISATION, CA_SERIAL);
    let key = new_key("CA key")?;
    let cert = params
        .self_signed(&key)
        .map_err(gen_err("CA certificate"))?;
    w.write("ca.crt", cert.pem().as_bytes(), false)?;
    w.write("ca.key", key.serialize_pem().as_bytes(), true)?;
    Ok(Issuer::new(params, key))
}

/// Writes `server.crt` and `server.key`.
fn write_server(w: &mut Writer<'_>, ca: &Issuer<'_, KeyPair>) -> Result<(), PkiError> {
    let (not_before, not_after) = validity();
    let mut params = leaf_params("localhost", SERVER_SERIAL, not_before, not_after);
    params.subject_alt_names = vec![
        SanType::DnsName(ia5("localhost", "server certificate")?),
        SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
        SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = new_key("server key")?;
    let cert = params
        .signed_by(&key, ca)
        .map_err(gen_err("server certificate"))?;
    w.write("server.crt", cert.pem().as_bytes(), false)?;
    w.write("server.key", key.serialize_pem().as_bytes(), true)
}

/// Writes `clients/<name>.crt|.key` for every [`DEV_CLIENTS`] row.
fn write_clients(w: &mut Writer<'_>, ca: &Issuer<'_, KeyPair>) -> Result<(), PkiError> {
    // Throwaway CA for the rogue client: same shape, different name and key, never written.
    let rogue = Issuer::new(
        ca_params("Portcullis Rogue CA (throwaway)", "Rogue", ROGUE_CA_SERIAL),
        new_key("rogue CA key")?,
    );
    for c in DEV_CLIENTS {
        let crt_name = format!("clients/{}.crt", c.name);
        let (not_before, not_after) = if c.expired {
            (
                rcgen::date_time_ymd(2024, 1, 1),
                rcgen::date_time_ymd(2025, 1, 1),
            )
        } else {
            validity()
        };
        let mut params = leaf_params(c.name, c.serial, not_before, not_after);
        for uri in c.uris {
            params
                .subject_alt_names
                .push(SanType::URI(ia5(uri, &crt_name)?));
        }
        for dns in c.dns_names {
            params
                .subject_alt_names
                .push(SanType::DnsName(ia5(dns, &crt_name)?));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = new_key("client key")?;
        let issuer = match c.issuer {
            DevIssuer::DevCa => ca,
            DevIssuer::Rogue => &rogue,
        };
        let cert = params
            .signed_by(&key, issuer)
            .map_err(|source| PkiError::Generate {
                what: format!("certificate {crt_name}"),
                source,
            })?;
        w.write(&crt_name, cert.pem().as_bytes(), false)?;
        w.write(
            &format!("clients/{}.key", c.name),
            key.serialize_pem().as_bytes(),
            true,
        )?;
    }
    Ok(())
}

/// Writes `crl.pem`: CRL number 1, valid from now for [`CRL_LIFETIME_DAYS`], listing every
/// revoked [`DEV_CLIENTS`] serial.
fn write_crl(w: &mut Writer<'_>, ca: &Issuer<'_, KeyPair>) -> Result<(), PkiError> {
    let now = OffsetDateTime::now_utc();
    let next_update = now
        .checked_add(Duration::days(CRL_LIFETIME_DAYS))
        .ok_or(PkiError::Clock)?;
    let crl = CertificateRevocationListParams {
        this_update: now,
        next_update,
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: DEV_CLIENTS
            .iter()
            .filter(|c| c.revoked)
            .map(|c| RevokedCertParams {
                serial_number: SerialNumber::from(c.serial),
                revocation_time: now,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(ca)
    .map_err(gen_err("CRL"))?;
    let pem = crl.pem().map_err(gen_err("CRL"))?;
    w.write("crl.pem", pem.as_bytes(), false)
}

/// Writes `log-signing.pk8` and `log.vkey`; returns the verifier key line.
fn write_log_key(w: &mut Writer<'_>, rng: &SystemRandom) -> Result<String, PkiError> {
    write_named_log_key(w, rng, DEV_LOG_KEY_NAME, "log-signing.pk8", "log.vkey")
}

/// Writes an Ed25519 checkpoint signing key for the log `name` to `pk8` and its verifier key
/// to `vkey`; returns the verifier key line.
fn write_named_log_key(
    w: &mut Writer<'_>,
    rng: &SystemRandom,
    name: &str,
    pk8: &str,
    vkey_file: &str,
) -> Result<String, PkiError> {
    const WHAT: &str = "log-signing key";
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(rng).map_err(|_| PkiError::Crypto { what: WHAT })?;
    let key =
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| PkiError::Crypto { what: WHAT })?;
    let vkey = verifier_key(name, key.public_key().as_ref());
    w.write(pk8, pkcs8.as_ref(), true)?;
    w.write(vkey_file, format!("{vkey}\n").as_bytes(), false)?;
    Ok(vkey)
}

/// Writes `matching.key`: `dev-1:<64 lowercase hex>` from 32 random bytes.
fn write_matching_key(w: &mut Writer<'_>, rng: &SystemRandom) -> Result<(), PkiError> {
    let mut key = [0u8; 32];
    rng.fill(&mut key).map_err(|_| PkiError::Crypto {
        what: "matching key",
    })?;
    w.write(
        "matching.key",
        format!("{DEV_MATCHING_KEY_ID}:{}\n", hex::encode(key)).as_bytes(),
        true,
    )
}

/// Writes a key-service VOPRF key pair: `<stem>.key` (private, mode 0600) and `<stem>.pub`
/// (the pinned public key line clients read). Returns the public line.
fn write_keyservice_key(w: &mut Writer<'_>, key_id: &str, stem: &str) -> Result<String, PkiError> {
    let key =
        portcullis_client::oprf::ServerKey::generate(key_id).map_err(|_| PkiError::Crypto {
            what: "key-service key",
        })?;
    let public = key.public_key().to_line();
    w.write(
        &format!("{stem}.key"),
        format!("{}\n", key.to_line()).as_bytes(),
        true,
    )?;
    w.write(
        &format!("{stem}.pub"),
        format!("{public}\n").as_bytes(),
        false,
    )?;
    Ok(public)
}

/// Generates a key-service key pair for epoch `key_id` as `<out>/<stem>.key` and
/// `<out>/<stem>.pub` (`portcullis certs keyservice-key`); returns the files and the public line.
pub(crate) fn generate_keyservice_key(
    out: &Path,
    key_id: &str,
    stem: &str,
) -> Result<(Vec<PathBuf>, String), PkiError> {
    let mut w = Writer {
        out,
        files: Vec::new(),
    };
    w.mkdir(Path::new(""))?;
    let public = write_keyservice_key(&mut w, key_id, stem)?;
    Ok((w.files, public))
}

fn leaf_params(
    common_name: &str,
    serial: u64,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name, DEV_ORGANISATION);
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params
}

/// Writes files under `out`, recording each path written.
struct Writer<'a> {
    out: &'a Path,
    files: Vec<PathBuf>,
}

impl Writer<'_> {
    fn mkdir(&self, rel: &Path) -> Result<(), PkiError> {
        let path = self.out.join(rel);
        fs::create_dir_all(&path).map_err(|source| PkiError::Io { path, source })
    }

    fn write(&mut self, rel: &str, bytes: &[u8], secret: bool) -> Result<(), PkiError> {
        let path = self.out.join(rel);
        match write_file(&path, bytes, secret) {
            Ok(()) => {
                self.files.push(path);
                Ok(())
            }
            Err(source) => Err(PkiError::Io { path, source }),
        }
    }
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let mode = if secret { 0o600 } else { 0o644 };
        options.mode(mode);
        let mut file = options.open(path)?;
        // `mode` only applies when the file is created; fix up pre-existing files too.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = secret;
        let mut file = options.open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine as _;

    use std::collections::HashSet;
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{
        CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
    };
    use rustls::server::WebPkiClientVerifier;
    use rustls::RootCertStore;
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::{FromDer as _, X509Certificate};
    use x509_parser::revocation_list::CertificateRevocationList;

    fn cert_der(path: &Path) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(path).unwrap()
    }

    fn uris(cert: &X509Certificate<'_>) -> Vec<String> {
        let Some(san) = cert.subject_alternative_name().unwrap() else {
            return Vec::new();
        };
        san.value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::URI(u) => Some((*u).to_owned()),
                _ => None,
            })
            .collect()
    }

    /// Whether `signature` over `message` verifies under `issuer`'s ECDSA P-256 key.
    fn verify_ecdsa(issuer: &X509Certificate<'_>, message: &[u8], signature: &[u8]) -> bool {
        let key = &issuer.public_key().subject_public_key.data;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, key)
            .verify(message, signature)
            .is_ok()
    }

    /// Whether `cert`'s signature verifies under `issuer`'s key.
    fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
        verify_ecdsa(
            issuer,
            cert.tbs_certificate.as_ref(),
            &cert.signature_value.data,
        )
    }

    fn serial_u64(cert: &X509Certificate<'_>) -> u64 {
        u64::try_from(&cert.tbs_certificate.serial).unwrap()
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        out: PathBuf,
        pki: DevPki,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("certs-dev");
        let pki = generate_dev(&out).unwrap();
        Fixture {
            _dir: dir,
            out,
            pki,
        }
    }

    #[test]
    fn writes_every_file() {
        let f = fixture();
        let mut expected: Vec<PathBuf> = [
            "ca.crt",
            "ca.key",
            "server.crt",
            "server.key",
            "crl.pem",
            "log-signing.pk8",
            "log.vkey",
            "matching.key",
            "keyservice.key",
            "keyservice.pub",
            "keyservice-log.pk8",
            "keyservice-log.vkey",
        ]
        .iter()
        .map(|n| f.out.join(n))
        .collect();
        for c in DEV_CLIENTS {
            expected.push(f.out.join(format!("clients/{}.crt", c.name)));
            expected.push(f.out.join(format!("clients/{}.key", c.name)));
        }
        let written: HashSet<_> = f.pki.files.iter().cloned().collect();
        assert_eq!(written.len(), f.pki.files.len(), "no file written twice");
        assert_eq!(written, expected.iter().cloned().collect::<HashSet<_>>());
        for p in &expected {
            assert!(p.is_file(), "{} missing", p.display());
        }
        assert_eq!(f.pki.out, f.out);
        // Keys are PKCS#8 PEM that rustls can load.
        for p in f
            .pki
            .files
            .iter()
            .filter(|p| p.extension() == Some("key".as_ref()))
        {
            if p.ends_with("matching.key") {
                continue;
            }
            if p.ends_with("keyservice.key") {
                let key = portcullis_client::oprf::ServerKey::from_file(p).unwrap();
                let public = std::fs::read_to_string(f.out.join("keyservice.pub")).unwrap();
                assert_eq!(key.public_key().to_line(), public.trim());
                continue;
            }
            let key = PrivateKeyDer::from_pem_file(p).unwrap();
            assert!(matches!(key, PrivateKeyDer::Pkcs8(_)), "{}", p.display());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(f.out.join("ca.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Regenerating over an existing directory works.
        generate_dev(&f.out).unwrap();
    }

    #[test]
    fn certificates_have_expected_names_serials_and_issuers() {
        let f = fixture();
        let ca_der = cert_der(&f.out.join("ca.crt"));
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        assert_eq!(ca.subject(), ca.issuer());
        assert!(ca.is_ca());
        assert_eq!(serial_u64(&ca), CA_SERIAL);
        let cn = ca.subject().iter_common_name().next().unwrap();
        assert_eq!(cn.as_str().unwrap(), DEV_CA_COMMON_NAME);
        let ku = ca.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign() && ku.crl_sign());
        assert!(signed_by(&ca, &ca));

        let mut serials = HashSet::from([CA_SERIAL, ROGUE_CA_SERIAL]);

        let server_der = cert_der(&f.out.join("server.crt"));
        let (_, server) = X509Certificate::from_der(&server_der).unwrap();
        assert_eq!(server.issuer(), ca.subject());
        assert!(signed_by(&server, &ca));
        assert!(serials.insert(serial_u64(&server)));
        assert_eq!(serial_u64(&server), SERVER_SERIAL);
        let san = server.subject_alternative_name().unwrap().unwrap().value;
        let names: Vec<String> = san
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => format!("dns:{d}"),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => format!(
                        "ip:{}",
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap())
                    ),
                    16 => format!(
                        "ip:{}",
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap())
                    ),
                    _ => panic!("bad IP SAN"),
                },
                other => panic!("unexpected SAN {other}"),
            })
            .collect();
        assert_eq!(names, ["dns:localhost", "ip:127.0.0.1", "ip:::1"]);
        assert!(
            server
                .extended_key_usage()
                .unwrap()
                .unwrap()
                .value
                .server_auth
        );

        let now = OffsetDateTime::now_utc().unix_timestamp();
        for c in DEV_CLIENTS {
            let der = cert_der(&f.out.join(format!("clients/{}.crt", c.name)));
            let (_, cert) = X509Certificate::from_der(&der).unwrap();
            assert_eq!(serial_u64(&cert), c.serial, "{}", c.name);
            assert!(serials.insert(c.serial), "duplicate serial {}", c.serial);
            assert_eq!(uris(&cert), c.uris, "{}", c.name);
            let cn = cert.subject().iter_common_name().next().unwrap();
            assert_eq!(cn.as_str().unwrap(), c.name);
            let eku = cert.extended_key_usage().unwrap().unwrap().value;
            assert!(eku.client_auth && !eku.server_auth, "{}", c.name);
            match c.issuer {
                DevIssuer::DevCa => {
                    assert_eq!(cert.issuer(), ca.subject(), "{}", c.name);
                    assert!(signed_by(&cert, &ca), "{}", c.name);
                }
                DevIssuer::Rogue => {
                    assert_ne!(cert.issuer(), ca.subject(), "{}", c.name);
                    assert!(!signed_by(&cert, &ca), "{}", c.name);
                }
            }
            let not_after = cert.validity().not_after.timestamp();
            if c.expired {
                assert!(not_after < now, "{} should be expired", c.name);
            } else {
                assert!(cert.validity().not_before.timestamp() < now);
                assert!(not_after > now + 10 * 365 * 86_400, "{}", c.name);
            }
        }
        let single_uri = |name: &str| {
            DEV_CLIENTS
                .iter()
                .any(|c| c.name == name && c.uris.len() == 1)
        };
        for name in [
            "alpha-officer",
            "beta-officer",
            "gamma-officer",
            "official",
            "auditor",
            "revoked",
            "expired",
            "rogue",
            "other-domain",
        ] {
            assert!(single_uri(name), "{name}");
        }
    }

    #[test]
    fn crl_lists_exactly_the_revoked_serial() {
        let f = fixture();
        let ca_der = cert_der(&f.out.join("ca.crt"));
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        let crl_der = CertificateRevocationListDer::from_pem_file(f.out.join("crl.pem")).unwrap();
        let (_, crl) = CertificateRevocationList::from_der(&crl_der).unwrap();
        assert_eq!(crl.issuer(), ca.subject());
        assert!(verify_ecdsa(
            &ca,
            crl.tbs_cert_list.as_ref(),
            &crl.signature_value.data
        ));
        let revoked: Vec<u64> = crl
            .iter_revoked_certificates()
            .map(|r| u64::try_from(r.serial()).unwrap())
            .collect();
        assert_eq!(revoked, [1106]);
        let listed = DEV_CLIENTS.iter().find(|c| c.name == "revoked").unwrap();
        assert_eq!(revoked, [listed.serial]);
        assert_eq!(crl.crl_number().unwrap(), &1u32.into());
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let next = crl.next_update().unwrap().timestamp();
        assert!(next > now + 9 * 365 * 86_400);
        assert!(crl.last_update().timestamp() <= now);
    }

    #[test]
    fn rustls_verifiers_accept_and_reject_as_documented() {
        let f = fixture();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(cert_der(&f.out.join("ca.crt"))).unwrap();
        let roots = Arc::new(roots);
        let crl = CertificateRevocationListDer::from_pem_file(f.out.join("crl.pem")).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .with_crls([crl])
            .build()
            .unwrap();
        let now = UnixTime::now();
        for c in DEV_CLIENTS {
            let der = cert_der(&f.out.join(format!("clients/{}.crt", c.name)));
            let result = verifier.verify_client_cert(&der, &[], now);
            let should_fail = c.revoked || c.expired || c.issuer == DevIssuer::Rogue;
            assert_eq!(result.is_err(), should_fail, "{}: {result:?}", c.name);
            match c.name {
                "revoked" => assert!(matches!(
                    result,
                    Err(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::Revoked
                    ))
                )),
                "expired" => assert!(matches!(
                    result,
                    Err(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::Expired
                            | rustls::CertificateError::ExpiredContext { .. }
                    ))
                )),
                "rogue" => assert!(matches!(
                    result,
                    Err(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::UnknownIssuer
                    ))
                )),
                _ => {}
            }
        }
        // A client certificate is not a server certificate, and vice versa.
        let server = cert_der(&f.out.join("server.crt"));
        assert!(verifier.verify_client_cert(&server, &[], now).is_err());

        let server_verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .unwrap();
        for name in ["localhost", "127.0.0.1", "::1"] {
            let name = ServerName::try_from(name).unwrap();
            server_verifier
                .verify_server_cert(&server, &[], &name, &[], now)
                .unwrap();
        }
        let other = ServerName::try_from("example.com").unwrap();
        assert!(server_verifier
            .verify_server_cert(&server, &[], &other, &[], now)
            .is_err());
    }

    #[test]
    fn log_vkey_matches_signing_key_and_matching_key_format() {
        let f = fixture();
        let pk8 = fs::read(f.out.join("log-signing.pk8")).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(&pk8).unwrap();
        let public = key.public_key().as_ref();

        let text = fs::read_to_string(f.out.join("log.vkey")).unwrap();
        assert_eq!(text, format!("{}\n", f.pki.log_vkey));
        let line = text.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n'));
        let mut parts = line.splitn(3, '+');
        let (name, id_hex, b64) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        assert_eq!(name, DEV_LOG_KEY_NAME);
        let typed = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(typed.len(), 33);
        assert_eq!(typed[0], 0x01);
        assert_eq!(&typed[1..], public);
        let mut h = ring::digest::Context::new(&ring::digest::SHA256);
        h.update(b"portcullis.dev/audit\n\x01");
        h.update(public);
        assert_eq!(id_hex, hex::encode(&h.finish().as_ref()[..4]));
        assert_eq!(id_hex.len(), 8);

        // A signature by the pk8 key verifies under the vkey's public key.
        let sig = key.sign(b"checkpoint");
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &typed[1..])
            .verify(b"checkpoint", sig.as_ref())
            .unwrap();

        let matching = fs::read_to_string(f.out.join("matching.key")).unwrap();
        let hex_part = matching
            .strip_prefix("dev-1:")
            .and_then(|s| s.strip_suffix('\n'))
            .unwrap();
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    }
}
