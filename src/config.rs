//! Configuration: a TOML file (documented example in `deploy/portcullis.toml`) or the embedded
//! development defaults of `serve --dev`.
//!
//! Relative paths in a file are resolved against the file's own directory, so a config and its
//! certificates can move together.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::tls::TlsFiles;

/// A configuration file that cannot be read or is invalid.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration is invalid; the message names the file and the key.
    #[error("configuration: {0}")]
    Invalid(String),
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Everything the gateway needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The sled data directory.
    pub data_dir: PathBuf,
    /// The SPIFFE trust domain client URIs must belong to.
    pub trust_domain: String,
    /// Certificate, key, CA and CRL files.
    pub tls: TlsFiles,
    /// Party ids (`org` of party certificates) that may call the vetting service.
    pub accredited_parties: BTreeSet<String>,
    /// Matching-key epochs (`key_id`) requests may name.
    pub matching_key_ids: BTreeSet<String>,
    /// Audit log settings.
    pub audit: AuditSettings,
    /// How long a vetting request is watched for later notices.
    pub retention: Duration,
    /// The longest a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// Connections are closed after this long, so a revoked client cannot linger on an old
    /// connection after a CRL reload.
    pub max_connection_age: Duration,
    /// Per-certificate rate limits.
    pub limits: crate::limits::Limits,
    /// Transport limits: handshake and preface timeouts, connection caps (`[transport]`).
    pub transport: crate::transport::TransportLimits,
    /// Loopback address of the Prometheus metrics endpoint (None = off).
    pub metrics_listen: Option<SocketAddr>,
    /// The store's page cache, in bytes.
    pub cache_bytes: u64,
    /// Whether this is the development configuration (`serve --dev`).
    pub dev: bool,
    /// Key-service private key files (tokens v2) this process evaluates with: only the
    /// `portcullis keyservice` process and `serve --dev` (the development key) have any; a
    /// gateway configuration file that names one is refused.
    pub key_service_keys: Vec<PathBuf>,
}

/// Audit log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// The checkpoint origin line, e.g. `portcullis.dev/audit`.
    pub origin: String,
    /// The Ed25519 PKCS#8 key that signs checkpoints.
    pub signing_key: PathBuf,
    /// How often a checkpoint is signed while entries arrive.
    pub checkpoint_interval: Duration,
    /// The longest a call waits for its audit entry to become durable before failing closed.
    pub write_timeout: Duration,
    /// The most entries one group commit makes durable with one flush.
    pub max_batch: usize,
}

/// The on-disk form (all durations in milliseconds).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: SocketAddr,
    data_dir: PathBuf,
    trust_domain: String,
    accredited_parties: Vec<String>,
    matching_key_ids: Vec<String>,
    #[serde(default = "default_retention_days")]
    retention_days: u32,
    #[serde(default = "default_handshake_timeout_ms")]
    handshake_timeout_ms: u64,
    #[serde(default = "default_max_connection_age_ms")]
    max_connection_age_ms: u64,
    #[serde(default)]
    metrics_listen: Option<SocketAddr>,
    #[serde(default = "default_cache_mb")]
    cache_mb: u64,
    tls: FileTls,
    audit: FileAudit,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    key_service_keys: Vec<PathBuf>,
    #[serde(default)]
    transport: FileTransport,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileTransport {
    hello_timeout_ms: u64,
    max_pending_handshakes: usize,
    max_pending_handshakes_per_ip: usize,
    preface_timeout_ms: u64,
    idle_timeout_ms: u64,
    max_connections: usize,
    max_connections_per_cert: usize,
    max_concurrent_streams: u32,
    refusal_logs_per_sec: u32,
}

impl Default for FileTransport {
    fn default() -> Self {
        let d = crate::transport::TransportLimits::default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        FileTransport {
            hello_timeout_ms: ms(d.hello_timeout),
            max_pending_handshakes: d.max_pending_handshakes,
            max_pending_handshakes_per_ip: d.max_pending_handshakes_per_ip,
            preface_timeout_ms: ms(d.preface_timeout),
            idle_timeout_ms: ms(d.idle_timeout),
            max_connections: d.max_connections,
            max_connections_per_cert: d.max_connections_per_cert,
            max_concurrent_streams: d.max_concurrent_streams,
            refusal_logs_per_sec: d.refusal_logs_per_sec,
        }
    }
}

