//! The notices and hits sent on watch streams, built from the rules' stored values. The stored
//! bytes are the encoding of the `Notice` and `Hit` built here (the tests below check it), so
//! data directories written before these values existed read the same.

use crate::domain::{PartyAdvisory, StoredHit, StoredNotice};
use crate::proto::v1::{Advisory, Hit, Notice};

/// What a party sees of an advisory version.
pub(crate) fn advisory(a: PartyAdvisory) -> Advisory {
    Advisory {
        advisory_id: a.advisory_id,
        version: a.version,
        grade: a.grade,
        likelihood: a.likelihood,
        handling: a.handling,
        guidance: a.guidance,
        applies_to: a.applies_to,
        issued_at: a.issued_at,
        valid_until: a.valid_until,
        state: a.state,
    }
}

/// A notice as sent to its party.
pub(crate) fn notice(n: StoredNotice) -> Notice {
    let StoredNotice {
        cursor,
        request_id,
        kind,
        advisory: party_advisory,
        case_reference,
        via,
        // The gateway's own record of when it was stored; not the party's to see.
        audit_index: _,
    } = n;
    Notice {
        cursor,
        request_id,
        kind,
        advisory: party_advisory.map(advisory),
        case_reference,
        via,
    }
}

/// A hit as sent to its official unit.
pub(crate) fn hit(h: StoredHit) -> Hit {
    Hit {
        cursor: h.cursor,
        advisory_id: h.advisory_id,
        advisory_version: h.advisory_version,
        party: h.party,
        subject_kind: h.subject_kind,
        matched_on: h.matched_on,
        at: h.at,
        audit_index: h.audit_index,
        relation: h.relation,
        tier: h.tier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::{
        AdvisoryState, Handling, Likelihood, MatchTier, NoticeKind, Relation, RiskGrade,
        SubjectKind, TokenKind,
    };
    use prost::Message;
    use prost_types::Timestamp;

    fn at(seconds: i64) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos: 7 })
    }

    /// Every field set, so a field missing or mis-tagged on either side shows.
    fn stored_notice() -> StoredNotice {
        StoredNotice {
            cursor: 3,
            request_id: "r-1".into(),
            kind: NoticeKind::Revised as i32,
            advisory: Some(PartyAdvisory {
                advisory_id: "adv-0123456789abcdef".into(),
                version: 2,
                grade: RiskGrade::High as i32,
                likelihood: Likelihood::Unlikely as i32,
                handling: Handling::TlpAmber as i32,
                guidance: "decline".into(),
                applies_to: vec![
                    SubjectKind::DonorIndividual as i32,
                    SubjectKind::Candidate as i32,
                ],
                issued_at: at(100),
                valid_until: at(200),
                state: AdvisoryState::Active as i32,
            }),
            case_reference: "case-9".into(),
            via: "director".into(),
            audit_index: 0,
        }
    }

    fn stored_hit() -> StoredHit {
        StoredHit {
            cursor: (5 << 24) | 1,
            advisory_id: "adv-0123456789abcdef".into(),
            advisory_version: 2,
            party: "alpha".into(),
            subject_kind: SubjectKind::DonorOrganisation as i32,
            matched_on: vec![TokenKind::Email as i32, TokenKind::TravelDocument as i32],
            at: at(150),
            audit_index: 5,
            relation: Relation::Officer as i32,
            tier: MatchTier::Exact as i32,
        }
    }

    #[test]
    fn stored_notices_are_encoded_notices() {
        let stored = stored_notice();
        let bytes = stored.encode_to_vec();
        let sent = notice(stored.clone());
        assert_eq!(sent.encode_to_vec(), bytes);
        assert_eq!(Notice::decode(bytes.as_slice()).unwrap(), sent);
        assert_eq!(
            StoredNotice::decode(sent.encode_to_vec().as_slice()).unwrap(),
            stored
        );
        // With the sweep's audit index: the same notice is sent, without it.
        let indexed = StoredNotice {
            audit_index: 41,
            ..stored
        };
        let bytes = indexed.encode_to_vec();
        assert_eq!(Notice::decode(bytes.as_slice()).unwrap(), sent);
        assert_eq!(notice(indexed), sent);
    }

    #[test]
    fn stored_hits_are_encoded_hits() {
        let stored = stored_hit();
        let bytes = stored.encode_to_vec();
        let sent = hit(stored.clone());
        assert_eq!(sent.encode_to_vec(), bytes);
        assert_eq!(Hit::decode(bytes.as_slice()).unwrap(), sent);
        assert_eq!(
            StoredHit::decode(sent.encode_to_vec().as_slice()).unwrap(),
            stored
        );
    }
}
