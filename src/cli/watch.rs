//! `portcullis watch` (party notices) and `portcullis hits` (official hits), resuming from a
//! cursor file that is advanced after each item is printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::common::{
    advisory_json, enum_name, grade_name, tier_meaning, tier_name, time_text, ClientArgs,
};
use crate::proto::v1::advisory_service_client::AdvisoryServiceClient;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{NoticeKind, SubjectKind, TokenKind, WatchHitsRequest, WatchNoticesRequest};
use crate::Error;

/// `portcullis watch` and `portcullis hits`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    client: ClientArgs,
    /// File holding the last cursor seen; read at start (missing = from the beginning) and
    /// rewritten after each item.
    #[arg(long)]
    cursor_file: Option<PathBuf>,
    /// Stop after this many seconds without a new item [default: keep watching].
    #[arg(long)]
    idle_exit: Option<u64>,
}

fn read_cursor(path: Option<&Path>) -> Result<u64, Error> {
    let Some(path) = path else { return Ok(0) };
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().map_err(|_| {
            Error::Usage(format!("{}: not a cursor (a whole number)", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn write_cursor(path: Option<&Path>, cursor: u64) -> Result<(), Error> {
    let Some(path) = path else { return Ok(()) };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{cursor}\n")).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads one message, or None when idle for `idle` or the stream ended.
async fn next<T>(stream: &mut tonic::Streaming<T>, idle: Option<u64>) -> Result<Option<T>, Error> {
    let message = stream.message();
    match idle {
        Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), message).await {
            Ok(r) => Ok(r?),
            Err(_) => Ok(None),
        },
        None => Ok(message.await?),
    }
}

/// Runs `portcullis watch`: notices about subjects this party vetted.
pub(crate) async fn notices(args: Args) -> Result<(), Error> {
    let cursor_file = args.cursor_file.as_deref();
    let after = read_cursor(cursor_file)?;
    let mut client = VettingServiceClient::new(args.client.connect().await?);
    let mut stream = client
        .watch_notices(WatchNoticesRequest {
            after_cursor: after,
        })
        .await?
        .into_inner();
    while let Some(n) = next(&mut stream, args.idle_exit).await? {
        let kind = enum_name(n.kind, NoticeKind::as_str_name);
        if args.client.json {
            println!(
                "{}",
                serde_json::json!({
                    "cursor": n.cursor,
                    "request_id": n.request_id,
                    "case_reference": n.case_reference,
                    "via": n.via,
                    "kind": kind,
                    "advisory": n.advisory.as_ref().map(advisory_json),
                })
            );
        } else if let Some(a) = &n.advisory {
            let case = if n.case_reference.is_empty() {
                String::new()
            } else {
                format!(" (case {})", n.case_reference)
            };
            let via = if n.via.is_empty() {
                String::new()
            } else {
                format!("  via {}", n.via)
            };
            println!(
                "{:>12}  {:<22} request {}{case}  {} v{}  {}{via}",
                n.cursor,
                kind,
                n.request_id,
                a.advisory_id,
                a.version,
                grade_name(a.grade)
            );
        }
        write_cursor(cursor_file, n.cursor)?;
    }
    Ok(())
}

/// Runs `portcullis hits`: hits on this unit's advisories.
pub(crate) async fn hits(args: Args) -> Result<(), Error> {
    let cursor_file = args.cursor_file.as_deref();
    let after = read_cursor(cursor_file)?;
    let mut client = AdvisoryServiceClient::new(args.client.connect().await?);
    let mut stream = client
        .watch_hits(WatchHitsRequest {
            after_cursor: after,
        })
        .await?
        .into_inner();
    while let Some(h) = next(&mut stream, args.idle_exit).await? {
        let on: Vec<_> = h
            .matched_on
            .iter()
            .map(|k| enum_name(*k, TokenKind::as_str_name))
            .collect();
        let kind = enum_name(h.subject_kind, SubjectKind::as_str_name);
        if args.client.json {
            println!(
                "{}",
                serde_json::json!({
                    "cursor": h.cursor,
                    "advisory_id": h.advisory_id,
                    "advisory_version": h.advisory_version,
                    "party": h.party,
                    "subject_kind": kind,
                    "relation": super::linked::relation_text(h.relation),
                    "matched_on": on,
                    "tier": tier_name(h.tier),
                    "tier_meaning": tier_meaning(h.tier),
                    "at": time_text(h.at.as_ref()),
                    "audit_index": h.audit_index,
                })
            );
        } else {
            let relation = match super::linked::relation_text(h.relation) {
                "" => String::new(),
                r => format!(" (its {r})"),
            };
            println!(
                "{:>12}  {} v{}  party {}  {}{relation}  on {}  {} ({})  at {} (audit {})",
                h.cursor,
                h.advisory_id,
                h.advisory_version,
                h.party,
                kind,
                on.join(","),
                tier_name(h.tier),
                tier_meaning(h.tier),
                time_text(h.at.as_ref()),
                h.audit_index
            );
        }
        write_cursor(cursor_file, h.cursor)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        assert_eq!(read_cursor(Some(&path)).unwrap(), 0);
        write_cursor(Some(&path), 1 << 40).unwrap();
        assert_eq!(read_cursor(Some(&path)).unwrap(), 1 << 40);
        std::fs::write(&path, "nope").unwrap();
        assert!(read_cursor(Some(&path)).is_err());
    }
}
