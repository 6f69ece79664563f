//! How strongly, and on which tier, a set of matched token kinds identifies a subject (api.md
//! `MatchStrength`, tokens.md v2 "Variant tokens and match tiers").
//!
//! Strength counts distinct *attributes* (person name + date, postcode, travel document, company
//! number, organisation name, wallet, email), not the several kinds of one attribute; a match
//! whose best tier is `PHONETIC` or `PARTIAL_NAME` is at most `PARTIAL`.

use std::collections::BTreeSet;

use super::values::{MatchStrength, MatchTier, TokenKind};

/// The identity attribute a token kind speaks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Attribute {
    NameAndDate,
    Postcode,
    TravelDocument,
    CompanyNumber,
    OrganisationName,
    Wallet,
    Email,
    Unknown,
}

/// The attribute of a kind, the strength that kind gives on its own, and its tier.
fn describe(kind: TokenKind) -> (Attribute, MatchStrength, MatchTier) {
    use MatchStrength::{Partial, Strong, Unspecified, Weak};
    match kind {
        TokenKind::PersonNameDob => (Attribute::NameAndDate, Strong, MatchTier::Exact),
        TokenKind::PersonNameYob => (Attribute::NameAndDate, Weak, MatchTier::Exact),
        TokenKind::PersonNamePostcode => (Attribute::Postcode, Partial, MatchTier::Exact),
        TokenKind::TravelDocument => (Attribute::TravelDocument, Strong, MatchTier::Exact),
        TokenKind::CompanyNumber => (Attribute::CompanyNumber, Strong, MatchTier::Exact),
        TokenKind::OrganisationName => (Attribute::OrganisationName, Partial, MatchTier::Exact),
        TokenKind::CryptoWallet => (Attribute::Wallet, Strong, MatchTier::Exact),
        TokenKind::Email => (Attribute::Email, Strong, MatchTier::Exact),
        // Name with a year and month of birth: the same attribute as name + date, never more
        // than PARTIAL on its own (tokens.md v2 "PERSON_NAME_BIRTH_MONTH").
        TokenKind::PersonNameBirthMonth => (Attribute::NameAndDate, Partial, MatchTier::Exact),
        TokenKind::PersonNameLettersDob => (Attribute::NameAndDate, Strong, MatchTier::Normalised),
        TokenKind::PersonNameSoundDob => (Attribute::NameAndDate, Partial, MatchTier::Phonetic),
        TokenKind::PersonNamePartDob => (Attribute::NameAndDate, Partial, MatchTier::PartialName),
        // Never stored: validation refuses it on input.
        TokenKind::Unspecified => (Attribute::Unknown, Unspecified, MatchTier::Unspecified),
    }
}

/// The rank of a tier: 0 is best (EXACT), UNSPECIFIED ranks last.
fn tier_rank(t: MatchTier) -> u8 {
    match t {
        MatchTier::Exact => 0,
        MatchTier::Normalised => 1,
        MatchTier::Phonetic => 2,
        MatchTier::PartialName => 3,
        MatchTier::Unspecified => 4,
    }
}

/// The best tier among the kinds (`UNSPECIFIED` for an empty set).
pub fn tier(kinds: &BTreeSet<TokenKind>) -> MatchTier {
    kinds
        .iter()
        .map(|k| describe(*k).2)
        .min_by_key(|t| tier_rank(*t))
        .unwrap_or(MatchTier::Unspecified)
}

/// [`tier`] of a list of proto enum values (unknown values are ignored).
pub fn tier_of(kinds: &[i32]) -> MatchTier {
    tier(
        &kinds
            .iter()
            .filter_map(|k| TokenKind::try_from(*k).ok())
            .collect(),
    )
}

