//! The CRL of a production CA (`portcullis certs crl` and `certs revoke`).
//!
//! The CRL file itself is the list of revocations: each run reads the CA's current CRL (if the
//! file exists), keeps every entry, adds the new one if any, and signs a fresh CRL with the
//! next CRL number and new `thisUpdate`/`nextUpdate` dates. The file is replaced atomically, so
//! a gateway reloading meanwhile reads a whole CRL. The file holds exactly one CRL, this CA's.

use std::path::Path;

use rcgen::{CertificateRevocationListParams, RevocationReason, RevokedCertParams, SerialNumber};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateRevocationListDer;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::ca::{certificate_der, Ca};
use super::files::{invalid, read_text, replace};
use super::{gen_err, PkiError};

/// Why a certificate is revoked (RFC 5280 reason codes; the CLI's `--reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum Reason {
    /// No reason given.
    Unspecified,
    /// The private key was (or may have been) disclosed.
    KeyCompromise,
    /// The holder left the organisation or changed role.
    AffiliationChanged,
    /// Replaced by a new certificate.
    Superseded,
    /// No longer needed.
    CessationOfOperation,
    /// The holder's access was withdrawn.
    PrivilegeWithdrawn,
}

impl From<Reason> for RevocationReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::Unspecified => RevocationReason::Unspecified,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::AffiliationChanged => RevocationReason::AffiliationChanged,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
            Reason::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        }
    }
}

/// The rcgen reason of an RFC 5280 reason code read from an existing CRL.
fn reason_of_code(code: u8) -> Option<RevocationReason> {
    use RevocationReason::*;
    Some(match code {
        0 => Unspecified,
        1 => KeyCompromise,
        2 => CaCompromise,
        3 => AffiliationChanged,
        4 => Superseded,
        5 => CessationOfOperation,
        6 => CertificateHold,
        8 => RemoveFromCrl,
        9 => PrivilegeWithdrawn,
        10 => AaCompromise,
        _ => return None,
    })
}

/// A serial number to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revocation {
    /// The serial number's big-endian bytes.
    pub serial: Vec<u8>,
    /// The reason.
    pub reason: Reason,
}

impl Revocation {
    /// The serial given as hex (`3f1c…`, optionally with `0x` and `:` separators, as
    /// `certs issue` and `openssl x509 -serial` print it).
    ///
    /// # Errors
    /// [`PkiError::Argument`] if it is not 1 to 20 bytes of hex.
    pub(crate) fn from_hex(serial: &str, reason: Reason) -> Result<Revocation, PkiError> {
        let digits: String = serial
            .trim()
            .trim_start_matches("0x")
            .chars()
            .filter(|c| *c != ':')
            .collect();
        let padded = if digits.len() % 2 == 1 {
            format!("0{digits}")
        } else {
            digits
        };
        match hex::decode(&padded) {
            Ok(bytes) if (1..=20).contains(&bytes.len()) => Ok(Revocation {
                serial: strip_zeros(&bytes),
                reason,
            }),
            _ => Err(PkiError::Argument(
                "--serial: 1 to 20 bytes of hex, as `certs issue` printed it".into(),
            )),
        }
    }

    /// The serial of the certificate in `cert`, which must have been issued by `ca`.
    ///
    /// # Errors
    /// [`PkiError::Read`] or [`PkiError::Invalid`] naming the file.
    pub(crate) fn of_certificate(
        cert: &Path,
        ca: &Ca,
        reason: Reason,
    ) -> Result<Revocation, PkiError> {
        let der = certificate_der(cert)?;
        let (_, x509) = X509Certificate::from_der(&der)
            .map_err(|e| invalid(cert, format!("not an X.509 certificate: {e}")))?;
        if x509.issuer().as_raw() != ca.subject_der.as_slice() {
            return Err(invalid(cert, "was not issued by this CA"));
        }
        Ok(Revocation {
            serial: strip_zeros(x509.raw_serial()),
            reason,
        })
    }
}

