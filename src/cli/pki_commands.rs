//! `portcullis certs ca|issue|crl|revoke|log-key|matching-key`: production key material
//! (deploy/README.md walks through them), a thin layer over [`crate::pki`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::pki::ca::{self, Ca, CaOptions, Profile};
use crate::pki::crl::{self, Reason, Revocation};
use crate::pki::keys;
use crate::Error;

/// Where the CA's files are.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CaDir {
    /// Directory holding the CA's ca.crt and ca.key (keep it offline).
    #[arg(long, default_value = ".")]
    ca_dir: PathBuf,
}

impl CaDir {
    fn load(&self) -> Result<Ca, Error> {
        Ok(Ca::load(
            &self.ca_dir.join("ca.crt"),
            &self.ca_dir.join("ca.key"),
        )?)
    }

    /// The CRL file: `--crl`, else `crl.pem` in the CA directory.
    fn crl(&self, crl: &Option<PathBuf>) -> PathBuf {
        crl.clone().unwrap_or_else(|| self.ca_dir.join("crl.pem"))
    }
}

/// `certs ca`.
#[derive(Debug, clap::Args)]
pub(crate) struct CaArgs {
    /// Directory to write ca.crt and ca.key (0600) into; neither may exist.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// The CA's common name.
    #[arg(long, default_value = "Portcullis CA")]
    name: String,
    /// The CA's organisation.
    #[arg(long)]
    org: String,
    /// Validity in days.
    #[arg(long, default_value_t = 3650)]
    days: u32,
}

/// `certs issue`.
#[derive(Debug, clap::Args)]
pub(crate) struct IssueArgs {
    #[command(flatten)]
    ca: CaDir,
    /// Write PREFIX.crt and PREFIX.key (0600); neither may exist.
    #[arg(long)]
    out: PathBuf,
    /// A client certificate's role: party, official or auditor.
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    role: Option<String>,
    /// A client's organisation: the party id, the official's unit, the oversight body.
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    org: Option<String>,
    /// A client's user name within the organisation.
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    user: Option<String>,
    /// The gateway's trust_domain (portcullis.toml), for a client's SPIFFE URI.
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    trust_domain: Option<String>,
    /// Issue the gateway's server certificate instead (with --dns and --ip).
    #[arg(long)]
    server: bool,
    /// A DNS name clients dial (server; repeatable).
    #[arg(long, requires = "server")]
    dns: Vec<String>,
    /// An IP address clients dial (server; repeatable).
    #[arg(long, requires = "server")]
    ip: Vec<IpAddr>,
    /// Subject common name [default: the user, or the first DNS name or IP].
    #[arg(long)]
    cn: Option<String>,
    /// Validity in days [default: 90 for a client, 397 for a server; never past the CA's].
    #[arg(long)]
    days: Option<u32>,
    /// Sign this PEM certificate signing request's key instead of making a key (the key stays
    /// with its owner; the request's names are ignored). Only PREFIX.crt is written.
    #[arg(long)]
    csr: Option<PathBuf>,
}

/// `certs crl`.
#[derive(Debug, clap::Args)]
pub(crate) struct CrlArgs {
    #[command(flatten)]
    ca: CaDir,
    /// The CRL file [default: crl.pem in --ca-dir]; its revocations are kept.
    #[arg(long)]
    crl: Option<PathBuf>,
    /// Days until nextUpdate: publish the next CRL well before.
    #[arg(long, default_value_t = 30)]
    days: u32,
}

/// `certs revoke`.
#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    ca: CaDir,
    /// The CRL file [default: crl.pem in --ca-dir].
    #[arg(long)]
    crl: Option<PathBuf>,
    /// The serial number to revoke, in hex as `certs issue` printed it.
    #[arg(long, required_unless_present = "cert", conflicts_with = "cert")]
    serial: Option<String>,
    /// The certificate to revoke (PEM), instead of --serial.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Why.
    #[arg(long, value_enum, default_value = "key-compromise")]
    reason: Reason,
    /// Days until the new CRL's nextUpdate.
    #[arg(long, default_value_t = 30)]
    days: u32,
}

/// `certs log-key`.
#[derive(Debug, clap::Args)]
pub(crate) struct LogKeyArgs {
    /// The gateway's audit.origin (portcullis.toml): the name of the key.
    #[arg(long)]
    origin: String,
    /// Directory to write log-signing.pk8 (0600) and log.vkey (for the auditors) into.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

/// `certs matching-key`.
#[derive(Debug, clap::Args)]
pub(crate) struct MatchingKeyArgs {
    /// The epoch's key id (listed in matching_key_ids), e.g. 2026-1.
    #[arg(long)]
    id: String,
    /// The file to write (0600); it may not exist.
    #[arg(long, default_value = "matching.key")]
    out: PathBuf,
}

/// `certs keyservice-key`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeyserviceKeyArgs {
    /// The epoch (key id) the key serves, e.g. `k-2027`.
    #[arg(long)]
    key_id: String,
    /// Output directory.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// File name stem.
    #[arg(long, default_value = "keyservice")]
    name: String,
}

fn wrote(files: &[PathBuf]) {
    for f in files {
        println!("wrote {}", f.display());
    }
}

