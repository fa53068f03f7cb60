//! `$match`, `$contains`, `$replace` and `$split`, with regular
//! expressions or with *matcher* functions (any function returning
//! `{match, start, end, groups, next}` objects, as a regex literal does
//! when called).
//!
//! Positions reported to expressions are UTF-16 code units, as in
//! JavaScript; internally matches keep byte offsets.

use std::rc::Rc;

use super::{text, Builtin};
use crate::jsonata::eval::{Ev, Res};
use crate::jsonata::regex::Regex;
use crate::jsonata::value::{Frame, Func, ObjMap, Str, Val, V};
use crate::jsonata::Error;

/// One match, positions in bytes of the searched text.
struct Found<'a> {
    start: usize,
    end: usize,
    groups: Vec<Val<'a>>,
    /// For matcher functions: the `next` function of the match object.
    next: V<'a>,
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The byte offset of UTF-16 position `u` in `s` (clamped).
fn byte_of_utf16(s: &str, u: usize) -> usize {
    let mut count = 0;
    for (b, c) in s.char_indices() {
        if count >= u {
            return b;
        }
        count += c.len_utf16();
    }
    s.len()
}

fn zero_length(re: &Regex) -> Error {
    Error::new(
        "D1004",
        format!(
            "Regular expression matches zero length string: /{}/",
            re.source
        ),
    )
}

fn native_at<'a>(re: &Regex, text: &str, from: usize) -> Option<Found<'a>> {
    let caps = re.re.captures_at(text, from)?;
    let m = caps.get(0)?;
    let groups = (1..caps.len())
        .map(|i| caps.get(i).map_or(Val::Null, |g| Val::str(g.as_str())))
        .collect();
    Some(Found {
        start: m.start(),
        end: m.end(),
        groups,
        next: None,
    })
}

/// The next match after one ending at `from` (jsonata-js's `next()`).
fn native_next<'a>(re: &Regex, text: &str, from: usize) -> Result<Option<Found<'a>>, Error> {
    if from >= text.len() {
        return Ok(None);
    }
    match native_at(re, text, from) {
        Some(f) if f.start == f.end => Err(zero_length(re)),
        other => Ok(other),
    }
}

fn match_object<'a>(text: &str, f: &Found<'a>, next: Option<Val<'a>>) -> Val<'a> {
    let mut o = ObjMap::default();
    o.insert(Str::B("match"), Val::str(&text[f.start..f.end]));
    o.insert(
        Str::B("start"),
        Val::Num(utf16_len(&text[..f.start]) as f64),
    );
    o.insert(Str::B("end"), Val::Num(utf16_len(&text[..f.end]) as f64));
    o.insert(Str::B("groups"), Val::array(f.groups.clone()));
    if let Some(n) = next {
        o.insert(Str::B("next"), n);
    }
    Val::Obj(Rc::new(o))
}

