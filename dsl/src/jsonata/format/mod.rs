//! The picture-string functions of JSONata (XPath and XQuery Functions and
//! Operators 3.1, as jsonata-js implements them): `$formatNumber`,
//! `$formatInteger`/`$parseInteger`, and `$fromMillis`/`$toMillis` with a
//! picture. Pure functions on plain values; `super` wires them into the
//! function library.

use serde_json::{Map, Value};

/// A failure with jsonata-js's error code (`D3110`, `D3133`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct FormatError {
    pub code: &'static str,
    pub message: String,
}

fn not_built(what: &str) -> FormatError {
    FormatError {
        code: "D3000",
        message: format!("{what} is not built yet"),
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
    /// (`decimal-separator`, `grouping-separator`, …).
    pub fn from_options(_options: &Map<String, Value>) -> Result<DecimalFormat, FormatError> {
        Err(not_built("$formatNumber options"))
    }
}

/// `$formatNumber(value, picture, options)`.
pub fn format_number(
    _value: f64,
    _picture: &str,
    _format: &DecimalFormat,
) -> Result<String, FormatError> {
    Err(not_built("$formatNumber"))
}

/// `$formatInteger(value, picture)`.
pub fn format_integer(_value: f64, _picture: &str) -> Result<String, FormatError> {
    Err(not_built("$formatInteger"))
}

/// `$parseInteger(text, picture)`; `Ok(None)` when the text does not match.
pub fn parse_integer(_text: &str, _picture: &str) -> Result<Option<f64>, FormatError> {
    Err(not_built("$parseInteger"))
}

/// `$fromMillis(millis, picture, timezone)`: without a picture, ISO 8601
/// with milliseconds (`2017-11-07T15:07:54.972Z`); `timezone` is `±HHMM`.
pub fn format_datetime(
    _millis: f64,
    _picture: Option<&str>,
    _timezone: Option<&str>,
) -> Result<String, FormatError> {
    Err(not_built("$fromMillis"))
}

/// `$toMillis(timestamp, picture)`: without a picture, ISO 8601.
/// `Ok(None)` when the text does not match the picture.
pub fn parse_datetime(_text: &str, _picture: Option<&str>) -> Result<Option<f64>, FormatError> {
    Err(not_built("$toMillis"))
}
