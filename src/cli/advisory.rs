//! `portcullis publish | revise | withdraw | advisories`: the official's commands.

use prost_types::Timestamp;

use super::common::{
    match_tokens, print_record, record_json, request_id, ClientArgs, IdentityArgs, KeyArgs,
};
use super::subject_kind::Kind;
use crate::proto::v1::advisory_service_client::AdvisoryServiceClient;
use crate::proto::v1::{
    AdvisoryRecord, AdvisoryState, GetAdvisoryRequest, Handling, Likelihood, ListAdvisoriesRequest,
    PublishRequest, ReviseRequest, RiskGrade, SubjectKind, WithdrawRequest,
};
use crate::Error;

/// Risk grades on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Grade {
    Low,
    Moderate,
    High,
    Severe,
}

impl From<Grade> for RiskGrade {
    fn from(g: Grade) -> Self {
        match g {
            Grade::Low => RiskGrade::Low,
            Grade::Moderate => RiskGrade::Moderate,
            Grade::High => RiskGrade::High,
            Grade::Severe => RiskGrade::Severe,
        }
    }
}

/// The PHIA yardstick.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Yardstick {
    RemoteChance,
    HighlyUnlikely,
    Unlikely,
    RealisticPossibility,
    Likely,
    HighlyLikely,
    AlmostCertain,
}

impl From<Yardstick> for Likelihood {
    fn from(c: Yardstick) -> Self {
        match c {
            Yardstick::RemoteChance => Likelihood::RemoteChance,
            Yardstick::HighlyUnlikely => Likelihood::HighlyUnlikely,
            Yardstick::Unlikely => Likelihood::Unlikely,
            Yardstick::RealisticPossibility => Likelihood::RealisticPossibility,
            Yardstick::Likely => Likelihood::Likely,
            Yardstick::HighlyLikely => Likelihood::HighlyLikely,
            Yardstick::AlmostCertain => Likelihood::AlmostCertain,
        }
    }
}

/// TLP 2.0.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl From<Tlp> for Handling {
    fn from(t: Tlp) -> Self {
        match t {
            Tlp::Clear => Handling::TlpClear,
            Tlp::Green => Handling::TlpGreen,
            Tlp::Amber => Handling::TlpAmber,
            Tlp::AmberStrict => Handling::TlpAmberStrict,
            Tlp::Red => Handling::TlpRed,
        }
    }
}

/// The terms shared by publish and revise (all optional for revise: unset keeps the current).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TermArgs {
    /// Risk grade.
    #[arg(long, value_enum)]
    grade: Option<Grade>,
    /// PHIA likelihood.
    #[arg(long, value_enum)]
    likelihood: Option<Yardstick>,
    /// TLP handling [publish default: amber-strict].
    #[arg(long, value_enum)]
    handling: Option<Tlp>,
    /// Released guidance for parties (1..=2000 characters).
    #[arg(long)]
    guidance: Option<String>,
    /// Accredited party ids that may see it, comma-separated [default: every party].
    #[arg(long, value_delimiter = ',')]
    audience: Option<Vec<String>>,
    /// Subject kinds it applies to, comma-separated [default: every kind].
    #[arg(long, value_enum, value_delimiter = ',')]
    applies_to: Option<Vec<Kind>>,
    /// Expiry: YYYY-MM-DD (end of that day, UTC) or RFC 3339 [publish default: in 365 days].
    #[arg(long)]
    valid_until: Option<String>,
    /// Your own reference (never shown to parties).
    #[arg(long)]
    internal_ref: Option<String>,
}

/// `portcullis publish`.
#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    terms: TermArgs,
    /// Idempotency key [default: random].
    #[arg(long)]
    request_id: Option<String>,
}

/// `portcullis revise`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReviseArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The advisory id.
    id: String,
    /// The version you are revising [default: the current one].
    #[arg(long)]
    expected_version: Option<u32>,
    #[command(flatten)]
    terms: TermArgs,
}

/// `portcullis withdraw`.
#[derive(Debug, clap::Args)]
pub(crate) struct WithdrawArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The advisory id.
    id: String,
    /// Why (1..=500 characters; kept for officials).
    #[arg(long)]
    reason: String,
    /// The version you are withdrawing [default: the current one].
    #[arg(long)]
    expected_version: Option<u32>,
}

