//! `$toMillis`: ISO 8601 timestamps, and timestamps read with a date-time
//! picture (components left out are filled in as jsonata-js does).

use std::collections::btree_map::{BTreeMap, Entry};
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use regex::Regex;

use super::datetime::{component, DAYS, MONTHS};
use super::integer::{Case, Grouping, IntegerPicture, Style};
use super::picture::{self, Marker, Part};
use super::{words, FormatError};

const MILLIS_PER_DAY: f64 = 86_400_000.0;

fn not_iso(text: &str) -> FormatError {
    FormatError::new(
        "D3110",
        format!(
            "The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {text}"
        ),
    )
}

/// Milliseconds since the epoch of a UTC date and time of day; months,
/// days and times out of range carry over as JavaScript's `Date.UTC` does.
fn utc_millis(fields: [i64; 7]) -> Option<f64> {
    let [year, month0, day, hour, minute, second, milli] = fields;
    let year = i32::try_from(year.checked_add(month0.div_euclid(12))?).ok()?;
    let month = u32::try_from(month0.rem_euclid(12) + 1).ok()?;
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let days = first.signed_duration_since(NaiveDate::default()).num_days();
    let [day, hour, minute, second, milli] = [day, hour, minute, second, milli].map(|n| n as f64);
    let time = ((hour * 60.0 + minute) * 60.0 + second) * 1000.0 + milli;
    Some((days as f64 + day - 1.0) * MILLIS_PER_DAY + time)
}

/// ISO 8601 as jsonata-js accepts it: `YYYY[-MM[-DD]][Thh:mm:ss][.s+]`
/// and an offset `Z`, `±hh:mm` or `±hhmm`.
pub(crate) fn parse_iso(text: &str) -> Result<f64, FormatError> {
    static ISO: OnceLock<Option<Regex>> = OnceLock::new();
    let pattern = ISO.get_or_init(|| {
        Regex::new(
            r"^(\d{4})(?:-([01]\d))?(?:-([0-3]\d))?(?:T([0-2]\d):([0-5]\d):([0-5]\d))?(?:\.(\d+))?(?:([+-])([0-2]\d):?([0-5]\d)|Z)?$",
        )
        .ok()
    });
    let caps = pattern
        .as_ref()
        .and_then(|p| p.captures(text))
        .ok_or_else(|| not_iso(text))?;
    let num = |i: usize, default: u32| {
        caps.get(i)
            .map_or(Some(default), |m| m.as_str().parse::<u32>().ok())
    };
    let date = NaiveDate::from_ymd_opt(
        num(1, 1970).ok_or_else(|| not_iso(text))? as i32,
        num(2, 1).ok_or_else(|| not_iso(text))?,
        num(3, 1).ok_or_else(|| not_iso(text))?,
    );
    let time = NaiveTime::from_hms_opt(
        num(4, 0).ok_or_else(|| not_iso(text))?,
        num(5, 0).ok_or_else(|| not_iso(text))?,
        num(6, 0).ok_or_else(|| not_iso(text))?,
    );
    let (Some(date), Some(time)) = (date, time) else {
        return Err(not_iso(text));
    };
    let millis = caps.get(7).map_or(0, |m| fraction_millis(m.as_str()));
    let mut offset = 0;
    if let (Some(sign), Some(h), Some(m)) = (caps.get(8), num(9, 0), num(10, 0)) {
        let minutes = i64::from(h * 60 + m);
        offset = if sign.as_str() == "-" {
            -minutes
        } else {
            minutes
        };
    }
    let utc = date.and_time(time).and_utc().timestamp_millis();
    Ok((utc + millis - offset * 60_000) as f64)
}

/// Milliseconds from the digits after a decimal point.
fn fraction_millis(digits: &str) -> i64 {
    let first: String = digits.chars().chain("000".chars()).take(3).collect();
    first.parse().unwrap_or(0)
}

