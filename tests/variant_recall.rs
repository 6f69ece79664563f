//! The recall benchmark's corpus and measures, as a regression guard: a smaller run than
//! `cargo bench --bench recall` (same corpus, same code, fixed seed) must still find most
//! spelling variants of one person and must never give STRONG between different people.
//! The full-size table and the targets are in README.md and docs/tokens.md.

use portcullis::tokens::recall::{run, Corpus};

#[test]
fn variants_are_found_and_strangers_are_not_strong() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/names.tsv"
    ))
    .unwrap();
    let corpus = Corpus::parse(&text).unwrap();
    let report = run(&corpus, 800, 4000, 13).unwrap();
    assert_eq!(report.variations.len(), 16);
    for (name, target, tally) in &report.variations {
        assert!(tally.pairs >= 50, "{name}: only {} pairs", tally.pairs);
        // A smaller sample than the benchmark: allow five points below the target.
        assert!(
            tally.matched_pct() >= target - 5.0,
            "{name}: {:.1}% < {target}% - 5\n{report}",
            tally.matched_pct()
        );
    }
    assert!(report.same_dob.pairs >= 3000);
    assert!(
        report.same_dob.matched_pct() <= 1.0,
        "same date of birth: {:.2}%\n{report}",
        report.same_dob.matched_pct()
    );
    assert_eq!(report.same_dob.strong, 0, "{report}");
    assert_eq!(report.same_surname_year.strong, 0, "{report}");
    assert!(report.tokens_max <= portcullis::domain::MAX_VET_TOKENS);
}
