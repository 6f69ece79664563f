#!/usr/bin/env python3
"""Reference implementation of Portcullis identity tokens, spec v1 (docs/tokens.md).

Standard library only (Python 3.11 or later). Written independently of the Rust module
(src/tokens.rs) so that the test vectors it generates check one implementation against another.

Usage:
    token_vectors.py --write tests/data/token-vectors.json   # generate the vectors file
    token_vectors.py --check tests/data/token-vectors.json   # recompute every vector; exit 1 on a difference

A back-office system may also import this file and call `derive(key, fields)`.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import re
import sys
import unicodedata

SPEC = "portcullis-tokens-v1"
DIGEST_PREFIX = "portcullis:v1:"

# (proto enum name, label), in proto enum order (PERSON_NAME_DOB = 1 ... EMAIL = 8,
# PERSON_NAME_BIRTH_MONTH = 9).
KINDS = [
    ("PERSON_NAME_DOB", "person-name-dob"),
    ("PERSON_NAME_YOB", "person-name-yob"),
    ("PERSON_NAME_POSTCODE", "person-name-postcode"),
    ("TRAVEL_DOCUMENT", "travel-document"),
    ("COMPANY_NUMBER", "company-number"),
    ("ORGANISATION_NAME", "organisation-name"),
    ("CRYPTO_WALLET", "crypto-wallet"),
    ("EMAIL", "email"),
    ("PERSON_NAME_BIRTH_MONTH", "person-name-birth-month"),
]
LABELS = dict(KINDS)

TITLES = frozenset("mr mrs ms miss mx dr prof sir dame lord lady rev hon rt mp".split())
LEGAL_FORMS = frozenset(
    "ltd limited plc llp lp inc incorporated corp corporation co company cic".split()
)

# The Unicode White_Space property, listed so that every implementation trims the same set
# (Python's str.strip() would also strip U+001C..U+001F, which are not White_Space).
WHITESPACE = frozenset(
    [chr(c) for c in range(0x09, 0x0E)]
    + ["\u0020", "\u0085", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
)
WHITESPACE_STR = "".join(sorted(WHITESPACE))

# Field names, in the order derive() validates them.
FIELDS = [
    "name",
    "dob",
    "postcode",
    "passport",
    "company_number",
    "org_name",
    "country",
    "wallet",
    "email",
]

KEY_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
KEY_HEX_RE = re.compile(r"[0-9a-f]{64}")
POSTCODE_RE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")
ISO_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
UK_DATE_RE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
YEAR_RE = re.compile(r"[0-9]{4}")
YEAR_MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
ALPHA3_RE = re.compile(r"[A-Z]{3}")
ALPHA2_RE = re.compile(r"[A-Z]{2}")
COMPANY_DIGITS_RE = re.compile(r"[0-9]{1,8}")
COMPANY_PREFIXED_RE = re.compile(r"([A-Z]{2})([0-9]{1,6})")
CHAIN_RE = re.compile(r"[a-z0-9]{1,16}")
ETH_RE = re.compile(r"0x[0-9a-f]{40}")
MIN_YEAR = 1900


class TokenError(Exception):
    """A given field is unusable (field is None when no field was given at all)."""

    def __init__(self, field: str | None, reason: str):
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


NO_FIELDS_REASON = "no identity field given"


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def trim(s: str) -> str:
    return s.strip(WHITESPACE_STR)


def remove_whitespace(s: str) -> str:
    return "".join(c for c in s if c not in WHITESPACE)


def ascii_upper(s: str) -> str:
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in s)


def ascii_lower(s: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def has_space_or_control(s: str) -> bool:
    return any(c in WHITESPACE or unicodedata.category(c) == "Cc" for c in s)


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------


def name_words(text: str) -> list[str]:
    """Steps 1-7 of name canonicalisation N: the words, in input order."""
    s = unicodedata.normalize("NFKD", text)  # 1
    s = "".join(c for c in s if not unicodedata.category(c).startswith("M"))  # 2
    s = s.casefold()  # 3
    s = unicodedata.normalize("NFKC", s)  # 4
    s = "".join(c if unicodedata.category(c)[0] in "LN" else " " for c in s)  # 5
    words = [w for w in s.split(" ") if w]  # 6 (only U+0020 remains as a separator)
    return [w for w in words if w not in TITLES]  # 7


def canonical_name(text: str) -> str:
    words = sorted(name_words(text))  # 8: str comparison is by code point
    if not words:
        raise TokenError("name", "name has no letters")  # 9
    return " ".join(words)


def canonical_org_name(text: str) -> str:
    words = name_words(text)
    if not words:
        raise TokenError("org_name", "organisation name has no letters")
    while words and words[-1] in LEGAL_FORMS:
        words.pop()
    if not words:
        raise TokenError("org_name", "organisation name is only legal-form words")
    return " ".join(sorted(words))


# ---------------------------------------------------------------------------------------------
# Other fields
# ---------------------------------------------------------------------------------------------


def canonical_postcode(text: str) -> str:
    p = ascii_upper(remove_whitespace(text))
    if p == "GIR0AA" or POSTCODE_RE.fullmatch(p):
        return p
    raise TokenError("postcode", "not a UK postcode")


def today_utc() -> datetime.date:
    return datetime.datetime.now(datetime.timezone.utc).date()


def canonical_date(text: str, today: datetime.date | None = None) -> str:
    today = today or today_utc()
    s = trim(text)
    m = ISO_DATE_RE.fullmatch(s)
    if m:
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    else:
        m = UK_DATE_RE.fullmatch(s)
        if not m:
            raise TokenError("dob", "not a date of the form YYYY-MM-DD or DD/MM/YYYY")
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    if year < MIN_YEAR:
        raise TokenError("dob", "date is before 1900")
    try:
        date = datetime.date(year, month, day)
    except ValueError:
        raise TokenError("dob", "not a real calendar date") from None
    if date > today:
        raise TokenError("dob", "date is in the future")
    return f"{year:04d}-{month:02d}-{day:02d}"


def canonical_year(text: str, today: datetime.date | None = None) -> str:
    today = today or today_utc()
    s = trim(text)
    if not YEAR_RE.fullmatch(s):
        raise TokenError("dob", "not a year of the form YYYY")
    year = int(s)
    if year < MIN_YEAR:
        raise TokenError("dob", "year is before 1900")
    if year > today.year:
        raise TokenError("dob", "year is in the future")
    return s


def canonical_year_month(text: str, today: datetime.date | None = None) -> str:
    today = today or today_utc()
    s = trim(text)
    m = YEAR_MONTH_RE.fullmatch(s)
    if not m:
        raise TokenError("dob", "not a year and month of the form YYYY-MM")
    year, month = int(m[1]), int(m[2])
    if year < MIN_YEAR:
        raise TokenError("dob", "year is before 1900")
    if not 1 <= month <= 12:
        raise TokenError("dob", "not a real month")
    if (year, month) > (today.year, today.month):
        raise TokenError("dob", "month is in the future")
    return s


def canonical_travel_document(text: str) -> str:
    if ":" not in text:
        raise TokenError("passport", "expected COUNTRY:NUMBER")
    country, number = text.split(":", 1)
    country = ascii_upper(trim(country))
    if not ALPHA3_RE.fullmatch(country):
        raise TokenError("passport", "country must be an ISO 3166-1 alpha-3 code (three letters)")
    number = "".join(c for c in ascii_upper(number) if "A" <= c <= "Z" or "0" <= c <= "9")
    if not number:
        raise TokenError("passport", "document number has no letters or digits")
    return f"{country}|{number}"


def canonical_company_number(text: str) -> str:
    n = ascii_upper(remove_whitespace(text))
    if COMPANY_DIGITS_RE.fullmatch(n):
        return "GB-COH|" + n.rjust(8, "0")
    m = COMPANY_PREFIXED_RE.fullmatch(n)
    if m:
        return "GB-COH|" + m[1] + m[2].rjust(6, "0")
    raise TokenError(
        "company_number", "not a company number (up to 8 digits, or 2 letters and up to 6 digits)"
    )


def canonical_country(text: str) -> str:
    c = ascii_upper(trim(text))
    if c == "UK":
        raise TokenError("country", "use GB for the United Kingdom (ISO 3166-1 alpha-2)")
    if not ALPHA2_RE.fullmatch(c):
        raise TokenError("country", "country must be an ISO 3166-1 alpha-2 code (two letters)")
    return c


def canonical_wallet(text: str) -> str:
    if ":" not in text:
        raise TokenError("wallet", "expected CHAIN:ADDRESS")
    chain, address = text.split(":", 1)
    chain = ascii_lower(trim(chain))
    if not CHAIN_RE.fullmatch(chain):
        raise TokenError("wallet", "chain must be 1 to 16 of a-z and 0-9")
    address = trim(address)
    if not address:
        raise TokenError("wallet", "address is empty")
    if has_space_or_control(address):
        raise TokenError("wallet", "address contains whitespace or control characters")
    if chain == "eth":
        address = ascii_lower(address)
        if not ETH_RE.fullmatch(address):
            raise TokenError("wallet", "eth address must be 0x and 40 hex digits")
    elif ascii_lower(address[:3]) == "bc1":
        address = ascii_lower(address)
    return f"{chain}|{address}"


def canonical_email(text: str) -> str:
    e = trim(text)
    if has_space_or_control(e):
        raise TokenError("email", "email contains whitespace or control characters")
    local, at, domain = e.partition("@")
    if not at or not local or not domain or "@" in domain:
        raise TokenError("email", "email must have exactly one @ with text on both sides")
    return e.lower()


# ---------------------------------------------------------------------------------------------
# Keys, digests, derivation
# ---------------------------------------------------------------------------------------------


def parse_key(text: str) -> tuple[str, bytes]:
    """Parse a key file's text `<key_id>:<64 lowercase hex>` into (key_id, key bytes)."""
    line = trim(text)
    key_id, sep, key_hex = line.partition(":")
    if not sep:
        raise ValueError("expected <key_id>:<64 lower-case hex characters>")
    if not KEY_ID_RE.fullmatch(key_id):
        raise ValueError("key id must be 1 to 64 of A-Z a-z 0-9 . _ -")
    if not KEY_HEX_RE.fullmatch(key_hex):
        raise ValueError("key must be 64 lower-case hex characters")
    return key_id, bytes.fromhex(key_hex)