/// `bytes` without leading zero bytes (the DER sign byte), at least one byte.
fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].to_vec()
}

/// What [`update`] signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct CrlSummary {
    /// The new CRL number.
    pub number: u64,
    /// How many serials the CRL lists.
    pub revoked: usize,
    /// Whether the serial to add was new (false: it was already listed).
    pub added: bool,
    /// When the CRL must be replaced by the next one.
    pub next_update: OffsetDateTime,
}

/// The entries and number of the existing CRL at `path` (none and 0 if the file is absent);
/// refuses a file that is not exactly one CRL of `ca`.
fn existing(path: &Path, ca: &Ca) -> Result<(Vec<RevokedCertParams>, u64), PkiError> {
    if !path.exists() {
        return Ok((Vec::new(), 0));
    }
    let text = read_text(path)?;
    let ders = CertificateRevocationListDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, format!("not a PEM CRL: {e}")))?;
    let der = match ders.as_slice() {
        [one] => one,
        [] => return Err(invalid(path, "no PEM X509 CRL block")),
        several => {
            return Err(invalid(
                path,
                format!(
                    "holds {} CRLs; certs crl and certs revoke keep a file of one CA's CRL",
                    several.len()
                ),
            ))
        }
    };
    let (_, crl) = x509_parser::parse_x509_crl(der)
        .map_err(|e| invalid(path, format!("not an X.509 CRL: {e}")))?;
    if crl.issuer().as_raw() != ca.subject_der.as_slice() {
        return Err(invalid(path, "is the CRL of another CA"));
    }
    let number = match crl.crl_number() {
        None => 0,
        Some(n) => match n.to_u64_digits().as_slice() {
            [] => 0,
            [n] => *n,
            _ => return Err(invalid(path, "CRL number too large")),
        },
    };
    let mut entries = Vec::new();
    for entry in crl.iter_revoked_certificates() {
        let when = OffsetDateTime::from_unix_timestamp(entry.revocation_date.timestamp())
            .map_err(|_| invalid(path, "revocation date out of range"))?;
        entries.push(RevokedCertParams {
            serial_number: SerialNumber::from_slice(&strip_zeros(entry.raw_serial())),
            revocation_time: when,
            reason_code: entry
                .reason_code()
                .and_then(|(_, code)| reason_of_code(code.0)),
            invalidity_date: None,
        });
    }
    Ok((entries, number))
}

