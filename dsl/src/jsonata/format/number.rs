//! `$formatNumber` (F&O 3.1 §4.7): decimal-format pictures with grouping,
//! fractions, exponents, percent and per-mille, and a negative sub-picture.

use serde_json::{Map, Value};

use super::integer::regular_interval;
use super::{DecimalFormat, FormatError};
use crate::jsonata::functions::numeric::round;

impl DecimalFormat {
    /// See [`DecimalFormat::from_options`].
    pub(crate) fn with_options(options: &Map<String, Value>) -> Result<DecimalFormat, FormatError> {
        let mut format = DecimalFormat::default();
        for (key, value) in options {
            let Value::String(text) = value else {
                return Err(bad_option(key));
            };
            let one_char = || {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(c),
                    _ => Err(bad_option(key)),
                }
            };
            match key.as_str() {
                "decimal-separator" => format.decimal_separator = one_char()?,
                "grouping-separator" => format.grouping_separator = one_char()?,
                "exponent-separator" => format.exponent_separator = one_char()?,
                "minus-sign" => format.minus_sign = one_char()?,
                "zero-digit" => format.zero_digit = one_char()?,
                "digit" => format.digit = one_char()?,
                "pattern-separator" => format.pattern_separator = one_char()?,
                "infinity" => format.infinity = text.clone(),
                "NaN" => format.nan = text.clone(),
                "percent" => format.percent = text.clone(),
                "per-mille" => format.per_mille = text.clone(),
                _ => {}
            }
        }
        Ok(format)
    }

    fn family_digit(&self, c: char) -> Option<u32> {
        (c as u32)
            .checked_sub(self.zero_digit as u32)
            .filter(|d| *d < 10)
    }

    fn is_digit(&self, c: char) -> bool {
        self.family_digit(c).is_some()
    }

    fn is_active(&self, c: char) -> bool {
        self.is_digit(c)
            || [
                self.decimal_separator,
                self.exponent_separator,
                self.grouping_separator,
                self.digit,
                self.pattern_separator,
            ]
            .contains(&c)
    }

    /// An ASCII-digit string in the zero digit's family.
    fn localise(&self, ascii: &str) -> String {
        ascii
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_u32(self.zero_digit as u32 + d).unwrap_or(c),
                None => c,
            })
            .collect()
    }
}

fn bad_option(key: &str) -> FormatError {
    FormatError::new(
        "T0410",
        format!("The {key} property of the $formatNumber options must be a single character"),
    )
}

/// A sub-picture split into its parts (F&O 4.7.3), as characters.
struct Parts {
    whole: Vec<char>,
    prefix: String,
    suffix: String,
    active: Vec<char>,
    mantissa: Vec<char>,
    exponent: Option<Vec<char>>,
    integer: Vec<char>,
    fraction: Vec<char>,
}

fn split(picture: &str, f: &DecimalFormat) -> Parts {
    let whole: Vec<char> = picture.chars().collect();
    let marks = |c: &char| f.is_active(*c) && *c != f.exponent_separator;
    let start = whole.iter().position(marks);
    let (start, end) = match (start, whole.iter().rposition(marks)) {
        (Some(s), Some(e)) => (s, e + 1),
        // no active character: the whole sub-picture is the active part
        _ => (0, whole.len()),
    };
    let active = whole[start..end].to_vec();
    // the exponent separator counts when it is inside the active part or
    // directly after it
    let search_end = (end + 1).min(whole.len());
    let exponent_at = whole[start..search_end]
        .iter()
        .position(|c| *c == f.exponent_separator);
    let (mantissa, exponent) = match exponent_at {
        Some(i) => (
            active[..i.min(active.len())].to_vec(),
            Some(active.get(i + 1..).unwrap_or_default().to_vec()),
        ),
        None => (active.clone(), None),
    };
    let (integer, fraction) = match mantissa.iter().position(|c| *c == f.decimal_separator) {
        Some(i) => (mantissa[..i].to_vec(), mantissa[i + 1..].to_vec()),
        None => (mantissa.clone(), Vec::new()),
    };
    Parts {
        prefix: whole[..start].iter().collect(),
        suffix: whole[end..].iter().collect(),
        whole,
        active,
        mantissa,
        exponent,
        integer,
        fraction,
    }
}

fn count_str(haystack: &str, needle: &str) -> usize {
    if needle.is_empty() {
        0
    } else {
        haystack.matches(needle).count()
    }
}

