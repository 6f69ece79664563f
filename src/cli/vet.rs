//! `portcullis vet`: derive tokens locally and vet one subject.

use std::path::PathBuf;

use super::common::{
    advisory_json, enum_name, grade_meaning, grade_name, match_tokens, request_id, strength_name,
    time_text, ClientArgs, IdentityArgs, KeyArgs,
};
use crate::proto::v1::vetting_service_client::VettingServiceClient;
use crate::proto::v1::{RiskGrade, SubjectKind, TokenKind, VetRequest, VetResponse};
use crate::Error;

/// Subject kinds on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Kind {
    DonorIndividual,
    DonorOrganisation,
    Candidate,
    Staff,
}

impl From<Kind> for SubjectKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::DonorIndividual => SubjectKind::DonorIndividual,
            Kind::DonorOrganisation => SubjectKind::DonorOrganisation,
            Kind::Candidate => SubjectKind::Candidate,
            Kind::Staff => SubjectKind::Staff,
        }
    }
}

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
    /// Vet every row of this CSV file over one VetBatch stream (format: docs/csv.md): one
    /// result per row, bad rows reported by line; a summary on stderr at the end.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = [
            "kind", "name", "dob", "postcode", "passport", "company_number", "org_name",
            "country", "wallet", "email", "request_id", "case_ref",
        ]
    )]
    csv: Option<PathBuf>,
    /// With --csv: write the results to FILE (CSV, or JSON lines with --json) [default:
    /// stdout]. If FILE exists, the rows it already answers are skipped and new results are
    /// appended, so an interrupted run resumes.
    #[arg(long, value_name = "FILE", requires = "csv")]
    out: Option<PathBuf>,
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
    let mut scheme = args.keys.scheme(&args.client).await?;
    let tokens = args.identity.tokens(&mut scheme).await?;
    let request = VetRequest {
        request_id: match args.request_id {
            Some(id) => id,
            None => request_id()?,
        },
        subject_kind: SubjectKind::from(kind) as i32,
        key_id: scheme.key_id().to_owned(),
        tokens: match_tokens(&tokens),
        case_reference: args.case_ref.unwrap_or_default(),
    };
    let channel = args.client.connect().await?;
    let response = VettingServiceClient::new(channel)
        .vet(request)
        .await?
        .into_inner();
    print_response(&response, args.client.json);
    Ok(())
}

/// A vetting answer as JSON (`vet --json`, and each line of `vet --csv … --json`).
pub(crate) fn response_json(r: &VetResponse) -> serde_json::Value {
    serde_json::json!({
        "request_id": r.request_id,
        "grade": grade_name(r.grade),
        "meaning": grade_meaning(RiskGrade::try_from(r.grade).unwrap_or(RiskGrade::Unspecified)),
        "audit_index": r.audit_index,
        "decided_at": time_text(r.decided_at.as_ref()),
        "matches": r.matches.iter().map(|m| serde_json::json!({
            "advisory": m.advisory.as_ref().map(advisory_json),
            "matched_on": m.matched_on.iter().map(|k| enum_name(*k, TokenKind::as_str_name)).collect::<Vec<_>>(),
            "strength": strength_name(m.strength),
        })).collect::<Vec<_>>(),
    })
}

fn print_response(r: &VetResponse, json: bool) {
    if json {
        println!("{}", response_json(r));
        return;
    }
    let grade = RiskGrade::try_from(r.grade).unwrap_or(RiskGrade::Unspecified);
    println!("{}: {}", grade.as_str_name(), grade_meaning(grade));
    println!(
        "request {}  audit index {}  decided {}",
        r.request_id,
        r.audit_index,
        time_text(r.decided_at.as_ref())
    );
    for m in &r.matches {
        let Some(a) = &m.advisory else { continue };
        let on: Vec<_> = m
            .matched_on
            .iter()
            .map(|k| enum_name(*k, TokenKind::as_str_name))
            .collect();
        println!(
            "  {} v{}  {}  {}  {} match on {}",
            a.advisory_id,
            a.version,
            grade_name(a.grade),
            enum_name(a.handling, crate::proto::v1::Handling::as_str_name),
            strength_name(m.strength),
            on.join(", ")
        );
        println!("    {}", a.guidance);
    }
}
