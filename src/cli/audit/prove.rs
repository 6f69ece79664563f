//! `portcullis audit prove`: one entry proven included in a verified checkpoint.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tokio_stream::StreamExt;

use super::checkpoint::{check_extends, fetch_checkpoint};
use super::reads::{self, AuditClient};
use super::trust::{audit_error, read_state, KeyArgs};
use crate::audit::merkle::{self, leaf_hash};
use crate::audit::tlog_proof::TlogProof;
use crate::audit::verify::{decode_leaf, proof_hashes, VerifyError};
use crate::cli::common::ClientArgs;
use crate::cli::entry_text::{entry_json, entry_line};
use crate::proto::v1::ReplayRequest;
use crate::Error;
use portcullis_client::verify::entry::EntryError;

/// `portcullis audit prove`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProveArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The entry to prove.
    #[arg(long)]
    index: u64,
    /// Your state file: if it exists, the checkpoint is first proven consistent with it (the
    /// file is not changed).
    #[arg(long)]
    state: Option<PathBuf>,
}

/// Runs `portcullis audit prove`.
pub(super) async fn prove(args: ProveArgs) -> Result<(), Error> {
    let verifier = args.key.verifier()?;
    let saved = read_state(args.state.as_deref(), &args.key, &verifier)?;
    let client = AuditClient::new(args.client.connect().await?);
    let (cp, note) = fetch_checkpoint(&client, &args.key, &verifier).await?;
    if let Some(s) = &saved {
        check_extends(&client, s, &cp).await?;
    }
    if args.index >= cp.size {
        return Err(Error::Usage(format!(
            "--index {}: the latest checkpoint covers {} entries",
            args.index, cp.size
        )));
    }
    let proof = reads::inclusion_proof(&client, args.index, cp.size).await?;
    let request = ReplayRequest {
        start: args.index,
        end: args.index + 1,
        follow: false,
    };
    let mut stream = reads::replay(&client, request).await?;
    let record = match stream.next().await {
        Some(r) => r?,
        None => {
            return Err(audit_error(VerifyError::Truncated {
                index: args.index,
                size: cp.size,
            }))
        }
    };
    if record.index != args.index {
        return Err(audit_error(VerifyError::Gap {
            expected: args.index,
            found: record.index,
        }));
    }
    let hashes = proof_hashes(&proof.hashes).map_err(audit_error)?;
    merkle::verify_inclusion(
        &leaf_hash(&record.leaf),
        args.index,
        cp.size,
        &hashes,
        &cp.root,
    )
    .map_err(|e| audit_error(VerifyError::from(e)))?;
    let entry = decode_leaf(args.index, &record.leaf).map_err(audit_error)?;
    if entry.index != args.index {
        return Err(audit_error(VerifyError::Entry(EntryError::IndexMismatch {
            index: args.index,
            stated: entry.index,
        })));
    }
    if args.client.json {
        let tlog_proof = TlogProof {
            extra: None,
            index: args.index,
            hashes: hashes.clone(),
            checkpoint: note.clone(),
        };
        println!(
            "{}",
            serde_json::json!({
                "index": args.index,
                "tree_size": cp.size,
                "root_hash": STANDARD.encode(cp.root),
                "included": true,
                "proof": hashes.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                "leaf": STANDARD.encode(&record.leaf),
                "leaf_hash": STANDARD.encode(leaf_hash(&record.leaf)),
                "signed_note": note,
                "tlog_proof": tlog_proof.encode(),
                "entry": entry_json(&entry),
            })
        );
    } else {
        println!(
            "entry {} is included in the signed checkpoint of size {} (root {})",
            args.index,
            cp.size,
            STANDARD.encode(cp.root)
        );
        println!("{}", entry_line(&entry));
    }
    Ok(())
}
