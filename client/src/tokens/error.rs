//! [`TokenError`], the one error type of token derivation and key files.

#[cfg(doc)]
use super::IdentityFields;

/// Errors of this module. Messages never contain the input value or key bytes, so they may be
/// logged.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// A given identity field is unusable; `field` is its name (`"dob"`, `"passport"`, …).
    #[error("{field}: {reason}")]
    Field {
        /// The field's name, as in [`IdentityFields`].
        field: &'static str,
        /// What is wrong with it (never the value itself).
        reason: String,
    },
    /// No identity field was given at all.
    #[error("no identity field given")]
    NoFields,
    /// A matching key (its text, id or bytes) is malformed.
    #[error("matching key: {0}")]
    Key(String),
    /// A matching key file could not be read.
    #[error("matching key file: {0}")]
    Io(String),
}

impl TokenError {
    /// A [`TokenError::Field`] naming `field`.
    pub(super) fn field(field: &'static str, reason: &str) -> Self {
        TokenError::Field {
            field,
            reason: reason.to_owned(),
        }
    }
}
