//! `portcullis audit checkpoint`: the latest signed checkpoint, verified with the pinned key,
//! and the checks every online command shares (fetch and verify it; prove it extends a saved
//! one).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::reads::{self, AuditClient};
use super::trust::{audit_error, KeyArgs};
use crate::audit::checkpoint::{Checkpoint, NoteVerifier};
use crate::audit::verify::{check_consistency, proof_hashes, VerifyError};
use crate::cli::common::ClientArgs;
use crate::Error;

/// `portcullis audit checkpoint`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckpointArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    key: KeyArgs,
}

/// The gateway's latest checkpoint, verified with the pinned key, with its note.
pub(super) async fn fetch_checkpoint(
    client: &AuditClient,
    key: &KeyArgs,
    verifier: &NoteVerifier,
) -> Result<(Checkpoint, String), Error> {
    let answer = reads::checkpoint(client).await?;
    let cp = key.verify(verifier, &answer.signed_note)?;
    if cp.size != answer.size || cp.root.as_slice() != answer.root_hash.as_slice() {
        return Err(audit_error(VerifyError::CheckpointFields {
            size: answer.size,
        }));
    }
    Ok((cp, answer.signed_note))
}

/// Runs `portcullis audit checkpoint`.
pub(super) async fn checkpoint(args: CheckpointArgs) -> Result<(), Error> {
    let verifier = args.key.verifier()?;
    let client = AuditClient::new(args.client.connect().await?);
    let (cp, note) = fetch_checkpoint(&client, &args.key, &verifier).await?;
    if args.client.json {
        println!(
            "{}",
            serde_json::json!({
                "origin": cp.origin,
                "size": cp.size,
                "root_hash": STANDARD.encode(cp.root),
                "extensions": cp.extensions,
                "signed_note": note,
            })
        );
    } else {
        print!("{note}");
        eprintln!("signature verified with key {}", verifier.name());
        show_extensions(&cp);
    }
    Ok(())
}

/// Tells the reader about checkpoint extension lines: signed, but their meaning is the log's
/// own and nothing here relies on them.
pub(super) fn show_extensions(cp: &Checkpoint) {
    for line in &cp.extensions {
        eprintln!("checkpoint extension line (shown, not trusted): {line}");
    }
}

/// Fetches a consistency proof from `saved` to `cp` and checks it.
pub(super) async fn check_extends(
    client: &AuditClient,
    saved: &Checkpoint,
    cp: &Checkpoint,
) -> Result<(), Error> {
    let proof = reads::consistency_proof(client, saved.size, cp.size).await?;
    let hashes = proof_hashes(&proof).map_err(audit_error)?;
    check_consistency(saved, cp, &hashes).map_err(audit_error)
}
