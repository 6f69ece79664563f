//! What the unit tests of the token modules share: the vectors' key, a date and a field error.

use time::{Date, Month};

use super::{MatchingKey, TokenError};

/// The key of `tests/data/token-vectors.json` (id `vectors-1`, bytes 0, 1, …, 31).
pub(super) fn key() -> MatchingKey {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = i as u8;
    }
    MatchingKey::new("vectors-1", bytes).unwrap()
}

/// A calendar date that exists.
pub(super) fn day(y: i32, m: Month, d: u8) -> Date {
    Date::from_calendar_date(y, m, d).unwrap()
}

/// The field and reason of a [`TokenError::Field`]; panics on anything else.
pub(super) fn field_err(r: Result<String, TokenError>) -> (&'static str, String) {
    match r {
        Err(TokenError::Field { field, reason }) => (field, reason),
        other => panic!("expected a field error, got {other:?}"),
    }
}
