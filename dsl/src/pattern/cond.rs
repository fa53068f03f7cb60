//! One condition of a pattern field (an element of the field's array) and
//! how it tests one leaf value of the event.

use serde_json::Value;
use std::net::IpAddr;

/// A condition on one leaf value. The field matches when any leaf value of
/// the event at its path satisfies any of its conditions.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    /// A string, number, boolean or null, compared exactly (numbers by value).
    Exact(Value),
    /// `prefix` / `suffix`, optionally `equals-ignore-case` inside (text is
    /// then lowercased).
    Prefix {
        text: String,
        ignore_case: bool,
    },
    Suffix {
        text: String,
        ignore_case: bool,
    },
    /// `equals-ignore-case` (lowercased).
    IgnoreCase(String),
    AnythingBut(AnythingBut),
    Numeric(Range),
    /// `exists: true` (any leaf value) or `exists: false` (the field is absent).
    Exists(bool),
    Cidr(Cidr),
    Wildcard(Wildcard),
}

#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    /// Neither of these strings or numbers.
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
    /// Lowercased.
    IgnoreCase(Vec<String>),
    Wildcard(Vec<Wildcard>),
}

/// A numeric range; `=` sets both ends inclusive.
#[derive(Debug, Clone, Default)]
pub(crate) struct Range {
    /// (bound, inclusive)
    pub lower: Option<(f64, bool)>,
    pub upper: Option<(f64, bool)>,
}

impl Range {
    fn contains(&self, x: f64) -> bool {
        let lower_ok = match self.lower {
            None => true,
            Some((b, true)) => x >= b,
            Some((b, false)) => x > b,
        };
        let upper_ok = match self.upper {
            None => true,
            Some((b, true)) => x <= b,
            Some((b, false)) => x < b,
        };
        lower_ok && upper_ok
    }
}

/// An IP network: the address's bits and the prefix length.
#[derive(Debug, Clone)]
pub(crate) struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, bits) = text.split_once('/')?;
        let network: IpAddr = addr.parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Cidr { network, bits })
    }

    fn contains(&self, text: &str) -> bool {
        let Ok(ip) = text.parse::<IpAddr>() else {
            return false;
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A `wildcard` pattern: `*` matches any run of characters, `\*` a literal
/// star, `\\` a backslash. Kept as the literal pieces between stars.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    pieces: Vec<String>,
}

impl Wildcard {
    pub fn parse(text: &str) -> Result<Wildcard, String> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars().peekable();
        let mut last_star = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => {
                        pieces.last_mut().expect("never empty").push(e);
                        last_star = false;
                    }
                    _ => {
                        return Err(format!(
                            "'{text}' has a '\\' that escapes neither '*' nor '\\'; write '\\\\' for a backslash"
                        ))
                    }
                },
                '*' => {
                    if last_star {
                        return Err(format!(
                            "'{text}' has consecutive '*' characters; one '*' already matches any run of characters"
                        ));
                    }
                    pieces.push(String::new());
                    last_star = true;
                }
                c => {
                    pieces.last_mut().expect("never empty").push(c);
                    last_star = false;
                }
            }
        }
        Ok(Wildcard { pieces })
    }

    pub fn matches(&self, s: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("never empty");
        if rest.is_empty() {
            return s == first;
        }
        let Some(mut s) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let (last, middle) = rest.split_last().expect("rest is not empty");
        for piece in middle {
            match s.find(piece.as_str()) {
                Some(at) => s = &s[at + piece.len()..],
                None => return false,
            }
        }
        s.len() >= last.len() && s.ends_with(last.as_str())
    }
}

/// Numbers compare by value (`5` equals `5.0`).
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        std::borrow::Cow::Owned(s.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

impl Cond {
    /// Does this leaf value (never an array or an object) satisfy the condition?
    pub fn test(&self, v: &Value) -> bool {
        match self {
            Cond::Exact(want) => same_value(want, v),
            Cond::Prefix { text, ignore_case } => match v {
                Value::String(s) if *ignore_case => lower(s).starts_with(text.as_str()),
                Value::String(s) => s.starts_with(text.as_str()),
                _ => false,
            },
            Cond::Suffix { text, ignore_case } => match v {
                Value::String(s) if *ignore_case => lower(s).ends_with(text.as_str()),
                Value::String(s) => s.ends_with(text.as_str()),
                _ => false,
            },
            Cond::IgnoreCase(text) => matches!(v, Value::String(s) if lower(s) == text.as_str()),
            Cond::AnythingBut(but) => match but {
                AnythingBut::Values(values) => !values.iter().any(|x| same_value(x, v)),
                AnythingBut::Prefix(p) => {
                    matches!(v, Value::String(s) if !s.starts_with(p.as_str()))
                }
                AnythingBut::Suffix(p) => matches!(v, Value::String(s) if !s.ends_with(p.as_str())),
                AnythingBut::IgnoreCase(values) => match v {
                    Value::String(s) => {
                        let s = lower(s);
                        !values.iter().any(|x| x.as_str() == s)
                    }
                    _ => false,
                },
                AnythingBut::Wildcard(ws) => {
                    matches!(v, Value::String(s) if !ws.iter().any(|w| w.matches(s)))
                }
            },
            Cond::Numeric(range) => v.as_f64().is_some_and(|x| range.contains(x)),
            Cond::Exists(present) => *present,
            Cond::Cidr(net) => matches!(v, Value::String(s) if net.contains(s)),
            Cond::Wildcard(w) => matches!(v, Value::String(s) if w.matches(s)),
        }
    }
}
