//! What the client subcommands share: connection flags, identity fields, output.

use std::path::PathBuf;

use prost_types::Timestamp;
use tonic::transport::Channel;

use crate::client::ClientIdentity;
use crate::config::Config;
use crate::keyservice::client::{KeyServiceConnection, Scheme};
use crate::proto::v1::{
    Advisory, AdvisoryRecord, AdvisoryState, Handling, Likelihood, MatchStrength, RiskGrade,
    SubjectKind,
};
use crate::tokens::{IdentityFields, MatchingKey, Token};
use crate::Error;

/// Tokens as they travel in requests: the client crate's conversion.
pub(crate) use portcullis_client::api::match_tokens;

/// How to reach the gateway and who we are.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientArgs {
    /// The gateway.
    #[arg(
        long,
        env = "PORTCULLIS_SERVER",
        default_value = "https://localhost:50051"
    )]
    server: String,
    /// CA certificate the gateway's certificate must chain to [default: certs-dev/ca.crt].
    #[arg(long, env = "PORTCULLIS_CA")]
    ca: Option<PathBuf>,
    /// Use PREFIX.crt and PREFIX.key as the client certificate and key.
    #[arg(long, env = "PORTCULLIS_IDENTITY", conflicts_with_all = ["cert", "key"])]
    identity: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

impl ClientArgs {
    /// The client certificate file these flags name, if any.
    pub(crate) fn cert_file(&self) -> Option<PathBuf> {
        match (&self.identity, &self.cert) {
            (Some(prefix), _) => Some(ClientIdentity::from_prefix(prefix).cert),
            (None, cert) => cert.clone(),
        }
    }

    /// An mTLS channel to the gateway (`--server`) as this identity.
    pub(crate) async fn connect(&self) -> Result<Channel, Error> {
        self.connect_to(&self.server).await
    }

    /// The gateway's address (`--server`).
    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    /// Connects to `server` with this command's CA and client identity.
    pub(crate) async fn connect_to(&self, server: &str) -> Result<Channel, Error> {
        let identity = match (&self.identity, &self.cert, &self.key) {
            (Some(prefix), _, _) => ClientIdentity::from_prefix(prefix),
            (None, Some(cert), Some(key)) => ClientIdentity {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => {
                return Err(Error::Usage(
                    "give --identity PREFIX, or --cert FILE and --key FILE".into(),
                ))
            }
        };
        let ca = self
            .ca
            .clone()
            .unwrap_or_else(|| Config::dev_certs_dir().join("ca.crt"));
        crate::client::connect(server, &ca, &identity).await
    }
}

/// How tokens are computed: tokens v2 through a key service (`--key-service` with its pinned
/// `--key-service-key`, or `--dev` for the development one), or tokens v1 with a matching key
/// file on this machine (`--key-file`).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct KeyArgs {
    /// Tokens v1 (hmac-sha256 epochs): the matching key file `<key_id>:<64 hex>`.
    #[arg(long, env = "PORTCULLIS_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Tokens v2: the key service, https://host:port [default with --dev: the gateway of
    /// --server, which hosts the development key service].
    #[arg(long, env = "PORTCULLIS_KEY_SERVICE")]
    key_service: Option<String>,
    /// Tokens v2: the pinned public key file `<key_id>:voprf-ristretto255-sha512:<base64>`
    /// [default with --dev: certs-dev/keyservice.pub, epoch dev-2].
    #[arg(long, env = "PORTCULLIS_KEY_SERVICE_KEY")]
    key_service_key: Option<PathBuf>,
    /// Development: tokens v2 through the development key service and key (epoch dev-2).
    #[arg(long)]
    dev: bool,
}

impl KeyArgs {
    /// Whether these flags ask for tokens v2.
    fn wants_v2(&self) -> bool {
        self.dev || self.key_service.is_some() || self.key_service_key.is_some()
    }

