//! String functions, `$string` and its JSON serialisation, Base64 and URL
//! encoding.

use base64::Engine;

use super::{text, Builtin};
use crate::jsonata::eval::{finite, Res};
use crate::jsonata::value::{format_number, round15, too_deep, Val, MAX_DATA_DEPTH, V};
use crate::jsonata::Error;

pub(crate) fn string_fn<'a>(v: V<'a>, pretty: V<'a>) -> Res<'a> {
    let Some(v) = v else { return Ok(None) };
    if let Val::Str(_) = v {
        return Ok(Some(v));
    }
    let pretty = matches!(pretty, Some(Val::Bool(true)));
    Ok(Some(Val::string(stringify(&v, pretty)?)))
}

/// `$string(v)`: strings as they are, functions as `""`, numbers printed
/// after rounding to 15 significant digits, everything else as
/// `JSON.stringify` prints it (indented by 2 when `pretty`).
pub(crate) fn stringify(v: &Val<'_>, pretty: bool) -> Result<String, Error> {
    match v {
        Val::Str(s) => Ok(s.to_string()),
        Val::Func(_) => Ok(String::new()),
        Val::Num(n) if !n.is_finite() => Err(Error::new(
            "D3001",
            "Attempting to invoke string function on Infinity or NaN",
        )),
        Val::Arr(a) if a.wrapper && !a.items.is_empty() => stringify(&a.items[0], pretty),
        other => {
            let mut out = String::new();
            write_json(other, pretty, 0, &mut out)?;
            Ok(out)
        }
    }
}

fn newline(out: &mut String, pretty: bool, level: usize) {
    if pretty {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', level * 2));
    }
}

fn write_json(v: &Val<'_>, pretty: bool, level: usize, out: &mut String) -> Result<(), Error> {
    if level > MAX_DATA_DEPTH {
        return Err(too_deep());
    }
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => {
            if n.is_nan() {
                out.push_str("null");
            } else {
                out.push_str(&format_number(round15(finite(*n)?)));
            }
        }
        Val::Str(s) => write_string(s, out),
        Val::Func(_) => out.push_str("\"\""),
        Val::JArr(_) | Val::Arr(_) | Val::Tuples(_) => {
            let items = match v {
                Val::Tuples(t) => t
                    .iter()
                    .map(|t| t.at.clone().unwrap_or(Val::Null))
                    .collect(),
                _ => v.items(),
            };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, pretty, level + 1);
                write_json(item, pretty, level + 1, out)?;
            }
            if !items.is_empty() {
                newline(out, pretty, level);
            }
            out.push(']');
        }
        Val::JObj(_) | Val::Obj(_) => {
            let entries = v.entries();
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, pretty, level + 1);
                write_string(k, out);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write_json(item, pretty, level + 1, out)?;
            }
            if !entries.is_empty() {
                newline(out, pretty, level);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A JSON string literal as `JSON.stringify` writes it.
pub(crate) fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `Array.prototype.slice` bounds on a length.
pub(crate) fn js_index(len: usize, at: f64) -> usize {
    let at = if at.is_nan() { 0.0 } else { at.trunc() };
    if at < 0.0 {
        (len as f64 + at).max(0.0) as usize
    } else {
        at.min(len as f64) as usize
    }
}

pub(crate) fn substring(s: &str, start: f64, length: Option<f64>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len();
    let mut start = start;
    if len as f64 + start < 0.0 {
        start = 0.0;
    }
    let from = js_index(len, start);
    let to = match length {
        Some(l) => {
            if l <= 0.0 || l.is_nan() {
                return String::new();
            }
            let end = if start >= 0.0 {
                start + l
            } else {
                len as f64 + start + l
            };
            js_index(len, end)
        }
        None => len,
    };
    if from >= to {
        return String::new();
    }
    chars[from..to].iter().collect()
}

fn trim(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    let out = out.strip_prefix(' ').unwrap_or(&out);
    out.strip_suffix(' ').unwrap_or(out).to_string()
}

fn pad(s: &str, width: f64, fill: Option<&str>) -> String {
    let fill = match fill {
        Some(f) if !f.is_empty() => f,
        _ => " ",
    };
    let len = s.chars().count() as f64;
    let missing = width.abs().trunc() - len;
    if missing <= 0.0 {
        return s.to_string();
    }
    let missing = missing as usize;
    let padding: String = fill.chars().cycle().take(missing).collect();
    if width > 0.0 {
        format!("{s}{padding}")
    } else {
        format!("{padding}{s}")
    }
}

pub(crate) fn call<'a>(b: Builtin, a: V<'a>, b2: V<'a>, c: V<'a>) -> Res<'a> {
    if matches!(b, Builtin::Join) {
        let Some(items) = a else { return Ok(None) };
        let sep = text(&b2).unwrap_or("");
        let mut out = String::new();
        for (i, item) in items.items().iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(item.as_str().unwrap_or(""));
        }
        return Ok(Some(Val::string(out)));
    }
    let Some(s) = text(&a) else { return Ok(None) };
    let num = |v: &V<'a>| v.as_ref().and_then(|v| v.as_num());
    let out: String = match b {
        Builtin::Substring => substring(s, num(&b2).unwrap_or(f64::NAN), num(&c)),
        Builtin::SubstringBefore => {
            let chars = text(&b2).unwrap_or("undefined");
            match s.find(chars) {
                Some(i) => s[..i].to_string(),
                None => return Ok(a),
            }
        }
        Builtin::SubstringAfter => {
            let chars = text(&b2).unwrap_or("undefined");
            match s.find(chars) {
                Some(i) => s[i + chars.len()..].to_string(),
                None => return Ok(a),
            }
        }
        Builtin::Lowercase => s.to_lowercase(),
        Builtin::Uppercase => s.to_uppercase(),
        Builtin::Length => return Ok(Some(Val::Num(s.chars().count() as f64))),
        Builtin::Trim => trim(s),
        Builtin::Pad => pad(s, num(&b2).unwrap_or(0.0), text(&c)),
        Builtin::Base64Encode => {
            // jsonata-js encodes the string as Latin-1 ('binary')
            let bytes: Vec<u8> = s.encode_utf16().map(|u| u as u8).collect();
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        Builtin::Base64Decode => base64_decode(s),
        Builtin::EncodeUrlComponent => encode_uri(s, "-_.!~*'()"),
        Builtin::EncodeUrl => encode_uri(s, "-_.!~*'();/?:@&=+$,#"),
        Builtin::DecodeUrlComponent => decode_uri(s, "", "decodeUrlComponent")?,
        Builtin::DecodeUrl => decode_uri(s, ";/?:@&=+$,#", "decodeUrl")?,
        _ => return Ok(None),
    };
    Ok(Some(Val::string(out)))
}

