//! ASL timestamps: RFC 3339 with an uppercase `T` between date and time and an
//! uppercase `Z` when no numeric offset is given (ASL spec, "Timestamps").

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// Parse an ASL timestamp; `None` when the text is not one.
pub fn parse(text: &str) -> Option<DateTime<FixedOffset>> {
    let b = text.as_bytes();
    // chrono also accepts a space or lowercase 't'/'z'; ASL does not.
    if b.len() < 20 || b[10] != b'T' || text.contains('z') || text.contains('t') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

/// Format a time as Step Functions does in the context object
/// (`2024-01-02T03:04:05.678Z`).
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn asl_rules() {
        assert!(super::parse("2016-03-14T01:59:00Z").is_some());
        assert!(super::parse("2016-03-14T01:59:00.123+08:00").is_some());
        assert!(super::parse("2016-03-14t01:59:00Z").is_none());
        assert!(super::parse("2016-03-14 01:59:00Z").is_none());
        assert!(super::parse("2016-03-14T01:59:00z").is_none());
        assert!(super::parse("2016-03-14").is_none());
    }
}
