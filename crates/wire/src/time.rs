//! The wire time format: ISO 8601 UTC with second precision, as IAM and STS print timestamps.

/// `2026-11-30T05:00:00Z` for a Unix time in seconds (out-of-range values print as the epoch).
pub fn iso8601(t: i64) -> String {
    let dt =
        time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    dt.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}
