//! Checkpoint timestamps (`Checkpoint::ts`): RFC 3339 text in UTC, as
//! LangGraph writes it (`2026-12-01T16:08:44.123456+00:00`), and the instant
//! such a text names.
//!
//! Written by hand because these two conversions are all the library needs
//! of a date-time crate: a library user should not compile one for them.

use std::time::{SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// The current time as LangGraph's checkpoint `ts`: microseconds, `+00:00`.
pub(crate) fn now_iso() -> String {
    system_time_iso(SystemTime::now())
}

/// `time` as a checkpoint `ts` would show it (microseconds, `+00:00`).
pub(crate) fn system_time_iso(time: SystemTime) -> String {
    format_micros(unix_nanos(time))
}

/// Nanoseconds since the Unix epoch, negative before it (saturating far
/// outside any clock's range, where no conversion may panic).
pub(crate) fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// `nanos` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`
/// (truncated to microseconds, as chrono's `SecondsFormat::Micros`).
fn format_micros(nanos: i128) -> String {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let micros = nanos.rem_euclid(NANOS_PER_SEC) / 1_000;
    // Years past 9999 do not fit the format; no clock is there.
    let secs = i64::try_from(secs).unwrap_or(i64::MAX).min(253_402_300_799);
    let (days, of_day) = (secs.div_euclid(SECS_PER_DAY), secs.rem_euclid(SECS_PER_DAY));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

/// The instant an RFC 3339 timestamp names, in nanoseconds since the Unix
/// epoch (negative before it), or `None` if `ts` is not RFC 3339
/// (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`, `z` and a space for
/// `T` are accepted, as chrono does).
pub(crate) fn parse_rfc3339_nanos(ts: &str) -> Option<i128> {
    let b = ts.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let (month, day) = (digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let max_day = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    // A leap second (:60) is accepted and counted as the next second.
    if day == 0 || day > max_day || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let (fraction, rest) = fraction_nanos(&b[19..])?;
    let offset = offset_secs(rest)?;
    let days = days_from_civil(year, month, day);
    let secs = days * SECS_PER_DAY + hour * 3_600 + minute * 60 + second - offset;
    Some(i128::from(secs) * NANOS_PER_SEC + fraction)
}

/// `.ddd…` at the start of `b` as nanoseconds (digits past the ninth are
/// dropped), and what follows it.
fn fraction_nanos(b: &[u8]) -> Option<(i128, &[u8])> {
    let Some(rest) = b.strip_prefix(b".") else {
        return Some((0, b));
    };
    let len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 {
        return None;
    }
    let mut nanos = 0_i128;
    for (i, c) in rest[..len].iter().enumerate() {
        if i < 9 {
            nanos = nanos * 10 + i128::from(c - b'0');
        }
    }
    for _ in len..9 {
        nanos *= 10;
    }
    Some((nanos, &rest[len..]))
}

/// `Z` or `±HH:MM` (the whole rest of the text) as seconds east of UTC.
fn offset_secs(b: &[u8]) -> Option<i64> {
    match b {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (hours, minutes) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let secs = hours * 3_600 + minutes * 60;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => None,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0_i64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat, Utc};
    use proptest::prelude::*;

    fn chrono_nanos(ts: &str) -> Option<i128> {
        let t = DateTime::parse_from_rfc3339(ts).ok()?;
        Some(i128::from(t.timestamp()) * NANOS_PER_SEC + i128::from(t.timestamp_subsec_nanos()))
    }

    #[test]
    fn known_instants() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            format_micros(1_600_000_000_123_456_789),
            "2020-09-13T12:26:40.123456+00:00"
        );
        assert_eq!(format_micros(-1), "1969-12-31T23:59:59.999999+00:00");
        assert_eq!(
            parse_rfc3339_nanos("2020-09-13T14:26:40+02:00"),
            Some(1_600_000_000 * NANOS_PER_SEC)
        );
        assert_eq!(
            parse_rfc3339_nanos("1970-01-01T00:00:00.5Z"),
            Some(500_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2000-02-29T00:00:00Z"),
            chrono_nanos("2000-02-29T00:00:00Z")
        );
        assert!(now_iso().ends_with("+00:00") && now_iso().len() == 32);
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for bad in [
            "",
            "not a time",
            "2020-09-13",
            "2020-09-13T12:26:40",
            "2020-09-13T12:26:40+0200",
            "2020-13-01T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-09-13T24:00:00Z",
            "2020-09-13T12:26:40.Z",
            "2020-09-13T12:26:40Zjunk",
            "२०२०-09-13T12:26:40Z",
        ] {
            assert_eq!(parse_rfc3339_nanos(bad), None, "{bad:?}");
            assert_eq!(chrono_nanos(bad), None, "chrono too refuses {bad:?}");
        }
    }

    proptest! {
        /// Ours writes what chrono writes, and reads back what chrono means.
        #[test]
        fn agrees_with_chrono(
            nanos in -62_135_510_400_000_000_000_i128..253_402_214_399_000_000_000_i128,
            offset_minutes in -1_439_i32..=1_439,
        ) {
            let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SEC)).unwrap();
            let sub = u32::try_from(nanos.rem_euclid(NANOS_PER_SEC)).unwrap();
            let t = DateTime::<Utc>::from_timestamp(secs, sub).unwrap();
            prop_assert_eq!(format_micros(nanos), t.to_rfc3339_opts(SecondsFormat::Micros, false));
            let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let text = t.with_timezone(&offset).to_rfc3339_opts(SecondsFormat::Nanos, false);
            prop_assert_eq!(parse_rfc3339_nanos(&text), Some(nanos), "{}", text);
            prop_assert_eq!(chrono_nanos(&text), Some(nanos));
        }
    }
}
