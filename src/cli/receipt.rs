//! `portcullis receipt`: a party's proof that it vetted a subject (docs/audit.md "Receipts").
//!
//! `get` asks the gateway (as the party) for the receipt of one of its own answers and writes
//! `FILE.tlog-proof` (the C2SP proof text) and `FILE.entry` (the leaf bytes). `verify` checks
//! them offline against the log's verifier key, without contacting anyone, and says what they
//! prove.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::common::{enum_name, grade_name, time_text, ClientArgs};
use super::entry_text::{code_name, linked_summary, serial_decimal};
use crate::audit::checkpoint::NoteVerifier;
use crate::audit::tlog_proof::{self, VerifiedReceipt};
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{GetReceiptRequest, Receipt, SubjectKind, TokenKind};
use crate::Error;

/// The `receipt` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Fetch the receipt of one of your own vetting answers (party).
    Get(GetArgs),
    /// Verify a receipt offline and print what it proves.
    Verify(VerifyArgs),
}

/// `portcullis receipt get`.
#[derive(Debug, clap::Args)]
pub(crate) struct GetArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The answer's audit index (`audit_index` of the vetting answer).
    #[arg(
        long,
        required_unless_present = "request_id",
        conflicts_with = "request_id"
    )]
    index: Option<u64>,
    /// Instead of --index: the request id of your vetting request.
    #[arg(long)]
    request_id: Option<String>,
    /// Write FILE.tlog-proof and FILE.entry.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// `portcullis receipt verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The receipt: FILE (with FILE.tlog-proof and FILE.entry beside it) or FILE.tlog-proof.
    file: PathBuf,
    /// The log's verifier key: a C2SP vkey (`<name>+<id>+<key>`) or a file holding one.
    #[arg(long, value_name = "KEY")]
    log_key: String,
    /// The checkpoint origin to require [default: any origin signed by the key].
    #[arg(long)]
    origin: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `portcullis receipt …`.
pub(crate) async fn run(cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Get(args) => get(args).await,
        Command::Verify(args) => verify(&args),
    }
}

/// `PREFIX` + `ext`.
fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut p = prefix.as_os_str().to_owned();
    p.push(ext);
    PathBuf::from(p)
}

/// The two files of a receipt given as FILE or FILE.tlog-proof.
fn files(file: &Path) -> (PathBuf, PathBuf) {
    let prefix = match file.to_str().and_then(|s| s.strip_suffix(".tlog-proof")) {
        Some(p) => PathBuf::from(p),
        None => file.to_path_buf(),
    };
    (
        with_ext(&prefix, ".tlog-proof"),
        with_ext(&prefix, ".entry"),
    )
}

/// Writes a receipt as `out.tlog-proof` and `out.entry`; returns the two paths.
pub(crate) fn write(out: &Path, receipt: &Receipt) -> Result<(PathBuf, PathBuf), Error> {
    let (proof, entry) = files(out);
    std::fs::write(&proof, receipt.proof.as_bytes()).map_err(|e| Error::io(&proof, e))?;
    std::fs::write(&entry, &receipt.leaf).map_err(|e| Error::io(&entry, e))?;
    Ok((proof, entry))
}

/// Fetches the receipt of entry `index` (or of request `request_id`) and writes it to `out`.
pub(crate) async fn fetch(
    client: &mut VettingServiceClient<tonic::transport::Channel>,
    index: Option<u64>,
    request_id: Option<String>,
    out: &Path,
) -> Result<(PathBuf, PathBuf), Error> {
    let receipt = client
        .get_receipt(GetReceiptRequest {
            audit_index: index.unwrap_or(0),
            request_id: request_id.unwrap_or_default(),
        })
        .await?
        .into_inner();
    write(out, &receipt)
}

async fn get(args: GetArgs) -> Result<(), Error> {
    let mut client = VettingServiceClient::new(args.client.connect().await?);
    let (proof, entry) = fetch(&mut client, args.index, args.request_id, &args.out).await?;
    if args.client.json {
        println!(
            "{}",
            serde_json::json!({
                "proof_file": proof.display().to_string(),
                "entry_file": entry.display().to_string(),
            })
        );
    } else {
        println!(
            "receipt written: {} and {}",
            proof.display(),
            entry.display()
        );
        println!(
            "check it offline with: portcullis receipt verify {} --log-key <the log's verifier key>",
            args.out.display()
        );
    }
    Ok(())
}

/// The verifier key from `--log-key`: the key text itself, or a file holding it.
pub(crate) fn log_key(arg: &str) -> Result<NoteVerifier, Error> {
    if let Ok(v) = NoteVerifier::parse(arg) {
        return Ok(v);
    }
    let text = std::fs::read_to_string(arg).map_err(|e| Error::io(arg, e))?;
    NoteVerifier::parse(&text).map_err(|e| Error::Usage(format!("--log-key {arg}: {e}")))
}

