//! What the audit writer's storage work costs per Vet, by part, through the real [`Store`] on a
//! temporary directory: the audit leaf (in blocks), the remembered answer (idempotency, which
//! holds the request's tokens) and, for comparison, the per-token watch records a Vet used to
//! write on the answer path. Each batch is applied atomically and flushed, as the writer does
//! for a group commit. The last case is the notice sweep's read, off the answer path: one pass
//! over every remembered answer, per answer (a sweep makes one pass for up to 16,384 queued
//! advisory changes).
//!
//! Run: `cargo bench --bench store_writes`. Bounded: 20,000 entries per case.
//!
//! The cost is per key inserted, not per byte: a block of 64 leaves costs about as much as one
//! small record, while each record keyed by token, at a random place in the tree, costs about
//! as much as a whole block.

use std::time::Instant;

use portcullis::store::{
    Changes, IdempotencyRecord, LeafRecord, Store, VetWatch, WatchBatch, WatchRecord, WatchedToken,
};

const ENTRIES: u64 = 20_000;
const BATCH: u64 = 64;
/// Tokens per Vet: a person with variant tokens.
const TOKENS: usize = 14;

/// A small deterministic generator, so every run writes the same keys.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn token(&mut self) -> [u8; 33] {
        let mut t = [1u8; 33];
        for chunk in t[1..].chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        t
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Case {
    Leaf,
    Answer,
    AnswerAndWatches,
    Sweep,
}

impl Case {
    fn name(self) -> String {
        match self {
            Case::Leaf => "leaf only".into(),
            Case::Answer => format!("leaf + answer with {TOKENS} tokens (a Vet)"),
            Case::AnswerAndWatches => format!("leaf + answer + {TOKENS} watch records (before)"),
            Case::Sweep => format!("sweep: read an answer with {TOKENS} tokens"),
        }
    }
}

fn watch() -> WatchRecord {
    WatchRecord {
        subject_kind: 1,
        vetted_at: 1_800_000_000,
        ..Default::default()
    }
}

fn run(rt: &tokio::runtime::Runtime, case: Case) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let leaf = vec![0x5Au8; 220];
    let started = Instant::now();
    let mut index = 0;
    while index < ENTRIES {
        let mut leaves = Vec::with_capacity(BATCH as usize);
        let mut changes = Changes::new();
        for i in index..index + BATCH {
            leaves.push(LeafRecord {
                leaf: leaf.clone(),
                nodes: vec![[7u8; 32]; (i.trailing_ones() + 1) as usize],
            });
            let request_id = format!("bench-{:016x}", rng.next());
            let tokens: Vec<[u8; 33]> = (0..TOKENS).map(|_| rng.token()).collect();
            if case != Case::Leaf {
                let record = IdempotencyRecord {
                    fingerprint: vec![1; 32],
                    response: vec![2; 80],
                    watch: Some(VetWatch {
                        key_id: "dev-1".into(),
                        subject_kind: 1,
                        case_reference: "CASE-1".into(),
                        tokens: tokens
                            .iter()
                            .map(|t| WatchedToken {
                                token: t.to_vec(),
                                via: Vec::new(),
                            })
                            .collect(),
                    }),
                    audit_index: i,
                    decided_at: None,
                };
                changes.idempotency("party/alpha", &request_id, &record);
            }
            if case == Case::AnswerAndWatches {
                let mut batch = WatchBatch::new();
                for t in &tokens {
                    batch.watch("dev-1", t, "alpha", &request_id, &watch());
                }
                changes.watches(batch);
            }
        }
        store.append(index, &leaves, changes).expect("append");
        rt.block_on(store.flush()).expect("flush");
        index += BATCH;
    }
    if case == Case::Sweep {
        let started = Instant::now();
        let mut tokens = 0;
        for request in store.watched_requests("party/") {
            let request = request.expect("read");
            tokens += request.answer.watch.map_or(0, |w| w.tokens.len());
        }
        // Whole batches: `index` entries were written, a few more than ENTRIES.
        assert_eq!(tokens, index as usize * TOKENS, "every answer read");
        return started.elapsed().as_secs_f64() * 1e6 / index as f64;
    }
    started.elapsed().as_secs_f64() * 1e6 / index as f64
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cases = [
        Case::Leaf,
        Case::Answer,
        Case::AnswerAndWatches,
        Case::Sweep,
    ];
    println!("store writes: {ENTRIES} entries per case, batches of {BATCH}, flushed per batch");
    println!("{:<48} {:>12}", "case", "µs/entry");
    for case in cases {
        // The median of three runs on fresh directories.
        let mut runs: Vec<f64> = (0..3).map(|_| run(&rt, case)).collect();
        runs.sort_by(f64::total_cmp);
        println!("{:<48} {:>12.1}", case.name(), runs[1]);
    }
}
