//! Audit leaves are stored in blocks: one block in the log file (`log_file.rs`) holds a run
//! of consecutive leaves, each followed by the hashes of the complete Merkle subtrees it
//! completes.
//!
//! sled spends about the same CPU on every key it inserts, whatever the value's size, so a
//! block per group commit costs one small sled insert (its pointer) where a key per leaf and per
//! node cost three per entry. A block is written once, by the audit writer, and never changed.
//!
//! Encoding (all integers big-endian):
//!
//! ```text
//! block  = version:u8 (1)  count:u32  record*count
//! record = len:u32  leaf:len bytes  nodes:u8  hash:32 bytes * nodes
//! ```
//!
//! The block's key carries the index of its first leaf; record `i` is leaf `first + i`. Its
//! hashes are those of subtrees `(0, first + i)`, `(1, (first + i) >> 1)`, … , lowest level
//! first: the leaf completes one subtree per level up to the number of trailing one bits of its
//! index.

/// The version byte of the encoding.
const VERSION: u8 = 1;

/// At most this many leaves go into one block.
pub(super) const MAX_LEAVES: usize = 256;

/// A block is closed before it grows past this many bytes (unless it holds a single leaf), so
/// that reading one leaf or node (one block read) stays cheap.
pub(super) const MAX_BYTES: usize = 64 * 1024;

/// One audit leaf and the hashes of the complete Merkle subtrees it completes, lowest level
/// first (the first is the leaf's own hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRecord {
    /// The exact bytes of the leaf (the encoded audit entry).
    pub leaf: Vec<u8>,
    /// The hashes of the subtrees the leaf completes, level 0 first.
    pub nodes: Vec<[u8; 32]>,
}

impl LeafRecord {
    /// The stored hash of the subtree at `level` this leaf completes (level 0: the leaf's own).
    pub fn node(&self, level: u8) -> Option<[u8; 32]> {
        self.nodes.get(usize::from(level)).copied()
    }

    fn encoded_len(&self) -> usize {
        4 + self.leaf.len() + 1 + 32 * self.nodes.len()
    }
}

/// Splits `records` into runs that each fit one block.
pub(super) fn split(records: &[LeafRecord]) -> Vec<&[LeafRecord]> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut bytes = 5;
    for (i, r) in records.iter().enumerate() {
        let len = r.encoded_len();
        if i > start && (i - start == MAX_LEAVES || bytes + len > MAX_BYTES) {
            runs.push(&records[start..i]);
            start = i;
            bytes = 5;
        }
        bytes += len;
    }
    if start < records.len() {
        runs.push(&records[start..]);
    }
    runs
}

/// Encodes `records` as one block. Fails only if a leaf or a count does not fit the encoding.
pub(super) fn encode(records: &[LeafRecord]) -> Result<Vec<u8>, String> {
    let size: usize = 5 + records.iter().map(LeafRecord::encoded_len).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.push(VERSION);
    let count = u32::try_from(records.len()).map_err(|_| "too many leaves in a block")?;
    out.extend_from_slice(&count.to_be_bytes());
    for r in records {
        let len = u32::try_from(r.leaf.len()).map_err(|_| "leaf too large")?;
        let nodes = u8::try_from(r.nodes.len()).map_err(|_| "too many node hashes")?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&r.leaf);
        out.push(nodes);
        for h in &r.nodes {
            out.extend_from_slice(h);
        }
    }
    Ok(out)
}

/// Decodes a whole block.
pub(super) fn decode(bytes: &[u8]) -> Result<Vec<LeafRecord>, String> {
    let mut reader = Reader::new(bytes)?;
    // The count is read from disk: bound the allocation by what the bytes can hold.
    let mut out = Vec::with_capacity(reader.remaining.min(bytes.len() / 5));
    while let Some(r) = reader.next_record()? {
        out.push(LeafRecord {
            leaf: r.leaf.to_vec(),
            nodes: r.nodes.chunks_exact(32).map(to_hash).collect(),
        });
    }
    Ok(out)
}