/// F&O 4.7.3's rules; when several are broken, jsonata-js reports the
/// last of them.
fn validate(p: &Parts, f: &DecimalFormat) -> Result<(), FormatError> {
    let text: String = p.whole.iter().collect();
    let count = |c: char| p.whole.iter().filter(|x| **x == c).count();
    let percents = count_str(&text, &f.percent);
    let per_milles = count_str(&text, &f.per_mille);
    let grouping = f.grouping_separator;
    let decimal_at = p.whole.iter().position(|c| *c == f.decimal_separator);
    let adjacent_to_decimal = decimal_at.is_some_and(|i| {
        (i > 0 && p.whole[i - 1] == grouping) || p.whole.get(i + 1) == Some(&grouping)
    });
    let digit_then_optional = p
        .integer
        .iter()
        .position(|c| *c == f.digit)
        .is_some_and(|i| p.integer[..i].iter().any(|c| f.is_digit(*c)));
    let optional_then_digit = p
        .fraction
        .iter()
        .rposition(|c| *c == f.digit)
        .is_some_and(|i| p.fraction[i..].iter().any(|c| f.is_digit(*c)));
    let exponent = p.exponent.as_deref();
    let checks = [
        (count(f.decimal_separator) > 1, "D3081"),
        (percents > 1, "D3082"),
        (per_milles > 1, "D3083"),
        (percents > 0 && per_milles > 0, "D3084"),
        (
            !p.mantissa.iter().any(|c| f.is_digit(*c) || *c == f.digit),
            "D3085",
        ),
        (p.active.iter().any(|c| !f.is_active(*c)), "D3086"),
        (adjacent_to_decimal, "D3087"),
        (
            decimal_at.is_none() && p.integer.last() == Some(&grouping),
            "D3088",
        ),
        (
            p.whole.windows(2).any(|w| w == [grouping, grouping]),
            "D3089",
        ),
        (digit_then_optional, "D3090"),
        (optional_then_digit, "D3091"),
        (
            exponent.is_some_and(|e| !e.is_empty()) && (percents > 0 || per_milles > 0),
            "D3092",
        ),
        (
            exponent.is_some_and(|e| e.is_empty() || e.iter().any(|c| !f.is_digit(*c))),
            "D3093",
        ),
    ];
    match checks.iter().rev().find(|(broken, _)| *broken) {
        Some((_, code)) => Err(FormatError::new(code, picture_message(code))),
        None => Ok(()),
    }
}

fn picture_message(code: &str) -> &'static str {
    match code {
        "D3081" => "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
        "D3082" => "The sub-picture must not contain more than one instance of the 'percent' character",
        "D3083" => "The sub-picture must not contain more than one instance of the 'per-mille' character",
        "D3084" => "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
        "D3085" => "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'",
        "D3086" => "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character",
        "D3087" => "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character",
        "D3088" => "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
        "D3089" => "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
        "D3090" => "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'",
        "D3091" => "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'",
        "D3092" => "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'",
        _ => "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'",
    }
}

/// What formatting needs from a sub-picture (F&O 4.7.4).
#[derive(Clone)]
struct SubPicture {
    prefix: String,
    suffix: String,
    integer_groups: Vec<usize>,
    regular_grouping: usize,
    fraction_groups: Vec<usize>,
    min_integer: usize,
    scaling: usize,
    min_fraction: usize,
    max_fraction: usize,
    min_exponent: Option<usize>,
    has_decimal: bool,
    percent: bool,
    per_mille: bool,
}

/// Digits (mandatory or optional) on the far side of each grouping
/// separator: to the right for the integer part, to the left for the
/// fraction.
fn group_positions(part: &[char], f: &DecimalFormat, from_right: bool) -> Vec<usize> {
    let counts = |s: &[char]| {
        s.iter()
            .filter(|c| f.is_digit(**c) || **c == f.digit)
            .count()
    };
    (0..part.len())
        .filter(|i| part[*i] == f.grouping_separator)
        .map(|i| {
            if from_right {
                counts(&part[i..])
            } else {
                counts(&part[..i])
            }
        })
        .collect()
}

