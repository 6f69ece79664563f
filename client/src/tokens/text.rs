//! The plain-text helpers every canonicaliser shares: the one white-space set, trimming and
//! ASCII shape checks.

/// The Unicode White_Space property, spelt out so every implementation trims the same set.
pub(super) fn is_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `s` without white space at either end.
pub(super) fn trim(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `s` without any white space, ASCII upper-cased.
pub(super) fn without_spaces_ascii_upper(s: &str) -> String {
    s.chars()
        .filter(|&c| !is_space(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether `s` has white space or a control character anywhere.
pub(super) fn has_space_or_control(s: &str) -> bool {
    s.chars().any(|c| is_space(c) || c.is_control())
}

/// Whether every byte of `s` satisfies `pred`.
pub(super) fn all_ascii(s: &str, pred: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(pred)
}

/// `YYYY`: four ASCII digits.
pub(super) fn is_year(s: &str) -> bool {
    s.len() == 4 && all_ascii(s, |b| b.is_ascii_digit())
}

/// `YYYY-MM`: four digits, a hyphen, two digits.
pub(super) fn is_year_month(s: &str) -> bool {
    s.len() == 7
        && s.as_bytes()[4] == b'-'
        && is_year(&s[..4])
        && all_ascii(&s[5..], |b| b.is_ascii_digit())
}
