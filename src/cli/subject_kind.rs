//! The subject kinds a command line names (`--kind`, the `kind` column of `vet --csv`,
//! `--applies-to`).

use crate::proto::v1::SubjectKind;

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
