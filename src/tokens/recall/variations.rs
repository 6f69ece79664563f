//! The kinds of variation the recall benchmark applies to a person's name (one pair of
//! spellings per person and kind).

use unicode_general_category::get_general_category;
use unicode_normalization::UnicodeNormalization;

use super::{Person, Rng};

/// The kinds of variation measured, in report order, with their recall targets (percent).
pub const VARIATIONS: [(&str, f64); 16] = [
    ("reorder", 90.0),
    ("case and punctuation", 90.0),
    ("diacritics dropped", 90.0),
    ("passport spelling", 90.0),
    ("alternative romanisation", 90.0),
    ("native script vs Latin", 90.0),
    ("typo: swapped letters", 90.0),
    ("typo: dropped letter", 90.0),
    ("typo: doubled letter", 90.0),
    ("vowel change", 90.0),
    ("first name as initial", 70.0),
    ("dropped middle name", 90.0),
    ("dropped surname part", 90.0),
    ("joined words", 90.0),
    ("titles and honours", 90.0),
    ("split words", 90.0),
];

fn upper(s: &str) -> String {
    s.chars().flat_map(char::to_uppercase).collect()
}

/// What a clerk types without accents: marks removed, ł ø æ ß ı đ written l o ae ss i d.
fn clerk_ascii(s: &str) -> String {
    s.nfkd()
        .filter(|&c| !get_general_category(c).abbreviation().starts_with('M'))
        .map(|c| match c {
            'ł' => "l".to_owned(),
            'Ł' => "L".to_owned(),
            'ø' => "o".to_owned(),
            'Ø' => "O".to_owned(),
            'æ' => "ae".to_owned(),
            'Æ' => "Ae".to_owned(),
            'ß' => "ss".to_owned(),
            'ı' => "i".to_owned(),
            'đ' => "d".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// A typo in one word of three or more letters: `op` 0 swaps two different neighbours, 1 drops
/// a letter, 2 doubles one, 3 changes a vowel to another.
fn typo(words: &[String], op: u8, rng: &mut Rng) -> Option<String> {
    let candidates: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].chars().count() >= 3)
        .collect();
    let wi = *candidates.get(rng.below(candidates.len()))?;
    let mut chars: Vec<char> = words[wi].chars().collect();
    let n = chars.len();
    match op {
        0 => {
            let spots: Vec<usize> = (0..n - 1)
                .filter(|&i| chars[i].to_lowercase().ne(chars[i + 1].to_lowercase()))
                .collect();
            let i = *spots.get(rng.below(spots.len()))?;
            chars.swap(i, i + 1);
        }
        1 => {
            chars.remove(rng.below(n));
        }
        2 => {
            let i = rng.below(n);
            chars.insert(i, chars[i]);
        }
        _ => {
            let vowels = ['a', 'e', 'i', 'o', 'u'];
            let spots: Vec<usize> = (0..n).filter(|&i| vowels.contains(&chars[i])).collect();
            let i = *spots.get(rng.below(spots.len()))?;
            let others: Vec<char> = vowels.into_iter().filter(|v| *v != chars[i]).collect();
            chars[i] = others[rng.below(others.len())];
        }
    }
    let mut out = words.to_vec();
    out[wi] = chars.into_iter().collect();
    Some(out.join(" "))
}

const PREFIXES: [&str; 6] = ["The Rt Hon", "Cllr", "Dr", "Sir", "Dame", "Rt. Hon."];
const SUFFIXES: [&str; 9] = ["OBE", "KC", "MP", "CBE", "QC", "Bt", "Esq.", "MBE", "JP"];

/// The (original, variant) pair of one kind of variation for a person, if it applies.
pub(super) fn variation(kind: usize, p: &Person, rng: &mut Rng) -> Option<(String, String)> {
    let latin = p.latin();
    let words = p.words();
    let given: Vec<String> = p.given.iter().map(|x| p.usual(x)).collect();
    let surnames: Vec<String> = p.surnames.iter().map(|x| p.usual(x)).collect();
    let variant = match VARIATIONS[kind].0 {
        "reorder" => format!("{}, {}", surnames.join(" "), given.join(" ")),
        "case and punctuation" => format!(
            "{} {}.",
            upper(&given.join(" ")),
            upper(&surnames.join("-"))
        ),
        "diacritics dropped" => {
            let v = clerk_ascii(&latin);
            (v != latin).then_some(v)?
        }
        "passport spelling" => {
            if p.non_latin() || latin.is_ascii() {
                return None;
            }
            upper(
                &p.parts()
                    .map(|x| x.latin[0].as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        "alternative romanisation" => {
            if !p.non_latin() {
                return None;
            }
            let alt: Vec<String> = p
                .parts()
                .map(|x| {
                    let others: Vec<&String> =
                        x.latin[1..].iter().filter(|l| **l != x.latin[0]).collect();
                    match others.len() {
                        0 => x.latin[0].clone(),
                        n => others[rng.below(n)].clone(),
                    }
                })
                .collect();
            let v = alt.join(" ");
            (v != latin).then_some(v)?
        }
        "native script vs Latin" => {
            if !p.non_latin() {
                return None;
            }
            return Some((p.native(), latin));
        }
        "typo: swapped letters" => typo(&words, 0, rng)?,
        "typo: dropped letter" => typo(&words, 1, rng)?,
        "typo: doubled letter" => typo(&words, 2, rng)?,
        "vowel change" => typo(&words, 3, rng)?,
        "first name as initial" => {
            let initial: String = given[0].chars().take(1).collect();
            let mut rest = vec![format!("{initial}.")];
            rest.extend(words[1..].iter().cloned());
            rest.join(" ")
        }
        "dropped middle name" => {
            if given.len() < 2 {
                return None;
            }
            format!("{} {}", given[0], surnames.join(" "))
        }
        "dropped surname part" => {
            if surnames.len() < 2 {
                return None;
            }
            format!("{} {}", given.join(" "), surnames[0])
        }
        "joined words" => {
            if given.len() >= 2 {
                format!(
                    "{}{} {}",
                    given[0],
                    given[1].to_lowercase(),
                    surnames.join(" ")
                )
            } else if surnames.len() >= 2 {
                format!("{} {}{}", given[0], surnames[0], surnames[1].to_lowercase())
            } else {
                return None;
            }
        }
        "split words" => {
            // A one-word name part written as two (Abdullah / Abd Allah, Xiaoming / Xiao Ming).
            let split: Vec<String> = p
                .parts()
                .map(|x| {
                    x.latin
                        .iter()
                        .find(|l| l.contains(' '))
                        .cloned()
                        .unwrap_or_else(|| p.usual(x))
                })
                .collect();
            let v = split.join(" ");
            (v != latin && p.non_latin()).then_some(v)?
        }
        _ => format!(
            "{} {latin} {}",
            PREFIXES[rng.below(PREFIXES.len())],
            SUFFIXES[rng.below(SUFFIXES.len())]
        ),
    };
    Some((latin, variant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_change_one_word() {
        let mut rng = Rng(1);
        let w = vec!["Ivanov".to_owned(), "Yuri".to_owned()];
        for op in 0..4 {
            let t = typo(&w, op, &mut rng).unwrap();
            assert_ne!(t, "Ivanov Yuri", "op {op}");
        }
        assert_eq!(clerk_ascii("Łukasz Øster Weiß"), "Lukasz Oster Weiss");
    }
}
