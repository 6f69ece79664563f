//! Recall of the variant tokens: `cargo bench --bench recall` (docs/tokens.md "Measured
//! recall"). Prints, per kind of variation, the share of (original, variant) pairs of one person
//! that share a token, by best tier; and the false-match rates among different people.
//!
//! Options (after `--`): `--people N` (default 4000), `--false-pairs N` (default 20000),
//! `--seed N` (default 13), `--corpus PATH` (default benches/data/names.tsv).

use portcullis::tokens::recall::{run, Corpus};

fn main() {
    let mut people = 4000usize;
    let mut false_pairs = 20_000usize;
    let mut seed = 13u64;
    let mut corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/names.tsv").to_owned();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--people" => people = value.parse().expect("--people N"),
            "--false-pairs" => false_pairs = value.parse().expect("--false-pairs N"),
            "--seed" => seed = value.parse().expect("--seed N"),
            "--corpus" => corpus = value,
            // cargo bench passes --bench; ignore anything else.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    let text = std::fs::read_to_string(&corpus).expect("read the corpus");
    let corpus = Corpus::parse(&text).expect("parse the corpus");
    let report = run(&corpus, people, false_pairs, seed).expect("run the benchmark");
    println!("{report}");
}
