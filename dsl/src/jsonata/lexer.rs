//! The tokenizer. It works on `char`s and reports positions as character
//! offsets into the expression. Like jsonata-js it is driven by the parser,
//! one token at a time, because whether `/` starts a regular expression or
//! is the division operator depends on where the parser is (`infix`).

use super::Error;

/// One token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An operator or punctuation; `and`, `or` and `in` are operators too.
    Op(&'static str),
    Name(String),
    /// `$name` without the `$` (`$` alone is the empty name, `$$` is `"$"`).
    Var(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex {
        pattern: String,
        flags: String,
    },
    End,
}

/// The characters that end a name (jsonata-js's operator table keys).
const OPERATOR_CHARS: &str = ".[]{}(),@#;:?+-*/%|=<>^&!~";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}')
}

fn single_op(c: char) -> Option<&'static str> {
    Some(match c {
        '.' => ".",
        '[' => "[",
        ']' => "]",
        '{' => "{",
        '}' => "}",
        '(' => "(",
        ')' => ")",
        ',' => ",",
        '@' => "@",
        '#' => "#",
        ';' => ";",
        ':' => ":",
        '?' => "?",
        '+' => "+",
        '-' => "-",
        '*' => "*",
        '/' => "/",
        '%' => "%",
        '|' => "|",
        '=' => "=",
        '<' => "<",
        '>' => ">",
        '^' => "^",
        '&' => "&",
        '!' => "!",
        '~' => "~",
        _ => return None,
    })
}

pub(crate) struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

fn err(code: &'static str, message: impl Into<String>, pos: usize) -> Error {
    Error::new(code, message).at(pos)
}

