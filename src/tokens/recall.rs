//! The recall benchmark of the variant tokens (`cargo bench --bench recall`, docs/tokens.md
//! "Measured recall"): over a corpus of names per script with their common Latin spellings
//! (`benches/data/names.tsv`), how often an original spelling of a person and a variant spelling
//! of the same person share a token, by kind of variation and by tier; and how often two
//! *different* people who share a date of birth (or a surname and a birth year) share one.
//!
//! Everything is deterministic (a fixed-seed generator), so two runs give the same table.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;

use super::{derive, CanonicalKind, IdentityFields, MatchingKey, TokenError};

mod variations;

use crate::proto::v1::{MatchStrength, MatchTier, TokenKind as ProtoKind};
use variations::variation;
pub use variations::VARIATIONS;

/// One name part of the corpus: its native spelling and its Latin spellings (first = usual).
#[derive(Debug, Clone)]
struct Part {
    native: String,
    latin: Vec<String>,
}

/// The corpus: per locale, given names and surnames.
#[derive(Debug, Default)]
pub struct Corpus {
    locales: BTreeMap<String, (Vec<Part>, Vec<Part>)>,
}

/// Locales whose native script is not Latin (they get the romanisation variations).
const NON_LATIN: [&str; 5] = ["ru", "uk", "el", "ar", "zh"];

impl Corpus {
    /// Parse the TSV corpus (`locale`, `given|surname`, native, `latin|latin|…`; `#` comments).
    pub fn parse(text: &str) -> Result<Corpus, String> {
        let mut c = Corpus::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let [locale, part, native, latin] = cols.as_slice() else {
                return Err(format!("line {}: expected 4 tab-separated columns", n + 1));
            };
            let p = Part {
                native: (*native).to_owned(),
                latin: latin.split('|').map(str::to_owned).collect(),
            };
            let entry = c.locales.entry((*locale).to_owned()).or_default();
            match *part {
                "given" => entry.0.push(p),
                "surname" => entry.1.push(p),
                other => return Err(format!("line {}: unknown part {other}", n + 1)),
            }
        }
        if c.locales
            .values()
            .any(|(g, s)| g.is_empty() || s.is_empty())
        {
            return Err("every locale needs given names and surnames".into());
        }
        Ok(c)
    }
}

/// SplitMix64: a small, fully specified generator, so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A synthetic person: locale, given name, optional middle name, one or two surnames.
#[derive(Debug, Clone)]
struct Person {
    locale: String,
    given: Vec<Part>,
    surnames: Vec<Part>,
}

impl Person {
    fn non_latin(&self) -> bool {
        NON_LATIN.contains(&self.locale.as_str())
    }
    fn parts(&self) -> impl Iterator<Item = &Part> {
        self.given.iter().chain(&self.surnames)
    }
    /// How the person is usually written in a Latin-script file: the native spelling for Latin
    /// locales, the first romanisation otherwise.
    fn usual(&self, p: &Part) -> String {
        if self.non_latin() {
            p.latin[0].clone()
        } else {
            p.native.clone()
        }
    }
    fn words(&self) -> Vec<String> {
        self.parts().map(|p| self.usual(p)).collect()
    }
    fn latin(&self) -> String {
        self.words().join(" ")
    }
    fn native(&self) -> String {
        let given: Vec<&str> = self.given.iter().map(|p| p.native.as_str()).collect();
        let surnames: Vec<&str> = self.surnames.iter().map(|p| p.native.as_str()).collect();
        if self.locale == "zh" {
            format!("{}{}", surnames.concat(), given.concat())
        } else {
            format!("{} {}", given.join(" "), surnames.join(" "))
        }
    }
}

/// Tokens of a name with a date of birth (nothing if the name is refused).
fn tokens(
    key: &MatchingKey,
    name: &str,
    dob: &str,
) -> Result<BTreeMap<[u8; 32], CanonicalKind>, TokenError> {
    let fields = IdentityFields {
        name: Some(name.to_owned()),
        dob: Some(dob.to_owned()),
        ..Default::default()
    };
    Ok(derive(key, &fields)?
        .into_iter()
        .map(|t| (t.digest, t.kind))
        .collect())
}

/// The kinds two token sets share, as proto kinds.
fn shared(
    a: &BTreeMap<[u8; 32], CanonicalKind>,
    b: &BTreeMap<[u8; 32], CanonicalKind>,
) -> BTreeSet<ProtoKind> {
    a.iter()
        .filter(|(d, _)| b.contains_key(*d))
        .filter_map(|(_, k)| ProtoKind::from_str_name(k.name()))
        .collect()
}

