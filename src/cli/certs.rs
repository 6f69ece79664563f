//! `portcullis certs dev`.

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
    }
}