/// Calling a regex literal as a function: `/a/("banana")`.
pub(crate) fn call_regex<'a>(re: &'a Regex, args: &[V<'a>]) -> Res<'a> {
    let Some(s) = text(args.first().unwrap_or(&None)).map(|s| s.to_string()) else {
        return Ok(None);
    };
    let from = args
        .get(1)
        .and_then(|a| a.as_ref())
        .and_then(|v| v.as_num())
        .map_or(0, |n| byte_of_utf16(&s, n.max(0.0) as usize));
    Ok(native_at(re, &s, from).map(|f| {
        let next = Val::func(Func::RegexNext {
            re,
            text: Str::from(s.clone()),
            from: f.end,
        });
        match_object(&s, &f, Some(next))
    }))
}

pub(crate) fn next_match<'a>(re: &'a Regex, text: &Str<'a>, from: usize) -> Res<'a> {
    Ok(native_next(re, text, from)?.map(|f| {
        let next = Val::func(Func::RegexNext {
            re,
            text: text.clone(),
            from: f.end,
        });
        match_object(text, &f, Some(next))
    }))
}

/// Iterates the matches of a regex or a matcher function over `text`.
struct Matches<'a, 'm> {
    matcher: &'m Val<'a>,
    text: &'m str,
}

impl<'a> Matches<'a, '_> {
    fn first(
        &self,
        ev: &mut Ev<'a, '_, '_>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Option<Found<'a>>, Error> {
        match self.matcher {
            Val::Func(f) if matches!(**f, Func::Regex(_)) => {
                let Func::Regex(re) = &**f else {
                    return Ok(None);
                };
                Ok(native_at(re, self.text, 0))
            }
            m => {
                let res = ev.apply_value(m, vec![Some(Val::str(self.text))], &None, env)?;
                self.custom(res)
            }
        }
    }

    fn next(
        &self,
        ev: &mut Ev<'a, '_, '_>,
        prev: &Found<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Option<Found<'a>>, Error> {
        match self.matcher {
            Val::Func(f) if matches!(**f, Func::Regex(_)) => {
                let Func::Regex(re) = &**f else {
                    return Ok(None);
                };
                native_next(re, self.text, prev.end)
            }
            _ => match &prev.next {
                Some(n @ Val::Func(_)) => {
                    let res = ev.apply_value(n, vec![None], &None, env)?;
                    self.custom(res)
                }
                _ => Ok(None),
            },
        }
    }

    /// Read a matcher function's result object.
    fn custom(&self, res: V<'a>) -> Result<Option<Found<'a>>, Error> {
        let Some(obj) = res else { return Ok(None) };
        let start = obj.field("start").and_then(|v| v.as_num());
        let groups = obj.field("groups");
        let next = obj.field("next");
        let shaped = start.is_some()
            || groups.as_ref().is_some_and(|g| g.is_array())
            || next.as_ref().is_some_and(|n| n.is_func());
        if !shaped {
            return Err(Error::new(
                "T1010",
                "The matcher function argument passed to function {token} does not return the correct object structure",
            ));
        }
        let matched = obj.field("match");
        let matched = matched.as_ref().and_then(|m| m.as_str()).unwrap_or("");
        let start = byte_of_utf16(self.text, start.unwrap_or(0.0).max(0.0) as usize);
        let end = (start + matched.len()).min(self.text.len());
        let groups = groups.map(|g| g.items()).unwrap_or_default();
        Ok(Some(Found {
            start,
            end,
            groups,
            next,
        }))
    }
}

fn limit_of(v: &V<'_>, code: &'static str, which: &str, fname: &str) -> Result<Option<f64>, Error> {
    match v.as_ref().and_then(|v| v.as_num()) {
        Some(n) if n < 0.0 => Err(Error::new(
            code,
            format!("{which} argument of {fname} function must evaluate to a positive number"),
        )),
        other => Ok(other),
    }
}

pub(crate) fn call<'a>(
    ev: &mut Ev<'a, '_, '_>,
    b: Builtin,
    s: V<'a>,
    pattern: V<'a>,
    third: V<'a>,
    fourth: V<'a>,
    env: &Rc<Frame<'a>>,
) -> Res<'a> {
    let Some(Val::Str(s)) = s else {
        return Ok(None);
    };
    match b {
        Builtin::Contains => Ok(match &pattern {
            Some(Val::Str(p)) => Some(Val::Bool(s.contains(&**p))),
            Some(m) => Some(Val::Bool(
                Matches {
                    matcher: m,
                    text: &s,
                }
                .first(ev, env)?
                .is_some(),
            )),
            // An undefined pattern gives undefined, as in jsonata-js.
            None => None,
        }),
        Builtin::Match => {
            let limit = limit_of(&third, "D3040", "Third", "match")?;
            let Some(m) = &pattern else { return Ok(None) };
            let matches = Matches {
                matcher: m,
                text: &s,
            };
            let mut out = Vec::new();
            if limit.is_none_or(|l| l > 0.0) {
                let mut cur = matches.first(ev, env)?;
                while let Some(f) = cur {
                    if limit.is_some_and(|l| out.len() as f64 >= l) {
                        break;
                    }
                    let mut o = ObjMap::default();
                    o.insert(Str::B("match"), Val::str(&s[f.start..f.end]));
                    o.insert(Str::B("index"), Val::Num(utf16_len(&s[..f.start]) as f64));
                    o.insert(Str::B("groups"), Val::array(f.groups.clone()));
                    out.push(Val::Obj(Rc::new(o)));
                    cur = matches.next(ev, &f, env)?;
                }
            }
            Ok(Some(Val::seq(out)))
        }
        Builtin::Replace => replace(ev, &s, pattern, third, fourth, env),
        _ => split(ev, &s, pattern, third, env),
    }
}

