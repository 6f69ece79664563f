//! Writing production key material: new files never overwrite, a CRL is replaced atomically.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::PkiError;

/// One file to write: its path, its bytes, and whether it is a secret (mode 0600, else 0644).
#[derive(Debug)]
pub(crate) struct NewFile {
    pub(crate) path: PathBuf,
    pub(crate) bytes: Vec<u8>,
    pub(crate) secret: bool,
}

/// Writes every file of `files`, none of which may exist: all are checked before any is
/// written, so a refused run writes nothing. Each file is created exclusively (a file that
/// appears meanwhile is still never overwritten) and synced. Returns the paths written.
pub(crate) fn write_new(files: Vec<NewFile>) -> Result<Vec<PathBuf>, PkiError> {
    for f in &files {
        if fs::symlink_metadata(&f.path).is_ok() {
            return Err(PkiError::Exists {
                path: f.path.clone(),
            });
        }
    }
    let mut written = Vec::with_capacity(files.len());
    for f in files {
        create(&f.path, &f.bytes, f.secret).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                PkiError::Exists {
                    path: f.path.clone(),
                }
            } else {
                PkiError::Io {
                    path: f.path.clone(),
                    source,
                }
            }
        })?;
        written.push(f.path);
    }
    Ok(written)
}

/// Creates `path` exclusively with the mode for `secret` and writes `bytes`.
fn create(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Replaces (or creates) the public file `path` with `bytes` atomically: a temporary file
/// beside it, synced, then renamed over it, so a gateway reloading meanwhile reads the old
/// file or the new one, never half of one.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    let tmp = path.with_file_name(name);
    let _ = fs::remove_file(&tmp);
    create(&tmp, bytes, false).map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// Reads `path` as text.
pub(crate) fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A [`PkiError::Invalid`] for `path`.
pub(crate) fn invalid(path: &Path, why: impl Into<String>) -> PkiError {
    PkiError::Invalid {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_never_overwrite_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.key");
        let b = dir.path().join("b.crt");
        let files = |x: &[u8]| {
            vec![
                NewFile {
                    path: a.clone(),
                    bytes: x.to_vec(),
                    secret: true,
                },
                NewFile {
                    path: b.clone(),
                    bytes: x.to_vec(),
                    secret: false,
                },
            ]
        };
        std::fs::write(&b, b"old").unwrap();
        // b exists: nothing is written, not even a.
        assert!(matches!(write_new(files(b"new")), Err(PkiError::Exists { path }) if path == b));
        assert!(!a.exists());
        assert_eq!(std::fs::read(&b).unwrap(), b"old");
        std::fs::remove_file(&b).unwrap();
        assert_eq!(
            write_new(files(b"new")).unwrap(),
            vec![a.clone(), b.clone()]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&a), 0o600);
            assert_eq!(mode(&b), 0o644);
        }
        replace(&b, b"newer").unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"newer");
        assert!(!dir.path().join("b.crt.new").exists());
    }
}
