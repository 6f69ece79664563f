//! The gateway's storage for advisories' tokens, v1 tokens against v1 + variant tokens:
//! `cargo bench --bench token_index` (README "Variant tokens and match tiers"). Stores the same
//! advisories (one person each from benches/data/names.tsv) twice in a real `Store`, once with
//! the exact person tokens only and once with every token the client derives, and prints the
//! token count and the size of the store directory after a flush.
//!
//! Options (after `--`): `--advisories N` (default 20000).

use std::path::Path;

use portcullis::store::{AdvisoryVersion, Changes, LeafRecord, Store};
use portcullis::tokens::recall::{sample_people, Corpus};
use portcullis::tokens::{derive, CanonicalKind, IdentityFields, MatchingKey};

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("dir entry");
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                dir_size(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

fn main() {
    let mut advisories = 20_000usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--advisories") {
        advisories = args[i + 1].parse().expect("--advisories N");
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/names.tsv"
    ))
    .expect("read the corpus");
    let corpus = Corpus::parse(&text).expect("parse the corpus");
    let people = sample_people(&corpus, advisories, 7);
    let key = MatchingKey::new("dev-1", [9; 32]).expect("key");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    println!("| tokens per advisory | advisories | tokens | store directory after flush |");
    println!("|---|---:|---:|---:|");
    for variants in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let mut tokens_total = 0usize;
        let mut changes = Changes::new();
        for (i, (name, dob)) in people.iter().enumerate() {
            let fields = IdentityFields {
                name: Some(name.clone()),
                dob: Some(dob.clone()),
                ..Default::default()
            };
            let tokens: Vec<Vec<u8>> = derive(&key, &fields)
                .expect("tokens")
                .into_iter()
                .filter(|t| {
                    variants
                        || matches!(
                            t.kind,
                            CanonicalKind::PersonNameDob | CanonicalKind::PersonNameYob
                        )
                })
                .map(|t| {
                    let kind = portcullis::proto::v1::TokenKind::from_str_name(t.kind.name())
                        .expect("a proto kind") as i32;
                    let mut b = vec![u8::try_from(kind).expect("a small kind value")];
                    b.extend_from_slice(&t.digest);
                    b
                })
                .collect();
            tokens_total += tokens.len();
            let v = AdvisoryVersion {
                advisory_id: format!("adv-{i:016x}"),
                version: 1,
                grade: 4,
                guidance: "Decline the donation and consult the security liaison.".into(),
                key_id: key.id().to_owned(),
                token_count: tokens.len() as u32,
                tokens,
                owner_org: "liaison".into(),
                ..Default::default()
            };
            changes.advisory_version(&v);
        }
        let leaf = LeafRecord {
            leaf: vec![0x5a; 64],
            nodes: vec![[7u8; 32]],
        };
        store.append(0, &[leaf], changes).expect("append");
        rt.block_on(store.flush()).expect("flush");
        drop(store);
        let size = dir_size(dir.path());
        println!(
            "| {} | {advisories} | {tokens_total} ({:.1} each) | {:.1} MiB |",
            if variants {
                "v2: exact (with `PERSON_NAME_BIRTH_MONTH`) + variants"
            } else {
                "v1: exact only"
            },
            tokens_total as f64 / advisories as f64,
            size as f64 / (1024.0 * 1024.0)
        );
    }
}