fn replace<'a>(
    ev: &mut Ev<'a, '_, '_>,
    s: &Str<'a>,
    pattern: V<'a>,
    replacement: V<'a>,
    limit: V<'a>,
    env: &Rc<Frame<'a>>,
) -> Res<'a> {
    if matches!(&pattern, Some(Val::Str(p)) if p.is_empty()) {
        return Err(Error::new(
            "D3010",
            "Second argument of replace function cannot be an empty string",
        ));
    }
    let limit = limit_of(&limit, "D3011", "Fourth", "replace")?;
    if limit.is_some_and(|l| l == 0.0) {
        return Ok(Some(Val::Str(s.clone())));
    }
    let under = |count: usize| limit.is_none_or(|l| (count as f64) < l);
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    let mut count = 0;
    match &pattern {
        Some(Val::Str(p)) => {
            let rep = match &replacement {
                Some(Val::Str(r)) => r.to_string(),
                _ => String::new(),
            };
            while under(count) {
                let Some(i) = s[pos..].find(&**p) else { break };
                out.push_str(&s[pos..pos + i]);
                out.push_str(&rep);
                pos += i + p.len();
                count += 1;
            }
        }
        Some(m) => {
            let matches = Matches {
                matcher: m,
                text: s,
            };
            let mut cur = matches.first(ev, env)?;
            while let Some(f) = cur {
                if !under(count) {
                    break;
                }
                out.push_str(&s[pos.min(f.start)..f.start]);
                let sub =
                    match &replacement {
                        Some(Val::Str(r)) => substitute(r, &s[f.start..f.end], &f.groups),
                        Some(func @ Val::Func(_)) => {
                            let obj = match_object(s, &f, None);
                            match ev.apply_value(func, vec![Some(obj)], &None, env)? {
                                Some(Val::Str(r)) => r.to_string(),
                                _ => return Err(Error::new(
                                    "D3012",
                                    "Attempted to replace a matched string with a non-string value",
                                )),
                            }
                        }
                        _ => String::new(),
                    };
                out.push_str(&sub);
                pos = f.end;
                count += 1;
                cur = matches.next(ev, &f, env)?;
            }
        }
        None => return Ok(Some(Val::Str(s.clone()))),
    }
    out.push_str(&s[pos.min(s.len())..]);
    Ok(Some(Val::string(out)))
}

/// Expand `$0`, `$1`…, `$$` in a replacement string as jsonata-js does:
/// as many digits as could name a group, falling back to fewer.
fn substitute(rep: &str, matched: &str, groups: &[Val<'_>]) -> String {
    let chars: Vec<char> = rep.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let max_digits = if groups.is_empty() {
        1
    } else {
        (groups.len() as f64).log10().floor() as usize + 1
    };
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        match chars.get(i) {
            Some('$') => {
                out.push('$');
                i += 1;
            }
            Some('0') => {
                out.push_str(matched);
                i += 1;
            }
            _ => {
                let digits: String = chars[i..]
                    .iter()
                    .take(max_digits)
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                let mut n: Option<usize> = digits.parse().ok();
                let mut used = digits.len();
                if max_digits > 1 && n.is_some_and(|n| n > groups.len()) {
                    let fewer = &digits[..digits.len().saturating_sub(1)];
                    n = fewer.parse().ok();
                    used = fewer.len();
                }
                match n {
                    Some(n) => {
                        if n >= 1 {
                            if let Some(Val::Str(g)) = groups.get(n - 1) {
                                out.push_str(g);
                            }
                        }
                        i += used;
                    }
                    None => out.push('$'),
                }
            }
        }
    }
    out
}

fn split<'a>(
    ev: &mut Ev<'a, '_, '_>,
    s: &Str<'a>,
    sep: V<'a>,
    limit: V<'a>,
    env: &Rc<Frame<'a>>,
) -> Res<'a> {
    let limit = limit_of(&limit, "D3020", "Third", "split")?;
    let under = |count: usize| limit.is_none_or(|l| (count as f64) < l);
    let mut out: Vec<Val<'a>> = Vec::new();
    if limit.is_some_and(|l| l == 0.0) {
        return Ok(Some(Val::array(out)));
    }
    match &sep {
        Some(Val::Str(p)) => {
            let parts: Vec<&str> = if p.is_empty() {
                s.char_indices()
                    .map(|(i, c)| &s[i..i + c.len_utf8()])
                    .collect()
            } else {
                s.split(&**p).collect()
            };
            // `String.prototype.split` takes its limit as an unsigned integer
            let max = limit.map(|l| l.trunc());
            for part in parts {
                if max.is_some_and(|m| out.len() as f64 >= m) {
                    break;
                }
                out.push(Val::str(part));
            }
        }
        Some(m) => {
            let matches = Matches {
                matcher: m,
                text: s,
            };
            let mut cur = matches.first(ev, env)?;
            let mut start = 0;
            let mut found_any = false;
            while let Some(f) = cur {
                if !under(out.len()) {
                    break;
                }
                found_any = true;
                out.push(Val::str(&s[start.min(f.start)..f.start]));
                start = f.end;
                cur = matches.next(ev, &f, env)?;
            }
            if !found_any {
                out.push(Val::Str(s.clone()));
            } else if under(out.len()) {
                out.push(Val::str(&s[start.min(s.len())..]));
            }
        }
        None => out.push(Val::Str(s.clone())),
    }
    Ok(Some(Val::array(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_references() {
        let groups = vec![Val::str("a"), Val::str("b")];
        assert_eq!(substitute("[$2$1$0$$]", "ab", &groups), "[baab$]");
        assert_eq!(substitute("$3x", "ab", &groups), "x");
        assert_eq!(substitute("$x", "ab", &groups), "$x");
    }

    #[test]
    fn utf16_positions() {
        assert_eq!(utf16_len("😀a"), 3);
        assert_eq!(byte_of_utf16("😀a", 2), 4);
    }
}
