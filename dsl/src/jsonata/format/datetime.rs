//! `$fromMillis` / `$now` with a picture: the date-time components of an
//! instant and their presentation (F&O 3.1 §9.8.4).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};

use super::integer::{Case, Grouping};
use super::picture::{self, Marker, Part};
use super::FormatError;

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Monday first, as ISO 8601 numbers days 1–7.
pub(crate) const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// The picture used when none is given.
pub(crate) const ISO_8601: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

/// A UTC offset of whole minutes, parsed from `±HHMM`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Offset {
    pub minutes: i64,
}

impl Offset {
    /// `+0100`, `-0500`, `0000`; jsonata-js reads the text as the number
    /// `±HHMM`.
    pub(crate) fn parse(text: &str) -> Result<Offset, FormatError> {
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.strip_prefix('+').unwrap_or(text)),
        };
        let value: i64 = digits
            .parse()
            .ok()
            .filter(|_| digits.len() <= 4 && digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                FormatError::new(
                    "T0410",
                    format!("The timezone of $fromMillis must be ±HHMM, not {text:?}"),
                )
            })?;
        Ok(Offset {
            minutes: sign * (value / 100 * 60 + value % 100),
        })
    }

    fn hours(self) -> i64 {
        self.minutes / 60
    }

    fn minutes_past(self) -> i64 {
        self.minutes % 60
    }

    /// As the number `±HHMM`.
    fn hhmm(self) -> i64 {
        self.hours() * 100 + self.minutes_past()
    }
}

/// The Monday starting the first week of a month: the week holding the
/// month's first Thursday.
fn first_week_start(year: i32, month: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let weekday = i64::from(first.weekday().number_from_monday());
    if weekday > 4 {
        first.checked_add_signed(Duration::days(8 - weekday))
    } else {
        first.checked_sub_signed(Duration::days(weekday - 1))
    }
}

fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

fn previous_month(year: i32, month: u32) -> (i32, u32) {
    if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    }
}

/// The week-of-month (`w`) and the month that week belongs to (`x`): a
/// week belongs to the month holding its Thursday.
fn week_of_month(date: NaiveDate) -> Option<(i64, u32)> {
    let (year, month) = (date.year(), date.month());
    let start = first_week_start(year, month)?;
    let (ny, nm) = next_month(year, month);
    if date >= first_week_start(ny, nm)? {
        return Some((1, nm));
    }
    if date < start {
        let (py, pm) = previous_month(year, month);
        let previous = first_week_start(py, pm)?;
        return Some(((date - previous).num_days() / 7 + 1, pm));
    }
    Some(((date - start).num_days() / 7 + 1, month))
}

/// The numeric value of a component at `t`; `P` is 0 (am) or 1 (pm).
pub(crate) fn component(t: &DateTime<Utc>, c: char) -> i64 {
    let date = t.date_naive();
    match c {
        'Y' => i64::from(t.year()),
        'M' => i64::from(t.month()),
        'D' => i64::from(t.day()),
        'd' => i64::from(t.ordinal()),
        'F' => i64::from(t.weekday().number_from_monday()),
        'W' => i64::from(t.iso_week().week()),
        'X' => i64::from(t.iso_week().year()),
        'w' => week_of_month(date).map_or(0, |(w, _)| w),
        'x' => week_of_month(date).map_or(0, |(_, m)| i64::from(m)),
        'H' => i64::from(t.hour()),
        'h' => match t.hour() % 12 {
            0 => 12,
            h => i64::from(h),
        },
        'P' => i64::from(t.hour() >= 12),
        'm' => i64::from(t.minute()),
        's' => i64::from(t.second()),
        'f' => i64::from(t.timestamp_subsec_millis()),
        _ => 0,
    }
}

fn apply_case(text: &str, case: Case) -> String {
    match case {
        Case::Upper => text.to_uppercase(),
        Case::Lower => text.to_lowercase(),
        Case::Title => text.to_string(),
    }
}

/// A month or day name in the marker's case, cut to its maximum width.
fn name(marker: &Marker, value: i64, case: Case) -> String {
    let full = match marker.component {
        'F' => DAYS[(value - 1).clamp(0, 6) as usize],
        _ => MONTHS[(value - 1).clamp(0, 11) as usize],
    };
    let named = apply_case(full, case);
    match marker.width.max {
        Some(max) => named.chars().take(max).collect(),
        None => named,
    }
}

fn format_marker(t: &DateTime<Utc>, m: &Marker, offset: Offset) -> Result<String, FormatError> {
    match m.component {
        'Z' | 'z' => format_offset(m, offset),
        'P' => {
            let text = if component(t, 'P') == 1 { "pm" } else { "am" };
            Ok(match m.names {
                Some(Case::Upper) => text.to_uppercase(),
                _ => text.to_string(),
            })
        }
        'C' | 'E' => Ok("ISO".to_string()),
        c => {
            let mut value = component(t, c);
            if let Some(digits) = m.year_digits {
                value %= 10i64.pow(digits.min(18) as u32);
            }
            match (m.names, &m.integer) {
                (Some(case), _) => Ok(name(m, value, case)),
                (None, Some(integer)) => Ok(integer.format(value as f64)),
                (None, None) => Ok(value.to_string()),
            }
        }
    }
}

