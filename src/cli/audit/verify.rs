//! `portcullis audit verify`: every entry of the log checked against a signed checkpoint and
//! the saved state, online (Replay) or offline (`--data DIR` of a stopped gateway).

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use super::checkpoint::{check_extends, fetch_checkpoint, show_extensions};
use super::locate::first_changed;
use super::reads::{self, AuditClient};
use super::trust::{audit_error, read_state, write_state, KeyArgs};
use crate::audit::checkpoint::Checkpoint;
use crate::audit::verify::{LogVerifier, Report, VerifyError};
use crate::cli::common::ClientArgs;
use crate::store::Store;
use crate::Error;

/// `portcullis audit verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// How to reach the gateway, and `--json`.
    #[command(flatten)]
    pub(super) client: ClientArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Verify a stopped gateway's data directory instead of calling the gateway.
    #[arg(long)]
    pub(super) data: Option<PathBuf>,
    /// Your state file: the last checkpoint you verified (created if absent, advanced on
    /// success).
    #[arg(long)]
    state: Option<PathBuf>,
}

/// What a successful verification covered, for a reader or (with `json`) for another tool.
fn report(
    r: &Report,
    cp: &Checkpoint,
    saved: Option<&Checkpoint>,
    state: Option<&Path>,
    json: bool,
) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "verified": true,
                "entries": r.entries,
                "checkpoint": {
                    "origin": cp.origin,
                    "size": cp.size,
                    "root_hash": STANDARD.encode(cp.root),
                    "extensions": cp.extensions,
                },
                "unsigned_entries": r.entries.saturating_sub(r.checkpoint_size),
                "previous_checkpoint_size": saved.map(|s| s.size),
                "state_file": state.map(|p| p.display().to_string()),
            })
        );
        return;
    }
    println!(
        "verified {} entries: checkpoint of size {} (root {}) signed by the pinned key",
        r.entries,
        cp.size,
        STANDARD.encode(cp.root)
    );
    show_extensions(cp);
    if r.entries > r.checkpoint_size {
        println!(
            "{} entries after the checkpoint are well-formed but not yet signed",
            r.entries - r.checkpoint_size
        );
    }
    match saved {
        Some(s) => println!(
            "consistent with the previously verified checkpoint of size {}",
            s.size
        ),
        None if state.is_some() => println!("no previous state: starting from this checkpoint"),
        None => {}
    }
    if let Some(path) = state {
        println!("state advanced: {}", path.display());
    }
}

/// Runs `portcullis audit verify` against the gateway.
pub(super) async fn verify_online(args: &VerifyArgs) -> Result<(), Error> {
    let verifier = args.key.verifier()?;
    let saved = read_state(args.state.as_deref(), &args.key, &verifier)?;
    let channel = args.client.connect().await?;
    let client = AuditClient::new(channel.clone());
    let (cp, note) = fetch_checkpoint(&client, &args.key, &verifier).await?;
    let mut v = LogVerifier::new(cp.clone(), saved.clone()).map_err(audit_error)?;
    if let Some(s) = &saved {
        check_extends(&client, s, &cp).await?;
    }
    if cp.size > 0 {
        let mut stream = reads::leaves(&channel, cp.size).await?;
        while let Some(record) = stream.next().await {
            let record = record?;
            if let Err(e) = v.push(record.index, &record.leaf) {
                return Err(audit_error(locate(channel, &cp, e).await));
            }
        }
    }
    conclude(v, args, &cp, &note, saved.as_ref())
}

/// Ends a verification of every leaf (online or offline): the verifier's result, then the
/// checked note saved to `--state` if given, then the report.
fn conclude(
    v: LogVerifier,
    args: &VerifyArgs,
    cp: &Checkpoint,
    note: &str,
    saved: Option<&Checkpoint>,
) -> Result<(), Error> {
    let r = v.finish().map_err(audit_error)?;
    if let Some(path) = &args.state {
        write_state(path, note)?;
    }
    report(&r, cp, saved, args.state.as_deref(), args.client.json);
    Ok(())
}

/// A root mismatch, made precise: which entry was changed (see [`locate`](super::locate)).
async fn locate(channel: Channel, cp: &Checkpoint, e: VerifyError) -> VerifyError {
    let VerifyError::RootMismatch { size } = e else {
        return e;
    };
    eprintln!("portcullis: the log does not match the signed checkpoint; looking for the first changed entry");
    match first_changed(channel, cp).await {
        Ok(Some(index)) => VerifyError::EntryChanged { index, size },
        Ok(None) => e,
        Err(err) => {
            eprintln!("portcullis: could not locate the changed entry: {err}");
            e
        }
    }
}

/// Runs `portcullis audit verify --data DIR` on a stopped gateway's store.
pub(super) fn verify_offline(args: &VerifyArgs, dir: &Path) -> Result<(), Error> {
    let verifier = args.key.verifier()?;
    let saved = read_state(args.state.as_deref(), &args.key, &verifier)?;
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--data {}: not a directory",
            dir.display()
        )));
    }
    let store = Store::open(dir)?;
    let note = store
        .checkpoint()?
        .ok_or_else(|| Error::Usage(format!("{}: no signed checkpoint stored", dir.display())))?;
    let cp = args.key.verify(&verifier, &note)?;
    let mut v = LogVerifier::new(cp.clone(), saved.clone()).map_err(audit_error)?;
    for item in store.leaf_records(0, u64::MAX) {
        let (index, record) = item?;
        let (_, nodes) = v.push(index, &record.leaf).map_err(audit_error)?;
        for (level, node, hash) in nodes {
            if record.node(level) != Some(hash) {
                return Err(audit_error(VerifyError::NodeMismatch { level, node }));
            }
        }
    }
    let recorded = store.log_size()?;
    if recorded != v.size() {
        return Err(audit_error(VerifyError::SizeMismatch {
            recorded,
            found: v.size(),
        }));
    }
    conclude(v, args, &cp, &note, saved.as_ref())
}
