//! `portcullis audit`: the auditor's tools (docs/audit.md). Online commands call the
//! AuditService as the auditor, with the same client flags as every other command; `verify --data
//! DIR` reads a stopped gateway's store directly. Nothing here trusts the gateway: checkpoints are
//! checked against a pinned verifier key, and the log against the checkpoints.
//!
//! One file per subcommand ([`checkpoint`], [`replay`], [`verify`], [`prove`]); what they
//! trust ([`trust`]: the pinned key, the state file), their retried reads of the AuditService
//! ([`reads`]), and the search for a changed entry ([`locate`]).

mod checkpoint;
mod locate;
mod prove;
mod reads;
mod replay;
mod trust;
mod verify;

use self::checkpoint::CheckpointArgs;
use self::prove::ProveArgs;
use self::replay::ReplayArgs;
use self::verify::VerifyArgs;
use crate::Error;

/// The `audit` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Fetch the latest signed checkpoint and verify its signature.
    Checkpoint(CheckpointArgs),
    /// Print entries of the log, optionally following new ones.
    Replay(ReplayArgs),
    /// Verify the whole log against a signed checkpoint and your saved state, then advance it.
    Verify(VerifyArgs),
    /// Prove that one entry is in the log, against a verified checkpoint.
    Prove(ProveArgs),
}

/// Runs `portcullis audit …`.
pub(crate) async fn run(cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Checkpoint(args) => checkpoint::checkpoint(args).await,
        Command::Replay(args) => replay::replay(args).await,
        Command::Verify(args) => {
            let result = match args.data.clone() {
                Some(dir) => verify::verify_offline(&args, &dir),
                None => verify::verify_online(&args).await,
            };
            if let (Err(e), true) = (&result, args.client.json) {
                println!(
                    "{}",
                    serde_json::json!({ "verified": false, "error": e.to_string() })
                );
            }
            result
        }
        Command::Prove(args) => prove::prove(args).await,
    }
}
