//! RFC 3339 timestamps (UTC) and docker's "3 minutes ago", without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, to the nanosecond as docker's times are (so that times order what was made in one second).
pub fn now_rfc3339() -> String {
    format_rfc3339_nanos(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos())
}

/// Nanoseconds since the epoch as RFC 3339 with nine decimals, as docker writes times.
pub fn format_rfc3339_nanos(nanos: u128) -> String {
    let secs = format_rfc3339((nanos / 1_000_000_000) as i64);
    format!("{}.{:09}Z", secs.trim_end_matches('Z'), nanos % 1_000_000_000)
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's civil_from_days.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn format_rfc3339(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// Seconds since the epoch of an RFC 3339 time (fractions and offsets honoured), if it is one.
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = t.get(19..)?.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest {
        "Z" | "z" | "" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Seconds since the epoch of an RFC 3339 time, with its fraction.
pub fn parse_rfc3339_fine(t: &str) -> Option<f64> {
    let whole = parse_rfc3339(t)?;
    let after = t.get(19..).and_then(|r| r.strip_prefix('.')).unwrap_or("");
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    let fraction = if digits.is_empty() { 0.0 } else { format!("0.{digits}").parse().ok()? };
    Some(whole as f64 + fraction)
}

/// A point in time as docker's `--since`/`--until` take it: an RFC 3339 time, Unix seconds
/// (`1700000000.5`), or a Go duration before `now` (`10m`, `1h30m`, `90s`, `500ms`). Pure.
pub fn parse_instant(text: &str, now: f64) -> Option<f64> {
    if let Some(t) = parse_rfc3339_fine(text) {
        return Some(t);
    }
    if let Ok(unix) = text.parse::<f64>() {
        return Some(unix);
    }
    parse_duration(text).map(|ago| now - ago)
}

/// Seconds of a Go duration (`10m`, `1h30m`, `90s`, `500ms`, `1.5s`), as docker's flags take them.
/// Pure.
pub fn parse_duration(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).filter(|&i| i > 0)?;
        let value: f64 = rest[..number_end].parse().ok()?;
        let unit_end = rest[number_end..].find(|c: char| c.is_ascii_digit()).map_or(rest.len(), |i| number_end + i);
        let scale = match &rest[number_end..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Some(total)
}

/// "3 minutes", as docker prints durations ("Less than a second" under one).
pub fn human(seconds: i64) -> String {
    let d = seconds.max(0);
    let (n, unit) = match d {
        0 => return "Less than a second".into(),
        1..=59 => (d, "second"),
        60..=3599 => (d / 60, "minute"),
        3600..=86_399 => (d / 3600, "hour"),
        86_400..=1_209_599 => (d / 86_400, "day"),
        1_209_600..=5_183_999 => (d / 604_800, "week"),
        5_184_000..=31_535_999 => (d / 2_592_000, "month"),
        _ => (d / 31_536_000, "year"),
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// "3 minutes ago", as docker prints ages.
pub fn ago(then: i64, now: i64) -> String {
    format!("{} ago", human(now - then))
}

/// Seconds since the epoch, with their fraction.
pub fn now_fine() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

pub fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_as_dockers_since_and_until_take_them() {
        let now = 1_000_000.0;
        assert_eq!(parse_instant("10m", now), Some(now - 600.0));
        assert_eq!(parse_instant("1h30m", now), Some(now - 5400.0));
        assert_eq!(parse_instant("500ms", now), Some(now - 0.5));
        assert_eq!(parse_instant("1700000000.5", now), Some(1_700_000_000.5));
        assert_eq!(parse_instant("1970-01-02T00:00:00.25Z", now), Some(86_400.25));
        assert_eq!(parse_instant("10 minutes", now), None);
        assert_eq!(parse_instant("m", now), None);
    }

    #[test]
    fn round_trips() {
        for secs in [0, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs));
        }
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_rfc3339("2000-02-29T01:00:00.123456789+01:00"), Some(951_782_400));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn ages_read_like_docker() {
        assert_eq!(ago(0, 1), "1 second ago");
        assert_eq!(ago(0, 180), "3 minutes ago");
        assert_eq!(ago(0, 86_400 * 3), "3 days ago");
        assert_eq!(ago(0, 86_400 * 400), "1 year ago");
    }
}