    /// The scheme tokens are computed with. A key service is connected with `client`'s CA and
    /// identity; nothing falls back from one scheme to another.
    pub(crate) async fn scheme(&self, client: &ClientArgs) -> Result<Scheme, Error> {
        if !self.wants_v2() {
            return match &self.key_file {
                Some(path) => Ok(Scheme::Hmac(MatchingKey::from_file(path)?)),
                None => Err(Error::Usage(
                    "give --key-service URL --key-service-key FILE (tokens v2), --dev (the \
                     development key service), or --key-file FILE (tokens v1)"
                        .into(),
                )),
            };
        }
        if self.key_file.is_some() && (self.key_service.is_some() || self.key_service_key.is_some())
        {
            return Err(Error::Usage(
                "--key-file (tokens v1) and --key-service (tokens v2) exclude each other".into(),
            ));
        }
        let url = match (&self.key_service, self.dev) {
            (Some(url), _) => url.clone(),
            (None, true) => client.server().to_owned(),
            (None, false) => {
                return Err(Error::Usage(
                    "--key-service-key needs --key-service URL (or --dev)".into(),
                ))
            }
        };
        let pinned = match (&self.key_service_key, self.dev) {
            (Some(path), _) => path.clone(),
            (None, true) => Config::dev_certs_dir().join(crate::pki::DEV_KEYSERVICE_PUB_FILE),
            (None, false) => {
                return Err(Error::Usage(
                    "--key-service needs --key-service-key FILE (the pinned public key)".into(),
                ))
            }
        };
        let key = crate::oprf::PublicKey::from_file(&pinned)?;
        let channel = client
            .connect_to(&url)
            .await
            .map_err(|e| Error::KeyService {
                url: url.clone(),
                reason: format!(
                    "unreachable: {e}; no tokens computed (tokens v2 never falls back to \
                     another scheme)"
                ),
            })?;
        Ok(Scheme::Voprf(KeyServiceConnection::new(&url, channel, key)))
    }
}

/// Identity fields of tokens.md, exactly as `token`, `vet` and `publish` take them.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct IdentityArgs {
    /// Full name of a person.
    #[arg(long)]
    name: Option<String>,
    /// Date of birth: YYYY-MM-DD, DD/MM/YYYY, or the year alone (YYYY) when the full date is
    /// not known.
    #[arg(long)]
    dob: Option<String>,
    /// UK postcode.
    #[arg(long)]
    postcode: Option<String>,
    /// Travel document as COUNTRY:NUMBER, e.g. GBR:123456789.
    #[arg(long)]
    passport: Option<String>,
    /// Companies House number, e.g. 01234567 or SC123456.
    #[arg(long)]
    company_number: Option<String>,
    /// Organisation name (with --country).
    #[arg(long, requires = "country")]
    org_name: Option<String>,
    /// ISO 3166-1 alpha-2 country of the organisation.
    #[arg(long, requires = "org_name")]
    country: Option<String>,
    /// Crypto wallet as CHAIN:ADDRESS, e.g. eth:0xABC…
    #[arg(long)]
    wallet: Option<String>,
    /// Email address.
    #[arg(long)]
    email: Option<String>,
}

impl IdentityArgs {
    /// The identity fields given.
    pub(crate) fn fields(&self) -> IdentityFields {
        IdentityFields {
            name: self.name.clone(),
            dob: self.dob.clone(),
            postcode: self.postcode.clone(),
            passport: self.passport.clone(),
            company_number: self.company_number.clone(),
            org_name: self.org_name.clone(),
            country: self.country.clone(),
            wallet: self.wallet.clone(),
            email: self.email.clone(),
        }
    }

    /// Derives the tokens with `scheme`.
    pub(crate) async fn tokens(&self, scheme: &mut Scheme) -> Result<Vec<Token>, Error> {
        scheme.tokens(&self.fields()).await
    }
}

/// A fresh random request id.
pub(crate) fn request_id() -> Result<String, Error> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 12];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Usage("system randomness unavailable".into()))?;
    Ok(format!("r-{}", hex::encode(b)))
}

/// What a grade tells a compliance officer to do (api.md).
pub(crate) fn grade_meaning(g: RiskGrade) -> &'static str {
    match g {
        RiskGrade::NoTrace => "nothing held (this is not a clearance)",
        RiskGrade::Low => "proceed; note on file",
        RiskGrade::Moderate => "enhanced due diligence",
        RiskGrade::High => "do not proceed without consulting the security liaison",
        RiskGrade::Severe => "do not proceed",
        RiskGrade::Unspecified => "unspecified",
    }
}

