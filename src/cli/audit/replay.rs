//! `portcullis audit replay`: the entries of the log, filtered, optionally followed.

use std::path::Path;

use tokio_stream::StreamExt;

use super::reads::{self, AuditClient};
use crate::audit::verify::decode_leaf;
use crate::audit::AuditEntry;
use crate::cli::common::ClientArgs;
use crate::cli::entry_text::{entry_line, record_json};
use crate::proto::v1::ReplayRequest;
use crate::Error;

/// `portcullis audit replay`.
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
    /// Whether `e` passes every filter given.
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

/// Runs `portcullis audit replay`.
pub(super) async fn replay(args: ReplayArgs) -> Result<(), Error> {
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
    let client = AuditClient::new(args.client.connect().await?);
    let request = ReplayRequest {
        start: args.start,
        end: args.end.unwrap_or(0),
        follow: args.follow,
    };
    let mut stream = reads::replay(&client, request).await?;
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
    use crate::cli::entry_text::entry_json;
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
}