/// The `advisories` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ListCommand {
    /// List advisories (latest versions), optionally only some.
    List {
        #[command(flatten)]
        client: ClientArgs,
        /// Advisories per page.
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        #[command(flatten)]
        filter: ListFilter,
    },
    /// Show one advisory (with the withdrawal reason, if withdrawn).
    Show {
        #[command(flatten)]
        client: ClientArgs,
        /// The advisory id.
        id: String,
        /// Show this version instead of the latest.
        #[arg(long)]
        version: Option<u32>,
    },
    /// Show every version of an advisory, oldest first: what changed, when and by whom.
    History {
        #[command(flatten)]
        client: ClientArgs,
        /// The advisory id.
        id: String,
    },
}

/// An advisory state, for `advisories list --state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StateFilter {
    Active,
    Withdrawn,
    Expired,
}

impl From<StateFilter> for AdvisoryState {
    fn from(s: StateFilter) -> Self {
        match s {
            StateFilter::Active => AdvisoryState::Active,
            StateFilter::Withdrawn => AdvisoryState::Withdrawn,
            StateFilter::Expired => AdvisoryState::Expired,
        }
    }
}

/// Which advisories `advisories list` prints (all given conditions must hold).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ListFilter {
    /// Only advisories in this state.
    #[arg(long, value_enum)]
    state: Option<StateFilter>,
    /// Only advisories of this grade.
    #[arg(long, value_enum)]
    grade: Option<Grade>,
    /// Only advisories whose latest version was made by this unit (the <org> of the official's
    /// certificate URI, e.g. liaison) or by this official (the full spiffe:// URI).
    #[arg(long)]
    owner: Option<String>,
}

impl ListFilter {
    /// Whether `r` passes every condition given.
    fn keeps(&self, r: &AdvisoryRecord) -> bool {
        let Some(a) = &r.advisory else { return false };
        let state = self
            .state
            .is_none_or(|s| a.state == AdvisoryState::from(s) as i32);
        let grade = self
            .grade
            .is_none_or(|g| a.grade == RiskGrade::from(g) as i32);
        let owner = self
            .owner
            .as_deref()
            .is_none_or(|o| r.published_by == o || r.published_by.split('/').nth(4) == Some(o));
        state && grade && owner
    }
}

/// One version (0 = the latest) of an advisory.
async fn get(
    api: &mut AdvisoryServiceClient<tonic::transport::Channel>,
    id: &str,
    version: u32,
) -> Result<AdvisoryRecord, Error> {
    Ok(api
        .get_advisory(GetAdvisoryRequest {
            advisory_id: id.to_owned(),
            version,
        })
        .await?
        .into_inner())
}

fn parse_time(s: &str) -> Result<Timestamp, Error> {
    use time::format_description::well_known::Rfc3339;
    let bad = || {
        Error::Usage(format!(
            "--valid-until {s}: expected YYYY-MM-DD or RFC 3339"
        ))
    };
    let t = match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(s, &fmt).map_err(|_| bad())?;
            date.with_hms(23, 59, 59).map_err(|_| bad())?.assume_utc()
        }
    };
    Ok(Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    })
}

fn kinds(list: &[Kind]) -> Vec<i32> {
    list.iter().map(|k| SubjectKind::from(*k) as i32).collect()
}

/// Runs `portcullis publish`.
pub(crate) async fn publish(args: PublishArgs) -> Result<(), Error> {
    let mut scheme = args.keys.scheme(&args.client).await?;
    let tokens = args.identity.tokens(&mut scheme).await?;
    let t = args.terms;
    let request = PublishRequest {
        request_id: match args.request_id {
            Some(id) => id,
            None => request_id()?,
        },
        key_id: scheme.key_id().to_owned(),
        tokens: match_tokens(&tokens),
        applies_to: kinds(t.applies_to.as_deref().unwrap_or_default()),
        grade: t
            .grade
            .map(|g| RiskGrade::from(g) as i32)
            .unwrap_or_default(),
        likelihood: t
            .likelihood
            .map(|l| Likelihood::from(l) as i32)
            .unwrap_or_default(),
        handling: t
            .handling
            .map(|h| Handling::from(h) as i32)
            .unwrap_or_default(),
        guidance: t.guidance.unwrap_or_default(),
        audience: t.audience.unwrap_or_default(),
        valid_until: t.valid_until.as_deref().map(parse_time).transpose()?,
        internal_reference: t.internal_ref.unwrap_or_default(),
    };
    let channel = args.client.connect().await?;
    let record = AdvisoryServiceClient::new(channel)
        .publish(request)
        .await?
        .into_inner();
    print_record(&record, args.client.json);
    if let (false, Some(a)) = (args.client.json, &record.advisory) {
        // A line to paste: the README's next commands use $ADV.
        println!("ADV={}  # paste this line to use $ADV", a.advisory_id);
    }
    Ok(())
}