/// The record at `position` of a block, if the block has one there.
pub(super) fn record_at(bytes: &[u8], position: u64) -> Result<Option<RecordRef<'_>>, String> {
    let mut reader = Reader::new(bytes)?;
    let mut i = 0u64;
    while let Some(r) = reader.next_record()? {
        if i == position {
            return Ok(Some(r));
        }
        i += 1;
    }
    Ok(None)
}

/// A record borrowed from an encoded block.
#[derive(Debug, Clone, Copy)]
pub(super) struct RecordRef<'a> {
    /// The leaf's bytes.
    pub(super) leaf: &'a [u8],
    /// The node hashes, 32 bytes each, level 0 first.
    nodes: &'a [u8],
}

impl RecordRef<'_> {
    /// The stored hash of the subtree at `level` this leaf completes.
    pub(super) fn node(&self, level: u8) -> Option<[u8; 32]> {
        let at = usize::from(level) * 32;
        self.nodes.get(at..at + 32).map(to_hash)
    }
}

fn to_hash(bytes: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h.copy_from_slice(bytes);
    h
}

struct Reader<'a> {
    rest: &'a [u8],
    remaining: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, String> {
        let (&version, rest) = bytes.split_first().ok_or("empty block")?;
        if version != VERSION {
            return Err(format!("unknown block version {version}"));
        }
        let (count, rest) = take(rest, 4).map_err(|_| "truncated block header")?;
        let count = u32::from_be_bytes([count[0], count[1], count[2], count[3]]);
        Ok(Reader {
            rest,
            remaining: count as usize,
        })
    }

    fn next_record(&mut self) -> Result<Option<RecordRef<'a>>, String> {
        if self.remaining == 0 {
            return if self.rest.is_empty() {
                Ok(None)
            } else {
                Err(format!("{} bytes after the last leaf", self.rest.len()))
            };
        }
        let (len, rest) = take(self.rest, 4)?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (leaf, rest) = take(rest, len)?;
        let (nodes, rest) = take(rest, 1)?;
        let (nodes, rest) = take(rest, usize::from(nodes[0]) * 32)?;
        self.rest = rest;
        self.remaining -= 1;
        Ok(Some(RecordRef { leaf, nodes }))
    }
}

fn take(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8]), String> {
    if bytes.len() < n {
        return Err(format!(
            "truncated record: {n} bytes needed, {} left",
            bytes.len()
        ));
    }
    Ok(bytes.split_at(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(leaf_len: usize, nodes: usize) -> LeafRecord {
        LeafRecord {
            leaf: vec![leaf_len as u8; leaf_len],
            nodes: (0..nodes).map(|i| [i as u8; 32]).collect(),
        }
    }

    #[test]
    fn round_trips_and_finds_records() {
        let records = vec![record(3, 1), record(0, 2), record(70, 1), record(1, 4)];
        let bytes = encode(&records).unwrap();
        assert_eq!(decode(&bytes).unwrap(), records);
        let r = record_at(&bytes, 3).unwrap().unwrap();
        assert_eq!(r.leaf, &[1u8][..]);
        assert_eq!(r.node(3), Some([3; 32]));
        assert_eq!(r.node(4), None);
        assert!(record_at(&bytes, 4).unwrap().is_none());
        assert_eq!(decode(&encode(&[]).unwrap()).unwrap(), []);
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let bytes = encode(&[record(10, 2), record(5, 1)]).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        let mut version = bytes.clone();
        version[0] = 9;
        assert!(decode(&version).is_err());
        let mut count = bytes;
        count[4] = 200;
        assert!(decode(&count).is_err());
    }

    #[test]
    fn splits_by_count_and_size() {
        let many: Vec<_> = (0..MAX_LEAVES * 2 + 1).map(|_| record(1, 1)).collect();
        let runs = split(&many);
        assert_eq!(
            runs.iter().map(|r| r.len()).collect::<Vec<_>>(),
            [MAX_LEAVES, MAX_LEAVES, 1]
        );
        let big: Vec<_> = (0..3).map(|_| record(MAX_BYTES / 2, 1)).collect();
        assert_eq!(split(&big).len(), 3);
        let huge = vec![record(MAX_BYTES * 2, 1)];
        assert_eq!(split(&huge).len(), 1);
        assert!(split(&[]).is_empty());
    }
}