impl Lexer {
    pub fn new(text: &str) -> Lexer {
        Lexer {
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// The next token; `infix` means the parser expects an operator, so a
    /// `/` divides rather than opening a regular expression.
    pub fn next(&mut self, infix: bool) -> Result<Token, Error> {
        loop {
            while self.at(self.pos).is_some_and(is_space) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                let start = self.pos;
                self.pos += 2;
                loop {
                    match self.at(self.pos) {
                        None => return Err(err("S0106", "Comment has no closing tag", start)),
                        Some('*') if self.at(self.pos + 1) == Some('/') => {
                            self.pos += 2;
                            break;
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                continue;
            }
            break;
        }
        let start = self.pos;
        let tok = |tok| Ok(Token { tok, pos: start });
        let Some(c) = self.at(self.pos) else {
            return tok(Tok::End);
        };
        if !infix && c == '/' {
            self.pos += 1;
            return self.regex(start);
        }
        let next = self.at(self.pos + 1);
        let double = match (c, next) {
            ('.', Some('.')) => Some(".."),
            (':', Some('=')) => Some(":="),
            ('!', Some('=')) => Some("!="),
            ('>', Some('=')) => Some(">="),
            ('<', Some('=')) => Some("<="),
            ('*', Some('*')) => Some("**"),
            ('~', Some('>')) => Some("~>"),
            ('?', Some(':')) => Some("?:"),
            ('?', Some('?')) => Some("??"),
            _ => None,
        };
        if let Some(op) = double {
            self.pos += 2;
            return tok(Tok::Op(op));
        }
        if let Some(op) = single_op(c) {
            self.pos += 1;
            return tok(Tok::Op(op));
        }
        if c == '"' || c == '\'' {
            return self.string(c, start);
        }
        if c.is_ascii_digit() {
            return self.number(start);
        }
        if c == '`' {
            self.pos += 1;
            let from = self.pos;
            while let Some(ch) = self.at(self.pos) {
                if ch == '`' {
                    let name: String = self.chars[from..self.pos].iter().collect();
                    self.pos += 1;
                    return tok(Tok::Name(name));
                }
                self.pos += 1;
            }
            return Err(err(
                "S0105",
                "Quoted property name must be terminated with a backquote (`)",
                self.pos,
            ));
        }
        let mut end = self.pos;
        while let Some(ch) = self.at(end) {
            if is_space(ch) || OPERATOR_CHARS.contains(ch) {
                break;
            }
            end += 1;
        }
        let word: String = self.chars[self.pos..end].iter().collect();
        self.pos = end;
        if let Some(var) = word.strip_prefix('$') {
            return tok(Tok::Var(var.to_string()));
        }
        match word.as_str() {
            "or" => tok(Tok::Op("or")),
            "in" => tok(Tok::Op("in")),
            "and" => tok(Tok::Op("and")),
            "true" => tok(Tok::Bool(true)),
            "false" => tok(Tok::Bool(false)),
            "null" => tok(Tok::Null),
            _ => tok(Tok::Name(word)),
        }
    }

    fn string(&mut self, quote: char, start: usize) -> Result<Token, Error> {
        self.pos += 1;
        let mut s = String::new();
        // UTF-16 surrogates from `\uXXXX` escapes wait here for their pair.
        let mut pending: Vec<u16> = Vec::new();
        while let Some(c) = self.at(self.pos) {
            if c == '\\' {
                self.pos += 1;
                let e = self.at(self.pos);
                let simple = match e {
                    Some('"') => Some('"'),
                    Some('\\') => Some('\\'),
                    Some('/') => Some('/'),
                    Some('b') => Some('\u{8}'),
                    Some('f') => Some('\u{c}'),
                    Some('n') => Some('\n'),
                    Some('r') => Some('\r'),
                    Some('t') => Some('\t'),
                    _ => None,
                };
                if let Some(ch) = simple {
                    flush_utf16(&mut pending, &mut s);
                    s.push(ch);
                } else if e == Some('u') {
                    let hex: String = self.chars[self.pos + 1..]
                        .iter()
                        .take(4)
                        .take_while(|c| c.is_ascii_hexdigit())
                        .collect();
                    if hex.len() != 4 {
                        return Err(err(
                            "S0104",
                            "The escape sequence \\u must be followed by 4 hex digits",
                            self.pos,
                        ));
                    }
                    pending.push(u16::from_str_radix(&hex, 16).unwrap_or(0xFFFD));
                    self.pos += 4;
                } else {
                    let token = e.map(String::from).unwrap_or_default();
                    let mut error = err(
                        "S0103",
                        format!("Unsupported escape sequence: \\{token}"),
                        self.pos,
                    );
                    error.token = Some(token);
                    return Err(error);
                }
            } else if c == quote {
                flush_utf16(&mut pending, &mut s);
                self.pos += 1;
                return Ok(Token {
                    tok: Tok::Str(s),
                    pos: start,
                });
            } else {
                flush_utf16(&mut pending, &mut s);
                s.push(c);
            }
            self.pos += 1;
        }
        Err(err(
            "S0101",
            "String literal must be terminated by a matching quote",
            self.pos,
        ))
    }

    /// `(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?`, as jsonata-js.
    fn number(&mut self, start: usize) -> Result<Token, Error> {
        let digits = |lx: &Lexer, mut i: usize| {
            while lx.at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 1;
            }
            i
        };
        let mut end = if self.at(start) == Some('0') {
            start + 1
        } else {
            digits(self, start)
        };
        if self.at(end) == Some('.') && self.at(end + 1).is_some_and(|c| c.is_ascii_digit()) {
            end = digits(self, end + 1);
        }
        if matches!(self.at(end), Some('e' | 'E')) {
            let mut i = end + 1;
            if matches!(self.at(i), Some('+' | '-')) {
                i += 1;
            }
            if self.at(i).is_some_and(|c| c.is_ascii_digit()) {
                end = digits(self, i);
            }
        }
        let text: String = self.chars[start..end].iter().collect();
        self.pos = end;
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Token {
                tok: Tok::Num(n),
                pos: start,
            }),
            _ => {
                let mut e = err("S0102", format!("Number out of range: {text}"), start);
                e.token = Some(text);
                Err(e)
            }
        }
    }

    /// After the opening `/`: find the closing one, ignoring escaped ones
    /// and those inside brackets, then the `i`/`m` flags.
    fn regex(&mut self, _start: usize) -> Result<Token, Error> {
        let from = self.pos;
        let mut depth: i64 = 0;
        while let Some(c) = self.at(self.pos) {
            if c == '/' && depth == 0 {
                let mut backslashes = 0;
                while self.pos > backslashes && self.chars[self.pos - backslashes - 1] == '\\' {
                    backslashes += 1;
                }
                if backslashes % 2 == 0 {
                    let pattern: String = self.chars[from..self.pos].iter().collect();
                    if pattern.is_empty() {
                        return Err(err(
                            "S0301",
                            "Empty regular expressions are not allowed",
                            self.pos,
                        ));
                    }
                    self.pos += 1;
                    let fstart = self.pos;
                    while matches!(self.at(self.pos), Some('i' | 'm')) {
                        self.pos += 1;
                    }
                    let flags: String = self.chars[fstart..self.pos].iter().collect();
                    return Ok(Token {
                        tok: Tok::Regex { pattern, flags },
                        pos: from - 1,
                    });
                }
            }
            let escaped = self.pos > 0 && self.chars[self.pos - 1] == '\\';
            if matches!(c, '(' | '[' | '{') && !escaped {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !escaped {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(err(
            "S0302",
            "No terminating / in regular expression",
            self.pos,
        ))
    }
}

/// Turn buffered UTF-16 code units into chars; a lone surrogate becomes U+FFFD.
fn flush_utf16(pending: &mut Vec<u16>, out: &mut String) {
    if pending.is_empty() {
        return;
    }
    out.extend(char::decode_utf16(pending.drain(..)).map(|r| r.unwrap_or('\u{FFFD}')));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lx.next(false).unwrap();
            if t.tok == Tok::End {
                return out;
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn tokens_of_a_small_expression() {
        assert_eq!(
            all("$a.b[0] != 'x\\u0041' /* c */ and `odd name`"),
            vec![
                Tok::Var("a".into()),
                Tok::Op("."),
                Tok::Name("b".into()),
                Tok::Op("["),
                Tok::Num(0.0),
                Tok::Op("]"),
                Tok::Op("!="),
                Tok::Str("xA".into()),
                Tok::Op("and"),
                Tok::Name("odd name".into()),
            ]
        );
    }

    #[test]
    fn surrogate_pairs_combine() {
        assert_eq!(all("\"\\ud83d\\ude00\""), vec![Tok::Str("😀".into())]);
    }

    #[test]
    fn regex_or_division_depends_on_position() {
        let mut lx = Lexer::new("/a[/]b/i");
        assert_eq!(
            lx.next(false).unwrap().tok,
            Tok::Regex {
                pattern: "a[/]b".into(),
                flags: "i".into()
            }
        );
        let mut lx = Lexer::new("/ 2");
        assert_eq!(lx.next(true).unwrap().tok, Tok::Op("/"));
    }

    #[test]
    fn lexical_errors() {
        let code = |t: &str| Lexer::new(t).next(false).unwrap_err().code;
        assert_eq!(code("'abc"), "S0101");
        assert_eq!(code("1e999"), "S0102");
        assert_eq!(code("'\\q'"), "S0103");
        assert_eq!(code("'\\u12'"), "S0104");
        assert_eq!(code("`abc"), "S0105");
        assert_eq!(code("/* abc"), "S0106");
        assert_eq!(code("//"), "S0301");
        assert_eq!(code("/abc"), "S0302");
    }
}