def digest(key: bytes, label: str, canonical: str) -> bytes:
    message = (DIGEST_PREFIX + label + ":" + canonical).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).digest()


def derive(key: bytes, fields: dict, today: datetime.date | None = None) -> list[dict]:
    """Every token the fields give, in kind order, as dicts {kind, label, canonical, digest}.

    `fields` maps field names (FIELDS) to strings; a missing key or None means "not given",
    any string (even empty) means "given". Raises TokenError.
    """
    today = today or today_utc()
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    given = {k: v for k, v in fields.items() if v is not None}
    if not given:
        raise TokenError(None, NO_FIELDS_REASON)

    # 1. Each given field on its own, in FIELDS order.
    canon: dict[str, str] = {}
    year_only = False
    month_only = False
    for field in FIELDS:
        if field not in given:
            continue
        value = given[field]
        if field == "name":
            canon[field] = canonical_name(value)
        elif field == "dob":
            if YEAR_RE.fullmatch(trim(value)):
                canon[field] = canonical_year(value, today)
                year_only = True
            elif YEAR_MONTH_RE.fullmatch(trim(value)):
                canon[field] = canonical_year_month(value, today)
                month_only = True
            else:
                canon[field] = canonical_date(value, today)
        elif field == "postcode":
            canon[field] = canonical_postcode(value)
        elif field == "passport":
            canon[field] = canonical_travel_document(value)
        elif field == "company_number":
            canon[field] = canonical_company_number(value)
        elif field == "org_name":
            canon[field] = canonical_org_name(value)
        elif field == "country":
            canon[field] = canonical_country(value)
        elif field == "wallet":
            canon[field] = canonical_wallet(value)
        elif field == "email":
            canon[field] = canonical_email(value)

    # 2. Fields that only make a token together with another.
    if "name" in canon and "dob" not in canon and "postcode" not in canon:
        raise TokenError("name", "a name needs a date of birth or a postcode")
    if "dob" in canon and "name" not in canon:
        raise TokenError("dob", "a date of birth needs a name")
    if "postcode" in canon and "name" not in canon:
        raise TokenError("postcode", "a postcode needs a name")
    if "org_name" in canon and "country" not in canon:
        raise TokenError("country", "an organisation name needs a country")
    if "country" in canon and "org_name" not in canon:
        raise TokenError("country", "a country needs an organisation name")

    # 3. The tokens, in kind order.
    out: list[tuple[str, str]] = []
    if "name" in canon and "dob" in canon and not month_only:
        if not year_only:
            out.append(("PERSON_NAME_DOB", canon["name"] + "|" + canon["dob"]))
        out.append(("PERSON_NAME_YOB", canon["name"] + "|" + canon["dob"][:4]))
    if "name" in canon and "postcode" in canon:
        out.append(("PERSON_NAME_POSTCODE", canon["name"] + "|" + canon["postcode"]))
    if "passport" in canon:
        out.append(("TRAVEL_DOCUMENT", canon["passport"]))
    if "company_number" in canon:
        out.append(("COMPANY_NUMBER", canon["company_number"]))
    if "org_name" in canon:
        out.append(("ORGANISATION_NAME", canon["org_name"] + "|" + canon["country"]))
    if "wallet" in canon:
        out.append(("CRYPTO_WALLET", canon["wallet"]))
    if "email" in canon:
        out.append(("EMAIL", canon["email"]))
    if "name" in canon and "dob" in canon and not year_only:
        out.append(("PERSON_NAME_BIRTH_MONTH", canon["name"] + "|" + canon["dob"][:7]))
    return [
        {
            "kind": kind,
            "label": LABELS[kind],
            "canonical": canonical,
            "digest": digest(key, LABELS[kind], canonical).hex(),
        }
        for kind, canonical in out
    ]


