//! Audit entries for people and for other tools: one readable line, or one JSON object with
//! every field. Certificate serials are shown as the CA issued them (decimal), whatever the
//! entry stores (the DER serial's bytes in hex).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::common::{enum_name, grade_name, time_text};
use crate::audit::AuditEntry;
use crate::proto::v1::{SubjectKind, TokenKind};

/// The name of a gRPC status code, e.g. `Ok`, `NotFound`.
pub(crate) fn code_name(code: i32) -> String {
    format!("{:?}", tonic::Code::from_i32(code))
}

/// A certificate serial stored as big-endian hex bytes, in decimal (as a CA lists it). Text
/// that is not hex is returned as it is.
pub(crate) fn serial_decimal(hex_serial: &str) -> String {
    let Ok(bytes) = hex::decode(hex_serial) else {
        return hex_serial.to_owned();
    };
    // Repeated division by 10 of the big-endian number; serials are at most 20 bytes.
    let mut number: Vec<u8> = bytes.into_iter().skip_while(|b| *b == 0).collect();
    if number.is_empty() {
        return "0".to_owned();
    }
    let mut digits = Vec::new();
    while !number.is_empty() {
        let mut rest = 0u32;
        for byte in number.iter_mut() {
            let value = (rest << 8) | u32::from(*byte);
            *byte = (value / 10) as u8; // value < 2560, so the quotient fits in a byte
            rest = value % 10;
        }
        digits.push(b'0' + rest as u8);
        let zeros = number.iter().take_while(|b| **b == 0).count();
        number.drain(..zeros);
    }
    digits.iter().rev().map(|d| char::from(*d)).collect()
}

/// One readable line per entry.
pub(crate) fn entry_line(e: &AuditEntry) -> String {
    let actor = e.actor.clone().unwrap_or_default();
    let who = if actor.role.is_empty() {
        format!("(unidentified {})", actor.uri)
    } else {
        format!("{}/{}/{}", actor.role, actor.org, actor.user)
    };
    let mut line = format!(
        "{:>8}  {}  {}  {}  {}",
        e.index,
        time_text(e.at.as_ref()),
        who,
        e.method,
        code_name(e.code)
    );
    if !actor.cert_serial.is_empty() {
        line.push_str(&format!("  cert={}", serial_decimal(&actor.cert_serial)));
    }
    if !e.request_id.is_empty() {
        line.push_str(&format!("  request={}", e.request_id));
    }
    if e.grade != 0 {
        line.push_str(&format!("  grade={}", grade_name(e.grade)));
    }
    if !e.advisory_ids.is_empty() {
        line.push_str(&format!("  advisories={}", e.advisory_ids.join(",")));
    }
    if !e.tokens.is_empty() {
        line.push_str(&format!("  tokens={}", e.tokens.len()));
    }
    if !e.detail.is_empty() {
        line.push_str(&format!("  \"{}\"", e.detail.escape_debug()));
    }
    line
}

/// One JSON object per entry, every field. `cert_serial` is decimal (as the CA issued it),
/// `cert_serial_hex` the stored bytes.
pub(crate) fn entry_json(e: &AuditEntry) -> serde_json::Value {
    let actor = e.actor.clone().unwrap_or_default();
    serde_json::json!({
        "index": e.index,
        "at": time_text(e.at.as_ref()),
        "actor": {
            "uri": actor.uri,
            "role": actor.role,
            "org": actor.org,
            "user": actor.user,
            "cert_sha256": hex::encode(&actor.cert_sha256),
            "cert_serial": serial_decimal(&actor.cert_serial),
            "cert_serial_hex": actor.cert_serial,
        },
        "method": e.method,
        "code": e.code,
        "code_name": code_name(e.code),
        "detail": e.detail,
        "request_id": e.request_id,
        "subject_kind": enum_name(e.subject_kind, SubjectKind::as_str_name),
        "tokens": e.tokens.iter().map(|t| serde_json::json!({
            "kind": enum_name(t.kind, TokenKind::as_str_name),
            "digest": hex::encode(&t.digest),
        })).collect::<Vec<_>>(),
        "grade": grade_name(e.grade),
        "advisory_ids": e.advisory_ids,
        "peer": e.peer,
    })
}

/// A replayed record for other tools: the index, the exact leaf (base64), its SHA-256 leaf
/// hash (hex), and the entry decoded from the leaf.
pub(crate) fn record_json(index: u64, leaf: &[u8], entry: &AuditEntry) -> serde_json::Value {
    serde_json::json!({
        "index": index,
        "leaf": STANDARD.encode(leaf),
        "leaf_hash": STANDARD.encode(crate::audit::merkle::leaf_hash(leaf)),
        "entry": entry_json(entry),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1::Actor;

    #[test]
    fn serials_in_decimal_as_the_ca_issued_them() {
        assert_eq!(serial_decimal("044d"), "1101");
        assert_eq!(serial_decimal("03e8"), "1000");
        assert_eq!(serial_decimal("00"), "0");
        assert_eq!(serial_decimal(""), "0");
        assert_eq!(serial_decimal("ff"), "255");
        assert_eq!(
            serial_decimal("ffffffffffffffffffffffffffffffff"),
            u128::MAX.to_string()
        );
        assert_eq!(
            serial_decimal("0100000000000000000000000000000000"),
            "340282366920938463463374607431768211456"
        );
        assert_eq!(serial_decimal("not hex"), "not hex");
    }

    #[test]
    fn lines_and_json_show_decimal_serials_and_leaves() {
        let entry = AuditEntry {
            index: 4,
            actor: Some(Actor {
                role: "party".into(),
                org: "alpha".into(),
                user: "alice".into(),
                cert_serial: "044d".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(entry_line(&entry).contains("cert=1101"));
        let json = entry_json(&entry);
        assert_eq!(json["actor"]["cert_serial"], "1101");
        assert_eq!(json["actor"]["cert_serial_hex"], "044d");
        let record = record_json(4, b"leaf", &entry);
        assert_eq!(record["leaf"], STANDARD.encode(b"leaf"));
        assert_eq!(record["entry"]["index"], 4);
    }
}
