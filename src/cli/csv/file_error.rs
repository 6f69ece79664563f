//! The command error for a failed read of a CSV file.

use std::path::Path;

use crate::Error;

/// An error of the csv crate on `path`.
pub(super) fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    if e.is_io_error() {
        if let ::csv::ErrorKind::Io(io) = e.into_kind() {
            return Error::io(path, io);
        }
        return Error::Usage(format!("{}: read error", path.display()));
    }
    Error::Usage(format!("{}: {e}", path.display()))
}
