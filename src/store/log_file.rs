//! The audit log's blocks live in one append-only file, `audit.log`, beside sled's files in the
//! data directory; sled keeps, per block, where it is (a [`Pointer`]) and, in the same atomic
//! batch, the file's committed length.
//!
//! Why a file: sled 0.34 keeps every page a scan reads in memory (its cache evicts only after
//! tens of thousands of further page accesses), so replaying a log of a million entries from sled
//! held the whole log in RSS, and sled's start-up time grows with the pages it holds. A block in
//! the file is read with one positioned read into a buffer that is freed after use, whatever the
//! log's length.
//!
//! Order of a write, so that sled never refers to bytes that are not durable:
//! 1. the blocks are written after the committed end and the file is synced;
//! 2. the caller applies its sled batch (block pointers, the new committed length, and the state
//!    changes the entries record);
//! 3. only then does the committed end move.
//!
//! A crash between 1 and 2 leaves bytes after the committed length that no entry refers to and
//! no caller was told about: [`LogFile::open`] cuts them off. A file shorter than the committed
//! length has lost acknowledged entries, and opening it fails.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::StoreError;

/// The file's name in the data directory.
pub(super) const FILE_NAME: &str = "audit.log";

/// Where a block is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pointer {
    /// Byte offset of the block's first byte.
    pub offset: u64,
    /// The block's length in bytes.
    pub len: u32,
}

impl Pointer {
    /// Encoded length: offset (u64 BE), then length (u32 BE).
    const ENCODED_LEN: usize = 12;

    pub(super) fn encode(self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.offset.to_be_bytes());
        out[8..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Pointer, String> {
        let arr: [u8; Self::ENCODED_LEN] = bytes.try_into().map_err(|_| {
            format!(
                "a block pointer is {} bytes, not {}",
                Self::ENCODED_LEN,
                bytes.len()
            )
        })?;
        let (offset, len) = arr.split_at(8);
        Ok(Pointer {
            // Both conversions are infallible: the slices are 8 and 4 bytes by construction.
            offset: u64::from_be_bytes(offset.try_into().unwrap_or_default()),
            len: u32::from_be_bytes(len.try_into().unwrap_or_default()),
        })
    }

    fn end(self) -> Option<u64> {
        self.offset.checked_add(u64::from(self.len))
    }
}

/// The append-only file of audit blocks.
#[derive(Debug)]
pub(super) struct LogFile {
    file: File,
    path: PathBuf,
    /// The committed length: every byte before it is referred to by sled. Readers only load
    /// it, so they never wait for a write's sync.
    end: AtomicU64,
    /// Serialises appends (the audit writer is the only one, tamper helpers aside).
    append_lock: Mutex<()>,
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::LogFile {
        path: path.display().to_string(),
        source,
    }
}

impl LogFile {
    /// Opens (or creates) the file in `dir`, whose committed length sled says is `committed`:
    /// cuts off any unreferenced tail, and fails if bytes before `committed` are missing.
    pub(super) fn open(dir: &Path, committed: u64) -> Result<LogFile, StoreError> {
        let path = dir.join(FILE_NAME);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        if !existed {
            // Make the new file's name durable with the directory.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error(dir, e))?;
        }
        let len = file.metadata().map_err(|e| io_error(&path, e))?.len();
        if len < committed {
            return Err(StoreError::Corrupt {
                key: hex::encode(FILE_NAME),
                reason: format!(
                    "{} is {len} bytes but the store committed {committed}: audit entries were \
                     removed from the end of the log",
                    path.display()
                ),
            });
        }
        if len > committed {
            tracing::warn!(
                bytes = len - committed,
                "cutting off an audit log tail that no entry refers to (a write interrupted \
                 before it was committed)"
            );
            file.set_len(committed)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error(&path, e))?;
        }
        Ok(LogFile {
            file,
            path,
            end: AtomicU64::new(committed),
            append_lock: Mutex::new(()),
        })
    }

