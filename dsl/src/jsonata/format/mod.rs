//! The picture-string functions of JSONata (XPath and XQuery Functions and
//! Operators 3.1, as jsonata-js implements them): `$formatNumber`,
//! `$formatInteger`/`$parseInteger`, and `$fromMillis`/`$toMillis` with a
//! picture. Pure functions on plain values; `super` wires them into the
//! function library.
//!
//! - `number`: `$formatNumber` pictures and the decimal format;
//! - `integer`: `$formatInteger`/`$parseInteger` pictures;
//! - `words`: English words, Roman numerals and letters for integers;
//! - `picture`: date-time pictures (`[Y0001]-[M01]-[D01]`);
//! - `datetime`: formatting instants; `datetime_parse`: reading them.

mod datetime;
mod datetime_parse;
mod integer;
mod number;
mod picture;
mod words;

use serde_json::{Map, Value};

/// A failure with jsonata-js's error code (`D3110`, `D3133`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct FormatError {
    pub code: &'static str,
    pub message: String,
}

impl FormatError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> FormatError {
        FormatError {
            code,
            message: message.into(),
        }
    }
}

/// The decimal format of `$formatNumber` (its third argument).
#[derive(Debug, Clone, PartialEq)]
pub struct DecimalFormat {
    pub decimal_separator: char,
    pub grouping_separator: char,
    pub exponent_separator: char,
    pub minus_sign: char,
    pub infinity: String,
    pub nan: String,
    pub percent: String,
    pub per_mille: String,
    pub zero_digit: char,
    pub digit: char,
    pub pattern_separator: char,
}

impl Default for DecimalFormat {
    fn default() -> Self {
        DecimalFormat {
            decimal_separator: '.',
            grouping_separator: ',',
            exponent_separator: 'e',
            minus_sign: '-',
            infinity: "Infinity".into(),
            nan: "NaN".into(),
            percent: "%".into(),
            per_mille: "\u{2030}".into(),
            zero_digit: '0',
            digit: '#',
            pattern_separator: ';',
        }
    }
}

impl DecimalFormat {
    /// The defaults with the options object's properties applied
    /// (`decimal-separator`, `grouping-separator`, …). Unknown properties
    /// are ignored; a value that is not a string, or not one character
    /// where one character is needed, is an error (`T0410`).
    pub fn from_options(options: &Map<String, Value>) -> Result<DecimalFormat, FormatError> {
        DecimalFormat::with_options(options)
    }
}

/// `$formatNumber(value, picture, options)`.
pub fn format_number(
    value: f64,
    picture: &str,
    format: &DecimalFormat,
) -> Result<String, FormatError> {
    number::format(value, picture, format)
}

/// `$formatInteger(value, picture)`.
pub fn format_integer(value: f64, picture: &str) -> Result<String, FormatError> {
    let picture = integer::IntegerPicture::parse(picture)?;
    Ok(picture.format(value.floor()))
}

/// `$parseInteger(text, picture)`; `Ok(None)` when the text does not match.
pub fn parse_integer(text: &str, picture: &str) -> Result<Option<f64>, FormatError> {
    let picture = integer::IntegerPicture::parse(picture)?;
    Ok(picture.read(text))
}

/// `$fromMillis(millis, picture, timezone)`: without a picture, ISO 8601
/// with milliseconds (`2017-11-07T15:07:54.972Z`); `timezone` is `±HHMM`.
pub fn format_datetime(
    millis: f64,
    picture: Option<&str>,
    timezone: Option<&str>,
) -> Result<String, FormatError> {
    datetime::format(millis, picture, timezone)
}

/// `$toMillis(timestamp, picture)`: without a picture, ISO 8601.
/// `Ok(None)` when the text does not match the picture. Components a
/// picture leaves out before the first one it gives are taken from the
/// Unix epoch; [`parse_datetime_at`] takes them from a given instant.
pub fn parse_datetime(text: &str, picture: Option<&str>) -> Result<Option<f64>, FormatError> {
    parse_datetime_at(text, picture, 0.0)
}

/// [`parse_datetime`] with `now` (milliseconds since the epoch) supplying
/// the leading components the picture leaves out, as jsonata-js uses the
/// evaluation's `$now()`: `[H]:[m]` reads a time on today's date.
pub fn parse_datetime_at(
    text: &str,
    picture: Option<&str>,
    now: f64,
) -> Result<Option<f64>, FormatError> {
    match picture {
        None => datetime_parse::parse_iso(text).map(Some),
        Some(p) => datetime_parse::parse_with_picture(text, p, now),
    }
}