fn analyse(p: &Parts, f: &DecimalFormat) -> SubPicture {
    let digits = |s: &[char]| s.iter().filter(|c| f.is_digit(**c)).count();
    let integer_groups = group_positions(&p.integer, f, true);
    let mut min_integer = digits(&p.integer);
    let scaling = min_integer;
    let mut min_fraction = digits(&p.fraction);
    let mut max_fraction = p
        .fraction
        .iter()
        .filter(|c| f.is_digit(**c) || **c == f.digit)
        .count();
    let has_exponent = p.exponent.is_some();
    if min_integer == 0 && max_fraction == 0 {
        if has_exponent {
            min_fraction = 1;
            max_fraction = 1;
        } else {
            min_integer = 1;
        }
    }
    if has_exponent && min_integer == 0 && p.integer.contains(&f.digit) {
        min_integer = 1;
    }
    if min_integer == 0 && min_fraction == 0 {
        min_fraction = 1;
    }
    let text: String = p.whole.iter().collect();
    SubPicture {
        prefix: p.prefix.clone(),
        suffix: p.suffix.clone(),
        regular_grouping: regular_interval(&integer_groups),
        integer_groups,
        fraction_groups: group_positions(&p.fraction, f, false),
        min_integer,
        scaling,
        min_fraction,
        max_fraction,
        min_exponent: p.exponent.as_ref().map(|e| digits(e)).filter(|n| *n > 0),
        has_decimal: p.whole.contains(&f.decimal_separator),
        percent: !f.percent.is_empty() && text.contains(&f.percent),
        per_mille: !f.per_mille.is_empty() && text.contains(&f.per_mille),
    }
}

/// `$formatNumber(value, picture, options)`.
pub(crate) fn format(value: f64, picture: &str, f: &DecimalFormat) -> Result<String, FormatError> {
    let subs: Vec<&str> = picture.split(f.pattern_separator).collect();
    if subs.len() > 2 {
        return Err(FormatError::new(
            "D3080",
            "The picture string must only contain a maximum of two sub-pictures",
        ));
    }
    let parts: Vec<Parts> = subs.iter().map(|s| split(s, f)).collect();
    for p in &parts {
        validate(p, f)?;
    }
    let positive = analyse(&parts[0], f);
    let negative = match parts.get(1) {
        Some(p) => analyse(p, f),
        None => SubPicture {
            prefix: format!("{}{}", f.minus_sign, positive.prefix),
            ..positive.clone()
        },
    };
    if value.is_nan() {
        return Ok(f.nan.clone());
    }
    let pic = if value >= 0.0 { &positive } else { &negative };
    let adjusted = if pic.percent {
        value * 100.0
    } else if pic.per_mille {
        value * 1000.0
    } else {
        value
    };
    if adjusted.is_infinite() {
        return Ok(format!("{}{}{}", pic.prefix, f.infinity, pic.suffix));
    }
    let (mut mantissa, mut exponent) = match pic.min_exponent {
        Some(_) => scale(adjusted, pic.scaling),
        None => (adjusted, None),
    };
    let round_mantissa = |m: f64| {
        Some(round(m, Some(pic.max_fraction as f64)))
            .filter(|r| r.is_finite())
            .unwrap_or(m)
    };
    let mut rounded = round_mantissa(mantissa);
    // rounding up may reach the next power of ten (9.96 → 10.0): one
    // more step keeps the mantissa's integer digits (jsonata-js writes
    // 10.0e0 there)
    if let Some(e) = exponent.as_mut() {
        if rounded.abs() >= 10f64.powi(pic.scaling as i32) {
            mantissa /= 10.0;
            *e += 1;
            rounded = round_mantissa(mantissa);
        }
    }
    let mut body = digits_of(rounded, pic, f);
    if let (Some(e), Some(width)) = (exponent, pic.min_exponent) {
        body.push(f.exponent_separator);
        if e < 0 {
            body.push(f.minus_sign);
        }
        let digits = f.localise(&e.unsigned_abs().to_string());
        let pad = width.saturating_sub(digits.chars().count());
        body.extend(std::iter::repeat_n(f.zero_digit, pad));
        body.push_str(&digits);
    }
    Ok(format!("{}{}{}", pic.prefix, body, pic.suffix))
}

/// Mantissa and exponent with `scaling` integer digits in the mantissa
/// (zero stays zero with exponent zero).
fn scale(n: f64, scaling: usize) -> (f64, Option<i32>) {
    let max = 10f64.powi(scaling as i32);
    let min = 10f64.powi(scaling as i32 - 1);
    let (mut mantissa, mut exponent) = (n, 0);
    if mantissa != 0.0 {
        while mantissa.abs() < min {
            mantissa *= 10.0;
            exponent -= 1;
        }
        while mantissa.abs() > max {
            mantissa /= 10.0;
            exponent += 1;
        }
    }
    (mantissa, Some(exponent))
}

