//! Wiring of the picture-string functions to `format/`, and the clock.

use super::{text, Builtin};
use crate::jsonata::eval::{Ev, Res};
use crate::jsonata::format::{self, DecimalFormat, FormatError};
use crate::jsonata::value::{to_json, Val, V};
use crate::jsonata::Error;

fn from_format(e: FormatError) -> Error {
    Error::new(e.code, e.message)
}

fn num(v: &V<'_>) -> Option<f64> {
    v.as_ref().and_then(|v| v.as_num())
}

/// `$formatNumber`, `$formatInteger`, `$parseInteger`.
pub(crate) fn picture<'a>(b: Builtin, a: V<'a>, picture: V<'a>, options: V<'a>) -> Res<'a> {
    match b {
        Builtin::FormatNumber => {
            let Some(n) = num(&a) else { return Ok(None) };
            let fmt = match options
                .as_ref()
                .map(|o| to_json(o, 0))
                .transpose()?
                .flatten()
            {
                Some(serde_json::Value::Object(map)) => {
                    DecimalFormat::from_options(&map).map_err(from_format)?
                }
                _ => DecimalFormat::default(),
            };
            let s = format::format_number(n, text(&picture).unwrap_or(""), &fmt)
                .map_err(from_format)?;
            Ok(Some(Val::string(s)))
        }
        Builtin::FormatInteger => {
            let Some(n) = num(&a) else { return Ok(None) };
            let s = format::format_integer(n.floor(), text(&picture).unwrap_or(""))
                .map_err(from_format)?;
            Ok(Some(Val::string(s)))
        }
        _ => {
            let Some(s) = text(&a) else { return Ok(None) };
            let n = format::parse_integer(s, text(&picture).unwrap_or("")).map_err(from_format)?;
            Ok(n.map(Val::Num))
        }
    }
}

/// `$toMillis`, `$fromMillis`, `$now`, `$millis`.
pub(crate) fn call<'a>(
    ev: &mut Ev<'a, '_, '_>,
    b: Builtin,
    a: V<'a>,
    b2: V<'a>,
    c: V<'a>,
) -> Res<'a> {
    let now = ev.env.now.timestamp_millis() as f64;
    match b {
        Builtin::Millis => Ok(Some(Val::Num(now))),
        Builtin::Now => {
            let s = format::format_datetime(now, text(&a), text(&b2)).map_err(from_format)?;
            Ok(Some(Val::string(s)))
        }
        Builtin::FromMillis => {
            let Some(ms) = num(&a) else { return Ok(None) };
            let s = format::format_datetime(ms, text(&b2), text(&c)).map_err(from_format)?;
            Ok(Some(Val::string(s)))
        }
        _ => {
            let Some(s) = text(&a) else { return Ok(None) };
            let ms = format::parse_datetime_at(s, text(&b2), now).map_err(from_format)?;
            Ok(ms.map(Val::Num))
        }
    }
}
