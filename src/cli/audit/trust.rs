//! What an auditor trusts: the pinned verifier key (and origin) that checks every checkpoint,
//! and the state file that keeps the last verified checkpoint.

use std::path::{Path, PathBuf};

use crate::audit::checkpoint::{Checkpoint, NoteVerifier};
use crate::audit::verify::VerifyError;
use crate::audit::AuditError;
use crate::config::Config;
use crate::Error;

/// The pinned verifier key and the expected origin.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KeyArgs {
    /// The log's verifier key (C2SP vkey) [default: certs-dev/log.vkey].
    #[arg(long)]
    vkey: Option<PathBuf>,
    /// The checkpoint origin to require [default: any origin signed by the key].
    #[arg(long)]
    origin: Option<String>,
}

impl KeyArgs {
    /// The pinned verifier key: `--vkey`, or the development one.
    pub(super) fn verifier(&self) -> Result<NoteVerifier, Error> {
        let path = self
            .vkey
            .clone()
            .unwrap_or_else(|| Config::dev_certs_dir().join("log.vkey"));
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        NoteVerifier::parse(&text)
            .map_err(|e| Error::Usage(format!("--vkey {}: {e}", path.display())))
    }

    /// Verifies a signed note with the pinned key.
    pub(super) fn verify(&self, verifier: &NoteVerifier, note: &str) -> Result<Checkpoint, Error> {
        verifier
            .verify(note, self.origin.as_deref())
            .map_err(|e| audit_error(VerifyError::from(e)))
    }
}

/// An audit-layer error as a command error.
pub(super) fn audit_error(e: impl Into<AuditError>) -> Error {
    Error::Audit(e.into())
}

/// The state file's checkpoint, re-verified with the pinned key.
pub(super) fn read_state(
    path: Option<&Path>,
    key: &KeyArgs,
    verifier: &NoteVerifier,
) -> Result<Option<Checkpoint>, Error> {
    let Some(path) = path else { return Ok(None) };
    match std::fs::read_to_string(path) {
        Ok(note) => key.verify(verifier, &note).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Replaces the state file with `note`, atomically (write, sync, rename).
pub(super) fn write_state(path: &Path, note: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(note.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_file_is_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        write_state(&path, "one\n").unwrap();
        write_state(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
