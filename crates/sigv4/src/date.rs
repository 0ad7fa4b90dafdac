//! `X-Amz-Date` (ISO 8601 basic, `YYYYMMDDTHHMMSSZ`) and RFC 1123 `Date` parsing, without a clock.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse `YYYYMMDDTHHMMSSZ` into Unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || !s.is_ascii() || s.as_bytes().get(8) != Some(&b'T') || !s.ends_with('Z') {
        return None;
    }
    let y = num(s.get(0..4)?)?;
    let mo = num(s.get(4..6)?)?;
    let d = num(s.get(6..8)?)?;
    let h = num(s.get(9..11)?)?;
    let mi = num(s.get(11..13)?)?;
    let se = num(s.get(13..15)?)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Format Unix seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// Parse an RFC 1123 `Date` header into Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20250315T120000Z"), Some(1_742_040_000));
        assert_eq!(format_amz_date(1_742_040_000), "20250315T120000Z");
        assert_eq!(parse_amz_date("20250315T120000"), None);
        assert_eq!(parse_amz_date("2025031XT120000Z"), None);
        assert_eq!(parse_amz_date("20251315T120000Z"), None);
        assert_eq!(
            parse_http_date("Sat, 15 Mar 2025 12:00:00 GMT"),
            Some(1_742_040_000)
        );
    }

    proptest! {
        #[test]
        fn round_trip(t in 0i64..4_102_444_800) {
            prop_assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = parse_amz_date(&s);
        }
    }
}
