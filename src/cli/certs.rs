//! `portcullis certs dev` and `portcullis certs keyservice-key`.

use std::path::PathBuf;

use crate::Error;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Regenerate the development PKI (CA, server, clients, CRL, log-signing and matching keys).
    Dev {
        /// Output directory.
        #[arg(long, default_value = "certs-dev")]
        out: PathBuf,
    },
    /// Generate a key-service VOPRF key (tokens v2): `<name>.key` (private, for the
    /// `portcullis keyservice` host only) and `<name>.pub` (the pinned line clients use).
    KeyserviceKey {
        /// The epoch (key id) the key serves, e.g. `k-2027`.
        #[arg(long)]
        key_id: String,
        /// Output directory.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// File name stem.
        #[arg(long, default_value = "keyservice")]
        name: String,
    },
}

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
        Command::KeyserviceKey { key_id, out, name } => {
            if !crate::domain::is_key_id(&key_id) {
                return Err(Error::Config(
                    "--key-id: must be 1..=64 characters of [A-Za-z0-9._-]".into(),
                ));
            }
            if name.is_empty() || name.contains(['/', '\\']) {
                return Err(Error::Config("--name: must be a plain file name".into()));
            }
            let (files, public) = crate::pki::generate_keyservice_key(&out, &key_id, &name)?;
            for f in &files {
                println!("wrote {}", f.display());
            }
            println!("pinned public key: {public}");
            Ok(())
        }
    }
}
