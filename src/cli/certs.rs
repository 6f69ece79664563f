//! `portcullis certs`: the development PKI, and production key material
//! ([`super::pki_commands`]).

use std::path::PathBuf;

use crate::Error;

/// The `certs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Regenerate the development PKI (never for production) (CA, server, clients, CRL, log-signing and matching keys).
    Dev {
        /// Output directory.
        #[arg(long, default_value = "certs-dev")]
        out: PathBuf,
    },
    /// Create a CA (ca.crt, ca.key) for production.
    Ca(super::pki_commands::CaArgs),
    /// Issue a client certificate (a SPIFFE identity) or the server certificate.
    Issue(super::pki_commands::IssueArgs),
    /// Sign a new CRL for the CA, keeping its revocations (refreshes nextUpdate).
    Crl(super::pki_commands::CrlArgs),
    /// Revoke a certificate: add its serial to the CRL and sign it again.
    Revoke(super::pki_commands::RevokeArgs),
    /// Create the gateway's audit-log signing key and its verifier key for the auditors.
    LogKey(super::pki_commands::LogKeyArgs),
    /// Create a matching key for an epoch (parties and officials only).
    MatchingKey(super::pki_commands::MatchingKeyArgs),
    /// Generate a key-service VOPRF key (tokens v2): `<name>.key` (private, for the
    /// `portcullis keyservice` host only) and `<name>.pub` (the pinned line clients use).
    KeyserviceKey(super::pki_commands::KeyserviceKeyArgs),
}

/// Runs `portcullis certs …`.
pub(crate) fn run(cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Dev { out } => {
            let pki = crate::pki::generate_dev(&out)?;
            for f in &pki.files {
                println!("wrote {}", f.display());
            }
            println!("log verifier key: {}", pki.log_vkey);
            Ok(())
        }
        Command::Ca(args) => super::pki_commands::ca(args),
        Command::Issue(args) => super::pki_commands::issue(args),
        Command::Crl(args) => super::pki_commands::crl(args),
        Command::Revoke(args) => super::pki_commands::revoke(args),
        Command::LogKey(args) => super::pki_commands::log_key(args),
        Command::MatchingKey(args) => super::pki_commands::matching_key(args),
        Command::KeyserviceKey(args) => super::pki_commands::keyservice_key(args),
    }
}