/// Match strength of the set of kinds an advisory matched on: `STRONG` if one attribute is
/// strong on its own (travel document, company number, wallet, email, name + full date exactly
/// or after normalisation) or two distinct attributes matched; else `PARTIAL` if a postcode,
/// organisation name, name with year and month of birth, or name variant with the date
/// matched; else `WEAK`. Then a best tier of
/// `PHONETIC` or `PARTIAL_NAME` caps it at `PARTIAL`.
pub fn strength(kinds: &BTreeSet<TokenKind>) -> MatchStrength {
    let attributes: BTreeSet<Attribute> = kinds.iter().map(|k| describe(*k).0).collect();
    let best_alone = kinds
        .iter()
        .map(|k| describe(*k).1)
        .max()
        .unwrap_or(MatchStrength::Unspecified);
    let raw = if best_alone == MatchStrength::Strong || attributes.len() >= 2 {
        MatchStrength::Strong
    } else {
        best_alone
    };
    match tier(kinds) {
        MatchTier::Phonetic | MatchTier::PartialName => raw.min(MatchStrength::Partial),
        MatchTier::Exact | MatchTier::Normalised | MatchTier::Unspecified => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(kinds: &[TokenKind]) -> BTreeSet<TokenKind> {
        kinds.iter().copied().collect()
    }

    #[test]
    fn strength_follows_the_contract() {
        use TokenKind::*;
        for k in [
            TravelDocument,
            CompanyNumber,
            CryptoWallet,
            Email,
            PersonNameDob,
            PersonNameLettersDob,
        ] {
            assert_eq!(strength(&set(&[k])), MatchStrength::Strong, "{k:?}");
        }
        for k in [
            PersonNamePostcode,
            OrganisationName,
            PersonNameSoundDob,
            PersonNamePartDob,
        ] {
            assert_eq!(strength(&set(&[k])), MatchStrength::Partial, "{k:?}");
        }
        assert_eq!(strength(&set(&[PersonNameYob])), MatchStrength::Weak);
        assert_eq!(
            strength(&set(&[PersonNameYob, PersonNamePostcode])),
            MatchStrength::Strong,
            "two attributes"
        );
        // Name and a date at any precision are one attribute: a year and month is PARTIAL,
        // with or without the year token.
        assert_eq!(
            strength(&set(&[PersonNameBirthMonth])),
            MatchStrength::Partial
        );
        assert_eq!(
            strength(&set(&[PersonNameYob, PersonNameBirthMonth])),
            MatchStrength::Partial
        );
        assert_eq!(
            strength(&set(&[PersonNameBirthMonth, CompanyNumber])),
            MatchStrength::Strong
        );
        assert_eq!(
            strength(&set(&[PersonNameBirthMonth, PersonNamePostcode])),
            MatchStrength::Strong
        );
        assert_eq!(
            strength(&set(&[PersonNameDob, PersonNameYob, PersonNameBirthMonth])),
            MatchStrength::Strong
        );
        assert_eq!(
            strength(&set(&[PersonNameBirthMonth, PersonNameSoundDob])),
            MatchStrength::Partial,
            "a variant adds no attribute to the month"
        );
        assert_eq!(
            tier(&set(&[PersonNameBirthMonth, PersonNameSoundDob])),
            MatchTier::Exact
        );
    }

    #[test]
    fn variants_of_one_attribute_do_not_add_up() {
        use TokenKind::*;
        let one = set(&[PersonNameSoundDob, PersonNamePartDob]);
        assert_eq!(strength(&one), MatchStrength::Partial);
        assert_eq!(tier(&one), MatchTier::Phonetic);
        let with_year = set(&[PersonNameYob, PersonNameSoundDob, PersonNamePartDob]);
        assert_eq!(strength(&with_year), MatchStrength::Partial);
        assert_eq!(tier(&with_year), MatchTier::Exact);
    }

    #[test]
    fn tiers() {
        use TokenKind::*;
        assert_eq!(tier(&set(&[])), MatchTier::Unspecified);
        assert_eq!(tier(&set(&[Email, PersonNamePartDob])), MatchTier::Exact);
        assert_eq!(
            tier(&set(&[PersonNameLettersDob, PersonNameSoundDob])),
            MatchTier::Normalised
        );
        assert_eq!(tier(&set(&[PersonNamePartDob])), MatchTier::PartialName);
        assert_eq!(
            tier_of(&[PersonNameSoundDob as i32, 99]),
            MatchTier::Phonetic
        );
        // A phonetic name and an exact passport: two attributes, best tier exact.
        let both = set(&[PersonNameSoundDob, TravelDocument]);
        assert_eq!(strength(&both), MatchStrength::Strong);
    }
}