/// How to read one part of a picture.
enum Reader<'p> {
    Literal(&'p str),
    Offset { gmt: bool, separator: Option<char> },
    Fraction,
    Integer(&'p IntegerPicture),
    Name(Vec<(String, i64)>),
}

fn reader<'p>(m: &'p Marker) -> Reader<'p> {
    if m.component == 'Z' || m.component == 'z' {
        let separator = match m.integer.as_ref().map(|i| &i.style) {
            Some(Style::Digits(d)) => match d.grouping {
                Grouping::Regular { separator, .. } => Some(separator),
                Grouping::Fixed(_) => None,
            },
            _ => None,
        };
        return Reader::Offset {
            gmt: m.component == 'z',
            separator,
        };
    }
    if m.component == 'f' {
        return Reader::Fraction;
    }
    if let Some(integer) = &m.integer {
        return Reader::Integer(integer);
    }
    let cut = |name: &str| match m.width.max {
        Some(max) => name.chars().take(max).collect(),
        None => name.to_string(),
    };
    let names = match m.component {
        'M' | 'x' => MONTHS.iter().zip(1..).map(|(n, i)| (cut(n), i)).collect(),
        'F' => DAYS.iter().zip(1..).map(|(n, i)| (cut(n), i)).collect(),
        _ => vec![("am".into(), 0), ("pm".into(), 1)],
    };
    Reader::Name(names)
}

fn integer_regex(p: &IntegerPicture) -> String {
    let upper = p.case == Case::Upper;
    match &p.style {
        Style::Letters => if upper { "[A-Z]+" } else { "[a-z]+" }.to_string(),
        Style::Roman => if upper { "[MDCLXVI]+" } else { "[mdclxvi]+" }.to_string(),
        Style::Words => {
            let mut alternatives = words::word_list();
            alternatives.push("and".into());
            alternatives.push(r"[\-, ]".into());
            format!("(?:{})+", alternatives.join("|"))
        }
        Style::Digits(d) => {
            let class = match char::from_u32(d.zero).filter(|z| *z != '0') {
                Some(zero) => {
                    let nine = char::from_u32(d.zero + 9).unwrap_or(zero);
                    format!("[0-9{zero}-{nine}]")
                }
                None => "[0-9]".to_string(),
            };
            let count = d
                .parse_width
                .map_or("+".to_string(), |w| format!("{{{w}}}"));
            let suffix = if p.ordinal { "(?:th|st|nd|rd)" } else { "" };
            format!("{class}{count}{suffix}")
        }
    }
}

fn part_regex(reader: &Reader<'_>) -> String {
    match reader {
        Reader::Literal(text) => regex::escape(text),
        Reader::Offset { gmt, separator } => {
            let mut r = if *gmt { "GMT" } else { "" }.to_string();
            r.push_str("[-+][0-9]+");
            if let Some(sep) = separator {
                r.push_str(&regex::escape(&sep.to_string()));
                r.push_str("[0-9]+");
            }
            r
        }
        Reader::Fraction => "[0-9]+".to_string(),
        Reader::Integer(p) => integer_regex(p),
        Reader::Name(_) => "[a-zA-Z]+".to_string(),
    }
}

/// The offset in minutes of `+05:30`, `-5`, `+0530`.
fn read_offset(text: &str, gmt: bool, separator: Option<char>) -> Option<i64> {
    let text = if gmt { text.get(3..)? } else { text };
    let negative = text.starts_with('-');
    let digits = &text[1..];
    let (hours, minutes) = match separator.and_then(|s| digits.split_once(s)) {
        Some((h, m)) => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?),
        None if digits.len() <= 2 => (digits.parse().ok()?, 0),
        None => (
            digits.get(..2)?.parse().ok()?,
            digits.get(2..)?.parse().ok()?,
        ),
    };
    let minutes = hours * 60 + minutes;
    Some(if negative { -minutes } else { minutes })
}