/// The name of a `RiskGrade` value (`?` if unknown).
pub(crate) fn grade_name(v: i32) -> &'static str {
    RiskGrade::try_from(v)
        .map(|g| g.as_str_name())
        .unwrap_or("?")
}

/// The name of an enum value, by `name` (`?` if unknown).
pub(crate) fn enum_name<E: TryFrom<i32>>(
    v: i32,
    name: impl Fn(&E) -> &'static str,
) -> &'static str {
    E::try_from(v).map(|e| name(&e)).unwrap_or("?")
}

/// RFC 3339 text for a timestamp.
pub(crate) fn time_text(ts: Option<&Timestamp>) -> String {
    let Some(ts) = ts else {
        return String::new();
    };
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// An advisory as JSON.
pub(crate) fn advisory_json(a: &Advisory) -> serde_json::Value {
    serde_json::json!({
        "advisory_id": a.advisory_id,
        "version": a.version,
        "grade": grade_name(a.grade),
        "likelihood": enum_name(a.likelihood, Likelihood::as_str_name),
        "handling": enum_name(a.handling, Handling::as_str_name),
        "guidance": a.guidance,
        "applies_to": a.applies_to.iter().map(|k| enum_name(*k, SubjectKind::as_str_name)).collect::<Vec<_>>(),
        "issued_at": time_text(a.issued_at.as_ref()),
        "valid_until": time_text(a.valid_until.as_ref()),
        "state": enum_name(a.state, AdvisoryState::as_str_name),
    })
}

/// An advisory record (the advisory, its audience and who published it) as JSON.
pub(crate) fn record_json(r: &AdvisoryRecord) -> serde_json::Value {
    serde_json::json!({
        "advisory": r.advisory.as_ref().map(advisory_json),
        "audience": r.audience,
        "internal_reference": r.internal_reference,
        "token_count": r.token_count,
        "published_by": r.published_by,
        "withdrawal_reason": r.withdrawal_reason,
    })
}

/// Prints an advisory record: text for people, or JSON with `json`.
pub(crate) fn print_record(r: &AdvisoryRecord, json: bool) {
    if json {
        println!("{}", record_json(r));
        return;
    }
    let Some(a) = &r.advisory else { return };
    println!(
        "{} v{}  {}  {}  {}  {}",
        a.advisory_id,
        a.version,
        enum_name(a.state, AdvisoryState::as_str_name),
        grade_name(a.grade),
        enum_name(a.likelihood, Likelihood::as_str_name),
        enum_name(a.handling, Handling::as_str_name),
    );
    let audience = if r.audience.is_empty() {
        "every accredited party".to_owned()
    } else {
        r.audience.join(",")
    };
    let applies = if a.applies_to.is_empty() {
        "every subject kind".to_owned()
    } else {
        a.applies_to
            .iter()
            .map(|k| enum_name(*k, SubjectKind::as_str_name))
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "  audience: {audience}; applies to: {applies}; tokens: {}",
        r.token_count
    );
    println!(
        "  issued {} by {}; valid until {}",
        time_text(a.issued_at.as_ref()),
        r.published_by,
        time_text(a.valid_until.as_ref())
    );
    if !r.internal_reference.is_empty() {
        println!("  internal reference: {}", r.internal_reference);
    }
    println!("  guidance: {}", a.guidance);
    if !r.withdrawal_reason.is_empty() {
        println!("  withdrawn: {}", r.withdrawal_reason);
    }
}

/// The name of a `MatchStrength` value (`?` if unknown).
pub(crate) fn strength_name(v: i32) -> &'static str {
    enum_name(v, MatchStrength::as_str_name)
}

/// A match tier's proto name (`PHONETIC`, …).
pub(crate) fn tier_name(v: i32) -> &'static str {
    enum_name(v, crate::proto::v1::MatchTier::as_str_name)
}

/// What a match tier means for the person reading the answer.
pub(crate) fn tier_meaning(v: i32) -> &'static str {
    use crate::proto::v1::MatchTier;
    match MatchTier::try_from(v).unwrap_or(MatchTier::Unspecified) {
        MatchTier::Exact => "exact name or identifier",
        MatchTier::Normalised => "the same name in another script or spelling",
        MatchTier::Phonetic => "sounds alike — review before acting",
        MatchTier::PartialName => "part of the name matched — review before acting",
        MatchTier::Unspecified => "tier not reported by the gateway",
    }
}
