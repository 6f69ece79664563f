//! `portcullis audit`: the auditor's tools (docs/audit.md). Online commands call the
//! AuditService as the auditor, with the same client flags as every other command; `verify --data
//! DIR` reads a stopped gateway's store directly. Nothing here trusts the gateway: checkpoints are
//! checked against a pinned verifier key, and the log against the checkpoints.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use super::common::ClientArgs;
use super::entry_text::{entry_json, entry_line, record_json};
use super::retry::retrying;
use crate::audit::checkpoint::{Checkpoint, NoteVerifier};
use crate::audit::merkle::{self, leaf_hash};
use crate::audit::tlog_proof::TlogProof;
use crate::audit::verify::{
    check_consistency, decode_leaf, proof_hashes, LogVerifier, Report, VerifyError,
};
use crate::audit::{AuditEntry, AuditError};
use crate::config::Config;
use crate::proto::v1::audit_service_client::AuditServiceClient;
use crate::proto::v1::{
    ConsistencyProofRequest, GetCheckpointRequest, InclusionProofRequest, ReplayRequest,
};
use crate::store::Store;
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

/// The pinned verifier key and the expected origin.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KeyArgs {
    /// The log's verifier key (C2SP vkey) [default: certs-dev/log.vkey].
    #[arg(long)]
    vkey: Option<PathBuf>,
    /// The checkpoint origin to require [default: any origin signed by the key].
    #[arg(long)]
    origin: Option<String>,
}

impl KeyArgs {
    fn verifier(&self) -> Result<NoteVerifier, Error> {
        let path = self
            .vkey
            .clone()
            .unwrap_or_else(|| Config::dev_certs_dir().join("log.vkey"));
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        NoteVerifier::parse(&text)
            .map_err(|e| Error::Usage(format!("--vkey {}: {e}", path.display())))
    }

    /// Verifies a signed note with the pinned key.
    fn verify(&self, verifier: &NoteVerifier, note: &str) -> Result<Checkpoint, Error> {
        verifier
            .verify(note, self.origin.as_deref())
            .map_err(|e| audit_error(VerifyError::from(e)))
    }
}

fn audit_error(e: impl Into<AuditError>) -> Error {
    Error::Audit(e.into())
}

#[derive(Debug, clap::Args)]
pub(crate) struct CheckpointArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// First index.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// End index, exclusive [default: the current size].
    #[arg(long)]
    end: Option<u64>,
    /// Keep streaming new entries until interrupted.
    #[arg(long)]
    follow: bool,
    /// Only entries of this org (the certificate's org segment).
    #[arg(long)]
    org: Option<String>,
    /// Only entries of this role (party, official, auditor).
    #[arg(long)]
    role: Option<String>,
    /// Only entries whose method contains this text, e.g. `Vet` or a full path.
    #[arg(long)]
    method: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Only entries before this time (RFC 3339).
    #[arg(long)]
    to: Option<String>,
    /// Leave out the calls made with your own certificate (this replay and your earlier
    /// checks), so only what others did is shown.
    #[arg(long)]
    skip_own: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Verify a stopped gateway's data directory instead of calling the gateway.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Your state file: the last checkpoint you verified (created if absent, advanced on
    /// success).
    #[arg(long)]
    state: Option<PathBuf>,
}

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

pub(crate) async fn run(cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Checkpoint(args) => checkpoint(args).await,
        Command::Replay(args) => replay(args).await,
        Command::Verify(args) => {
            let result = match args.data.clone() {
                Some(dir) => verify_offline(&args, &dir),
                None => verify_online(&args).await,
            };
            if let (Err(e), true) = (&result, args.client.json) {
                println!(
                    "{}",
                    serde_json::json!({ "verified": false, "error": e.to_string() })
                );
            }
            result
        }
        Command::Prove(args) => prove(args).await,
    }
}

/// The gateway's latest checkpoint, verified with the pinned key, with its note.
async fn fetch_checkpoint(
    client: &mut AuditServiceClient<Channel>,
    key: &KeyArgs,
    verifier: &NoteVerifier,
) -> Result<(Checkpoint, String), Error> {
    let answer = retrying("GetCheckpoint", || {
        let mut client = client.clone();
        async move { client.get_checkpoint(GetCheckpointRequest {}).await }
    })
    .await?
    .into_inner();
    let cp = key.verify(verifier, &answer.signed_note)?;
    if cp.size != answer.size || cp.root.as_slice() != answer.root_hash.as_slice() {
        return Err(audit_error(VerifyError::CheckpointFields {
            size: answer.size,
        }));
    }
    Ok((cp, answer.signed_note))
}

