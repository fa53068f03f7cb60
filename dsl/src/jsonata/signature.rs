//! Function signatures (`<s-n?:s>`): parsed once, checked on every call.
//!
//! jsonata-js compiles a signature into a regular expression over one
//! letter per argument (`s` string, `n` number, `b` boolean, `l` null,
//! `o` object, `a` array, `f` function, `m` missing); this matches the same
//! language with a small backtracking matcher instead, greedy like the
//! regex, so that arguments are assigned to parameters the same way.
//! Built-in signatures are parsed at compile time (`const`).

use super::Error;

/// Letter bits.
pub(crate) const S: u8 = 1;
pub(crate) const N: u8 = 2;
pub(crate) const B: u8 = 4;
pub(crate) const L: u8 = 8;
pub(crate) const O: u8 = 16;
pub(crate) const A: u8 = 32;
pub(crate) const F: u8 = 64;
pub(crate) const M: u8 = 128;

/// Parameters a signature may declare; more is an error (S0401).
pub(crate) const MAX_PARAMS: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Param {
    /// Letters (bits) this parameter accepts.
    pub accepts: u8,
    /// `a` (arrays are wrapped), `f`, or another type letter; `(` for a choice.
    pub kind: u8,
    pub optional: bool,
    /// `+`: one or more arguments.
    pub many: bool,
    /// `-`: the context value stands in when the argument is missing.
    pub context: bool,
    /// For `a<…>`: the first letter of the item type, and whether the type
    /// parameter is that single letter.
    pub sub: u8,
    pub sub_simple: bool,
}

