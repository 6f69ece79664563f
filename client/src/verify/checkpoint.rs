//! C2SP `tlog-checkpoint` bodies: the log's origin, its tree size, its root hash and any
//! extension lines, as [`NoteVerifier`] returns them once the
//! signature is checked.
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//! [extension lines]
//! ```
//!
//! The text must have at least three lines, the size decimal without sign or leading zeros, the
//! root canonical standard base64 of exactly 32 bytes. Extension lines are accepted and returned
//! in [`Checkpoint::extensions`] for a verifier to show; Portcullis writes none, and nothing is
//! ever concluded from them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::merkle::Hash;
use super::note::{NoteError, NoteVerifier};

/// A checkpoint body: the log's origin, its tree size and the root hash at that size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `portcullis.dev/audit` (see [`validate_origin`]).
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 9162 root hash of the first `size` leaves.
    pub root: Hash,
    /// Extension lines after the root hash, verbatim and in order (C2SP tlog-checkpoint). They
    /// are covered by the signature but their meaning is the log's own: show them, never trust
    /// them. Portcullis signs none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `"<origin>\n<size>\n<base64 std root>\n"`, then each extension line.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }
}

/// Checks that an origin can be the first line of a checkpoint: non-empty, no control characters
/// (in particular no newline). Check the configured origin with it once: a checkpoint signed with
/// an invalid origin is rejected by every verifier.
pub fn validate_origin(origin: &str) -> Result<(), NoteError> {
    if origin.is_empty() || origin.chars().any(|c| c.is_control()) {
        return Err(NoteError::InvalidOrigin {
            origin: origin.to_owned(),
        });
    }
    Ok(())
}

/// Parses a checkpoint text (origin, size, root, then any extension lines; each line ending in
/// a newline).
pub(crate) fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let [origin, size, root, ref extensions @ ..] = lines[..] else {
        return Err(NoteError::WrongLineCount { found: lines.len() });
    };
    validate_origin(origin)?;
    let size_ok = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && (size == "0" || !size.starts_with('0'));
    let size = size
        .parse::<u64>()
        .ok()
        .filter(|_| size_ok)
        .ok_or_else(|| NoteError::InvalidTreeSize {
            found: size.to_owned(),
        })?;
    let decoded = STANDARD
        .decode(root)
        .map_err(|_| NoteError::RootNotBase64 {
            found: root.to_owned(),
        })?;
    let got = decoded.len();
    let root: Hash = decoded
        .try_into()
        .map_err(|_| NoteError::RootLength { got })?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
        extensions: extensions
            .iter()
            .enumerate()
            .map(|(i, l)| match l.is_empty() {
                true => Err(NoteError::EmptyExtensionLine { line: i + 4 }),
                false => Ok((*l).to_owned()),
            })
            .collect::<Result<_, _>>()?,
    })
}

/// Verifying a signed checkpoint is a signed note's check ([`NoteVerifier::verified_text`])
/// followed by this module's reading of the body.
impl NoteVerifier {
    /// Parses and verifies a signed checkpoint; returns the checkpoint if a signature line by
    /// this key verifies (signatures by other keys are ignored).
    ///
    /// Rejects: control characters, no blank line before the signatures, malformed or too many
    /// signature lines, no signature by this key, a signature by this key that does not verify,
    /// a text without origin / size / root lines, a size that is not plain decimal, a root
    /// that is not canonical base64 of 32 bytes, and an origin other than `expected_origin`
    /// (when given).
    pub fn verify(
        &self,
        note: &str,
        expected_origin: Option<&str>,
    ) -> Result<Checkpoint, NoteError> {
        let text = self.verified_text(note)?;
        let checkpoint = parse_body(text)?;
        if let Some(expected) = expected_origin {
            if checkpoint.origin != expected {
                return Err(NoteError::OriginMismatch {
                    expected: expected.to_owned(),
                    found: checkpoint.origin,
                });
            }
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_validation() {
        assert_eq!(validate_origin("portcullis.dev/audit"), Ok(()));
        for bad in ["", "a\nb", "a\tb", "a\u{7f}"] {
            assert_eq!(
                validate_origin(bad),
                Err(NoteError::InvalidOrigin {
                    origin: bad.to_owned()
                })
            );
        }
    }
}
