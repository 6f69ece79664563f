//! What the audit writer's storage work costs per Vet, by part, through the real [`Store`] on a
//! temporary directory: the audit leaf (in blocks), the remembered answer (idempotency) and the
//! four watch records of a Vet with four tokens. Each batch is applied atomically and flushed,
//! as the writer does for a group commit.
//!
//! Run: `cargo bench --bench store_writes`. Bounded: 20,000 entries per case.
//!
//! The numbers show where a Vet's writer time goes. The cost is per key inserted, not per byte:
//! a block of 64 leaves costs about as much as one small record, while the five records a Vet
//! keys by request id and by token, at random places in the tree, cost each about as much as a
//! whole block.

use std::time::Instant;

use portcullis::store::{Changes, IdempotencyRecord, LeafRecord, Store, WatchRecord};

const ENTRIES: u64 = 20_000;
const BATCH: u64 = 64;

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

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    idempotency: bool,
    watches: usize,
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
            if case.idempotency {
                let record = IdempotencyRecord {
                    fingerprint: vec![1; 32],
                    response: vec![2; 80],
                };
                changes.idempotency("party:alpha", &request_id, &record);
            }
            let watch = WatchRecord {
                subject_kind: 1,
                vetted_at: 1_800_000_000,
                ..Default::default()
            };
            for _ in 0..case.watches {
                changes.watch("dev-1", &rng.token(), "alpha", &request_id, &watch);
            }
        }
        store.append(index, &leaves, changes).expect("append");
        rt.block_on(store.flush()).expect("flush");
        index += BATCH;
    }
    started.elapsed().as_secs_f64() * 1e6 / ENTRIES as f64
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cases = [
        Case {
            name: "leaf only",
            idempotency: false,
            watches: 0,
        },
        Case {
            name: "leaf + remembered answer",
            idempotency: true,
            watches: 0,
        },
        Case {
            name: "leaf + answer + 4 watch records (a Vet)",
            idempotency: true,
            watches: 4,
        },
    ];
    println!("store writes: {ENTRIES} entries per case, batches of {BATCH}, flushed per batch");
    println!("{:<44} {:>12}", "case", "µs/entry");
    let mut previous = None;
    for case in cases {
        // The median of three runs on fresh directories.
        let mut runs: Vec<f64> = (0..3).map(|_| run(&rt, case)).collect();
        runs.sort_by(f64::total_cmp);
        let median = runs[1];
        let delta = previous.map_or(String::new(), |p: f64| format!("  (+{:.1})", median - p));
        println!("{:<44} {:>12.1}{delta}", case.name, median);
        previous = Some(median);
    }
}
