//! Time as the functions write it: seconds since the epoch in the ledger, RFC 3339 UTC for people.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

/// RFC 3339 UTC, seconds precision: `2024-05-01T10:07:12Z`.
pub fn format_time(secs: i64) -> String {
    DateTime::from_secs(secs).fmt(Format::DateTime).unwrap_or_else(|_| secs.to_string())
}

pub fn parse_time(text: &str) -> Option<i64> {
    DateTime::from_str(text, Format::DateTime).ok().map(|t| t.secs())
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    DateTime::from(std::time::SystemTime::now()).secs()
}

/// Milliseconds since the epoch, now (metric timestamps).
pub fn now_millis() -> i64 {
    DateTime::from(std::time::SystemTime::now()).to_millis().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_rfc_3339() {
        assert_eq!(format_time(1_714_558_032), "2024-05-01T10:07:12Z");
        assert_eq!(parse_time("2024-05-01T10:07:12Z"), Some(1_714_558_032));
        assert_eq!(parse_time("yesterday"), None);
        assert!(now_secs() > 1_714_558_032);
        assert!(now_millis() / 1000 >= 1_714_558_032);
    }
}