impl FileTransport {
    fn limits(&self) -> Result<crate::transport::TransportLimits, String> {
        let within = |name: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(v)
            } else {
                Err(format!("transport.{name}: must be {lo}..={hi}, got {v}"))
            }
        };
        let ms = |name: &str, v: u64, lo: u64, hi: u64| {
            within(name, v, lo, hi).map(Duration::from_millis)
        };
        let count =
            |name: &str, v: usize, hi: usize| within(name, v as u64, 1, hi as u64).map(|_| v);
        let max_pending_handshakes = count(
            "max_pending_handshakes",
            self.max_pending_handshakes,
            1_000_000,
        )?;
        let max_connections = count("max_connections", self.max_connections, 1_000_000)?;
        Ok(crate::transport::TransportLimits {
            hello_timeout: ms("hello_timeout_ms", self.hello_timeout_ms, 1, 60_000)?,
            max_pending_handshakes,
            max_pending_handshakes_per_ip: count(
                "max_pending_handshakes_per_ip",
                self.max_pending_handshakes_per_ip,
                max_pending_handshakes,
            )?,
            preface_timeout: ms("preface_timeout_ms", self.preface_timeout_ms, 1, 60_000)?,
            idle_timeout: ms("idle_timeout_ms", self.idle_timeout_ms, 1_000, 86_400_000)?,
            max_connections,
            max_connections_per_cert: count(
                "max_connections_per_cert",
                self.max_connections_per_cert,
                max_connections,
            )?,
            max_concurrent_streams: within(
                "max_concurrent_streams",
                u64::from(self.max_concurrent_streams),
                1,
                65_536,
            )
            .map(|_| self.max_concurrent_streams)?,
            refusal_logs_per_sec: within(
                "refusal_logs_per_sec",
                u64::from(self.refusal_logs_per_sec),
                0,
                100_000,
            )
            .map(|_| self.refusal_logs_per_sec)?,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct FileLimits {
    vet_per_sec: f64,
    vet_burst: f64,
    publish_per_sec: f64,
    publish_burst: f64,
    audit_per_sec: f64,
    audit_burst: f64,
    evaluate_per_sec: f64,
    evaluate_burst: f64,
    evaluate_per_day: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        let d = crate::limits::Limits::default();
        FileLimits {
            vet_per_sec: d.vet.per_sec,
            vet_burst: d.vet.burst,
            publish_per_sec: d.publish.per_sec,
            publish_burst: d.publish.burst,
            audit_per_sec: d.audit.per_sec,
            audit_burst: d.audit.burst,
            evaluate_per_sec: d.evaluate.per_sec,
            evaluate_burst: d.evaluate.burst,
            evaluate_per_day: d.evaluate_per_day,
        }
    }
}

impl FileLimits {
    pub(crate) fn limits(&self) -> Result<crate::limits::Limits, String> {
        use crate::limits::{Limits, Rate};
        let rate = |name: &str, per_sec: f64, burst: f64| {
            if !(per_sec.is_finite() && per_sec > 0.0) {
                return Err(format!("limits.{name}_per_sec: must be a positive number"));
            }
            if !(burst.is_finite() && burst >= 1.0) {
                return Err(format!("limits.{name}_burst: must be at least 1"));
            }
            Ok(Rate { per_sec, burst })
        };
        Ok(Limits {
            vet: rate("vet", self.vet_per_sec, self.vet_burst)?,
            publish: rate("publish", self.publish_per_sec, self.publish_burst)?,
            audit: rate("audit", self.audit_per_sec, self.audit_burst)?,
            evaluate: rate("evaluate", self.evaluate_per_sec, self.evaluate_burst)?,
            evaluate_per_day: if self.evaluate_per_day >= 1 {
                self.evaluate_per_day
            } else {
                return Err("limits.evaluate_per_day: must be at least 1".into());
            },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    crl: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAudit {
    origin: String,
    signing_key: PathBuf,
    #[serde(default = "default_checkpoint_interval_ms")]
    checkpoint_interval_ms: u64,
    #[serde(default = "default_write_timeout_ms")]
    write_timeout_ms: u64,
    #[serde(default = "default_max_batch")]
    max_batch: usize,
}

fn default_retention_days() -> u32 {
    365
}
fn default_handshake_timeout_ms() -> u64 {
    10_000
}
fn default_cache_mb() -> u64 {
    crate::store::DEFAULT_CACHE_BYTES / (1024 * 1024)
}
fn default_max_connection_age_ms() -> u64 {
    3_600_000
}
fn default_checkpoint_interval_ms() -> u64 {
    1_000
}
fn default_write_timeout_ms() -> u64 {
    5_000
}
fn default_max_batch() -> usize {
    4_096
}

impl Config {
    /// The development configuration: certificates from `certs_dir` (normally `certs-dev/`),
    /// listen `127.0.0.1:50051`, data `./data`, parties `alpha` and `beta`, key id `dev-1`.
    pub fn dev(certs_dir: &Path) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("data"),
            trust_domain: crate::pki::DEV_TRUST_DOMAIN.to_owned(),
            tls: TlsFiles {
                ca: certs_dir.join("ca.crt"),
                cert: certs_dir.join("server.crt"),
                key: certs_dir.join("server.key"),
                crl: certs_dir.join("crl.pem"),
            },
            accredited_parties: ["alpha", "beta"].into_iter().map(String::from).collect(),
            matching_key_ids: [
                crate::pki::DEV_MATCHING_KEY_ID,
                crate::pki::DEV_KEYSERVICE_KEY_ID,
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            audit: AuditSettings {
                origin: crate::pki::DEV_LOG_KEY_NAME.to_owned(),
                signing_key: certs_dir.join("log-signing.pk8"),
                checkpoint_interval: Duration::from_millis(default_checkpoint_interval_ms()),
                write_timeout: Duration::from_millis(default_write_timeout_ms()),
                max_batch: default_max_batch(),
            },
            retention: Duration::from_secs(u64::from(default_retention_days()) * 86_400),
            handshake_timeout: Duration::from_millis(default_handshake_timeout_ms()),
            max_connection_age: Duration::from_millis(default_max_connection_age_ms()),
            limits: crate::limits::Limits::default(),
            transport: crate::transport::TransportLimits::default(),
            metrics_listen: None,
            cache_bytes: crate::store::DEFAULT_CACHE_BYTES,
            dev: true,
            key_service_keys: vec![certs_dir.join(crate::pki::DEV_KEYSERVICE_KEY_FILE)],
        }
    }

    /// Where the development PKI lives: `./certs-dev` if present, else the source tree's.
    pub fn dev_certs_dir() -> PathBuf {
        let local = PathBuf::from("certs-dev");
        if local.join("ca.crt").exists() {
            local
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev")
        }
    }

    /// Reads and validates a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = read(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, base)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))
    }

    /// Parses and validates a gateway's TOML text; relative paths are resolved against `base`.
    /// A gateway never holds a key-service private key: `key_service_keys` is refused.
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, String> {
        let config = Self::parse(text, base)?;
        if !config.key_service_keys.is_empty() {
            return Err(
                "key_service_keys: the gateway refuses a key-service private key \
                 (run it in its own process with `portcullis keyservice --config FILE`; only \
                 `serve --dev` hosts the development key service)"
                    .into(),
            );
        }
        Ok(config)
    }

    /// Reads a key service's configuration file (`portcullis keyservice`): the gateway's
    /// format, where `key_service_keys` (at least one) names the private key files it
    /// evaluates with and `matching_key_ids` the epochs it knows of.
    pub fn keyservice_from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = read(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let config = Self::parse(&text, base)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
        if config.key_service_keys.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{}: key_service_keys: a key service needs at least one private key file",
                path.display()
            )));
        }
        Ok(config)
    }

    fn parse(text: &str, base: &Path) -> Result<Config, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let FileConfig {
            listen,
            data_dir,
            trust_domain,
            accredited_parties,
            matching_key_ids,
            retention_days,
            handshake_timeout_ms,
            max_connection_age_ms,
            metrics_listen,
            cache_mb,
            tls,
            audit,
            limits,
            key_service_keys,
            transport,
        } = file;
        let limits = limits.limits()?;
        let transport = transport.limits()?;
        if let Some(addr) = metrics_listen {
            if !addr.ip().is_loopback() {
                return Err("metrics_listen: must be a loopback address".into());
            }
        }
        if !(8..=65_536).contains(&cache_mb) {
            return Err("cache_mb: must be 8..=65536".into());
        }
        if max_connection_age_ms < 1_000 {
            return Err("max_connection_age_ms: must be at least 1000".into());
        }
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        if !is_dns_label_list(&trust_domain) {
            return Err(format!(
                "trust_domain: must be a DNS name of [a-z0-9-.], got {} characters",
                trust_domain.len()
            ));
        }
        let mut parties = BTreeSet::new();
        for (i, p) in accredited_parties.into_iter().enumerate() {
            if !crate::identity::is_segment(&p) {
                return Err(format!(
                    "accredited_parties[{i}]: must match [a-z0-9-]{{1,63}}"
                ));
            }
            if !parties.insert(p) {
                return Err(format!("accredited_parties[{i}]: duplicate party id"));
            }
        }
        let mut keys = BTreeSet::new();
        for (i, k) in matching_key_ids.into_iter().enumerate() {
            if !crate::domain::is_key_id(&k) {
                return Err(format!(
                    "matching_key_ids[{i}]: must be 1..=64 characters of [A-Za-z0-9._-]"
                ));
            }
            keys.insert(k);
        }
        if keys.is_empty() {
            return Err("matching_key_ids: at least one key id is required".into());
        }
        if retention_days == 0 || retention_days > 3650 {
            return Err("retention_days: must be 1..=3650".into());
        }
        if handshake_timeout_ms == 0 || handshake_timeout_ms > 120_000 {
            return Err("handshake_timeout_ms: must be 1..=120000".into());
        }
        if audit.origin.is_empty() || audit.origin.contains(char::is_whitespace) {
            return Err("audit.origin: must be non-empty without whitespace".into());
        }
        if audit.checkpoint_interval_ms == 0 {
            return Err("audit.checkpoint_interval_ms: must be positive".into());
        }
        if audit.write_timeout_ms == 0 || audit.write_timeout_ms > 60_000 {
            return Err("audit.write_timeout_ms: must be 1..=60000".into());
        }
        if audit.max_batch == 0 || audit.max_batch > 65_536 {
            return Err("audit.max_batch: must be 1..=65536".into());
        }
        Ok(Config {
            listen,
            data_dir: resolve(data_dir),
            trust_domain,
            tls: TlsFiles {
                ca: resolve(tls.ca),
                cert: resolve(tls.cert),
                key: resolve(tls.key),
                crl: resolve(tls.crl),
            },
            accredited_parties: parties,
            matching_key_ids: keys,
            audit: AuditSettings {
                origin: audit.origin,
                signing_key: resolve(audit.signing_key),
                checkpoint_interval: Duration::from_millis(audit.checkpoint_interval_ms),
                write_timeout: Duration::from_millis(audit.write_timeout_ms),
                max_batch: audit.max_batch,
            },
            retention: Duration::from_secs(u64::from(retention_days) * 86_400),
            handshake_timeout: Duration::from_millis(handshake_timeout_ms),
            max_connection_age: Duration::from_millis(max_connection_age_ms),
            limits,
            transport,
            metrics_listen,
            cache_bytes: cache_mb * 1024 * 1024,
            dev: false,
            key_service_keys: key_service_keys.into_iter().map(resolve).collect(),
        })
    }
}

