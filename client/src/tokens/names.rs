//! Names: canonical form N of a person's name and the canonical organisation name, with the
//! title and legal-form word lists they drop.

use unicode_general_category::get_general_category;
use unicode_normalization::UnicodeNormalization;

use super::TokenError;

/// Title words dropped from names wherever they stand (step 7 of name canonicalisation): the
/// v1 list, then (tokens v2) "the", councillors, peers' styles, King's/Queen's Counsel,
/// honours and post-nominals that UK registers carry, and generational suffixes.
pub const TITLE_WORDS: [&str; 44] = [
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "sir",
    "dame",
    "lord",
    "lady",
    "rev",
    "hon",
    "rt",
    "mp", // v1
    "the",
    "cllr",
    "councillor",
    "baroness",
    "viscount",
    "viscountess",
    "countess",
    "kc",
    "qc",
    "obe",
    "mbe",
    "cbe",
    "kbe",
    "dbe",
    "gbe",
    "bem",
    "bt",
    "bart",
    "esq",
    "jp",
    "dl",
    "frs",
    "msp",
    "mla",
    "mep",
    "jr",
    "jnr",
    "sr",
    "snr",
];

/// Legal-form words removed, repeatedly, from the end of an organisation name.
pub const LEGAL_FORM_WORDS: [&str; 12] = [
    "ltd",
    "limited",
    "plc",
    "llp",
    "lp",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "cic",
];

/// Steps 1–7 of name canonicalisation N: the words, in input order.
fn name_words(text: &str) -> Vec<String> {
    // 1. NFKD; 2. remove marks (Mn, Mc, Me).
    let stripped: String = text
        .nfkd()
        .filter(|&c| !get_general_category(c).abbreviation().starts_with('M'))
        .collect();
    // 3. Full case folding; 4. NFKC.
    let folded: String = caseless::default_case_fold_str(&stripped).nfkc().collect();
    // 5. Anything but a letter or number becomes a space; 6. split on the spaces, drop empty
    // parts; 7. drop title words.
    title_free_words(folded.chars(), |c| {
        let cat = get_general_category(c).abbreviation();
        cat.starts_with('L') || cat.starts_with('N')
    })
}

/// The words of `chars`: every character that `keep` refuses becomes a space, the text is split
/// on the spaces, and empty parts and [`TITLE_WORDS`] are dropped (steps 5–7 of N, shared with
/// the variant spellings).
pub(super) fn title_free_words(
    chars: impl Iterator<Item = char>,
    keep: impl Fn(char) -> bool,
) -> Vec<String> {
    let spaced: String = chars.map(|c| if keep(c) { c } else { ' ' }).collect();
    spaced
        .split(' ')
        .filter(|w| !w.is_empty() && !TITLE_WORDS.contains(w))
        .map(str::to_owned)
        .collect()
}

/// Steps 8–9: sort by code point, join with one space; nothing left is an error.
fn sorted_joined(mut words: Vec<String>) -> String {
    // UTF-8 byte order is code point order.
    words.sort_unstable();
    words.join(" ")
}

/// Canonical form N of a person's name (spec steps 1–9): e.g. `"Dr. José  García-Pérez"` →
/// `"garcia jose perez"`. Error (field `name`) if nothing is left.
pub fn canonical_name(name: &str) -> Result<String, TokenError> {
    let words = name_words(name);
    if words.is_empty() {
        return Err(TokenError::field("name", "name has no letters"));
    }
    Ok(sorted_joined(words))
}

