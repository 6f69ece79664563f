//! The answers the gRPC layer builds from the domain's results: what a party and an official see
//! of an advisory version, and the remembered answer of a publish; the answer to a vet
//! ([`vet`]); the notices and hits of watch streams ([`feed`]).

pub(crate) mod feed;
pub(crate) mod vet;

use prost::Message;
use prost_types::Timestamp;

use crate::domain::{AdvisoryAt, AdvisoryPage, PartyAdvisory, PublishAnswers};
use crate::proto::v1::{Advisory, AdvisoryRecord, ListAdvisoriesResponse};
use crate::store::AdvisoryVersion;

/// What a party may see of an advisory version.
pub(crate) fn party_view(v: &AdvisoryVersion, now: &Timestamp) -> Advisory {
    feed::advisory(PartyAdvisory::of(v, now))
}

/// What an official sees of an advisory version.
pub(crate) fn official_view(v: &AdvisoryVersion, now: &Timestamp) -> AdvisoryRecord {
    AdvisoryRecord {
        advisory: Some(party_view(v, now)),
        audience: v.audience.clone(),
        internal_reference: v.internal_reference.clone(),
        token_count: v.token_count,
        published_by: v.published_by.clone(),
        withdrawal_reason: v.withdraw_reason.clone(),
    }
}

/// What an official sees of an advisory version read or written at a moment.
pub(crate) fn record(a: &AdvisoryAt) -> AdvisoryRecord {
    official_view(&a.version, &a.at)
}

/// A page of ListAdvisories, with the token to continue after its last advisory.
pub(crate) fn page(p: &AdvisoryPage) -> ListAdvisoriesResponse {
    ListAdvisoriesResponse {
        advisories: p.versions.iter().map(|v| official_view(v, &p.at)).collect(),
        next_page_token: p
            .next_after
            .as_deref()
            .map(super::validate::encode_page_token)
            .unwrap_or_default(),
    }
}

/// The answer to a publish is remembered as the encoded [`AdvisoryRecord`] that was sent, so a
/// repeat answers exactly as the first call did.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RecordAnswers;

impl PublishAnswers for RecordAnswers {
    fn remember(&self, published: &AdvisoryAt) -> Vec<u8> {
        record(published).encode_to_vec()
    }

    fn advisory_ids(&self, remembered: &[u8]) -> Option<Vec<String>> {
        let record = AdvisoryRecord::decode(remembered).ok()?;
        Some(record.advisory.into_iter().map(|a| a.advisory_id).collect())
    }
}

impl RecordAnswers {
    /// The answer remembered for a publish; `None` if it does not decode (the rules have
    /// already checked that it does, with [`PublishAnswers::advisory_ids`]).
    pub(crate) fn recall(remembered: &[u8]) -> Option<AdvisoryRecord> {
        AdvisoryRecord::decode(remembered).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::state_at;
    use crate::proto::v1::AdvisoryState;

    fn version(withdrawn: bool, valid_until: i64) -> AdvisoryVersion {
        AdvisoryVersion {
            advisory_id: "adv-0123456789abcdef".into(),
            version: 2,
            withdrawn,
            valid_until: Some(Timestamp {
                seconds: valid_until,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn state_is_computed_from_the_moment() {
        let now = Timestamp {
            seconds: 100,
            nanos: 0,
        };
        assert_eq!(state_at(&version(false, 101), &now), AdvisoryState::Active);
        assert_eq!(state_at(&version(false, 100), &now), AdvisoryState::Expired);
        assert_eq!(
            state_at(&version(true, 101), &now),
            AdvisoryState::Withdrawn
        );
    }

    #[test]
    fn a_remembered_answer_round_trips() {
        let published = AdvisoryAt {
            version: version(false, 200),
            at: Timestamp {
                seconds: 100,
                nanos: 0,
            },
        };
        let remembered = RecordAnswers.remember(&published);
        assert_eq!(
            RecordAnswers.advisory_ids(&remembered),
            Some(vec!["adv-0123456789abcdef".to_string()])
        );
        assert_eq!(RecordAnswers::recall(&remembered), Some(record(&published)));
        assert_eq!(RecordAnswers.advisory_ids(&[0xff, 0xff]), None);
    }
}