/// Signs a new CRL for `ca` at `path`: the existing CRL's entries (if the file exists), plus
/// `add` if given and not yet listed, with the next CRL number, valid for `days` from now.
///
/// # Errors
/// [`PkiError::Invalid`] for a CRL file of another CA or not a CRL, [`PkiError::Argument`]
/// for zero days, generation and I/O errors.
pub(crate) fn update(
    ca: &Ca,
    path: &Path,
    add: Option<&Revocation>,
    days: u32,
) -> Result<CrlSummary, PkiError> {
    if days == 0 {
        return Err(PkiError::Argument("--days: must be at least 1".into()));
    }
    let (mut entries, number) = existing(path, ca)?;
    let now = OffsetDateTime::now_utc();
    let mut added = false;
    if let Some(r) = add {
        let serial = SerialNumber::from_slice(&r.serial);
        if !entries.iter().any(|e| e.serial_number == serial) {
            entries.push(RevokedCertParams {
                serial_number: serial,
                revocation_time: now,
                reason_code: Some(r.reason.into()),
                invalidity_date: None,
            });
            added = true;
        }
    }
    let number = number
        .checked_add(1)
        .ok_or_else(|| invalid(path, "CRL number too large"))?;
    let next_update = now
        .checked_add(Duration::days(i64::from(days)))
        .ok_or(PkiError::Clock)?;
    let revoked = entries.len();
    let crl = CertificateRevocationListParams {
        this_update: now,
        next_update,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: entries,
        key_identifier_method: ca.key_id.clone(),
    }
    .signed_by(&ca.issuer)
    .map_err(gen_err("CRL"))?;
    let pem = crl.pem().map_err(gen_err("CRL"))?;
    replace(path, pem.as_bytes())?;
    Ok(CrlSummary {
        number,
        revoked,
        added,
        next_update,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::ca::{client_uri, create_ca, issue, CaOptions, Profile};

    fn ca(dir: &Path, name: &str) -> Ca {
        let opts = CaOptions {
            common_name: name.into(),
            organisation: "Test".into(),
            days: 30,
        };
        let (c, k) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        create_ca(&c, &k, &opts).unwrap();
        Ca::load(&c, &k).unwrap()
    }

    fn listed(path: &Path) -> (Vec<Vec<u8>>, u64) {
        let text = std::fs::read_to_string(path).unwrap();
        let der = CertificateRevocationListDer::from_pem_slice(text.as_bytes()).unwrap();
        let (_, crl) = x509_parser::parse_x509_crl(&der).unwrap();
        let n = crl.crl_number().unwrap().to_u64_digits()[0];
        (
            crl.iter_revoked_certificates()
                .map(|e| strip_zeros(e.raw_serial()))
                .collect(),
            n,
        )
    }

    #[test]
    fn revocations_accumulate_and_the_number_grows() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca(dir.path(), "ca");
        let crl = dir.path().join("crl.pem");
        let first = update(&ca, &crl, None, 7).unwrap();
        assert_eq!((first.number, first.revoked), (1, 0));
        assert_eq!(listed(&crl), (vec![], 1));

        let uri = client_uri("gw.example", "party", "alpha", "mallory").unwrap();
        let issued = issue(
            &ca,
            &Profile::Client { uri },
            "m",
            9,
            &dir.path().join("m"),
            None,
        )
        .unwrap();
        let by_cert =
            Revocation::of_certificate(&dir.path().join("m.crt"), &ca, Reason::KeyCompromise)
                .unwrap();
        let by_hex = Revocation::from_hex(&issued.serial, Reason::Superseded).unwrap();
        assert_eq!(by_cert.serial, by_hex.serial);
        let second = update(&ca, &crl, Some(&by_cert), 7).unwrap();
        assert!(second.added);
        let other = Revocation::from_hex("0x10:01", Reason::Unspecified).unwrap();
        assert_eq!(other.serial, vec![0x10, 0x01]);
        update(&ca, &crl, Some(&other), 7).unwrap();
        // Revoking again changes nothing but the number.
        let again = update(&ca, &crl, Some(&by_hex), 7).unwrap();
        assert!(!again.added);
        assert_eq!(
            listed(&crl),
            (vec![by_cert.serial.clone(), vec![0x10, 0x01]], 4)
        );

        // The gateway's own loader accepts the file.
        assert_eq!(crate::tls::load_crls(&crl).unwrap().len(), 1);
    }

    #[test]
    fn another_cas_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ours = ca(dir.path(), "ours");
        let theirs = ca(dir.path(), "theirs");
        let crl = dir.path().join("crl.pem");
        update(&theirs, &crl, None, 7).unwrap();
        let e = update(&ours, &crl, None, 7).unwrap_err();
        assert!(e.to_string().contains("is the CRL of another CA"), "{e}");
        let uri = client_uri("gw.example", "party", "alpha", "eve").unwrap();
        issue(
            &theirs,
            &Profile::Client { uri },
            "eve",
            9,
            &dir.path().join("eve"),
            None,
        )
        .unwrap();
        let e = Revocation::of_certificate(&dir.path().join("eve.crt"), &ours, Reason::Unspecified)
            .unwrap_err();
        assert!(e.to_string().contains("was not issued by this CA"), "{e}");
        assert!(Revocation::from_hex("xyz", Reason::Unspecified).is_err());
        assert!(Revocation::from_hex("", Reason::Unspecified).is_err());
        assert!(update(&ours, &dir.path().join("new.pem"), None, 0).is_err());
    }
}
