//! `portcullis vet`: derive tokens locally and vet one subject.

use std::path::PathBuf;

use super::common::{match_tokens, request_id, ClientArgs, IdentityArgs, KeyArgs};
use super::linked::{subject_and_linked, LinkSpec};
use super::subject_kind::Kind;
use super::vet_answer::print_response;
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{SubjectKind, VetRequest};
use crate::Error;

/// `portcullis vet`: one subject from its identity fields, or every row of a CSV file.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    keys: KeyArgs,
    /// What kind of subject this is.
    #[arg(long, value_enum, required_unless_present = "csv")]
    kind: Option<Kind>,
    #[command(flatten)]
    identity: IdentityArgs,
    /// Idempotency key [default: random]. Repeating it repeats the original answer.
    #[arg(long)]
    request_id: Option<String>,
    /// Your own file number (never a name).
    #[arg(long)]
    case_ref: Option<String>,
    /// A person or company linked to the subject, vetted with it (repeatable, at most 32):
    /// `RELATION:LABEL:FIELD=VALUE;…`, RELATION one of controller, officer, parent,
    /// funding-source, associate; LABEL your own reference (never a name); FIELDs as the
    /// identity flags (name, dob, postcode, passport, company-number, org-name, country,
    /// wallet, email). E.g. `controller:psc-1:name=Viktor Petrov;dob=1966-03`.
    #[arg(long = "link", value_name = "RELATION:LABEL:FIELDS", value_parser = LinkSpec::parse)]
    links: Vec<LinkSpec>,
    /// The company's persons with significant control, as the Companies House API returns
    /// them (docs/psc.md): each is vetted with the subject as a CONTROLLER, labelled `psc-N`
    /// (`psc-N-ceased` for a former one).
    #[arg(long, value_name = "FILE")]
    psc_json: Option<PathBuf>,
    /// Vet every row of this CSV file over one VetBatch stream (format: docs/csv.md): one
    /// result per row, bad rows reported by line; a summary on stderr at the end.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "kind", "name", "dob", "postcode", "passport", "company_number", "org_name",
            "country", "wallet", "email", "request_id", "case_ref", "links", "psc_json",
        ]
    )]
    csv: Option<PathBuf>,
    /// With --csv: write the results to FILE (CSV, or JSON lines with --json) [default:
    /// stdout]. If FILE exists, the rows it already answers are skipped and new results are
    /// appended, so an interrupted run resumes.
    #[arg(long, value_name = "FILE", requires = "csv")]
    out: Option<PathBuf>,
    /// Fetch the receipt of this answer right after it and write FILE.tlog-proof and
    /// FILE.entry (`portcullis receipt verify FILE --log-key KEY` checks them offline).
    #[arg(long, value_name = "FILE", conflicts_with = "csv")]
    receipt: Option<PathBuf>,
}

/// Runs `portcullis vet`.
pub(crate) async fn run(args: Args) -> Result<(), Error> {
    if let Some(input) = &args.csv {
        let scheme = args.keys.scheme(&args.client).await?;
        return super::csv::run(&args.client, scheme, input, args.out.as_deref()).await;
    }
    if args.out.is_some() {
        // clap waives `requires = "csv"` when --kind (which conflicts with --csv) is given.
        return Err(Error::Usage("--out is for --csv FILE only".into()));
    }
    let Some(kind) = args.kind else {
        return Err(Error::Usage("give --kind (or --csv FILE)".into()));
    };
    let mut links = args.links.clone();
    if let Some(path) = &args.psc_json {
        let controllers = super::psc::read(path)?;
        for note in &controllers.notes {
            eprintln!("note: {note}");
        }
        links.extend(controllers.links);
    }
    // Every field is checked before the key service is asked for anything.
    crate::tokens::canonicals(&args.identity.fields())?;
    super::linked::linked_canonicals(&links)?;
    let mut scheme = args.keys.scheme(&args.client).await?;
    let (tokens, linked) = subject_and_linked(&mut scheme, &args.identity.fields(), &links).await?;
    let request = VetRequest {
        request_id: match args.request_id {
            Some(id) => id,
            None => request_id()?,
        },
        subject_kind: SubjectKind::from(kind) as i32,
        key_id: scheme.key_id().to_owned(),
        tokens: match_tokens(&tokens),
        case_reference: args.case_ref.unwrap_or_default(),
        linked,
    };
    let channel = args.client.connect().await?;
    let mut client = VettingServiceClient::new(channel);
    let response = client.vet(request).await?.into_inner();
    print_response(&response, args.client.json);
    if let Some(out) = &args.receipt {
        let (proof, entry) =
            super::receipt::fetch(&mut client, Some(response.audit_index), None, out).await?;
        eprintln!(
            "receipt written: {} and {}",
            proof.display(),
            entry.display()
        );
    }
    Ok(())
}