async fn checkpoint(args: CheckpointArgs) -> Result<(), Error> {
    let verifier = args.key.verifier()?;
    let mut client = AuditServiceClient::new(args.client.connect().await?);
    let (cp, note) = fetch_checkpoint(&mut client, &args.key, &verifier).await?;
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
fn show_extensions(cp: &Checkpoint) {
    for line in &cp.extensions {
        eprintln!("checkpoint extension line (shown, not trusted): {line}");
    }
}

/// Fetches a consistency proof from `saved` to `cp` and checks it.
async fn check_extends(
    client: &mut AuditServiceClient<Channel>,
    saved: &Checkpoint,
    cp: &Checkpoint,
) -> Result<(), Error> {
    let request = ConsistencyProofRequest {
        old_size: saved.size,
        new_size: cp.size,
    };
    let proof = retrying("GetConsistencyProof", || {
        let mut client = client.clone();
        async move { client.get_consistency_proof(request).await }
    })
    .await?
    .into_inner();
    let hashes = proof_hashes(&proof.hashes).map_err(audit_error)?;
    check_consistency(saved, cp, &hashes).map_err(audit_error)
}

/// The state file's checkpoint, re-verified with the pinned key.
fn read_state(
    path: Option<&Path>,
    key: &KeyArgs,
    verifier: &NoteVerifier,
) -> Result<Option<Checkpoint>, Error> {
    let Some(path) = path else { return Ok(None) };
    match std::fs::read_to_string(path) {
        Ok(note) => key.verify(verifier, &note).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Replaces the state file with `note`, atomically (write, sync, rename).
fn write_state(path: &Path, note: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(note.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
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

async fn verify_online(args: &VerifyArgs) -> Result<(), Error> {
    let verifier = args.key.verifier()?;
    let saved = read_state(args.state.as_deref(), &args.key, &verifier)?;
    let channel = args.client.connect().await?;
    let mut client = AuditServiceClient::new(channel.clone());
    let (cp, note) = fetch_checkpoint(&mut client, &args.key, &verifier).await?;
    let mut v = LogVerifier::new(cp.clone(), saved.clone()).map_err(audit_error)?;
    if let Some(s) = &saved {
        check_extends(&mut client, s, &cp).await?;
    }
    if cp.size > 0 {
        let mut stream = retrying("Replay", || {
            crate::client::replay_leaves(channel.clone(), 0, cp.size)
        })
        .await?;
        while let Some(record) = stream.next().await {
            let record = record?;
            if let Err(e) = v.push(record.index, &record.leaf) {
                return Err(audit_error(locate(channel, &cp, e).await));
            }
        }
    }
    let r = v.finish().map_err(audit_error)?;
    if let Some(path) = &args.state {
        write_state(path, &note)?;
    }
    report(
        &r,
        &cp,
        saved.as_ref(),
        args.state.as_deref(),
        args.client.json,
    );
    Ok(())
}

/// A root mismatch, made precise: which entry was changed (see [`super::locate`]).
async fn locate(channel: Channel, cp: &Checkpoint, e: VerifyError) -> VerifyError {
    let VerifyError::RootMismatch { size } = e else {
        return e;
    };
    eprintln!("portcullis: the log does not match the signed checkpoint; looking for the first changed entry");
    match super::locate::first_changed(channel, cp).await {
        Ok(Some(index)) => VerifyError::EntryChanged { index, size },
        Ok(None) => e,
        Err(err) => {
            eprintln!("portcullis: could not locate the changed entry: {err}");
            e
        }
    }
}

fn verify_offline(args: &VerifyArgs, dir: &Path) -> Result<(), Error> {
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
    let r = v.finish().map_err(audit_error)?;
    if let Some(path) = &args.state {
        write_state(path, &note)?;
    }
    report(
        &r,
        &cp,
        saved.as_ref(),
        args.state.as_deref(),
        args.client.json,
    );
    Ok(())
}

async fn prove(args: ProveArgs) -> Result<(), Error> {
    let verifier = args.key.verifier()?;
    let saved = read_state(args.state.as_deref(), &args.key, &verifier)?;
    let mut client = AuditServiceClient::new(args.client.connect().await?);
    let (cp, note) = fetch_checkpoint(&mut client, &args.key, &verifier).await?;
    if let Some(s) = &saved {
        check_extends(&mut client, s, &cp).await?;
    }
    if args.index >= cp.size {
        return Err(Error::Usage(format!(
            "--index {}: the latest checkpoint covers {} entries",
            args.index, cp.size
        )));
    }
    let request = InclusionProofRequest {
        index: args.index,
        tree_size: cp.size,
    };
    let proof = retrying("GetInclusionProof", || {
        let mut client = client.clone();
        async move { client.get_inclusion_proof(request).await }
    })
    .await?
    .into_inner();
    let request = ReplayRequest {
        start: args.index,
        end: args.index + 1,
        follow: false,
    };
    let mut stream = retrying("Replay", || {
        let mut client = client.clone();
        async move { client.replay(request).await }
    })
    .await?
    .into_inner();
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
        return Err(audit_error(VerifyError::IndexMismatch {
            index: args.index,
            stated: entry.index,
        }));
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

/// SHA-256 of the (first) certificate in a PEM file: how the audit log names a caller's
/// certificate (`actor.cert_sha256`).
fn cert_sha256(path: &Path) -> Result<Vec<u8>, Error> {
    use rustls::pki_types::pem::PemObject as _;
    let cert = rustls::pki_types::CertificateDer::from_pem_file(path)
        .map_err(|e| Error::Usage(format!("{}: not a PEM certificate: {e}", path.display())))?;
    Ok(ring::digest::digest(&ring::digest::SHA256, cert.as_ref())
        .as_ref()
        .to_vec())
}

/// RFC 3339 text to nanoseconds since the epoch.
fn parse_time(flag: &str, text: &str) -> Result<i128, Error> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp_nanos())
        .map_err(|e| Error::Usage(format!("--{flag} {text}: not an RFC 3339 time: {e}")))
}

/// The replay filters.
struct Filter {
    /// SHA-256 of the certificate whose calls are left out.
    skip_cert: Option<Vec<u8>>,
    org: Option<String>,
    role: Option<String>,
    method: Option<String>,
    from: Option<i128>,
    to: Option<i128>,
}

impl Filter {
    fn matches(&self, e: &AuditEntry) -> bool {
        let actor = e.actor.clone().unwrap_or_default();
        let at =
            e.at.map(|t| i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos));
        self.skip_cert
            .as_ref()
            .is_none_or(|c| *c != actor.cert_sha256)
            && self.org.as_ref().is_none_or(|o| *o == actor.org)
            && self.role.as_ref().is_none_or(|r| *r == actor.role)
            && self.method.as_ref().is_none_or(|m| e.method.contains(m))
            && self.from.is_none_or(|f| at.is_some_and(|t| t >= f))
            && self.to.is_none_or(|to| at.is_some_and(|t| t < to))
    }
}

async fn replay(args: ReplayArgs) -> Result<(), Error> {
    let skip_cert = match (args.skip_own, args.client.cert_file()) {
        (false, _) => None,
        (true, Some(path)) => Some(cert_sha256(&path)?),
        (true, None) => {
            return Err(Error::Usage(
                "--skip-own needs your certificate: give --identity or --cert".into(),
            ))
        }
    };
    let filter = Filter {
        skip_cert,
        org: args.org.clone(),
        role: args.role.clone(),
        method: args.method.clone(),
        from: args
            .from
            .as_deref()
            .map(|t| parse_time("from", t))
            .transpose()?,
        to: args
            .to
            .as_deref()
            .map(|t| parse_time("to", t))
            .transpose()?,
    };
    let client = AuditServiceClient::new(args.client.connect().await?);
    let request = ReplayRequest {
        start: args.start,
        end: args.end.unwrap_or(0),
        follow: args.follow,
    };
    let mut stream = retrying("Replay", || {
        let mut client = client.clone();
        async move { client.replay(request).await }
    })
    .await?
    .into_inner();
    while let Some(record) = stream.next().await {
        let record = record?;
        let entry = match decode_leaf(record.index, &record.leaf) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("portcullis: {e}");
                continue;
            }
        };
        if !filter.matches(&entry) {
            continue;
        }
        if args.client.json {
            println!("{}", record_json(record.index, &record.leaf, &entry));
        } else {
            println!("{}", entry_line(&entry));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;

    use super::*;
    use crate::proto::v1::Actor;

    #[test]
    fn filters_select_by_actor_method_and_time() {
        let entry = AuditEntry {
            index: 3,
            at: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            actor: Some(Actor {
                role: "party".into(),
                org: "alpha".into(),
                user: "officer".into(),
                ..Default::default()
            }),
            method: "/portcullis.v1.VettingService/Vet".into(),
            ..Default::default()
        };
        assert!(none_filter().matches(&entry));
        let t = |s| parse_time("from", s).unwrap();
        for (filter, expected) in [
            (
                Filter {
                    org: Some("alpha".into()),
                    ..none_filter()
                },
                true,
            ),
            (
                Filter {
                    org: Some("beta".into()),
                    ..none_filter()
                },
                false,
            ),
            (
                Filter {
                    role: Some("auditor".into()),
                    ..none_filter()
                },
                false,
            ),
            (
                Filter {
                    method: Some("Vet".into()),
                    ..none_filter()
                },
                true,
            ),
            (
                Filter {
                    method: Some("Publish".into()),
                    ..none_filter()
                },
                false,
            ),
            (
                Filter {
                    from: Some(t("2023-11-14T22:13:20Z")),
                    ..none_filter()
                },
                true,
            ),
            (
                Filter {
                    to: Some(t("2023-11-14T22:13:20Z")),
                    ..none_filter()
                },
                false,
            ),
            (
                Filter {
                    to: Some(t("2023-11-14T22:13:21Z")),
                    ..none_filter()
                },
                true,
            ),
        ] {
            assert_eq!(filter.matches(&entry), expected);
        }
        assert!(parse_time("from", "yesterday").is_err());
        let line = entry_line(&entry);
        assert!(line.contains("party/alpha/officer"), "{line}");
        assert!(line.contains("Ok"), "{line}");
        assert_eq!(entry_json(&entry)["actor"]["org"], "alpha");
    }

    fn none_filter() -> Filter {
        Filter {
            skip_cert: None,
            org: None,
            role: None,
            method: None,
            from: None,
            to: None,
        }
    }

    #[test]
    fn the_state_file_is_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        write_state(&path, "one\n").unwrap();
        write_state(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
