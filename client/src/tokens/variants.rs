//! Variant tokens (docs/tokens.md "Variant tokens", tokens spec v2): forms of a person's name
//! that two spellings of one person share, each combined with the full date of birth.
//!
//! | kind | tier | canonical (before `"|" + YYYY-MM-DD`) |
//! |---|---|---|
//! | `PERSON_NAME_LETTERS_DOB` | NORMALISED | the letters of the Latin spelling, sorted |
//! | `PERSON_NAME_SOUND_DOB` | PHONETIC | the sound classes of the Latin spelling, sorted; and each with one class left out |
//! | `PERSON_NAME_PART_DOB` | PARTIAL_NAME | two words of the Latin spelling, or one word and another's initial |
//!
//! The *Latin spellings* of a name come from the AnyAscii transliteration tables (release 0.3.3,
//! the `any_ascii` crate; the Python reference uses the `anyascii` package of the same release).
//! Everything after transliteration is plain ASCII string handling, so a back office in any
//! language can implement it from the spec. Canonical forms do not depend on the digest scheme.
//!
//! A variant that cannot be formed (for example a one-word name has no pair of words) is simply
//! not derived.

use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization;

use super::names::title_free_words;
use super::CanonicalKind;

/// A name needs at least this many sound classes before the one-class-left-out forms of
/// `PERSON_NAME_SOUND_DOB` are derived: below it, leaving a class out matches too many names.
pub const MIN_SOUND_FOR_NEIGHBOURS: usize = 6;

/// Only the first this many words of a Latin spelling make `PERSON_NAME_PART_DOB` tokens
/// (at most 15 pairs and one initial form per spelling).
pub const MAX_PART_WORDS: usize = 6;

/// The Latin spellings of a name, each as its words in input order (docs/tokens.md, "Latin
/// spelling"): one spelling, or two when the name has ä, ö or ü (the second writes them ae, oe,
/// ue as ICAO Doc 9303 passports do). Empty if nothing is left.
pub fn latin_spellings(name: &str) -> Vec<Vec<String>> {
    let plain = latin_words(name, false);
    if plain.is_empty() {
        return Vec::new();
    }
    let german = latin_words(name, true);
    if german == plain || german.is_empty() {
        vec![plain]
    } else {
        vec![plain, german]
    }
}

/// One Latin spelling: NFKC, then each character through AnyAscii (or, with `icao_german`, ä ö ü
/// as ae oe ue), apostrophes `'` and backticks `` ` `` removed (AnyAscii writes ь, ъ and the
/// Arabic ain with them, and O'Brien is also written OBrien), ASCII lower case, every other
/// character outside `[a-z0-9]` a space, split, title words dropped.
fn latin_words(name: &str, icao_german: bool) -> Vec<String> {
    let mut ascii = String::new();
    for c in name.nfkc() {
        let german = match c {
            'ä' | 'Ä' => Some("ae"),
            'ö' | 'Ö' => Some("oe"),
            'ü' | 'Ü' => Some("ue"),
            _ => None,
        };
        match german {
            Some(s) if icao_german => ascii.push_str(s),
            _ => ascii.push_str(any_ascii::any_ascii_char(c)),
        }
    }
    title_free_words(
        ascii
            .chars()
            .filter(|c| !matches!(c, '\'' | '`'))
            .map(|c| c.to_ascii_lowercase()),
        |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
    )
}

/// The `PERSON_NAME_LETTERS_DOB` form of one spelling: every letter and digit of its words,
/// sorted by code point, with no separator (so word order, joined or split words and
/// punctuation do not matter).
pub fn letters(words: &[String]) -> String {
    let mut chars: Vec<char> = words.iter().flat_map(|w| w.chars()).collect();
    chars.sort_unstable();
    chars.into_iter().collect()
}

/// Multi-letter rules of the sound classes, tried in this order at each position (the first
/// that matches wins); see [`sound_word`].
const SOUND_RULES: [(&str, &str); 18] = [
    ("tsch", "x"),
    ("shch", "x"),
    ("sch", "x"),
    ("tch", "x"),
    ("ch", "x"),
    ("sh", "x"),
    ("zh", "x"),
    ("cz", "x"),
    ("sz", "x"),
    ("kh", "x"),
    ("ph", "f"),
    ("th", "t"),
    ("dh", "t"),
    ("gh", "g"),
    ("ck", "k"),
    ("ts", "s"),
    ("tz", "s"),
    ("dz", "s"),
];