/// `certs ca`.
pub(crate) fn ca(args: CaArgs) -> Result<(), Error> {
    mkdir(&args.out)?;
    let files = ca::create_ca(
        &args.out.join("ca.crt"),
        &args.out.join("ca.key"),
        &CaOptions {
            common_name: args.name,
            organisation: args.org,
            days: args.days,
        },
    )?;
    wrote(&files);
    println!("keep ca.key offline; give ca.crt to the gateway and every client");
    Ok(())
}

/// `certs issue`.
pub(crate) fn issue(args: IssueArgs) -> Result<(), Error> {
    let ca = args.ca.load()?;
    let (profile, default_cn, default_days) = if args.server {
        let cn = args
            .dns
            .first()
            .cloned()
            .or_else(|| args.ip.first().map(IpAddr::to_string))
            .unwrap_or_default();
        let profile = Profile::Server {
            dns: args.dns,
            ips: args.ip,
        };
        (profile, cn, 397)
    } else {
        // clap requires all four without --server.
        let (Some(domain), Some(role), Some(org), Some(user)) =
            (&args.trust_domain, &args.role, &args.org, &args.user)
        else {
            return Err(Error::Usage(
                "a client certificate needs --trust-domain, --role, --org and --user".into(),
            ));
        };
        let uri = ca::client_uri(domain, role, org, user)?;
        (Profile::Client { uri }, user.clone(), 90)
    };
    let issued = ca::issue(
        &ca,
        &profile,
        args.cn.as_deref().unwrap_or(&default_cn),
        args.days.unwrap_or(default_days),
        &args.out,
        args.csr.as_deref(),
    )?;
    wrote(&issued.files);
    match &profile {
        Profile::Client { uri } => println!("identity: {uri}"),
        Profile::Server { dns, ips } => {
            let names: Vec<String> = dns
                .iter()
                .map(|d| format!("DNS:{d}"))
                .chain(ips.iter().map(|i| format!("IP:{i}")))
                .collect();
            println!("names: {}", names.join(", "));
        }
    }
    println!("serial: {}", issued.serial);
    println!("valid until: {}", date(issued.not_after));
    Ok(())
}

/// `certs crl`.
pub(crate) fn crl(args: CrlArgs) -> Result<(), Error> {
    let ca = args.ca.load()?;
    let path = args.ca.crl(&args.crl);
    let done = crl::update(&ca, &path, None, args.days)?;
    print_crl(&path, &done);
    Ok(())
}

/// `certs revoke`.
pub(crate) fn revoke(args: RevokeArgs) -> Result<(), Error> {
    let ca = args.ca.load()?;
    let path = args.ca.crl(&args.crl);
    let revocation = match (&args.serial, &args.cert) {
        (_, Some(cert)) => Revocation::of_certificate(cert, &ca, args.reason)?,
        (Some(serial), None) => Revocation::from_hex(serial, args.reason)?,
        (None, None) => return Err(Error::Usage("give --serial HEX or --cert FILE".into())),
    };
    let done = crl::update(&ca, &path, Some(&revocation), args.days)?;
    println!(
        "{} {}",
        if done.added {
            "revoked"
        } else {
            "already revoked:"
        },
        hex::encode(&revocation.serial)
    );
    print_crl(&path, &done);
    println!("now reload the gateway (SIGHUP) with the new CRL");
    Ok(())
}

fn print_crl(path: &Path, done: &crl::CrlSummary) {
    println!(
        "wrote {}: CRL number {}, {} revoked, next update {}",
        path.display(),
        done.number,
        done.revoked,
        date(done.next_update)
    );
}

/// `certs log-key`.
pub(crate) fn log_key(args: LogKeyArgs) -> Result<(), Error> {
    mkdir(&args.out)?;
    let made = keys::create_log_key(
        &args.out.join("log-signing.pk8"),
        &args.out.join("log.vkey"),
        &args.origin,
    )?;
    wrote(&made.files);
    println!("log verifier key (give it to the auditors): {}", made.vkey);
    Ok(())
}

/// `certs matching-key`.
pub(crate) fn matching_key(args: MatchingKeyArgs) -> Result<(), Error> {
    let path = keys::create_matching_key(&args.out, &args.id)?;
    println!("wrote {}", path.display());
    println!("give it to the parties and officials only, never to the gateway");
    Ok(())
}

/// `certs keyservice-key`: the VOPRF private key for the key-service host only, and its pinned
/// public line for every client.
pub(crate) fn keyservice_key(args: KeyserviceKeyArgs) -> Result<(), Error> {
    if !crate::domain::is_key_id(&args.key_id) {
        return Err(Error::Config(
            "--key-id: must be 1..=64 characters of [A-Za-z0-9._-]".into(),
        ));
    }
    if args.name.is_empty() || args.name.contains(['/', '\\']) {
        return Err(Error::Config("--name: must be a plain file name".into()));
    }
    let (files, public) = crate::pki::generate_keyservice_key(&args.out, &args.key_id, &args.name)?;
    wrote(&files);
    println!("pinned public key: {public}");
    println!("the .key file goes to the key-service host only; clients pin the .pub line");
    Ok(())
}

fn mkdir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// `YYYY-MM-DD HH:MM UTC`.
fn date(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}
