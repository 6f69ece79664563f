//! The answer to a vet, built from the rules' [`Vetted`], and the form in which it is
//! remembered for idempotent repeats: the encoded [`VetResponse`] that was sent, without its
//! audit index and time (stored beside it at commit).

use prost::Message;

use super::party_view;
use crate::domain::{Decided, RememberedVet, VetAnswers, VetMatch, VetOutcome, Vetted};
use crate::proto::v1::{AdvisoryMatch, RiskGrade, VetResponse};

/// What a party sees of one match.
fn advisory_match(m: &VetMatch) -> AdvisoryMatch {
    AdvisoryMatch {
        advisory: Some(party_view(&m.advisory.version, &m.advisory.at)),
        matched_on: m.matched_on.iter().map(|k| *k as i32).collect(),
        strength: m.strength as i32,
        via: m.via.clone(),
        relation: m.relation as i32,
        tier: m.tier as i32,
    }
}

/// The answer to a new request; without `decided` it is the form remembered before commit.
pub(crate) fn vet_response(outcome: &VetOutcome, decided: Option<&Decided>) -> VetResponse {
    VetResponse {
        request_id: outcome.request_id.clone(),
        grade: outcome.grade as i32,
        matches: outcome.matches.iter().map(advisory_match).collect(),
        audit_index: decided.map_or(0, |d| d.audit_index),
        decided_at: decided.map(|d| d.at),
        error: None,
        subject_grade: outcome.subject_grade as i32,
    }
}

/// The answer to a vet, new or repeated; `None` if a remembered answer does not decode (the
/// rules have already checked that it does, with [`VetAnswers::summary`]).
pub(crate) fn vetted(v: Vetted) -> Option<VetResponse> {
    match v {
        Vetted::New { outcome, decided } => Some(vet_response(&outcome, Some(&decided))),
        Vetted::Repeat {
            remembered,
            decided,
        } => {
            let mut original = VetResponse::decode(remembered.as_slice()).ok()?;
            if let Some(d) = decided {
                // Encoded before its audit index was known: the stamp carries it.
                original.audit_index = d.audit_index;
                original.decided_at = Some(d.at);
            }
            if original.subject_grade == RiskGrade::Unspecified as i32 {
                // Remembered before linked subjects existed: every match was on the subject.
                original.subject_grade = original.grade;
            }
            Some(original)
        }
    }
}

/// The answer to a vet is remembered as the encoded [`VetResponse`] sent, less its stamp.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResponseAnswers;

impl VetAnswers for ResponseAnswers {
    fn remember(&self, outcome: &VetOutcome) -> Vec<u8> {
        vet_response(outcome, None).encode_to_vec()
    }

    fn summary(&self, remembered: &[u8]) -> Option<RememberedVet> {
        let r = VetResponse::decode(remembered).ok()?;
        Some(RememberedVet {
            grade: r.grade,
            advisory_ids: r
                .matches
                .iter()
                .filter_map(|m| m.advisory.as_ref().map(|a| a.advisory_id.clone()))
                .collect(),
            audit_index: r.audit_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::{MatchStrength, MatchTier, Relation, TokenKind};
    use crate::domain::AdvisoryAt;
    use crate::store::AdvisoryVersion;
    use prost_types::Timestamp;

    fn outcome() -> VetOutcome {
        VetOutcome {
            request_id: "v-1".into(),
            grade: RiskGrade::High,
            subject_grade: RiskGrade::High,
            matches: vec![VetMatch {
                advisory: AdvisoryAt {
                    version: AdvisoryVersion {
                        advisory_id: "adv-0123456789abcdef".into(),
                        version: 1,
                        grade: RiskGrade::High as i32,
                        ..Default::default()
                    },
                    at: Timestamp {
                        seconds: 100,
                        nanos: 0,
                    },
                },
                matched_on: vec![TokenKind::Email],
                strength: MatchStrength::Strong,
                tier: MatchTier::Exact,
                via: String::new(),
                relation: Relation::Unspecified,
            }],
        }
    }

    #[test]
    fn a_remembered_answer_is_the_sent_one_less_its_stamp() {
        let decided = Decided {
            audit_index: 7,
            at: Timestamp {
                seconds: 101,
                nanos: 5,
            },
        };
        let sent = vet_response(&outcome(), Some(&decided));
        let remembered = ResponseAnswers.remember(&outcome());
        let summary = ResponseAnswers.summary(&remembered).unwrap();
        assert_eq!(summary.grade, RiskGrade::High as i32);
        assert_eq!(summary.advisory_ids, vec!["adv-0123456789abcdef"]);
        assert_eq!(summary.audit_index, 0);
        let repeat = vetted(Vetted::Repeat {
            remembered,
            decided: Some(decided),
        });
        assert_eq!(repeat, Some(sent));
        assert_eq!(ResponseAnswers.summary(&[0xff, 0xff]), None);
    }

    #[test]
    fn an_answer_remembered_before_linked_subjects_gets_its_subject_grade() {
        let mut old = vet_response(&outcome(), None);
        old.subject_grade = RiskGrade::Unspecified as i32;
        old.audit_index = 3;
        let repeat = vetted(Vetted::Repeat {
            remembered: old.encode_to_vec(),
            decided: None,
        })
        .unwrap();
        assert_eq!(repeat.subject_grade, RiskGrade::High as i32);
        assert_eq!(repeat.audit_index, 3);
    }
}