/// Counts of pairs by best tier (index: 0 none, 1 EXACT … 4 PARTIAL_NAME) and at STRONG.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Pairs measured.
    pub pairs: u64,
    /// Pairs by best shared tier: `[none, EXACT, NORMALISED, PHONETIC, PARTIAL_NAME]`.
    pub by_tier: [u64; 5],
    /// Pairs whose shared kinds give STRONG.
    pub strong: u64,
}

impl Tally {
    fn add(&mut self, kinds: &BTreeSet<ProtoKind>) {
        self.pairs += 1;
        let t = crate::domain::tier(kinds);
        let i = match t {
            MatchTier::Unspecified => 0,
            MatchTier::Exact => 1,
            MatchTier::Normalised => 2,
            MatchTier::Phonetic => 3,
            MatchTier::PartialName => 4,
        };
        self.by_tier[i] += 1;
        if crate::domain::strength(kinds) == MatchStrength::Strong {
            self.strong += 1;
        }
    }
    /// Share (percent) of pairs that share at least one token.
    pub fn matched_pct(&self) -> f64 {
        pct(self.pairs - self.by_tier[0], self.pairs)
    }

    /// The middle cells of a report row: pairs, matched share and each tier's share, with
    /// `decimals` digits after the point (`8 | 50.0% | 25.0% | …`).
    fn shares(&self, decimals: usize) -> String {
        let mut cells = format!("{} | {:.*}%", self.pairs, decimals, self.matched_pct());
        for n in &self.by_tier[1..] {
            cells.push_str(&format!(" | {:.*}%", decimals, pct(*n, self.pairs)));
        }
        cells
    }
}