# ---------------------------------------------------------------------------------------------
# The vectors
# ---------------------------------------------------------------------------------------------

KEY_ID = "vectors-1"
KEY = bytes(range(32))

# (id, description, fields). Expected results are computed by derive(), not written by hand;
# the Rust tests and `--check` then hold both implementations to them.
CASES: list[tuple[str, str, dict]] = [
    # --- the spec's three equivalent forms, plus a decomposed (NFD) input ---------------------
    ("name-garcia-title-punct", "spec example: title, double space, hyphen, accents",
     {"name": "Dr. José  García-Pérez", "dob": "1970-01-02"}),
    ("name-garcia-upper-comma", "spec example: upper case, comma, no accents",
     {"name": "GARCIA PEREZ, Jose", "dob": "1970-01-02"}),
    ("name-garcia-lower-reordered", "spec example: lower case, different order",
     {"name": "pérez garcía josé", "dob": "1970-01-02"}),
    ("name-garcia-nfd", "accents as combining marks (NFD input) give the same tokens",
     {"name": "Jose\u0301 Garci\u0301a Pe\u0301rez", "dob": "1970-01-02"}),
    # --- non-ASCII names ---------------------------------------------------------------------
    ("name-german-sharp-s", "German ß folds to ss; ü loses its diaeresis",
     {"name": "Hans-Jürgen Weiß", "dob": "1961-07-14"}),
    ("name-german-upper-ss", "the upper-case spelling of the same name",
     {"name": "HANS-JÜRGEN WEISS", "dob": "1961-07-14"}),
    ("name-german-capital-sharp-s", "capital ẞ (U+1E9E) also folds to ss",
     {"name": "HANS-JÜRGEN WEIẞ", "dob": "1961-07-14"}),
    ("name-turkish-dotted-capital-i", "Turkish İ (U+0130) becomes i; dotless ı stays ı",
     {"name": "İsmail Işık", "dob": "1985-03-09"}),
    ("name-greek-final-sigma", "Greek: final ς and capital Σ both fold to σ; tonos removed",
     {"name": "Οδυσσεύς Παπαδόπουλος", "dob": "1950-11-30"}),
    ("name-greek-upper", "the same Greek name in capitals",
     {"name": "ΟΔΥΣΣΕΥΣ ΠΑΠΑΔΟΠΟΥΛΟΣ", "dob": "1950-11-30"}),
    ("name-cyrillic", "Cyrillic: ё loses its diaeresis, й its breve (both are marks in NFKD)",
     {"name": "Пётр Ильич Чайковский", "dob": "1940-05-07"}),
    ("name-cjk-no-spaces", "Chinese written without spaces is one word",
     {"name": "王小明", "dob": "1990-06-15"}),
    ("name-japanese-ideographic-space", "an ideographic space (U+3000) separates words",
     {"name": "山田\u3000太郎", "dob": "1975-12-01"}),
    ("name-korean-hangul", "Hangul syllables decompose (NFKD) and recompose (NFKC) unchanged",
     {"name": "김 민준", "dob": "1992-08-20"}),
    ("name-arabic-harakat", "Arabic short-vowel marks (harakat) are removed",
     {"name": "مُحَمَّد بن سلمان", "dob": "1985-08-31"}),
    ("name-arabic-plain", "the same Arabic name without harakat",
     {"name": "محمد بن سلمان", "dob": "1985-08-31"}),
    ("name-devanagari", "Devanagari vowel signs are marks and are removed (lossy, consistent)",
     {"name": "राहुल गांधी", "dob": "1970-06-19"}),
    ("name-fullwidth", "full-width letters and space (NFKD) become ASCII",
     {"name": "ＪＯＨＮ\u3000ＳＭＩＴＨ", "dob": "1980-01-31"}),
    ("name-ascii-for-fullwidth", "the ASCII spelling of the full-width name",
     {"name": "John Smith", "dob": "1980-01-31"}),
    ("name-ligature-fi", "the ligature ﬁ (U+FB01) becomes fi; apostrophe splits a word",
     {"name": "Mr ﬁnn O'Brien", "dob": "1988-04-04"}),
    ("name-roman-numeral", "a Roman numeral character (U+2167) becomes viii",
     {"name": "Henry Ⅷ Tudor", "dob": "1991-06-28"}),
    # --- titles and punctuation --------------------------------------------------------------
    ("name-titles-everywhere", "titles are dropped wherever they stand (The is not a title)",
     {"name": "The Rt. Hon. Dame Jane Doe MP", "dob": "1960-02-29"}),
    ("name-titles-stacked", "several titles before the name",
     {"name": "Prof. Dr. Mx Alex Lee", "dob": "1979-10-10"}),
    ("name-punctuation", "every non-letter, non-digit character separates words",
     {"name": "O'Neill-Smith, Mary-Jane (Jr.)", "dob": "1999-09-09"}),
    # --- dates -------------------------------------------------------------------------------
    ("dob-uk-form", "DD/MM/YYYY gives the same tokens as YYYY-MM-DD",
     {"name": "Jose Garcia Perez", "dob": "02/01/1970"}),
    ("dob-uk-form-one-digit", "D/M/YYYY is accepted too",
     {"name": "Jose Garcia Perez", "dob": " 2/1/1970 "}),
    ("dob-leap-day", "29 February of a leap year is a real date",
     {"name": "Ada Lovelace", "dob": "29/02/2000"}),
    ("dob-year-only", "a year of birth alone gives only PERSON_NAME_YOB",
     {"name": "Ada Lovelace", "dob": "1915"}),
    ("dob-year-month", "a year and month (the PSC register's precision) give only PERSON_NAME_BIRTH_MONTH",
     {"name": "Ada Lovelace", "dob": "1915-12"}),
    ("dob-year-month-psc-name", "a PSC controller: name elements joined, year and month of birth",
     {"name": "Mr Viktor Andreyevich Petrov", "dob": " 1966-03 "}),
    ("dob-year-month-non-latin", "a year and month with a name in Cyrillic",
     {"name": "Виктор Петров", "dob": "1966-03"}),
    ("reject-dob-year-month-13", "month 13 is not a real month",
     {"name": "Ada Lovelace", "dob": "1915-13"}),
    ("reject-dob-year-month-future", "a year and month in the future",
     {"name": "Ada Lovelace", "dob": "2999-01"}),
    ("reject-dob-year-month-1899", "a year and month before 1900",
     {"name": "Ada Lovelace", "dob": "1899-12"}),
    ("dob-first-allowed", "1900-01-01 is the earliest date accepted",
     {"name": "Ada Lovelace", "dob": "1900-01-01"}),
    # --- postcodes ---------------------------------------------------------------------------
    ("postcode-lower-spaced", "a postcode is upper-cased and its spaces removed",
     {"name": "Jane Doe", "postcode": " sw1a 1aa "}),
    ("postcode-plain", "the same postcode as written officially",
     {"name": "Jane Doe", "postcode": "SW1A 1AA"}),
    ("postcode-a9-9aa", "shape A9 9AA", {"name": "Jane Doe", "postcode": "M1 1AE"}),
    ("postcode-aa99-9aa", "shape AA99 9AA", {"name": "Jane Doe", "postcode": "dn55 1pt"}),
    ("postcode-a9a-9aa", "shape A9A 9AA", {"name": "Jane Doe", "postcode": "W1A 0AX"}),
    ("postcode-gir", "the special postcode GIR 0AA", {"name": "Jane Doe", "postcode": "GIR 0AA"}),
    ("name-dob-postcode", "name, date of birth and postcode give three tokens",
     {"name": "Jane Doe", "dob": "1980-01-31", "postcode": "EC1A 1BB"}),
    # --- travel documents --------------------------------------------------------------------
    ("passport-plain", "country and number", {"passport": "GBR:123456789"}),
    ("passport-lower-spaced", "lower case, spaces and punctuation in the number are removed",
     {"passport": " gbr : 123 456-789 "}),
    ("passport-alnum", "letters in the number are upper-cased", {"passport": "deu:c01x00t47"}),
    # --- company numbers ---------------------------------------------------------------------
    ("company-digits-short", "an all-digit number is left-padded to 8",
     {"company_number": "1234567"}),
    ("company-digits-full", "an 8-digit number is kept", {"company_number": "01234567"}),
    ("company-digits-spaced", "spaces are removed", {"company_number": "0123 4567"}),
    ("company-prefix-sc", "a Scottish number: prefix kept, digits padded to 6",
     {"company_number": "sc 12345"}),
    ("company-prefix-ni", "a Northern Ireland number", {"company_number": "NI012345"}),
    ("company-prefix-oc", "an LLP number, short", {"company_number": "OC1"}),
    # --- organisation names ------------------------------------------------------------------
    ("org-legal-forms-stripped", "spec example: legal forms stripped from the end, repeatedly",
     {"org_name": "Acme Trading Co. Ltd", "country": "gb"}),
    ("org-legal-forms-long", "long legal forms, upper case",
     {"org_name": "ACME TRADING COMPANY LIMITED", "country": "GB"}),
    ("org-legal-form-not-at-end", "a legal-form word that is not at the end is kept",
     {"org_name": "Limited Editions Ltd", "country": "GB"}),
    ("org-plc", "plc", {"org_name": "Lloyds Banking Group plc", "country": "GB"}),
    ("org-dotted-plc-kept", "p.l.c. with dots is three words, none of them a legal form",
     {"org_name": "The Co-operative Bank p.l.c.", "country": "GB"}),
    ("org-accents-other-country", "accents removed; S.A. is not in the legal-form list",
     {"org_name": "Société Générale S.A.", "country": "FR"}),
    ("org-title-word-dropped", "steps 1-7 include dropping title words, in organisation names too",
     {"org_name": "Lord Nelson Inc", "country": "us"}),
    # --- wallets -----------------------------------------------------------------------------
    ("wallet-eth-mixed-case", "eth: checksummed (mixed-case) address lower-cased",
     {"wallet": "eth:0x52908400098527886E0F7030069857D2E4169EE7"}),
    ("wallet-eth-upper", "eth: upper-case chain and 0X prefix",
     {"wallet": "ETH:0X52908400098527886E0F7030069857D2E4169EE7"}),
    ("wallet-btc-bech32-upper", "bech32 (bc1...) addresses are lower-cased",
     {"wallet": "btc:BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ"}),
    ("wallet-btc-bech32-lower", "the same bech32 address in lower case",
     {"wallet": "btc:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"}),
    ("wallet-btc-base58", "a base58 address is kept as given (case matters)",
     {"wallet": "btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"}),
    ("wallet-other-trimmed", "another chain: address trimmed, otherwise as given",
     {"wallet": " SOL :  7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV  "}),
    # --- email -------------------------------------------------------------------------------
    ("email-trim-lower", "trimmed and lower-cased",
     {"email": "  Alice.Smith@Example.COM "}),
    ("email-non-ascii", "non-ASCII letters are lower-cased too",
     {"email": "JOSÉ.GARCÍA@Correo.ES"}),
    # --- everything at once ------------------------------------------------------------------
    ("all-fields", "every field: all eight kinds, in kind order",
     {"name": "Dr. José García-Pérez", "dob": "02/01/1970", "postcode": "sw1a1aa",
      "passport": "ESP:AB1234567", "company_number": "sc123456",
      "org_name": "Acme Trading Co. Ltd", "country": "GB",
      "wallet": "eth:0x52908400098527886E0F7030069857D2E4169EE7",
      "email": "Jose@Example.com"}),
    # --- rejections --------------------------------------------------------------------------
    ("reject-name-no-letters", "a name of punctuation only", {"name": "!!! --- ...", "dob": "1970-01-02"}),
    ("reject-name-only-titles", "a name of titles only", {"name": "Mr. Dr.", "dob": "1970-01-02"}),
    ("reject-name-empty", "an empty name is given, so it is an error", {"name": "", "dob": "1970-01-02"}),
    ("reject-name-alone", "a name alone makes no token", {"name": "Jane Doe"}),
    ("reject-dob-alone", "a date of birth alone makes no token", {"dob": "1970-01-02"}),
    ("reject-postcode-bad", "not a UK postcode shape", {"name": "Jane Doe", "postcode": "12345"}),
    ("reject-postcode-hyphen", "a hyphen is not removed from postcodes", {"name": "Jane Doe", "postcode": "SW1A-1AA"}),
    ("reject-dob-impossible", "30 February does not exist", {"name": "Jane Doe", "dob": "2023-02-30"}),
    ("reject-dob-impossible-uk", "31/04 does not exist", {"name": "Jane Doe", "dob": "31/04/1980"}),
    ("reject-dob-not-leap", "29 February of a non-leap year", {"name": "Jane Doe", "dob": "1900-02-29"}),
    ("reject-dob-future", "a date in the future", {"name": "Jane Doe", "dob": "2999-01-01"}),
    ("reject-dob-future-year", "a year in the future", {"name": "Jane Doe", "dob": "2999"}),
    ("reject-dob-before-1900", "dates before 1900 are rejected", {"name": "Jane Doe", "dob": "1899-12-31"}),
    ("reject-dob-year-zero", "year 0000 is before 1900 (checked before the calendar)",
     {"name": "Jane Doe", "dob": "0000-02-30"}),
    ("reject-dob-us-form", "YYYY/MM/DD is not an accepted form", {"name": "Jane Doe", "dob": "1970/01/02"}),
    ("reject-passport-alpha2", "passport country must be alpha-3", {"passport": "GB:123456789"}),
    ("reject-passport-no-colon", "passport needs COUNTRY:NUMBER", {"passport": "123456789"}),
    ("reject-passport-empty-number", "a number with no letters or digits", {"passport": "GBR: --- "}),
    ("reject-country-alpha3", "organisation country must be alpha-2",
     {"org_name": "Acme Ltd", "country": "GBR"}),
    ("reject-country-uk", "UK is not the ISO 3166-1 code for the United Kingdom",
     {"org_name": "Acme Ltd", "country": "UK"}),
    ("reject-country-digit", "a country code with a digit", {"org_name": "Acme Ltd", "country": "G1"}),
    ("reject-org-no-country", "an organisation name needs a country", {"org_name": "Acme Ltd"}),
    ("reject-org-only-legal-forms", "nothing left after removing legal forms",
     {"org_name": "Company Limited", "country": "GB"}),
    ("reject-company-too-long", "nine digits", {"company_number": "123456789"}),
    ("reject-company-prefix-too-long", "prefix and seven digits", {"company_number": "SC1234567"}),
    ("reject-company-punctuation", "punctuation is not removed from company numbers",
     {"company_number": "12-345"}),
    ("reject-wallet-eth-short", "an eth address must have 40 hex digits", {"wallet": "eth:0x1234"}),
    ("reject-wallet-eth-no-0x", "an eth address must start with 0x",
     {"wallet": "eth:52908400098527886E0F7030069857D2E4169EE7"}),
    ("reject-wallet-no-chain", "a wallet needs CHAIN:ADDRESS",
     {"wallet": "0x52908400098527886E0F7030069857D2E4169EE7"}),
    ("reject-wallet-bad-chain", "a chain with a space",
     {"wallet": "eth main:0x52908400098527886E0F7030069857D2E4169EE7"}),
    ("reject-wallet-inner-space", "an address with a space inside", {"wallet": "btc:1BvBMSEY stWetq"}),
    ("reject-email-two-at", "two @", {"email": "alice@@example.com"}),
    ("reject-email-no-at", "no @", {"email": "alice.example.com"}),
    ("reject-email-empty-local", "nothing before @", {"email": "@example.com"}),
    ("reject-no-fields", "no field given at all", {}),
]


