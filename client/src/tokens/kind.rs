//! The kinds of token: their order, their digest labels and their proto names.

/// The kinds of token, in the order of the proto enum (PERSON_NAME_DOB = 1 ... EMAIL = 8 of
/// spec v1, then PERSON_NAME_BIRTH_MONTH = 9 and the variant kinds of tokens v2,
/// PERSON_NAME_LETTERS_DOB = 10 ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TokenKind {
    /// Name and full date of birth: `name(N) + "|" + YYYY-MM-DD`.
    PersonNameDob,
    /// Name and year of birth: `name(N) + "|" + YYYY`.
    PersonNameYob,
    /// Name and UK postcode: `name(N) + "|" + postcode(P)`.
    PersonNamePostcode,
    /// Passport or identity card: `country + "|" + number`.
    TravelDocument,
    /// UK Companies House number: `"GB-COH|" + number`.
    CompanyNumber,
    /// Organisation name and country: `org(N) + "|" + alpha-2 country`.
    OrganisationName,
    /// Crypto-currency wallet: `chain + "|" + address`.
    CryptoWallet,
    /// E-mail address, trimmed and lower-cased.
    Email,
    /// Name and year and month of birth (tokens v2): `name(N) + "|" + YYYY-MM`. What the UK
    /// register of persons with significant control publishes; derived from a full date too.
    PersonNameBirthMonth,
    /// Variant (tier NORMALISED): the sorted letters of the name's Latin spelling and the date
    /// of birth ([`variants`](super::variants)).
    PersonNameLettersDob,
    /// Variant (tier PHONETIC): the name's sorted sound classes, or them less one, and the date
    /// of birth ([`variants`](super::variants)).
    PersonNameSoundDob,
    /// Variant (tier PARTIAL_NAME): two words of the name, or a word and another's initial, and
    /// the date of birth ([`variants`](super::variants)).
    PersonNamePartDob,
}

impl TokenKind {
    /// Every kind, in proto enum order.
    pub const ALL: [TokenKind; 12] = [
        TokenKind::PersonNameDob,
        TokenKind::PersonNameYob,
        TokenKind::PersonNamePostcode,
        TokenKind::TravelDocument,
        TokenKind::CompanyNumber,
        TokenKind::OrganisationName,
        TokenKind::CryptoWallet,
        TokenKind::Email,
        TokenKind::PersonNameBirthMonth,
        TokenKind::PersonNameLettersDob,
        TokenKind::PersonNameSoundDob,
        TokenKind::PersonNamePartDob,
    ];

    /// The label digested with the canonical form (`"person-name-dob"`, …).
    pub fn label(self) -> &'static str {
        match self {
            TokenKind::PersonNameDob => "person-name-dob",
            TokenKind::PersonNameYob => "person-name-yob",
            TokenKind::PersonNamePostcode => "person-name-postcode",
            TokenKind::TravelDocument => "travel-document",
            TokenKind::CompanyNumber => "company-number",
            TokenKind::OrganisationName => "organisation-name",
            TokenKind::CryptoWallet => "crypto-wallet",
            TokenKind::Email => "email",
            TokenKind::PersonNameBirthMonth => "person-name-birth-month",
            TokenKind::PersonNameLettersDob => "person-name-letters-dob",
            TokenKind::PersonNameSoundDob => "person-name-sound-dob",
            TokenKind::PersonNamePartDob => "person-name-part-dob",
        }
    }

    /// The proto enum value name (`"PERSON_NAME_DOB"`, …).
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::PersonNameDob => "PERSON_NAME_DOB",
            TokenKind::PersonNameYob => "PERSON_NAME_YOB",
            TokenKind::PersonNamePostcode => "PERSON_NAME_POSTCODE",
            TokenKind::TravelDocument => "TRAVEL_DOCUMENT",
            TokenKind::CompanyNumber => "COMPANY_NUMBER",
            TokenKind::OrganisationName => "ORGANISATION_NAME",
            TokenKind::CryptoWallet => "CRYPTO_WALLET",
            TokenKind::Email => "EMAIL",
            TokenKind::PersonNameBirthMonth => "PERSON_NAME_BIRTH_MONTH",
            TokenKind::PersonNameLettersDob => "PERSON_NAME_LETTERS_DOB",
            TokenKind::PersonNameSoundDob => "PERSON_NAME_SOUND_DOB",
            TokenKind::PersonNamePartDob => "PERSON_NAME_PART_DOB",
        }
    }

    /// The kind whose [`name`](Self::name) is `s` (exact, upper case), if any.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_labels_and_names() {
        assert_eq!(TokenKind::ALL.len(), 12);
        for kind in TokenKind::ALL {
            assert_eq!(TokenKind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.label().replace('-', "_").to_uppercase(), kind.name());
        }
        assert_eq!(TokenKind::from_name("person_name_dob"), None);
        assert_eq!(TokenKind::from_name("TOKEN_KIND_UNSPECIFIED"), None);
        assert!(TokenKind::PersonNameDob < TokenKind::Email);
    }
}