fn read_part(reader: &Reader<'_>, text: &str) -> Option<i64> {
    match reader {
        Reader::Literal(_) => None,
        Reader::Offset { gmt, separator } => read_offset(text, *gmt, *separator),
        Reader::Fraction => Some(fraction_millis(text)),
        Reader::Integer(p) => p.read(text).filter(|n| n.is_finite()).map(|n| n as i64),
        Reader::Name(names) => names
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, v)| *v),
    }
}

/// `$toMillis(text, picture)` with `now` filling in the leading
/// components the picture leaves out; `Ok(None)` when the text does not
/// match the picture.
pub(crate) fn parse_with_picture(
    text: &str,
    picture_text: &str,
    now: f64,
) -> Result<Option<f64>, FormatError> {
    let parts = picture::parse(picture_text)?;
    picture::check_names(&parts, "MxFP")?;
    let readers: Vec<Reader<'_>> = parts
        .iter()
        .map(|p| match p {
            Part::Literal(text) => Reader::Literal(text),
            Part::Marker(m) => reader(m),
        })
        .collect();
    let mut pattern = String::from("(?i)^");
    for reader in &readers {
        pattern.push('(');
        pattern.push_str(&part_regex(reader));
        pattern.push(')');
    }
    pattern.push('$');
    let regex = Regex::new(&pattern).map_err(|e| FormatError::new("D3136", e.to_string()))?;
    let Some(caps) = regex.captures(text) else {
        return Ok(None);
    };
    let mut fields = Fields::new();
    for (i, (part, reader)) in parts.iter().zip(&readers).enumerate() {
        let (Part::Marker(m), Some(found)) = (part, caps.get(i + 1)) else {
            continue;
        };
        if let Some(value) = read_part(reader, found.as_str()) {
            let key = if m.component == 'z' { 'Z' } else { m.component };
            fields.insert(key, value);
        }
    }
    if fields.is_empty() {
        return Ok(None);
    }
    let now = DateTime::<Utc>::from_timestamp_millis(now as i64).unwrap_or_default();
    resolve(fields, &now)
}

type Fields = BTreeMap<char, i64>;

fn missing() -> FormatError {
    FormatError::new(
        "D3136",
        "The date/time picture string is missing specifiers required to parse the timestamp",
    )
}

/// The fields present are some of `allowed` and none outside it.
fn only(fields: &Fields, group: &str, allowed: &str) -> bool {
    let present: Vec<char> = group.chars().filter(|c| fields.contains_key(c)).collect();
    !present.is_empty() && present.iter().all(|c| allowed.contains(*c))
}

/// Fill in a run of components from most to least significant: those
/// before the first given come from `now` (except am/pm, which is am as
/// in jsonata-js), those after the last given are their minimum, and a
/// gap between given ones is an error (D3136).
fn fill(fields: &mut Fields, order: &str, now: &DateTime<Utc>) -> Result<(), FormatError> {
    let (mut started, mut ended) = (false, false);
    for c in order.chars() {
        match fields.entry(c) {
            Entry::Occupied(_) if ended => return Err(missing()),
            Entry::Occupied(_) => started = true,
            Entry::Vacant(slot) if started => {
                slot.insert(i64::from("MDd".contains(c)));
                ended = true;
            }
            Entry::Vacant(slot) => {
                slot.insert(if c == 'P' { 0 } else { component(now, c) });
            }
        }
    }
    Ok(())
}