    /// Writes `blocks` after the committed end and makes them durable, then calls `commit` with
    /// their pointers and the file's new length. The committed end stays moved only if `commit`
    /// succeeds; otherwise the next append writes over the same bytes.
    pub(super) fn append<T>(
        &self,
        blocks: &[Vec<u8>],
        commit: impl FnOnce(&[Pointer], u64) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A poisoned lock only means a panic elsewhere while it was held; the committed end is
        // changed only after a successful commit, so it is still right.
        let _appending = self.append_lock.lock().unwrap_or_else(|e| e.into_inner());
        let start = self.end.load(Ordering::Acquire);
        let mut bytes = Vec::with_capacity(blocks.iter().map(Vec::len).sum());
        let mut pointers = Vec::with_capacity(blocks.len());
        let mut offset = start;
        for block in blocks {
            let len = u32::try_from(block.len())
                .map_err(|_| StoreError::Encoding(format!("a block of {} bytes", block.len())))?;
            pointers.push(Pointer { offset, len });
            offset += u64::from(len);
            bytes.extend_from_slice(block);
        }
        self.file
            .write_all_at(&bytes, start)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io_error(&self.path, e))?;
        // Readable before sled refers to it, so that a reader who finds a new pointer in sled
        // never finds it past the end; back to `start` if the commit fails, when nothing refers
        // to it.
        self.end.store(offset, Ordering::Release);
        commit(&pointers, offset).inspect_err(|_| self.end.store(start, Ordering::Release))
    }

    /// Reads the block at `pointer`, which must lie within the committed length.
    pub(super) fn read(&self, pointer: Pointer) -> Result<Vec<u8>, StoreError> {
        let committed = self.end.load(Ordering::Acquire);
        if pointer.end().is_none_or(|end| end > committed) {
            return Err(StoreError::Corrupt {
                key: hex::encode(FILE_NAME),
                reason: format!(
                    "a block at bytes [{}, +{}) lies past the log's committed length {committed}",
                    pointer.offset, pointer.len
                ),
            });
        }
        let mut buf = vec![0u8; pointer.len as usize];
        self.file
            .read_exact_at(&mut buf, pointer.offset)
            .map_err(|e| io_error(&self.path, e))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_round_trip_and_reject_wrong_lengths() {
        let p = Pointer {
            offset: 1 << 40,
            len: 65_000,
        };
        assert_eq!(Pointer::decode(&p.encode()), Ok(p));
        assert!(Pointer::decode(&[0; 11]).is_err());
        assert!(Pointer::decode(&[0; 13]).is_err());
    }

    #[test]
    fn appends_commit_only_on_success_and_reopen_cuts_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(dir.path(), 0).unwrap();
        let (pointers, end) = log
            .append(&[b"abc".to_vec(), b"defg".to_vec()], |p, end| {
                Ok((p.to_vec(), end))
            })
            .unwrap();
        assert_eq!(end, 7);
        assert_eq!(log.read(pointers[1]).unwrap(), b"defg");
        // A failed commit leaves the end where it was: the next append writes over its bytes.
        let failed: Result<(), _> =
            log.append(&[b"lost".to_vec()], |_, _| Err(StoreError::Injected));
        assert!(failed.is_err());
        let past = Pointer { offset: 7, len: 4 };
        assert!(matches!(log.read(past), Err(StoreError::Corrupt { .. })));
        let (p, end) = log
            .append(&[b"xy".to_vec()], |p, end| Ok((p[0], end)))
            .unwrap();
        assert_eq!((p.offset, end), (7, 9));
        assert_eq!(log.read(p).unwrap(), b"xy");
        drop(log);

        // The failed write left "lost" on disk past byte 9: reopening at 9 cuts it off.
        let path = dir.path().join(FILE_NAME);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 11);
        let log = LogFile::open(dir.path(), 9).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 9);
        assert_eq!(log.read(p).unwrap(), b"xy");
        drop(log);

        // A file shorter than what the store committed has lost entries.
        assert!(matches!(
            LogFile::open(dir.path(), 10),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
