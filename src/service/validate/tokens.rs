//! A token list, shared by the subject of a request and by each of its linked subjects: the
//! kinds must be known and set, digests 32 bytes, no duplicates, within the caller's limit.
//! Errors name the field path (`tokens[2].digest`, `linked[1].tokens[0]`).

use crate::domain::values::TokenKind;
use crate::domain::{Error, SubjectToken};
use crate::proto::v1::MatchToken;

/// Validates the token list at `field` (`tokens`, `linked[2].tokens`): errors name
/// `{field}[i].digest` and so on.
pub(super) fn tokens_at(
    field: &str,
    list: Vec<MatchToken>,
    max: usize,
) -> Result<Vec<SubjectToken>, Error> {
    if list.is_empty() {
        return Err(Error::invalid(field, "at least one token is required"));
    }
    if list.len() > max {
        return Err(Error::invalid(
            field,
            format!("at most {max} tokens, got {}", list.len()),
        ));
    }
    let mut out: Vec<SubjectToken> = Vec::with_capacity(list.len());
    for (i, t) in list.into_iter().enumerate() {
        let MatchToken { kind, digest } = t;
        let kind = match TokenKind::try_from(kind) {
            Ok(TokenKind::Unspecified) => {
                return Err(Error::invalid(format!("{field}[{i}].kind"), "required"))
            }
            Ok(k) => k,
            Err(_) => {
                return Err(Error::invalid(
                    format!("{field}[{i}].kind"),
                    format!("unknown value {kind}"),
                ))
            }
        };
        let digest: [u8; 32] = digest.as_slice().try_into().map_err(|_| {
            Error::invalid(
                format!("{field}[{i}].digest"),
                format!("must be 32 bytes, got {}", digest.len()),
            )
        })?;
        let token = SubjectToken { kind, digest };
        if let Some(j) = out.iter().position(|t| *t == token) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("duplicate of {field}[{j}]"),
            ));
        }
        out.push(token);
    }
    Ok(out)
}