/// The sound class of one character not covered by [`SOUND_RULES`] (`""` for vowels, `y`, `j`).
fn sound_char(c: u8, next: Option<u8>) -> &'static str {
    match c {
        b'a' | b'e' | b'i' | b'o' | b'u' | b'y' | b'j' => "",
        b'b' | b'p' => "p",
        b'c' if matches!(next, Some(b'e' | b'i' | b'y')) => "s",
        b'c' | b'k' | b'q' => "k",
        b'd' | b't' => "t",
        b'f' | b'v' | b'w' => "f",
        b'g' => "g",
        b'h' => "h",
        b'x' => "ks",
        b's' | b'z' => "s",
        b'l' => "l",
        b'm' => "m",
        b'n' => "n",
        b'r' => "r",
        b'0' => "0",
        b'1' => "1",
        b'2' => "2",
        b'3' => "3",
        b'4' => "4",
        b'5' => "5",
        b'6' => "6",
        b'7' => "7",
        b'8' => "8",
        b'9' => "9",
        // Words of a Latin spelling hold only [a-z0-9]; anything else has no sound.
        _ => "",
    }
}

/// The sound classes of one word of a Latin spelling (`[a-z0-9]+`): scanned left to right, a
/// multi-letter rule of `SOUND_RULES` or else one character's class is emitted, and a class
/// equal to the last one emitted in this word is skipped (so doubled letters, and letters
/// separated only by vowels, count once). E.g. `muhammad` → `mhmt`, `tchaikovsky` → `xkfsk`.
pub fn sound_word(word: &str) -> String {
    let b = word.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let rest = &word[i..];
        let (classes, used) = match SOUND_RULES.iter().find(|(from, _)| rest.starts_with(from)) {
            Some((from, to)) => (*to, from.len()),
            None => (sound_char(b[i], b.get(i + 1).copied()), 1),
        };
        for c in classes.chars() {
            if !out.ends_with(c) {
                out.push(c);
            }
        }
        i += used;
    }
    out
}

/// The `PERSON_NAME_SOUND_DOB` forms of one spelling: `S`, the sound classes of every word
/// concatenated and sorted, and (when `S` has at least [`MIN_SOUND_FOR_NEIGHBOURS`] classes)
/// `S` with any one class left out. Empty if the name has no sound class.
pub fn sounds(words: &[String]) -> BTreeSet<String> {
    let mut classes: Vec<char> = words
        .iter()
        .flat_map(|w| sound_word(w).chars().collect::<Vec<_>>())
        .collect();
    classes.sort_unstable();
    let whole: String = classes.iter().collect();
    let mut out = BTreeSet::new();
    if whole.is_empty() {
        return out;
    }
    if classes.len() >= MIN_SOUND_FOR_NEIGHBOURS {
        for i in 0..classes.len() {
            let mut less = classes.clone();
            less.remove(i);
            out.insert(less.into_iter().collect());
        }
    }
    out.insert(whole);
    out
}

/// Name particles left out of `PERSON_NAME_PART_DOB` forms: on their own they say nothing
/// about a person, so pairing one with another word would match strangers.
pub const PARTICLES: [&str; 22] = [
    "al", "el", "bin", "ibn", "bn", "abu", "abd", "bint", "de", "da", "di", "del", "della", "la",
    "le", "van", "von", "der", "den", "du", "dos", "das",
];

/// The `PERSON_NAME_PART_DOB` forms of one spelling, over its first [`MAX_PART_WORDS`] words
/// less [`PARTICLES`]: every pair of two different words of two or more characters (sorted,
/// joined with a space), and the first word's first character followed by a space and the last
/// word, if that has two or more characters (e.g. `j smith` for "John Paul Smith" and for
/// "J. Smith"). Empty for a name with fewer than two such words.
pub fn parts(words: &[String]) -> BTreeSet<String> {
    let words: Vec<&String> = words
        .iter()
        .take(MAX_PART_WORDS)
        .filter(|w| !PARTICLES.contains(&w.as_str()))
        .collect();
    let mut out = BTreeSet::new();
    for (i, a) in words.iter().enumerate() {
        for b in &words[i + 1..] {
            if a.len() >= 2 && b.len() >= 2 && a != b {
                let (x, y) = if a <= b { (a, b) } else { (b, a) };
                out.insert(format!("{x} {y}"));
            }
        }
    }
    if let (Some(first), Some(last)) = (words.first(), words.last()) {
        if words.len() >= 2 && last.len() >= 2 {
            if let Some(initial) = first.get(..1) {
                out.insert(format!("{initial} {last}"));
            }
        }
    }
    out
}