const EMPTY: Param = Param {
    accepts: 0,
    kind: 0,
    optional: false,
    many: false,
    context: false,
    sub: 0,
    sub_simple: false,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Signature {
    params: [Param; MAX_PARAMS],
    len: usize,
}

#[derive(Debug, Clone, Copy)]
enum SigError {
    /// S0401 at this offset
    TypeParam(usize),
    /// S0402 at this offset
    Choice(usize),
    TooMany(usize),
}

pub(crate) const fn letter_bit(c: u8) -> u8 {
    match c {
        b's' => S,
        b'n' => N,
        b'b' => B,
        b'l' => L,
        b'o' => O,
        b'a' => A,
        b'f' => F,
        b'm' => M,
        _ => 0,
    }
}

const fn closing(s: &[u8], start: usize, open: u8, close: u8) -> usize {
    let mut depth = 1;
    let mut i = start;
    while i < s.len() {
        i += 1;
        if i >= s.len() {
            break;
        }
        if s[i] == close {
            depth -= 1;
            if depth == 0 {
                break;
            }
        } else if s[i] == open {
            depth += 1;
        }
    }
    i
}

const fn parse_core(s: &[u8]) -> Result<Signature, SigError> {
    let mut sig = Signature {
        params: [EMPTY; MAX_PARAMS],
        len: 0,
    };
    let mut i = 1;
    while i < s.len() {
        let c = s[i];
        if c == b':' {
            break;
        }
        let mut new = EMPTY;
        let mut push = true;
        match c {
            b's' | b'n' | b'b' | b'l' | b'o' => {
                new.accepts = letter_bit(c) | M;
                new.kind = c;
            }
            b'a' | b'x' => {
                new.accepts = S | N | B | L | O | A | F | M;
                new.kind = c;
            }
            b'f' => {
                new.accepts = F;
                new.kind = c;
            }
            b'j' => {
                new.accepts = S | N | B | L | O | A | M;
                new.kind = c;
            }
            b'(' => {
                let end = closing(s, i, b'(', b')');
                let mut k = i + 1;
                let mut accepts = M;
                while k < end && k < s.len() {
                    if s[k] == b'<' {
                        return Err(SigError::Choice(i));
                    }
                    accepts |= letter_bit(s[k]);
                    k += 1;
                }
                new.accepts = accepts;
                new.kind = b'(';
                i = end;
            }
            _ => push = false,
        }
        if push {
            if sig.len == MAX_PARAMS {
                return Err(SigError::TooMany(i));
            }
            sig.params[sig.len] = new;
            sig.len += 1;
        } else if sig.len > 0 {
            let prev = &mut sig.params[sig.len - 1];
            match c {
                b'-' => {
                    prev.context = true;
                    prev.optional = true;
                }
                b'?' => prev.optional = true,
                b'+' => prev.many = true,
                b'<' => {
                    if prev.kind != b'a' && prev.kind != b'f' {
                        return Err(SigError::TypeParam(i));
                    }
                    let end = closing(s, i, b'<', b'>');
                    if prev.kind == b'a' && i + 1 < s.len() {
                        prev.sub = s[i + 1];
                        prev.sub_simple = end == i + 2;
                    }
                    i = end;
                }
                _ => {}
            }
        } else if c == b'<' {
            return Err(SigError::TypeParam(i));
        }
        i += 1;
    }
    Ok(sig)
}

impl Signature {
    /// A built-in's signature, checked when the crate compiles.
    pub const fn of(text: &str) -> Signature {
        match parse_core(text.as_bytes()) {
            Ok(sig) => sig,
            Err(_) => panic!("invalid built-in signature"),
        }
    }

    /// A lambda's or an extension's signature; errors carry their offset
    /// in `position`.
    pub fn parse(text: &str) -> Result<Signature, Error> {
        parse_core(text.as_bytes()).map_err(|e| match e {
            SigError::TypeParam(at) => Error::new(
                "S0401",
                "Type parameters can only be applied to functions and arrays",
            )
            .at(at),
            SigError::Choice(at) => Error::new(
                "S0402",
                "Choice groups containing parameterized types are not supported",
            )
            .at(at),
            SigError::TooMany(at) => Error::new(
                "S0401",
                format!("A signature can declare at most {MAX_PARAMS} parameters"),
            )
            .at(at),
        })
    }

    pub fn params(&self) -> &[Param] {
        &self.params[..self.len]
    }

    /// How many arguments each parameter takes, matching like the regex
    /// `^(p1)(p2)…$` would; `None` when the letters do not match.
    pub fn assign(&self, letters: &[u8]) -> Option<[usize; MAX_PARAMS]> {
        let mut counts = [0usize; MAX_PARAMS];
        if match_from(self.params(), 0, letters, 0, &mut counts, true) {
            Some(counts)
        } else {
            None
        }
    }

    /// The 1-based argument jsonata-js blames when `letters` do not match:
    /// the one after the longest run that a prefix of the parameters matches.
    pub fn blame(&self, letters: &[u8]) -> usize {
        let mut good = 0;
        for k in 1..=self.len {
            let mut counts = [0usize; MAX_PARAMS];
            let prefix = &self.params[..k];
            if !match_from(prefix, 0, letters, 0, &mut counts, false) {
                return good + 1;
            }
            good = counts[..k].iter().sum();
        }
        good + 1
    }
}

fn accepts(p: &Param, letter: u8) -> bool {
    p.accepts & letter != 0
}

/// Backtracking match of `params[i..]` against `letters[at..]`; `anchored`
/// requires consuming every letter.
fn match_from(
    params: &[Param],
    i: usize,
    letters: &[u8],
    at: usize,
    counts: &mut [usize; MAX_PARAMS],
    anchored: bool,
) -> bool {
    if i == params.len() {
        return !anchored || at == letters.len();
    }
    let p = &params[i];
    let mut max = 0;
    while at + max < letters.len() && accepts(p, letters[at + max]) {
        max += 1;
        if !p.many {
            break;
        }
    }
    let min = if p.optional { 0 } else { 1 };
    let mut n = max;
    loop {
        if n < min {
            return false;
        }
        counts[i] = n;
        if match_from(params, i + 1, letters, at + n, counts, anchored) {
            return true;
        }
        if n == 0 {
            return false;
        }
        n -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_builtin_forms() {
        let sig = Signature::of("<s-nn?:s>");
        assert_eq!(sig.params().len(), 3);
        assert!(sig.params()[0].context && sig.params()[0].optional);
        assert!(!sig.params()[1].optional);
        assert!(sig.params()[2].optional);
        let sig = Signature::of("<a<n>:n>");
        assert_eq!(sig.params()[0].sub, b'n');
        assert!(sig.params()[0].sub_simple);
        let sig = Signature::of("<s-(sf)(sf)n?:s>");
        assert_eq!(sig.params()[1].accepts, S | F | M);
    }

    #[test]
    fn assigns_like_a_greedy_regex() {
        let sig = Signature::of("<s-nn?:s>");
        assert_eq!(&sig.assign(&[S, N]).unwrap()[..3], &[1, 1, 0]);
        assert_eq!(&sig.assign(&[N]).unwrap()[..3], &[0, 1, 0]);
        assert!(sig.assign(&[S, S]).is_none());
        assert_eq!(sig.blame(&[S, S]), 2);
        let sig = Signature::of("<a+>");
        assert_eq!(sig.assign(&[A, A, A]).unwrap()[0], 3);
    }

    #[test]
    fn signature_errors() {
        assert_eq!(Signature::parse("<n<n>>").unwrap_err().code, "S0401");
        assert_eq!(Signature::parse("<(sa<n>)>").unwrap_err().code, "S0402");
    }
}