fn verify(args: &VerifyArgs) -> Result<(), Error> {
    let verifier = log_key(&args.log_key)?;
    let (proof_path, entry_path) = files(&args.file);
    let proof = std::fs::read(&proof_path).map_err(|e| Error::io(&proof_path, e))?;
    let proof = String::from_utf8(proof).map_err(|_| {
        Error::Usage(format!(
            "{}: the receipt is not text (it was altered or is not a receipt)",
            proof_path.display()
        ))
    })?;
    let leaf = std::fs::read(&entry_path).map_err(|e| Error::io(&entry_path, e))?;
    let verified = tlog_proof::verify(&proof, &leaf, &verifier, args.origin.as_deref())
        .map_err(|e| Error::Usage(format!("receipt rejected: {e}")))?;
    if args.json {
        println!("{}", receipt_json(&verified, &verifier));
    } else {
        print!("{}", receipt_text(&verified, &verifier));
    }
    Ok(())
}

/// What a verified receipt proves, for a reader.
pub(crate) fn receipt_text(v: &VerifiedReceipt, key: &NoteVerifier) -> String {
    let e = &v.entry;
    let actor = e.actor.clone().unwrap_or_default();
    let mut t = format!(
        "RECEIPT VERIFIED: entry {} is in the audit log {:?}, signed by key {} (checkpoint of {} entries)\n",
        v.index, v.checkpoint.origin, key.name(), v.checkpoint.size
    );
    // Receipts from the gateway are for party answers only; a proof of any other entry (from
    // `audit prove`) says who called instead.
    let label = if actor.role == "party" {
        "party:       "
    } else {
        "caller:      "
    };
    let who = if actor.role == "party" {
        actor.org.clone()
    } else {
        format!("{}/{}", actor.role, actor.org)
    };
    t.push_str(&format!(
        "  {label} {who} (user {}, {}, certificate serial {})\n",
        actor.user,
        actor.uri,
        serial_decimal(&actor.cert_serial)
    ));
    t.push_str(&format!("  request id:   {}\n", e.request_id));
    t.push_str(&format!("  time:         {}\n", time_text(e.at.as_ref())));
    t.push_str(&format!(
        "  call:         {} answered {}\n",
        e.method,
        code_name(e.code)
    ));
    t.push_str(&format!(
        "  subject kind: {}\n",
        enum_name(e.subject_kind, SubjectKind::as_str_name)
    ));
    let kinds: Vec<&str> = e
        .tokens
        .iter()
        .map(|t| enum_name(t.kind, TokenKind::as_str_name))
        .collect();
    t.push_str(&format!(
        "  tokens:       {} ({})\n",
        e.tokens.len(),
        kinds.join(", ")
    ));
    if !e.linked.is_empty() {
        t.push_str(&format!(
            "  linked:       {} ({})\n",
            e.linked.len(),
            linked_summary(&e.linked)
        ));
    }
    t.push_str(&format!("  grade:        {}\n", grade_name(e.grade)));
    let matches = if e.advisory_ids.is_empty() {
        "none".to_owned()
    } else {
        e.advisory_ids.join(", ")
    };
    t.push_str(&format!("  matches:      {matches}\n"));
    for line in &v.checkpoint.extensions {
        t.push_str(&format!(
            "  checkpoint extension line (signed, meaning not checked): {line}\n"
        ));
    }
    if let Some(extra) = &v.extra {
        t.push_str(&format!(
            "  extra data (NOT authenticated, ignored): {}\n",
            STANDARD.encode(extra)
        ));
    }
    t
}

/// What a verified receipt proves, as JSON.
pub(crate) fn receipt_json(v: &VerifiedReceipt, key: &NoteVerifier) -> serde_json::Value {
    serde_json::json!({
        "verified": true,
        "index": v.index,
        "key": key.name(),
        "checkpoint": {
            "origin": v.checkpoint.origin,
            "size": v.checkpoint.size,
            "root_hash": STANDARD.encode(v.checkpoint.root),
            "extensions": v.checkpoint.extensions,
        },
        "extra": v.extra.as_ref().map(|x| STANDARD.encode(x)),
        "entry": super::entry_text::entry_json(&v.entry),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_files_from_either_name() {
        let (p, e) = files(Path::new("out/r1"));
        assert_eq!(p, PathBuf::from("out/r1.tlog-proof"));
        assert_eq!(e, PathBuf::from("out/r1.entry"));
        assert_eq!(files(Path::new("out/r1.tlog-proof")), (p, e));
    }

    #[test]
    fn the_log_key_is_text_or_a_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev/log.vkey");
        let from_file = log_key(path.to_str().unwrap()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(log_key(text.trim()).unwrap(), from_file);
        assert!(log_key("/nonexistent/key").is_err());
    }
}