/// Every variant token form of a name with a full date of birth `date` (`YYYY-MM-DD`), as
/// (kind, canonical) in kind order, each kind's forms sorted by code point and distinct.
pub fn variant_forms(name: &str, date: &str) -> Vec<(CanonicalKind, String)> {
    let spellings = latin_spellings(name);
    let mut letter_forms = BTreeSet::new();
    let mut sound_forms = BTreeSet::new();
    let mut part_forms = BTreeSet::new();
    for words in &spellings {
        letter_forms.insert(letters(words));
        sound_forms.extend(sounds(words));
        part_forms.extend(parts(words));
    }
    let mut out = Vec::new();
    for (kind, forms) in [
        (CanonicalKind::PersonNameLettersDob, letter_forms),
        (CanonicalKind::PersonNameSoundDob, sound_forms),
        (CanonicalKind::PersonNamePartDob, part_forms),
    ] {
        out.extend(forms.into_iter().map(|f| (kind, format!("{f}|{date}"))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        latin_spellings(s).into_iter().next().unwrap_or_default()
    }

    #[test]
    fn transliteration_and_folding() {
        assert_eq!(words("Ельцин"), ["eltsin"]);
        assert_eq!(words("O'Brien"), ["obrien"]);
        assert_eq!(words("عبد الرحمن"), ["bd", "lrhmn"]);
        assert_eq!(words("张伟"), ["zhangwei"]);
        assert_eq!(words("Οδυσσεύς"), ["odysseys"]);
        assert_eq!(words("Łukasz Wałęsa"), ["lukasz", "walesa"]);
        assert_eq!(words("İsmail Işık"), ["ismail", "isik"]);
        assert_eq!(words("Øyvind Ærø"), ["oyvind", "aero"]);
        assert_eq!(words("Hans Weiß"), ["hans", "weiss"]);
        assert_eq!(words("The Rt Hon Jane Doe OBE"), ["jane", "doe"]);
        assert_eq!(
            latin_spellings("Jürgen Müller"),
            [vec!["jurgen", "muller"], vec!["juergen", "mueller"]]
        );
        assert!(latin_spellings("!!! Mr.").is_empty());
    }

    #[test]
    fn sound_classes() {
        assert_eq!(sound_word("muhammad"), "mhmt");
        assert_eq!(sound_word("mohammed"), "mhmt");
        assert_eq!(sound_word("mhmd"), "mhmt");
        assert_eq!(sound_word("tchaikovsky"), "xkfsk");
        assert_eq!(sound_word("chaykovskiy"), "xkfsk");
        assert_eq!(sound_word("yuri"), "r");
        assert_eq!(sound_word("khrushchev"), "xrxf");
        assert_eq!(sound_word("chruschtschow"), "xrxf");
        assert_eq!(sound_word("iurii"), "r");
        assert_eq!(sound_word("alex"), "lks");
        assert_eq!(sound_word("cecil"), "sl");
        assert_eq!(sound_word("aeiou"), "");
    }

    #[test]
    fn sounds_leave_one_out_only_for_long_names() {
        let short = sounds(&words("Yuri Ivanov"));
        assert_eq!(short.into_iter().collect::<Vec<_>>(), ["ffnr"]);
        let long = sounds(&words("Pyotr Tchaikovsky"));
        assert!(long.contains("fkkprstx"));
        assert!(long.contains("fkkprst"), "x left out");
        assert_eq!(long.len(), 1 + 7, "whole + one per distinct class");
        let six = sounds(&words("Lukasz Walesa"));
        assert_eq!(
            six.len(),
            1 + 5,
            "fkllsx: six classes, five distinct: {six:?}"
        );
        assert!(sounds(&words("Aoi")).is_empty());
    }

    #[test]
    fn parts_pairs_and_initials() {
        let p: Vec<String> = parts(&words("John Paul Smith")).into_iter().collect();
        assert_eq!(p, ["j smith", "john paul", "john smith", "paul smith"]);
        let y: Vec<String> = parts(&words("Yusuf Al-Hassan")).into_iter().collect();
        assert_eq!(
            y,
            ["hassan yusuf", "y hassan"],
            "the particle al is left out"
        );
        let q: Vec<String> = parts(&words("J. Smith")).into_iter().collect();
        assert_eq!(q, ["j smith"]);
        assert!(parts(&words("Madonna")).is_empty());
        assert!(parts(&words("A B")).is_empty(), "no word of two letters");
    }

    #[test]
    fn variant_forms_bounded() {
        let many = "Aaaa Bbbb Cccc Dddd Eeee Ffff Gggg Hhhh Ääää Öööö Üüüü Jjjj";
        let forms = variant_forms(many, "1980-01-02");
        assert!(forms.len() <= 2 + 23 + 32, "{}", forms.len());
        assert!(forms.iter().all(|(_, c)| c.ends_with("|1980-01-02")));
        assert!(variant_forms("!!!", "1980-01-02").is_empty());
        // A letter for N (U+02BC) that transliterates to an apostrophe: no variant, no error.
        assert!(variant_forms("\u{2bc}", "1980-01-02").is_empty());
    }
}
