//! The kinds of token: their order, their digest labels and their proto names.

/// The kinds of token, in the order of the proto enum (PERSON_NAME_DOB = 1 ... EMAIL = 8 of
/// spec v1, then PERSON_NAME_BIRTH_MONTH = 9 and the variant kinds of tokens v2,
/// PERSON_NAME_LETTERS_DOB = 10 ...).
///
/// This is the kind as a client derives it (with its canonical form and digest label); the
/// contract's wire enum is [`crate::proto::v1::TokenKind`], to which
/// [`crate::api::proto_token_kind`] maps each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CanonicalKind {
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

impl CanonicalKind {
    /// Every kind, in proto enum order.
    pub const ALL: [CanonicalKind; 12] = [
        CanonicalKind::PersonNameDob,
        CanonicalKind::PersonNameYob,
        CanonicalKind::PersonNamePostcode,
        CanonicalKind::TravelDocument,
        CanonicalKind::CompanyNumber,
        CanonicalKind::OrganisationName,
        CanonicalKind::CryptoWallet,
        CanonicalKind::Email,
        CanonicalKind::PersonNameBirthMonth,
        CanonicalKind::PersonNameLettersDob,
        CanonicalKind::PersonNameSoundDob,
        CanonicalKind::PersonNamePartDob,
    ];

    /// The label digested with the canonical form (`"person-name-dob"`, …).
    pub fn label(self) -> &'static str {
        match self {
            CanonicalKind::PersonNameDob => "person-name-dob",
            CanonicalKind::PersonNameYob => "person-name-yob",
            CanonicalKind::PersonNamePostcode => "person-name-postcode",
            CanonicalKind::TravelDocument => "travel-document",
            CanonicalKind::CompanyNumber => "company-number",
            CanonicalKind::OrganisationName => "organisation-name",
            CanonicalKind::CryptoWallet => "crypto-wallet",
            CanonicalKind::Email => "email",
            CanonicalKind::PersonNameBirthMonth => "person-name-birth-month",
            CanonicalKind::PersonNameLettersDob => "person-name-letters-dob",
            CanonicalKind::PersonNameSoundDob => "person-name-sound-dob",
            CanonicalKind::PersonNamePartDob => "person-name-part-dob",
        }
    }

    /// The proto enum value name (`"PERSON_NAME_DOB"`, …).
    pub fn name(self) -> &'static str {
        match self {
            CanonicalKind::PersonNameDob => "PERSON_NAME_DOB",
            CanonicalKind::PersonNameYob => "PERSON_NAME_YOB",
            CanonicalKind::PersonNamePostcode => "PERSON_NAME_POSTCODE",
            CanonicalKind::TravelDocument => "TRAVEL_DOCUMENT",
            CanonicalKind::CompanyNumber => "COMPANY_NUMBER",
            CanonicalKind::OrganisationName => "ORGANISATION_NAME",
            CanonicalKind::CryptoWallet => "CRYPTO_WALLET",
            CanonicalKind::Email => "EMAIL",
            CanonicalKind::PersonNameBirthMonth => "PERSON_NAME_BIRTH_MONTH",
            CanonicalKind::PersonNameLettersDob => "PERSON_NAME_LETTERS_DOB",
            CanonicalKind::PersonNameSoundDob => "PERSON_NAME_SOUND_DOB",
            CanonicalKind::PersonNamePartDob => "PERSON_NAME_PART_DOB",
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
        assert_eq!(CanonicalKind::ALL.len(), 12);
        for kind in CanonicalKind::ALL {
            assert_eq!(CanonicalKind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.label().replace('-', "_").to_uppercase(), kind.name());
        }
        assert_eq!(CanonicalKind::from_name("person_name_dob"), None);
        assert_eq!(CanonicalKind::from_name("TOKEN_KIND_UNSPECIFIED"), None);
        assert!(CanonicalKind::PersonNameDob < CanonicalKind::Email);
    }
}
