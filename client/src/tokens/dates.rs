//! Dates of birth: a full date (`YYYY-MM-DD` or `DD/MM/YYYY`), a year and month, or a year,
//! each checked against the calendar, 1900 and today (UTC).

use time::{Date, Month, OffsetDateTime};

use super::text::{all_ascii, is_year, is_year_month, trim};
use super::TokenError;

/// The earliest year accepted in a date of birth.
pub const MIN_YEAR: i32 = 1900;

/// Today's date in UTC, the latest date of birth accepted.
pub(super) fn today_utc() -> Date {
    OffsetDateTime::now_utc().date()
}

/// Canonical date of birth `YYYY-MM-DD`. Accepts `YYYY-MM-DD` and `DD/MM/YYYY` (day and month
/// may have one digit); the date must be a real calendar date, in 1900 or later, and not after
/// today (UTC). Errors name the field `dob`.
pub fn canonical_date(d: &str) -> Result<String, TokenError> {
    canonical_date_on(d, today_utc())
}

/// A non-empty run of ASCII digits as a number.
fn parse_number(s: &str) -> Option<u16> {
    if s.is_empty() || !all_ascii(s, |b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// [`canonical_date`] as of `today`.
pub(super) fn canonical_date_on(d: &str, today: Date) -> Result<String, TokenError> {
    let s = trim(d);
    let dashed: Vec<&str> = s.split('-').collect();
    let slashed: Vec<&str> = s.split('/').collect();
    let parts: Option<(u16, u16, u16)> = match (dashed.as_slice(), slashed.as_slice()) {
        ([y, m, d], _) if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            parse_number(y).zip(parse_number(m)).zip(parse_number(d))
        }
        (_, [d, m, y]) if d.len() <= 2 && m.len() <= 2 && y.len() == 4 => {
            parse_number(y).zip(parse_number(m)).zip(parse_number(d))
        }
        _ => None,
    }
    .map(|((y, m), d)| (y, m, d));
    let Some((year, month, day)) = parts else {
        return Err(TokenError::field(
            "dob",
            "not a date of the form YYYY-MM-DD or DD/MM/YYYY",
        ));
    };
    if i32::from(year) < MIN_YEAR {
        return Err(TokenError::field("dob", "date is before 1900"));
    }
    let date = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .zip(u8::try_from(day).ok())
        .and_then(|(m, day)| Date::from_calendar_date(i32::from(year), m, day).ok());
    let Some(date) = date else {
        return Err(TokenError::field("dob", "not a real calendar date"));
    };
    if date > today {
        return Err(TokenError::field("dob", "date is in the future"));
    }
    Ok(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

/// Canonical year of birth `YYYY`: in 1900 or later, not after `today`'s year. Errors name the
/// field `dob`.
pub(super) fn canonical_year_on(d: &str, today: Date) -> Result<String, TokenError> {
    let s = trim(d);
    let Some(year) = is_year(s).then(|| parse_number(s)).flatten() else {
        return Err(TokenError::field("dob", "not a year of the form YYYY"));
    };
    if i32::from(year) < MIN_YEAR {
        return Err(TokenError::field("dob", "year is before 1900"));
    }
    if i32::from(year) > today.year() {
        return Err(TokenError::field("dob", "year is in the future"));
    }
    Ok(s.to_owned())
}

/// Canonical year and month of birth `YYYY-MM` (the PSC register's precision): a real month,
/// in 1900 or later, not after the current month (UTC). Errors name the field `dob`.
pub(super) fn canonical_month_on(d: &str, today: Date) -> Result<String, TokenError> {
    let s = trim(d);
    let parts = is_year_month(s)
        .then(|| parse_number(&s[..4]).zip(parse_number(&s[5..])))
        .flatten();
    let Some((year, month)) = parts else {
        return Err(TokenError::field(
            "dob",
            "not a year and month of the form YYYY-MM",
        ));
    };
    if i32::from(year) < MIN_YEAR {
        return Err(TokenError::field("dob", "year is before 1900"));
    }
    if !(1..=12).contains(&month) {
        return Err(TokenError::field("dob", "not a real month"));
    }
    if (i32::from(year), month as u8) > (today.year(), u8::from(today.month())) {
        return Err(TokenError::field("dob", "month is in the future"));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::test_support::{day, field_err};

    #[test]
    fn dates() {
        let today = day(2024, Month::June, 15);
        let ok = |s: &str| canonical_date_on(s, today).unwrap();
        let bad = |s: &str| field_err(canonical_date_on(s, today)).1;
        assert_eq!(ok("1970-01-02"), "1970-01-02");
        assert_eq!(ok("02/01/1970"), "1970-01-02");
        assert_eq!(ok(" 2/1/1970\n"), "1970-01-02");
        assert_eq!(ok("29/02/2000"), "2000-02-29");
        assert_eq!(ok("2024-06-15"), "2024-06-15");
        assert_eq!(ok("1900-01-01"), "1900-01-01");
        assert_eq!(bad("2024-06-16"), "date is in the future");
        assert_eq!(bad("2023-02-30"), "not a real calendar date");
        assert_eq!(bad("1900-02-29"), "not a real calendar date");
        assert_eq!(bad("2000-13-01"), "not a real calendar date");
        assert_eq!(bad("2000-00-01"), "not a real calendar date");
        assert_eq!(bad("2000-01-00"), "not a real calendar date");
        assert_eq!(bad("1899-12-31"), "date is before 1900");
        assert_eq!(bad("0000-02-30"), "date is before 1900");
        for f in [
            "1970/01/02",
            "1970-1-2",
            "19700102",
            "02-01-1970",
            "002/01/1970",
            "+970-01-02",
            "1970-01-0२",
            "",
            "1970-01-02-03",
        ] {
            assert_eq!(
                bad(f),
                "not a date of the form YYYY-MM-DD or DD/MM/YYYY",
                "{f}"
            );
        }
        // The public function uses today's date.
        assert_eq!(canonical_date("1970-01-02").unwrap(), "1970-01-02");
        assert!(canonical_date("2999-01-01").is_err());
        // Years alone (derive only).
        assert_eq!(canonical_year_on("1915", today).unwrap(), "1915");
        assert_eq!(canonical_year_on(" 2024 ", today).unwrap(), "2024");
        assert_eq!(
            field_err(canonical_year_on("2025", today)).1,
            "year is in the future"
        );
        assert_eq!(
            field_err(canonical_year_on("1899", today)).1,
            "year is before 1900"
        );
    }
}