fn is_dns_label_list(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
listen = "127.0.0.1:7000"
data_dir = "data"
trust_domain = "gateway.example"
accredited_parties = ["alpha", "beta"]
matching_key_ids = ["k-2026"]
[tls]
ca = "ca.crt"
cert = "server.crt"
key = "server.key"
crl = "crl.pem"
[audit]
origin = "gateway.example/audit"
signing_key = "/etc/portcullis/log.pk8"
"#;

    #[test]
    fn parses_and_resolves_relative_paths() {
        let c = Config::from_toml(GOOD, Path::new("/etc/portcullis")).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/etc/portcullis/data"));
        assert_eq!(c.tls.ca, PathBuf::from("/etc/portcullis/ca.crt"));
        assert_eq!(
            c.audit.signing_key,
            PathBuf::from("/etc/portcullis/log.pk8")
        );
        assert_eq!(c.retention, Duration::from_secs(365 * 86_400));
        assert!(!c.dev);
    }

    #[test]
    fn the_documented_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/portcullis.toml");
        let c = Config::from_file(&path).unwrap();
        assert_eq!(c.trust_domain, "gateway.example.gov");
        assert_eq!(c.accredited_parties.len(), 2);
        assert_eq!(c.audit.max_batch, 4096);
        assert_eq!(
            c.transport,
            crate::transport::TransportLimits::default(),
            "the example documents the defaults"
        );
    }

    #[test]
    fn the_documented_key_service_example_parses_and_its_configmap_matches() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let c = Config::keyservice_from_file(&root.join("deploy/keyservice.toml")).unwrap();
        assert_eq!(c.key_service_keys.len(), 1);
        assert_eq!(c.limits.evaluate_per_day, 500_000);
        // The gateway refuses the same file: it names a private key.
        assert!(Config::from_file(&root.join("deploy/keyservice.toml")).is_err());
        let toml = std::fs::read_to_string(root.join("deploy/keyservice.toml")).unwrap();
        let cm =
            std::fs::read_to_string(root.join("deploy/k8s-keyservice/configmap.yaml")).unwrap();
        let embedded: String = cm
            .split_once("  keyservice.toml: |\n")
            .unwrap()
            .1
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
            .collect();
        assert_eq!(embedded, toml);
    }

    #[test]
    fn a_gateway_refuses_a_key_service_private_key() {
        let with_key = format!("key_service_keys = [\"ks.key\"]\n{GOOD}");
        let e = Config::from_toml(&with_key, Path::new(".")).unwrap_err();
        assert!(
            e.starts_with("key_service_keys: the gateway refuses"),
            "{e}"
        );
        let c = Config::parse(&with_key, Path::new("/etc/ks")).unwrap();
        assert_eq!(c.key_service_keys, vec![PathBuf::from("/etc/ks/ks.key")]);
    }

    #[test]
    fn rejects_with_the_key_named() {
        let bad = GOOD.replace("[\"alpha\", \"beta\"]", "[\"Alpha\"]");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(e.starts_with("accredited_parties[0]"), "{e}");
        let bad = GOOD.replace("listen = \"127.0.0.1:7000\"", "listen = \"nowhere\"");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(e.contains("listen"), "{e}");
        let bad = format!("{GOOD}\nsurprise = 1\n");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(e.contains("surprise"), "{e}");
        let bad = format!("{GOOD}\n[limits]\nvet_burst = 0\n");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(e.starts_with("limits.vet_burst"), "{e}");
        let bad = GOOD.replace("data_dir", "metrics_listen = \"10.0.0.1:9464\"\ndata_dir");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(e.starts_with("metrics_listen"), "{e}");
        let bad =
            format!("{GOOD}\n[transport]\nmax_connections = 10\nmax_connections_per_cert = 11\n");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(
            e.starts_with("transport.max_connections_per_cert: must be 1..=10"),
            "{e}"
        );
        let bad = format!("{GOOD}\n[transport]\nhello_timeout_ms = 0\n");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(e.starts_with("transport.hello_timeout_ms"), "{e}");
        let bad = GOOD.replace("[\"k-2026\"]", "[]");
        let e = Config::from_toml(&bad, Path::new(".")).unwrap_err();
        assert!(e.starts_with("matching_key_ids"), "{e}");
    }
}
