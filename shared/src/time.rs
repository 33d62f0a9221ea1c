//! Time as the functions write it: seconds since the epoch in the ledger, RFC 3339 UTC for people.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

/// RFC 3339 UTC, seconds precision: `2024-05-01T10:07:12Z`.
pub fn format_time(secs: i64) -> String {
    DateTime::from_secs(secs).fmt(Format::DateTime).unwrap_or_else(|_| secs.to_string())
}

/// Seconds since the epoch, from any timestamp [`parse_time_ms`] reads (ledger times, event times).
pub fn parse_time(text: &str) -> Option<i64> {
    parse_time_ms(text).map(|ms| ms.div_euclid(1000))
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    DateTime::from_str(text, Format::DateTime).ok().map(|t| t.secs())
}

/// An event's timestamp as AWS writes it: a CloudWatch state timestamp (`2024-05-01T10:00:00.120+0000`, or RFC 3339 with `Z` or `+00:00`) in
/// milliseconds since the epoch.
pub fn parse_time_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    // The date and time, an optional fraction, then the zone: `Z`, `±HHMM` or `±HH:MM`.
    let (datetime, rest) = (text.get(..19)?, text.get(19..)?);
    let (fraction, zone) = match rest.strip_prefix('.') {
        Some(r) => r.split_at(r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len())),
        None => ("", rest),
    };
    let offset_secs = match zone {
        "Z" => 0,
        _ => {
            let sign = match zone.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let digits: String = zone.get(1..)?.chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            sign * (digits[..2].parse::<i64>().ok()? * 3600 + digits[2..].parse::<i64>().ok()? * 60)
        }
    };
    let base = parse_rfc3339(&format!("{datetime}Z"))?;
    let millis: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    Some((base - offset_secs) * 1000 + millis)
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

    #[test]
    fn event_timestamps_are_read_in_each_delivery_paths_format() {
        let ms = 1_714_557_600_120;
        assert_eq!(parse_time_ms("2024-05-01T10:00:00.120+0000"), Some(ms));
        assert_eq!(parse_time_ms("2024-05-01T10:00:00.12Z"), Some(ms));
        assert_eq!(parse_time_ms("2024-05-01T12:00:00.120+02:00"), Some(ms));
        assert_eq!(parse_time_ms("2024-05-01T10:00:00Z"), Some(ms - 120));
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(parse_time("2024-05-01T10:00:00.120+0000"), Some(1_714_557_600));
        assert_eq!(parse_time_ms("2024-05-01T10:00:00.120+00"), None);
    }
}
