//! The contract's enumerations the rules speak in: grades, likelihoods, handling, subject and
//! token kinds, relations, tiers, advisory states. They are plain value types (prost enumerations with an `i32`
//! wire form), shared by the wire and the rules rather than copied; this is the one place the
//! domain's own files name them. No protobuf *message* passes into or out of the rules here:
//! the gRPC layer (`crate::service`) converts requests into [`super::input`] types and builds
//! every answer.

pub use crate::proto::v1::{
    AdvisoryState, Handling, Likelihood, MatchStrength, MatchTier, NoticeKind, Relation, RiskGrade,
    SubjectKind, TokenKind,
};