/// The rounded magnitude as digits with decimal and grouping separators,
/// padded to the picture's minimum sizes (F&O 4.7.5 bullets 7–12).
fn digits_of(rounded: f64, pic: &SubPicture, f: &DecimalFormat) -> String {
    let fixed = format!("{:.*}", pic.max_fraction, rounded.abs());
    let (int_ascii, frac_ascii) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let int_digits = f.localise(int_ascii.trim_start_matches('0'));
    let frac_digits = f.localise(frac_ascii.trim_end_matches('0'));
    let mut int: Vec<char> = int_digits.chars().collect();
    let mut frac: Vec<char> = frac_digits.chars().collect();
    if int.len() < pic.min_integer {
        let pad = pic.min_integer - int.len();
        int.splice(0..0, std::iter::repeat_n(f.zero_digit, pad));
    }
    if frac.len() < pic.min_fraction {
        frac.resize(pic.min_fraction, f.zero_digit);
    }
    let int = group_integer(int, pic, f.grouping_separator);
    let mut positions = pic.fraction_groups.clone();
    positions.sort_unstable_by(|a, b| b.cmp(a));
    let digits = frac.len();
    for pos in positions.into_iter().filter(|p| *p > 0 && *p < digits) {
        frac.insert(pos, f.grouping_separator);
    }
    let mut out: String = int.into_iter().collect();
    out.push(f.decimal_separator);
    out.extend(frac);
    // no decimal separator in the picture, or nothing after it: drop the
    // final character (jsonata-js's reading of bullet 12)
    if !pic.has_decimal || out.ends_with(f.decimal_separator) {
        out.pop();
    }
    out
}

fn group_integer(mut int: Vec<char>, pic: &SubPicture, separator: char) -> Vec<char> {
    let len = int.len();
    if pic.regular_grouping > 0 {
        let every = pic.regular_grouping;
        let count = len.saturating_sub(1) / every;
        for k in 1..=count {
            int.insert(len - k * every, separator);
        }
    } else {
        let mut positions = pic.integer_groups.clone();
        positions.sort_unstable();
        // right to left, so earlier insertions do not move later ones
        for pos in positions.into_iter().filter(|p| *p > 0 && *p < len) {
            int.insert(len - pos, separator);
        }
    }
    int
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(n: f64, picture: &str) -> Result<String, FormatError> {
        format(n, picture, &DecimalFormat::default())
    }

    #[test]
    fn grouping_fraction_and_padding() {
        assert_eq!(fmt(12345.6, "#,###.00").unwrap(), "12,345.60");
        assert_eq!(
            fmt(123412345678.9, "9,9,99.99").unwrap(),
            "123412345,6,78.90"
        );
        assert_eq!(fmt(1234.56789, "9,999.999,999").unwrap(), "1,234.567,890");
        assert_eq!(fmt(123.9, "9999").unwrap(), "0124");
        assert_eq!(fmt(-6.0, "000").unwrap(), "-006");
        assert_eq!(fmt(0.5, "#").unwrap(), "0");
        assert_eq!(fmt(1.5, "#").unwrap(), "2");
    }

    #[test]
    fn exponents_percent_and_sub_pictures() {
        assert_eq!(fmt(1234.5678, "00.000e000").unwrap(), "12.346e002");
        assert_eq!(fmt(0.234, "0.0e0").unwrap(), "2.3e-1");
        assert_eq!(fmt(-42.0, "0e0").unwrap(), "-4e1");
        assert_eq!(fmt(9.96, "0.0e0").unwrap(), "1.0e1");
        assert_eq!(fmt(10.0, "0e0").unwrap(), "1e1");
        assert_eq!(fmt(0.14, "01%").unwrap(), "14%");
        assert_eq!(fmt(-5.5, "0.0;(0.0)").unwrap(), "(5.5)");
    }

    #[test]
    fn overflowing_and_non_finite_values() {
        assert_eq!(fmt(1e307, "0%").unwrap(), "Infinity%");
        assert_eq!(fmt(f64::NEG_INFINITY, "0").unwrap(), "-Infinity");
        assert_eq!(fmt(f64::NAN, "0").unwrap(), "NaN");
        assert_eq!(fmt(1e-300, "0.0e0").unwrap(), "1.0e-300");
    }

    #[test]
    fn options_change_the_symbols() {
        let mut options = Map::new();
        options.insert("decimal-separator".into(), Value::from(","));
        options.insert("grouping-separator".into(), Value::from("."));
        let f = DecimalFormat::with_options(&options).unwrap();
        assert_eq!(format(1234.5, "#.##0,00", &f).unwrap(), "1.234,50");
        options.insert("minus-sign".into(), Value::from("--"));
        assert_eq!(
            DecimalFormat::with_options(&options).unwrap_err().code,
            "T0410"
        );
    }

    #[test]
    fn the_last_broken_rule_is_reported() {
        assert_eq!(fmt(1.0, "#;#;#").unwrap_err().code, "D3080");
        assert_eq!(fmt(1.0, "%%").unwrap_err().code, "D3086");
        assert_eq!(fmt(1.0, "#0.#0e0").unwrap_err().code, "D3091");
        assert_eq!(fmt(1.0, "0,").unwrap_err().code, "D3088");
    }
}