def build_vectors() -> dict:
    ids = [c[0] for c in CASES]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate case id")
    cases = []
    for case_id, description, fields in CASES:
        entry: dict = {"id": case_id, "description": description, "fields": fields}
        try:
            entry["tokens"] = derive(KEY, fields)
        except TokenError as e:
            entry["error"] = {"field": e.field, "reason": e.reason}
        cases.append(entry)
    return {
        "spec": SPEC,
        "generator": "tests/interop/token_vectors.py",
        "unicode_version": unicodedata.unidata_version,
        "key": {"key_id": KEY_ID, "key_hex": KEY.hex(), "file_line": f"{KEY_ID}:{KEY.hex()}"},
        "cases": cases,
    }


def check(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    problems = []
    if data.get("spec") != SPEC:
        problems.append(f"spec is {data.get('spec')!r}, expected {SPEC!r}")
    key_id, key = parse_key(data["key"]["file_line"])
    if key_id != data["key"]["key_id"] or key.hex() != data["key"]["key_hex"]:
        problems.append("key: file_line does not agree with key_id/key_hex")
    if data.get("unicode_version") != unicodedata.unidata_version:
        print(
            f"note: vectors made with Unicode {data.get('unicode_version')}, "
            f"this Python has {unicodedata.unidata_version}",
            file=sys.stderr,
        )
    if len(data["cases"]) < 40:
        problems.append(f"only {len(data['cases'])} cases")
    for case in data["cases"]:
        expected = {k: case[k] for k in ("tokens", "error") if k in case}
        try:
            got: dict = {"tokens": derive(key, case["fields"])}
        except TokenError as e:
            got = {"error": {"field": e.field, "reason": e.reason}}
        if got != expected:
            problems.append(
                f"{case['id']}: expected {json.dumps(expected, ensure_ascii=False)}, "
                f"got {json.dumps(got, ensure_ascii=False)}"
            )
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(data['cases'])} cases, {len(problems)} problems")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="PATH", help="generate the vectors file")
    group.add_argument("--check", metavar="PATH", help="recompute and compare every vector")
    args = parser.parse_args()
    if args.write:
        with open(args.write, "w", encoding="utf-8", newline="\n") as f:
            json.dump(build_vectors(), f, ensure_ascii=False, indent=2)
            f.write("\n")
        return check(args.write)
    return check(args.check)


if __name__ == "__main__":
    sys.exit(main())