fn pct(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// The benchmark's result.
#[derive(Debug, Default)]
pub struct Report {
    /// Per variation (in [`VARIATIONS`] order).
    pub variations: Vec<(String, f64, Tally)>,
    /// Different people with the same date of birth.
    pub same_dob: Tally,
    /// Different people with the same surname and birth year (different dates).
    pub same_surname_year: Tally,
    /// People generated.
    pub people: usize,
    /// Tokens per person (name + full date of birth): mean and most.
    pub tokens_mean: f64,
    /// The most tokens one person derived.
    pub tokens_max: usize,
}

fn dob(rng: &mut Rng) -> String {
    format!(
        "{}-{:02}-{:02}",
        1940 + rng.below(60),
        1 + rng.below(12),
        1 + rng.below(28)
    )
}

/// `people` synthetic people drawn from the corpus.
fn crowd(corpus: &Corpus, people: usize, rng: &mut Rng) -> Vec<Person> {
    let locales: Vec<&String> = corpus.locales.keys().collect();
    let mut crowd = Vec::with_capacity(people);
    for _ in 0..people {
        let locale = locales[rng.below(locales.len())];
        let (givens, surnames) = &corpus.locales[locale];
        let mut given = vec![givens[rng.below(givens.len())].clone()];
        if locale != "zh" && rng.chance(40) {
            let second = givens[rng.below(givens.len())].clone();
            if second.native != given[0].native {
                given.push(second);
            }
        }
        let mut sur = vec![surnames[rng.below(surnames.len())].clone()];
        if locale == "es" || (locale != "zh" && rng.chance(15)) {
            let second = surnames[rng.below(surnames.len())].clone();
            if second.native != sur[0].native {
                sur.push(second);
            }
        }
        crowd.push(Person {
            locale: locale.clone(),
            given,
            surnames: sur,
        });
    }
    crowd
}

/// `n` synthetic people from the corpus as (name as usually written in Latin, date of birth),
/// for other measurements (the token index size, `cargo bench --bench token_index`).
pub fn sample_people(corpus: &Corpus, n: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng(seed);
    crowd(corpus, n, &mut rng)
        .iter()
        .map(|p| (p.latin(), dob(&mut rng)))
        .collect()
}

/// Runs the benchmark over `corpus` with `people` synthetic people and `false_pairs` pairs of
/// different people for each false-match measure.
pub fn run(
    corpus: &Corpus,
    people: usize,
    false_pairs: usize,
    seed: u64,
) -> Result<Report, TokenError> {
    let key = MatchingKey::new("recall-1", [7; 32])?;
    let mut rng = Rng(seed);
    let crowd = crowd(corpus, people, &mut rng);

    let mut report = Report {
        people,
        ..Default::default()
    };
    let mut total_tokens = 0usize;
    for (kind, (name, target)) in VARIATIONS.iter().enumerate() {
        let mut tally = Tally::default();
        for p in &crowd {
            let Some((a, b)) = variation(kind, p, &mut rng) else {
                continue;
            };
            let date = dob(&mut rng);
            let (Ok(ta), Ok(tb)) = (tokens(&key, &a, &date), tokens(&key, &b, &date)) else {
                tally.add(&BTreeSet::new());
                continue;
            };
            if kind == 0 {
                total_tokens += ta.len();
                report.tokens_max = report.tokens_max.max(ta.len());
            }
            tally.add(&shared(&ta, &tb));
        }
        report.variations.push(((*name).to_owned(), *target, tally));
    }
    report.tokens_mean = total_tokens as f64 / people.max(1) as f64;

    // Different people: their usual spellings differ in the v1 canonical form.
    let canon: Vec<String> = crowd
        .iter()
        .map(|p| super::canonical_name(&p.latin()).unwrap_or_default())
        .collect();
    let mut seen = HashSet::new();
    let mut tries = 0;
    while report.same_dob.pairs < false_pairs as u64 && tries < false_pairs * 10 {
        tries += 1;
        let (i, j) = (rng.below(people), rng.below(people));
        if canon[i] == canon[j] || !seen.insert((i.min(j), i.max(j))) {
            continue;
        }
        let date = dob(&mut rng);
        let (Ok(ta), Ok(tb)) = (
            tokens(&key, &crowd[i].latin(), &date),
            tokens(&key, &crowd[j].latin(), &date),
        ) else {
            continue;
        };
        report.same_dob.add(&shared(&ta, &tb));
    }
    let mut by_surname: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in crowd.iter().enumerate() {
        by_surname
            .entry(p.surnames[0].native.clone())
            .or_default()
            .push(i);
    }
    let groups: Vec<&Vec<usize>> = by_surname.values().filter(|g| g.len() >= 2).collect();
    tries = 0;
    while !groups.is_empty()
        && report.same_surname_year.pairs < false_pairs as u64
        && tries < false_pairs * 10
    {
        tries += 1;
        let g = groups[rng.below(groups.len())];
        let (i, j) = (g[rng.below(g.len())], g[rng.below(g.len())]);
        if canon[i] == canon[j] {
            continue;
        }
        let year = 1940 + rng.below(60);
        let (m1, m2) = (1 + rng.below(12), 1 + rng.below(12));
        let (d1, d2) = (1 + rng.below(28), 1 + rng.below(28));
        if (m1, d1) == (m2, d2) {
            continue;
        }
        let (Ok(ta), Ok(tb)) = (
            tokens(&key, &crowd[i].latin(), &format!("{year}-{m1:02}-{d1:02}")),
            tokens(&key, &crowd[j].latin(), &format!("{year}-{m2:02}-{d2:02}")),
        ) else {
            continue;
        };
        report.same_surname_year.add(&shared(&ta, &tb));
    }
    Ok(report)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| variation | pairs | share a token | EXACT | NORMALISED | PHONETIC | PARTIAL_NAME | target |"
        )?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|---:|---|")?;
        for (name, target, t) in &self.variations {
            let ok = if t.matched_pct() >= *target {
                "met"
            } else {
                "MISSED"
            };
            writeln!(f, "| {name} | {} | ≥{target:.0}% {ok} |", t.shares(1))?;
        }
        for (label, t, target) in [
            (
                "different people, same date of birth",
                &self.same_dob,
                "≤0.5%, none STRONG",
            ),
            (
                "different people, same surname and birth year",
                &self.same_surname_year,
                "none STRONG",
            ),
        ] {
            writeln!(
                f,
                "| {label} | {} | {target}; STRONG {} |",
                t.shares(2),
                t.strong
            )?;
        }
        writeln!(
            f,
            "\n{} people; tokens per person (name + date of birth): mean {:.1}, most {} (v1: 2)",
            self.people, self.tokens_mean, self.tokens_max
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_parse_errors() {
        assert!(Corpus::parse("ru\tgiven\tЮрий").is_err());
        assert!(Corpus::parse("ru\tmiddle\tЮрий\tYuri").is_err());
        assert!(
            Corpus::parse("ru\tgiven\tЮрий\tYuri").is_err(),
            "no surnames"
        );
        assert!(Corpus::parse("# c\nru\tgiven\tЮрий\tYuri\nru\tsurname\tИванов\tIvanov").is_ok());
    }

    #[test]
    fn report_cells_of_a_tally() {
        let t = Tally {
            pairs: 8,
            by_tier: [2, 2, 1, 1, 2],
            strong: 0,
        };
        assert_eq!(t.shares(1), "8 | 75.0% | 25.0% | 12.5% | 12.5% | 25.0%");
        assert_eq!(
            t.shares(2),
            "8 | 75.00% | 25.00% | 12.50% | 12.50% | 25.00%"
        );
        assert_eq!(
            Tally::default().shares(1),
            "0 | 0.0% | 0.0% | 0.0% | 0.0% | 0.0%"
        );
    }
}
