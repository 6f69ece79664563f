//! The input line where each record of a `vet --csv` file starts (docs/csv.md: "`N` is the
//! line of the file where the row starts"), whatever the file's line endings.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The line where each record of the input starts, counted on a second reader of the same
/// bytes. The csv crate's own line of a record is where its parser resumed, which after a CRLF
/// is still the previous line (the `\n` is consumed with the next record), so every line of a
/// Windows file would be reported one too low.
pub(crate) struct LineCounter {
    /// The input's bytes.
    bytes: BufReader<File>,
    /// How many bytes were consumed.
    offset: u64,
    /// The line of the byte at `offset` (1-based).
    line: u64,
}

impl LineCounter {
    /// A counter at the start of `path`.
    pub(crate) fn open(path: &Path) -> std::io::Result<LineCounter> {
        Ok(LineCounter {
            bytes: BufReader::new(File::open(path)?),
            offset: 0,
            line: 1,
        })
    }

    /// The line of the record the csv parser began at byte `start`: the line of its first
    /// byte that is not a line break (a record never starts with one; the blank lines and the
    /// `\n` of a CRLF before it are not part of it). `start` never decreases.
    pub(crate) fn line_of(&mut self, start: u64) -> std::io::Result<u64> {
        loop {
            let buf = self.bytes.fill_buf()?;
            if buf.is_empty() {
                return Ok(self.line);
            }
            let mut used = 0;
            let mut found = false;
            for b in buf {
                if self.offset + used as u64 >= start && !matches!(b, b'\r' | b'\n') {
                    found = true;
                    break;
                }
                if *b == b'\n' {
                    self.line += 1;
                }
                used += 1;
            }
            self.bytes.consume(used);
            self.offset += used as u64;
            if found {
                return Ok(self.line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of every data record of `bytes` as the reader reports it.
    fn lines_of(bytes: &[u8]) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        std::fs::write(&p, bytes).unwrap();
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_path(&p)
            .unwrap();
        let mut counter = LineCounter::open(&p).unwrap();
        let mut record = ::csv::ByteRecord::new();
        let mut lines = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            lines.push(counter.line_of(record.position().unwrap().byte()).unwrap());
        }
        lines
    }

    #[test]
    fn line_numbers_are_those_of_the_file_whatever_its_line_endings() {
        let lf = b"kind,name\nstaff,a\nstaff,b\n".to_vec();
        assert_eq!(lines_of(&lf), vec![2, 3]);
        let crlf = b"kind,name\r\nstaff,a\r\nstaff,b\r\n".to_vec();
        assert_eq!(lines_of(&crlf), vec![2, 3]);
        let bom = b"\xEF\xBB\xBFkind,name\r\nstaff,a\r\nstaff,b".to_vec();
        assert_eq!(lines_of(&bom), vec![2, 3]);
        // Blank lines are skipped; a quoted cell over two lines moves the next row down.
        let mixed = b"kind,name\r\n\r\nstaff,\"a\r\nb\"\r\n\nstaff,c\n".to_vec();
        assert_eq!(lines_of(&mixed), vec![3, 6]);
    }
}
