//! Time parameters of the query API: nanoseconds, RFC 3339, or a look-back such as `15m`, `3h`,
//! `7d` (meaning that long before now).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Parses a time parameter into nanoseconds since the epoch; `now_ns` anchors look-backs.
pub fn parse_time_param(s: &str, now_ns: i64) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ns) = s.parse::<i64>() {
        return Ok(ns);
    }
    if let Some(unit) = s.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let digits = &s[..s.len() - 1];
        if let Ok(n) = digits.parse::<i64>() {
            let secs = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => {
                    return Err(format!(
                        "{s:?}: unknown unit {unit:?} (use s, m, h, d or w)"
                    ))
                }
            };
            return Ok(now_ns.saturating_sub(n.saturating_mul(secs).saturating_mul(1_000_000_000)));
        }
    }
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| format!("{s:?} is not nanoseconds, RFC 3339, or a look-back like 3h"))?;
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| format!("{s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_shapes() {
        let now = 10_000_000_000_000;
        assert_eq!(parse_time_param("123", now), Ok(123));
        assert_eq!(
            parse_time_param("3h", now),
            Ok(now - 3 * 3600 * 1_000_000_000)
        );
        assert_eq!(
            parse_time_param("1970-01-01T00:00:01Z", now),
            Ok(1_000_000_000)
        );
        assert!(parse_time_param("3y", now)
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_time_param("soon", now).is_err());
    }
}
