//! How a vetting answer is shown: text for people, JSON for scripts (`vet`, `vet --csv`).

use super::common::{
    advisory_json, enum_name, grade_meaning, grade_name, strength_name, tier_meaning, tier_name,
    time_text,
};
use super::linked::relation_text;
use crate::proto::v1::{RiskGrade, TokenKind, VetResponse};

/// A vetting answer as JSON (`vet --json`, and each line of `vet --csv … --json`).
pub(crate) fn response_json(r: &VetResponse) -> serde_json::Value {
    serde_json::json!({
        "request_id": r.request_id,
        "grade": grade_name(r.grade),
        "meaning": grade_meaning(RiskGrade::try_from(r.grade).unwrap_or(RiskGrade::Unspecified)),
        "subject_grade": grade_name(r.subject_grade),
        "audit_index": r.audit_index,
        "decided_at": time_text(r.decided_at.as_ref()),
        "matches": r.matches.iter().map(|m| serde_json::json!({
            "advisory": m.advisory.as_ref().map(advisory_json),
            "matched_on": m.matched_on.iter().map(|k| enum_name(*k, TokenKind::as_str_name)).collect::<Vec<_>>(),
            "strength": strength_name(m.strength),
            "via": m.via,
            "relation": relation_text(m.relation),
            "tier": tier_name(m.tier),
            "tier_meaning": tier_meaning(m.tier),
        })).collect::<Vec<_>>(),
    })
}

/// Prints a vetting answer on stdout: text for people, or one JSON object with `json`.
pub(crate) fn print_response(r: &VetResponse, json: bool) {
    if json {
        println!("{}", response_json(r));
        return;
    }
    let grade = RiskGrade::try_from(r.grade).unwrap_or(RiskGrade::Unspecified);
    println!("{}: {}", grade.as_str_name(), grade_meaning(grade));
    if r.matches.iter().any(|m| !m.via.is_empty()) {
        println!(
            "  the subject itself: {}; matches marked via came through linked subjects",
            grade_name(r.subject_grade)
        );
    }
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
        let path = if m.via.is_empty() {
            "the subject".to_owned()
        } else {
            format!("via {} ({})", m.via, relation_text(m.relation))
        };
        println!(
            "  {} v{}  {}  {}  {} match on {}  {path}",
            a.advisory_id,
            a.version,
            grade_name(a.grade),
            enum_name(a.handling, crate::proto::v1::Handling::as_str_name),
            strength_name(m.strength),
            on.join(", ")
        );
        println!("    {}: {}", tier_name(m.tier), tier_meaning(m.tier));
        println!("    {}", a.guidance);
    }
}