/// Canonical form of an organisation's name (without the country): steps 1–7 of N, then
/// legal-form words removed from the end repeatedly, then steps 8–9; e.g.
/// `"Acme Trading Co. Ltd"` → `"acme trading"`. Error (field `org_name`) if nothing is left.
pub fn canonical_org_name(name: &str) -> Result<String, TokenError> {
    let mut words = name_words(name);
    if words.is_empty() {
        return Err(TokenError::field(
            "org_name",
            "organisation name has no letters",
        ));
    }
    while words
        .last()
        .is_some_and(|w| LEGAL_FORM_WORDS.contains(&w.as_str()))
    {
        words.pop();
    }
    if words.is_empty() {
        return Err(TokenError::field(
            "org_name",
            "organisation name is only legal-form words",
        ));
    }
    Ok(sorted_joined(words))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::test_support::field_err;
    use proptest::prelude::*;

    #[test]
    fn spec_name_examples() {
        for n in [
            "Dr. José  García-Pérez",
            "GARCIA PEREZ, Jose",
            "pérez garcía josé",
        ] {
            assert_eq!(canonical_name(n).unwrap(), "garcia jose perez", "{n}");
        }
    }

    #[test]
    fn names_non_ascii() {
        let cases = [
            ("Hans-Jürgen Weiß", "hans jurgen weiss"),
            ("HANS-JÜRGEN WEIẞ", "hans jurgen weiss"),
            ("İsmail Işık", "ismail isık"),
            ("ΟΔΥΣΣΕΥΣ", "οδυσσευσ"),
            ("Οδυσσεύς", "οδυσσευσ"),
            ("Пётр Чайковский", "петр чаиковскии"),
            ("王小明", "王小明"),
            ("山田\u{3000}太郎", "太郎 山田"),
            ("김 민준", "김 민준"),
            ("مُحَمَّد", "محمد"),
            ("ＪＯＨＮ ＳＭＩＴＨ", "john smith"),
            ("ﬁnn", "finn"),
            ("Henry Ⅷ", "henry viii"),
            ("Jose\u{301}", "jose"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_name(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn names_titles_and_rejections() {
        assert_eq!(
            canonical_name("The Rt. Hon. Dame Jane Doe MP").unwrap(),
            "doe jane"
        );
        assert_eq!(
            canonical_name("Cllr John Smith KC OBE, Esq.").unwrap(),
            "john smith"
        );
        assert_eq!(canonical_name("Prof. Dr. Mx Alex Lee").unwrap(), "alex lee");
        for bad in ["", "   ", "!!! ---", "Mr. Dr.", "\u{301}\u{301}", "\u{0}"] {
            assert_eq!(
                field_err(canonical_name(bad)),
                ("name", "name has no letters".to_owned())
            );
        }
        // Digits alone are a name by the spec's rule (only an empty result is rejected).
        assert_eq!(canonical_name("007").unwrap(), "007");
    }

    #[test]
    fn org_names() {
        assert_eq!(
            canonical_org_name("Acme Trading Co. Ltd").unwrap(),
            "acme trading"
        );
        assert_eq!(
            canonical_org_name("ACME TRADING COMPANY LIMITED").unwrap(),
            "acme trading"
        );
        assert_eq!(
            canonical_org_name("Limited Editions Ltd").unwrap(),
            "editions limited"
        );
        assert_eq!(
            field_err(canonical_org_name("Company Limited")).0,
            "org_name"
        );
        assert_eq!(field_err(canonical_org_name("...")).0, "org_name");
    }

    proptest! {
        #[test]
        fn canonical_name_is_idempotent_and_total(s in any::<String>()) {
            if let Ok(c) = canonical_name(&s) {
                prop_assert!(!c.is_empty());
                prop_assert_eq!(canonical_name(&c), Ok(c.clone()));
                prop_assert!(!c.contains('|'));
            }
        }

        #[test]
        fn canonical_name_is_idempotent_on_letters(
            s in proptest::collection::vec(
                prop_oneof![
                    proptest::char::range('\u{20}', '\u{24f}'),
                    proptest::char::range('\u{370}', '\u{52f}'),
                    proptest::char::range('\u{1100}', '\u{11ff}'),
                    proptest::char::range('\u{ac00}', '\u{d7a3}'),
                    proptest::char::range('\u{1e00}', '\u{1fff}'),
                    proptest::char::range('\u{fb00}', '\u{fb4f}'),
                    proptest::char::range('\u{ff00}', '\u{ffef}'),
                    proptest::char::range('\u{300}', '\u{36f}'),
                ],
                0..24,
            )
        ) {
            let s: String = s.into_iter().collect();
            if let Ok(c) = canonical_name(&s) {
                prop_assert_eq!(canonical_name(&c), Ok(c.clone()));
            }
        }
    }
}