/// Node's `Buffer.from(s, 'base64').toString('binary')`: lenient about
/// stray characters, and each byte becomes one Latin-1 character.
fn base64_decode(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter_map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' => Some(c),
            '-' => Some('+'),
            '_' => Some('/'),
            _ => None,
        })
        .collect();
    // a lone trailing character carries no whole byte; Node drops it
    let clean = if clean.len() % 4 == 1 {
        &clean[..clean.len() - 1]
    } else {
        &clean[..]
    };
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = engine.decode(clean).unwrap_or_default();
    bytes.into_iter().map(char::from).collect()
}

fn encode_uri(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn malformed(s: &str, function: &str) -> Error {
    Error::new(
        "D3140",
        format!("Malformed URL passed to ${function}(): {s:?}"),
    )
}

fn decode_uri(s: &str, reserved: &str, function: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let hex = |i: usize| -> Option<u8> {
        let h = bytes.get(i + 1..i + 3)?;
        u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let first = hex(i).ok_or_else(|| malformed(s, function))?;
        let n = match first {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Err(malformed(s, function)),
        };
        if n == 1 {
            if reserved.contains(first as char) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(first);
            }
            i += 3;
            continue;
        }
        let mut seq = vec![first];
        for k in 1..n {
            let b = hex(i + 3 * k).filter(|_| bytes.get(i + 3 * k) == Some(&b'%'));
            match b {
                Some(b) if b & 0xC0 == 0x80 => seq.push(b),
                _ => return Err(malformed(s, function)),
            }
        }
        if std::str::from_utf8(&seq).is_err() {
            return Err(malformed(s, function));
        }
        out.extend_from_slice(&seq);
        i += 3 * n;
    }
    String::from_utf8(out).map_err(|_| malformed(s, function))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_counts_code_points() {
        assert_eq!(substring("hello world", 3.0, None), "lo world");
        assert_eq!(substring("hello world", -5.0, Some(2.0)), "wo");
        assert_eq!(substring("😀ab", 1.0, Some(1.0)), "a");
        assert_eq!(substring("abc", 1.0, Some(-1.0)), "");
    }

    #[test]
    fn trim_and_pad() {
        assert_eq!(trim("  a \n\t b  "), "a b");
        assert_eq!(pad("ab", 5.0, Some("#")), "ab###");
        assert_eq!(pad("ab", -5.0, Some("xy")), "xyxab");
    }

    #[test]
    fn url_coding() {
        assert_eq!(encode_uri("a b?é", "-_.!~*'()"), "a%20b%3F%C3%A9");
        assert_eq!(decode_uri("a%20b%3F%C3%A9", "", "x").unwrap(), "a b?é");
        assert_eq!(decode_uri("%3F", ";/?:@&=+$,#", "x").unwrap(), "%3F");
        assert_eq!(decode_uri("%E0%A4%A", "", "x").unwrap_err().code, "D3140");
    }

    #[test]
    fn json_like_javascript() {
        let v = Val::Num(0.1 + 0.2);
        assert_eq!(stringify(&v, false).unwrap(), "0.3");
        let mut out = String::new();
        write_string("a\"\u{1}", &mut out);
        assert_eq!(out, "\"a\\\"\\u0001\"");
    }
}
