//! Regular expression literals (`/ab+c/i`).
//!
//! The `regex` crate runs them: linear time, so a hostile pattern cannot
//! stall an evaluation. It has no look-around and no back-references;
//! the official test suite uses neither, so `fancy-regex` (backtracking)
//! is not worth its cost. Patterns are written in JavaScript syntax and
//! translated here where the two differ: `\d`, `\w`, `\s` and `\b` are
//! ASCII/JavaScript classes, not Unicode ones; a `{` that does not start a
//! quantifier is a literal; `[` inside a class and `&&`/`--`/`~~` are
//! literals rather than Rust's set operations.

use super::Error;

#[derive(Debug, Clone)]
pub(crate) struct Regex {
    pub re: regex::Regex,
    /// The pattern as written, for errors.
    pub source: String,
}

/// JavaScript's `\s`.
const JS_SPACE: &str = r"\t\n\x0B\x0C\r \u{A0}\u{1680}\u{2000}-\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}";

impl Regex {
    pub fn new(pattern: &str, flags: &str) -> Result<Regex, Error> {
        let mut translated = String::with_capacity(pattern.len() + 8);
        if flags.contains('i') || flags.contains('m') {
            translated.push_str("(?");
            if flags.contains('i') {
                translated.push('i');
            }
            if flags.contains('m') {
                translated.push('m');
            }
            translated.push(')');
        }
        translate(pattern, &mut translated);
        let re = regex::RegexBuilder::new(&translated)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| {
                Error::new(
                    "S0303",
                    format!("Invalid or unsupported regular expression /{pattern}/: {e}"),
                )
            })?;
        Ok(Regex {
            re,
            source: pattern.to_string(),
        })
    }
}

fn is_quantifier(chars: &[char], i: usize) -> bool {
    // `{n}`, `{n,}`, `{n,m}` starting at chars[i] == '{'
    let mut j = i + 1;
    let start = j;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    if j == start {
        return false;
    }
    if j < chars.len() && chars[j] == ',' {
        j += 1;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
    }
    j < chars.len() && chars[j] == '}'
}

fn translate(pattern: &str, out: &mut String) {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    let mut quant_open = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let e = chars[i + 1];
            i += 2;
            match (e, in_class) {
                ('d', false) => out.push_str("[0-9]"),
                ('d', true) => out.push_str("0-9"),
                ('D', _) => out.push_str("[^0-9]"),
                ('w', false) => out.push_str("[A-Za-z0-9_]"),
                ('w', true) => out.push_str("A-Za-z0-9_"),
                ('W', _) => out.push_str("[^A-Za-z0-9_]"),
                ('s', false) => {
                    out.push('[');
                    out.push_str(JS_SPACE);
                    out.push(']');
                }
                ('s', true) => out.push_str(JS_SPACE),
                ('S', _) => {
                    out.push_str("[^");
                    out.push_str(JS_SPACE);
                    out.push(']');
                }
                ('b', false) => out.push_str(r"(?-u:\b)"),
                ('B', false) => out.push_str(r"(?-u:\B)"),
                ('b', true) => out.push_str(r"\x08"),
                ('0', _) => out.push_str(r"\x00"),
                ('/', _) => out.push('/'),
                ('u', _)
                    if i + 4 <= chars.len()
                        && chars[i..i + 4].iter().all(|c| c.is_ascii_hexdigit()) =>
                {
                    out.push_str(r"\u{");
                    out.extend(&chars[i..i + 4]);
                    out.push('}');
                    i += 4;
                }
                (e, _) if e.is_ascii_alphanumeric() => {
                    out.push('\\');
                    out.push(e);
                }
                (e, _) => {
                    // any other escaped character is itself
                    push_literal(e, out);
                }
            }
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if i + 1 < chars.len() && chars[i + 1] == '-' => out.push_str(r"\-"),
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                if chars.get(i + 1) == Some(&'^') && chars.get(i + 2) == Some(&']') {
                    out.push_str(r"[\s\S]");
                    i += 3;
                    continue;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str(r"[^\s\S]");
                    i += 2;
                    continue;
                }
                in_class = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            '{' if is_quantifier(&chars, i) => {
                quant_open = true;
                out.push('{');
            }
            '{' => out.push_str(r"\{"),
            '}' if quant_open => {
                quant_open = false;
                out.push('}');
            }
            '}' => out.push_str(r"\}"),
            _ => out.push(c),
        }
        i += 1;
    }
}

fn push_literal(c: char, out: &mut String) {
    if regex_syntax_is_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

fn regex_syntax_is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(p: &str, flags: &str, text: &str) -> Option<String> {
        let re = Regex::new(p, flags).unwrap();
        re.re.find(text).map(|m| m.as_str().to_string())
    }

    #[test]
    fn javascript_classes_are_ascii() {
        assert_eq!(find(r"\d+", "", "x٣12y").as_deref(), Some("12"));
        assert_eq!(find(r"\w+", "", "éab_1").as_deref(), Some("ab_1"));
        assert_eq!(find(r"[\d.]+", "", "v1.5").as_deref(), Some("1.5"));
    }

    #[test]
    fn flags_and_literals() {
        assert_eq!(find("ab", "i", "xAB").as_deref(), Some("AB"));
        assert_eq!(find("a{", "", "a{").as_deref(), Some("a{"));
        assert_eq!(find("a{2}", "", "aaa").as_deref(), Some("aa"));
        assert_eq!(find(r"\/", "", "a/b").as_deref(), Some("/"));
        assert_eq!(find("[[a]", "", "[").as_deref(), Some("["));
    }

    #[test]
    fn unsupported_features_are_errors() {
        assert_eq!(Regex::new("(?=a)", "").unwrap_err().code, "S0303");
    }
}