/// Runs `portcullis revise`.
pub(crate) async fn revise(args: ReviseArgs) -> Result<(), Error> {
    let channel = args.client.connect().await?;
    let mut client = AdvisoryServiceClient::new(channel);
    let current = get(&mut client, &args.id, 0).await?;
    let a = current.advisory.unwrap_or_default();
    let t = args.terms;
    let request = ReviseRequest {
        advisory_id: args.id,
        expected_version: args.expected_version.unwrap_or(a.version),
        grade: t
            .grade
            .map(|g| RiskGrade::from(g) as i32)
            .unwrap_or(a.grade),
        likelihood: t
            .likelihood
            .map(|l| Likelihood::from(l) as i32)
            .unwrap_or(a.likelihood),
        handling: t
            .handling
            .map(|h| Handling::from(h) as i32)
            .unwrap_or(a.handling),
        guidance: t.guidance.unwrap_or(a.guidance),
        audience: t.audience.unwrap_or(current.audience),
        applies_to: t.applies_to.map(|k| kinds(&k)).unwrap_or(a.applies_to),
        valid_until: match t.valid_until {
            Some(s) => Some(parse_time(&s)?),
            None => a.valid_until,
        },
        internal_reference: t.internal_ref.unwrap_or_default(),
    };
    let record = client.revise(request).await?.into_inner();
    print_record(&record, args.client.json);
    Ok(())
}

/// Runs `portcullis withdraw`.
pub(crate) async fn withdraw(args: WithdrawArgs) -> Result<(), Error> {
    let channel = args.client.connect().await?;
    let mut client = AdvisoryServiceClient::new(channel);
    let expected_version = match args.expected_version {
        Some(v) => v,
        None => get(&mut client, &args.id, 0)
            .await?
            .advisory
            .map(|a| a.version)
            .unwrap_or_default(),
    };
    let record = client
        .withdraw(WithdrawRequest {
            advisory_id: args.id,
            expected_version,
            reason: args.reason,
        })
        .await?
        .into_inner();
    print_record(&record, args.client.json);
    Ok(())
}

/// Runs `portcullis advisories …`.
pub(crate) async fn list(cmd: ListCommand) -> Result<(), Error> {
    match cmd {
        ListCommand::List {
            client,
            page_size,
            filter,
        } => {
            let mut api = AdvisoryServiceClient::new(client.connect().await?);
            let mut page_token = String::new();
            loop {
                let page = api
                    .list_advisories(ListAdvisoriesRequest {
                        page_size,
                        page_token: page_token.clone(),
                    })
                    .await?
                    .into_inner();
                for r in page.advisories.iter().filter(|r| filter.keeps(r)) {
                    if client.json {
                        println!("{}", record_json(r));
                    } else {
                        print_record(r, false);
                    }
                }
                if page.next_page_token.is_empty() {
                    return Ok(());
                }
                page_token = page.next_page_token;
            }
        }
        ListCommand::Show {
            client,
            id,
            version,
        } => {
            let mut api = AdvisoryServiceClient::new(client.connect().await?);
            let record = get(&mut api, &id, version.unwrap_or(0)).await?;
            print_record(&record, client.json);
            Ok(())
        }
        ListCommand::History { client, id } => {
            let mut api = AdvisoryServiceClient::new(client.connect().await?);
            let latest = get(&mut api, &id, 0).await?;
            let last = latest.advisory.as_ref().map_or(0, |a| a.version);
            for version in 1..last {
                let record = get(&mut api, &id, version).await?;
                print_record(&record, client.json);
            }
            print_record(&latest, client.json);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_rfc3339() {
        let t = parse_time("2030-01-02").unwrap();
        assert_eq!(t.seconds, 1_893_628_799);
        let t = parse_time("2030-01-02T00:00:00Z").unwrap();
        assert_eq!(t.seconds, 1_893_542_400);
        assert!(parse_time("tomorrow").is_err());
    }
}