/// Turn the components read into an instant (jsonata-js's rules: a date
/// is Y-M-D or Y-d; a time is H:m:s.f or h:m:s.f with P).
fn resolve(mut fields: Fields, now: &DateTime<Utc>) -> Result<Option<f64>, FormatError> {
    const DATE: &str = "YXMxWwdD";
    const TIME: &str = "PHhmsf";
    let month_day = only(&fields, DATE, "YMD");
    let day_of_year = !month_day && only(&fields, DATE, "Yd");
    let week_of_month = only(&fields, DATE, "Xxw");
    let iso_week = !week_of_month && only(&fields, DATE, "XW");
    let twelve_hour = !only(&fields, TIME, "Hmsf") && only(&fields, TIME, "Phmsf");
    let date_order = if day_of_year { "Yd" } else { "YMD" };
    let time_order = if twelve_hour { "Phmsf" } else { "Hmsf" };
    if week_of_month || iso_week {
        // reading week-based dates is not supported (as in jsonata-js)
        return Err(missing());
    }
    fill(&mut fields, &format!("{date_order}{time_order}"), now)?;
    let get = |c: char| fields.get(&c).copied().unwrap_or(0);
    let (month0, day) = if day_of_year {
        (0, get('d'))
    } else {
        ((get('M') - 1).max(0), get('D'))
    };
    let hour = if twelve_hour {
        let h = get('h') % 12;
        if get('P') == 1 {
            h + 12
        } else {
            h
        }
    } else {
        get('H')
    };
    let millis = utc_millis([get('Y'), month0, day, hour, get('m'), get('s'), get('f')]);
    Ok(millis.map(|m| m - get('Z') as f64 * 60_000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000_000.0; // 2023-11-14T22:13:20Z

    fn parse(text: &str, picture: &str) -> Result<Option<f64>, FormatError> {
        parse_with_picture(text, picture, NOW)
    }

    #[test]
    fn iso_forms() {
        assert_eq!(parse_iso("2018").unwrap(), 1_514_764_800_000.0);
        assert_eq!(
            parse_iso("2018-02-01T09:42:13.123+0000").unwrap(),
            1_517_478_133_123.0
        );
        assert_eq!(
            parse_iso("2018-02-01T09:42:13+01:30").unwrap(),
            1_517_472_733_000.0
        );
        assert_eq!(parse_iso("2018-02-03 11:15:33").unwrap_err().code, "D3110");
        assert_eq!(parse_iso("2018-02-30").unwrap_err().code, "D3110");
    }

    #[test]
    fn pictures_with_names_words_and_offsets() {
        assert_eq!(
            parse("27th April 2008", "[D1o] [MNn] [Y0001]").unwrap(),
            Some(1_209_254_400_000.0)
        );
        assert_eq!(
            parse("2 Feb 2012", "[D1] [MNn,3-3] [Y0001]").unwrap(),
            Some(1_328_140_800_000.0)
        );
        assert_eq!(
            parse("4/4/2018 12:06 am", "[D1]/[M1]/[Y0001] [h]:[m] [P]").unwrap(),
            Some(1_522_800_360_000.0)
        );
        assert_eq!(
            parse(
                "2020-09-09 12:00:00 +05:30",
                "[Y0001]-[M01]-[D01] [H01]:[m01]:[s01] [Z]"
            )
            .unwrap(),
            Some(1_599_633_000_000.0)
        );
        assert_eq!(
            parse("20180205", "[Y0001][M01][D01]").unwrap(),
            Some(1_517_788_800_000.0)
        );
    }

    #[test]
    fn leading_parts_come_from_now_and_gaps_are_errors() {
        // 13:45 on the day of NOW
        assert_eq!(
            parse("13:45", "[H]:[m]").unwrap(),
            Some(1_699_969_500_000.0)
        );
        // a 12-hour time without am/pm is am, whatever the time now
        assert_eq!(parse("3:15", "[h]:[m]").unwrap(), Some(1_699_931_700_000.0));
        assert_eq!(parse("2018-22", "[Y]-[D]").unwrap_err().code, "D3136");
        assert_eq!(parse("x", "[Y]").unwrap(), None);
        assert_eq!(parse("99999999999999999999", "[Y]").unwrap(), None);
        assert_eq!(parse("Hello", "Hello").unwrap(), None);
    }
}