fn timezone_digits_error(digits: usize) -> FormatError {
    FormatError::new(
        "D3134",
        format!(
            "The timezone integer format specifier cannot have more than four digits: {digits}"
        ),
    )
}

/// §9.8.4.6: `[Z]` is `+01:00`, `[Z0]` is `+1`, `[Z0001]` is `+0100`,
/// `[z]` is `GMT+01:00`; with the `t` modifier a zero offset is `Z`.
fn format_offset(m: &Marker, offset: Offset) -> Result<String, FormatError> {
    let Some((integer, d)) = m.integer.as_ref().and_then(|i| Some((i, i.digits()?))) else {
        return Err(timezone_digits_error(0));
    };
    let hhmm = offset.hhmm();
    let mut text = if matches!(d.grouping, Grouping::Regular { .. }) {
        integer.format(hhmm as f64)
    } else {
        match d.mandatory {
            1 | 2 => {
                let mut s = integer.format(offset.hours() as f64);
                if offset.minutes_past() != 0 {
                    if offset.hours() == 0 && offset.minutes < 0 {
                        s.insert(0, '-');
                    }
                    s.push_str(&format!(":{:02}", offset.minutes_past().abs()));
                }
                s
            }
            3 | 4 => integer.format(hhmm as f64),
            n => return Err(timezone_digits_error(n)),
        }
    };
    if offset.minutes >= 0 {
        text.insert(0, '+');
    }
    if m.component == 'z' {
        text.insert_str(0, "GMT");
    }
    if offset.minutes == 0 && m.modifier == Some('t') {
        text = "Z".to_string();
    }
    Ok(text)
}

/// `$fromMillis(millis, picture, timezone)`.
pub(crate) fn format(
    millis: f64,
    picture: Option<&str>,
    timezone: Option<&str>,
) -> Result<String, FormatError> {
    let offset = timezone.map(Offset::parse).transpose()?.unwrap_or_default();
    let parts = picture::parse(picture.unwrap_or(ISO_8601))?;
    picture::check_names(&parts, "MxFPCE")?;
    let shifted = millis + (offset.minutes * 60_000) as f64;
    let t = (shifted.is_finite() && shifted.abs() <= 8.64e15)
        .then(|| DateTime::from_timestamp_millis(shifted.floor() as i64))
        .flatten()
        .ok_or_else(|| {
            FormatError::new(
                "D3110",
                format!("The timestamp {millis} is outside the range of dates"),
            )
        })?;
    let mut out = String::new();
    for part in &parts {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Marker(m) => out.push_str(&format_marker(&t, m, offset)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(millis: f64, picture: &str) -> String {
        format(millis, Some(picture), None).unwrap()
    }

    #[test]
    fn iso_8601_by_default_in_any_offset() {
        assert_eq!(format(1.0, None, None).unwrap(), "1970-01-01T00:00:00.001Z");
        let t = 1_540_127_100_000.0;
        assert_eq!(
            format(t, None, Some("-0500")).unwrap(),
            "2018-10-21T08:05:00.000-05:00"
        );
        assert_eq!(
            format(t, None, Some("-0530")).unwrap(),
            "2018-10-21T07:35:00.000-05:30"
        );
        assert_eq!(
            format(t, None, Some("0000")).unwrap(),
            "2018-10-21T13:05:00.000Z"
        );
        assert_eq!(format(t, None, Some("noon")).unwrap_err().code, "T0410");
    }

    #[test]
    fn names_ordinals_and_widths() {
        let t = 1_521_801_216_617.0;
        assert_eq!(fmt(t, "[FNn], [D1o] [MNn] [Y]"), "Friday, 23rd March 2018");
        assert_eq!(
            fmt(t, "[FNn,3-3], [D1o] [MNn,3-3] [Y,2]"),
            "Fri, 23rd Mar 18"
        );
        assert_eq!(fmt(t, "[h]:[m01] [PN]"), "10:33 AM");
        assert_eq!(fmt(t, "[Yw]"), "two thousand and eighteen");
        assert_eq!(format(t, Some("[YN]"), None).unwrap_err().code, "D3133");
    }

    #[test]
    fn iso_weeks_and_weeks_of_month() {
        // Sat 1 Jan 2005 is in week 53 of 2004
        let t = 1_104_537_600_000.0;
        assert_eq!(fmt(t, "[X0001]-W[W01]-[F1]"), "2004-W53-6");
        // Sun 1 Jan 2017 is in the fifth week of December 2016
        assert_eq!(fmt(1_483_272_000_000.0, "[w] of [xNn]"), "5 of December");
    }
}
