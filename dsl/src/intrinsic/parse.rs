//! The call syntax: `States.Name(arg, …)` where an argument is a string in
//! single quotes, a JSON number, `true`, `false`, `null`, a path (`$…` or
//! `$$…`) or a nested call. Inside quotes, `\'`, `\{`, `\}` and `\\` are the
//! only escapes (AWS: "Reserved characters: ' { } \ must be escaped").
//!
//! After each call is read, its arguments are checked against what the
//! function accepts, and a call whose arguments are all constants is
//! evaluated once: a failure becomes a parse error, and a pure result
//! replaces the call.

use serde_json::{Number, Value};
use std::borrow::Cow;

use super::{functions, Arg, At, Call, Expr, Func, Kind};
use crate::path::Path;
use crate::SplitMix64;

/// AWS: "You can nest up to 10 intrinsic functions within a field." The
/// example that follows counts every call in the field, so this does too.
/// It also bounds the parser's recursion on hostile input.
const MAX_CALLS: usize = 10;

pub(super) fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        text,
        pos: 0,
        calls: 0,
    };
    if !text.starts_with("States.") {
        return Err(format!(
            "'{text}' is not an intrinsic function call: it must start with 'States.', as in States.Format('Hello {{}}', $.name)"
        ));
    }
    let expr = p.call()?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(format!(
            "unexpected text '{}' after the closing ')' at {}: an intrinsic field holds exactly one call",
            &text[p.pos..],
            p.at()
        ));
    }
    Ok(expr)
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    /// Calls read so far (see [`MAX_CALLS`]).
    calls: usize,
}

/// A string literal: its value, and for `States.Format` templates the text
/// between unescaped `{}` placeholders plus any unescaped lone brace.
struct StrLit {
    value: String,
    pieces: Vec<String>,
    lone_brace: Option<char>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }

    /// "position N" (1-based, in characters) for messages.
    fn at(&self) -> String {
        self.at_pos(self.pos)
    }

    /// "position N" for byte offset `pos`. Callers keep the offset and
    /// render it only for an error, so parsing a valid call builds no text.
    fn at_pos(&self, pos: usize) -> String {
        format!("position {}", self.text[..pos].chars().count() + 1)
    }

    fn call(&mut self) -> Result<Expr, String> {
        self.calls += 1;
        if self.calls > MAX_CALLS {
            return Err(format!(
                "too many intrinsic functions in one field: Step Functions allows at most {MAX_CALLS}, nested calls included; split the work over more than one state"
            ));
        }
        let start = self.pos;
        self.pos += "States.".len();
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        let func = Func::from_name(name).ok_or_else(|| {
            format!(
                "unknown intrinsic function '{name}'; use one of {}",
                Func::list()
            )
        })?;
        if self.peek() != Some('(') {
            return Err(format!("expected '(' after {name} at {}", self.at()));
        }
        self.pos += 1;
        let mut args = Vec::new();
        let mut template = None;
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                let (arg, lit) = self.arg(func, args.len())?;
                if func == Func::Format && args.is_empty() {
                    template = lit.map(|l| check_template(l, &arg.src)).transpose()?;
                }
                args.push(arg);
                self.skip_ws();
                match self.bump() {
                    Some(',') => {}
                    Some(')') => break,
                    Some(c) => {
                        self.pos -= c.len_utf8();
                        return Err(format!(
                            "expected ',' or ')' after argument {} of {name} at {}, found '{c}'",
                            args.len(),
                            self.at()
                        ));
                    }
                    None => {
                        return Err(format!("{name}( is not closed: add ')' at the end"));
                    }
                }
            }
        }
        let call = Call {
            func,
            args,
            template,
        };
        check_call(&call)?;
        fold(call)
    }

    /// One argument, and its string literal form when it is one.
    fn arg(&mut self, func: Func, index: usize) -> Result<(Arg, Option<StrLit>), String> {
        let start = self.pos;
        let (expr, lit) = match self.peek() {
            Some('\'') => {
                let lit = self.string()?;
                (Expr::Literal(Value::String(lit.value.clone())), Some(lit))
            }
            Some('$') => {
                let text = self.path_text();
                let path = Path::parse(text).map_err(|e| {
                    format!("{} argument {}: {e}", func.name(), index + 1)
                })?;
                (Expr::Path(path), None)
            }
            Some(c) if c == '-' || c.is_ascii_digit() => (Expr::Literal(self.number()?), None),
            Some('S') if self.text[self.pos..].starts_with("States.") => (self.call()?, None),
            Some(c) if c.is_ascii_alphabetic() => (Expr::Literal(self.keyword()?), None),
            Some(c) => {
                return Err(format!(
                    "unexpected '{c}' at {}: an argument is a 'quoted string', a number, true, false, null, a path ($.x or $$.x) or a States.* call",
                    self.at()
                ))
            }
            None => {
                return Err(format!(
                    "{}( is not closed: the text ends where an argument was expected",
                    func.name()
                ))
            }
        };
        let src = self.text[start..self.pos].to_string();
        Ok((Arg { src, expr }, lit))
    }

    fn string(&mut self) -> Result<StrLit, String> {
        let start_pos = self.pos;
        self.pos += 1; // the opening quote
        let mut lit = StrLit {
            value: String::new(),
            pieces: vec![String::new()],
            lone_brace: None,
        };
        loop {
            let Some(c) = self.bump() else {
                let start = self.at_pos(start_pos);
                return Err(format!(
                    "the string starting at {start} is not closed: end it with ' (write \\' for a quote inside it)"
                ));
            };
            let text = match c {
                '\'' => return Ok(lit),
                '\\' => match self.bump() {
                    Some(e @ ('\'' | '{' | '}' | '\\')) => e,
                    None => continue, // reported as not closed
                    Some(other) => {
                        let start = self.at_pos(start_pos);
                        let shown = format!("\\{other}");
                        return Err(format!(
                            "invalid escape '{shown}' in the string starting at {start}: only \\', \\{{, \\}} and \\\\ are escapes; write \\\\ for a backslash"
                        ));
                    }
                },
                '{' if self.peek() == Some('}') => {
                    self.pos += 1;
                    lit.value.push_str("{}");
                    lit.pieces.push(String::new());
                    continue;
                }
                '{' | '}' => {
                    lit.lone_brace.get_or_insert(c);
                    c
                }
                c => c,
            };
            lit.value.push(text);
            if let Some(piece) = lit.pieces.last_mut() {
                piece.push(text);
            }
        }
    }

    /// A path runs to the first `,`, `)` or blank outside brackets and quotes
    /// (so `$.a['x, y']` and `$.a[?(@.b > 1)]` stay whole).
    fn path_text(&mut self) -> &str {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(_), '\\') => {
                    self.pos += 1;
                    if self.peek().is_none() {
                        break;
                    }
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if depth > 0 => quote = Some(c),
                (None, '[' | '(') => depth += 1,
                (None, ']' | ')') if depth > 0 => depth -= 1,
                (None, ',' | ')') => break,
                (None, c) if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.pos += 1;
        }
        let text = &self.text[start..self.pos];
        match serde_json::from_str::<Number>(text) {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => Err(format!(
                "'{text}' at {} is not a number: write numbers as in JSON, e.g. 3, -1, 2.5 or 1e3",
                self.at_pos(start)
            )),
        }
    }

    fn keyword(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.pos += 1;
        }
        match &self.text[start..self.pos] {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            word => Err(format!(
                "unexpected '{word}' at {}: put text in single quotes ('{word}'), start a path with $, or call a function as States.Name(...)",
                self.at_pos(start)
            )),
        }
    }
}

/// A literal `States.Format` template: a brace that is not part of `{}`
/// must be escaped, else the placeholders would be ambiguous.
fn check_template(lit: StrLit, src: &str) -> Result<Vec<String>, String> {
    if let Some(brace) = lit.lone_brace {
        return Err(format!(
            "States.Format template {src} has a '{brace}' that is not part of a '{{}}' placeholder: write \\{brace} for a literal brace"
        ));
    }
    Ok(lit.pieces)
}

/// Checks that need no input: argument count, the types of literal and
/// nested-call arguments, and the values of literal arguments.
fn check_call(call: &Call) -> Result<(), String> {
    let func = call.func;
    let n = call.args.len();
    let (min, max) = func.arity();
    if n < min || max.is_some_and(|m| n > m) {
        let wanted = match (min, max) {
            (0, Some(0)) => "no arguments".to_string(),
            (a, Some(b)) if a == b => {
                format!("exactly {a} argument{}", if a == 1 { "" } else { "s" })
            }
            (a, Some(b)) => format!("{a} to {b} arguments"),
            (a, None) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
        };
        return Err(format!(
            "{} takes {wanted}, but got {n}{}",
            func.name(),
            usage(func)
        ));
    }
    if let (Some(pieces), Some(template)) = (&call.template, call.args.first()) {
        let holes = pieces.len().saturating_sub(1);
        if holes != n - 1 {
            return Err(format!(
                "States.Format template {} has {holes} '{{}}' placeholder(s) but {} value(s) follow it: pass one value per placeholder (escape literal braces as \\{{ and \\}})",
                template.src,
                n - 1
            ));
        }
    }
    for (index, arg) in call.args.iter().enumerate() {
        let at = At {
            func,
            index,
            src: &arg.src,
        };
        let want = func.param(index);
        let have = match &arg.expr {
            Expr::Literal(v) => Kind::of(v),
            Expr::Call(c) => c.func.returns(),
            Expr::Path(_) => Kind::Any,
        };
        if want != Kind::Any && have != Kind::Any && want != have {
            let what = if matches!(arg.expr, Expr::Call(_)) {
                "returns"
            } else {
                "is"
            };
            return Err(format!(
                "{at} must be {}, but it {what} {}",
                want.article(),
                have.article()
            ));
        }
        if let Expr::Literal(v) = &arg.expr {
            functions::check_arg(at, v)?;
        }
    }
    Ok(())
}

/// A call with only literal arguments is evaluated now: its failure is a
/// definition error, and a pure result is kept instead of the call.
fn fold(call: Call) -> Result<Expr, String> {
    if !call.args.iter().all(|a| matches!(a.expr, Expr::Literal(_))) {
        return Ok(Expr::Call(Box::new(call)));
    }
    let values: Vec<Cow<Value>> = call
        .args
        .iter()
        .filter_map(|a| match &a.expr {
            Expr::Literal(v) => Some(Cow::Borrowed(v)),
            _ => None,
        })
        .collect();
    let value = functions::apply(&call, &values, &mut SplitMix64(0))?;
    if call.func.is_pure() {
        Ok(Expr::Literal(value))
    } else {
        Ok(Expr::Call(Box::new(call)))
    }
}

/// A reminder of the call shape, appended to arity errors.
fn usage(func: Func) -> &'static str {
    match func {
        Func::Format => ": States.Format('template with {}', value, ...)",
        Func::StringToJson => ": States.StringToJson($.jsonText)",
        Func::JsonToString => ": States.JsonToString($.value)",
        Func::Array => "",
        Func::ArrayPartition => ": States.ArrayPartition($.array, chunkSize)",
        Func::ArrayContains => ": States.ArrayContains($.array, $.value)",
        Func::ArrayRange => ": States.ArrayRange(first, last, step)",
        Func::ArrayGetItem => ": States.ArrayGetItem($.array, index)",
        Func::ArrayLength => ": States.ArrayLength($.array)",
        Func::ArrayUnique => ": States.ArrayUnique($.array)",
        Func::Base64Encode => ": States.Base64Encode($.text)",
        Func::Base64Decode => ": States.Base64Decode($.base64)",
        Func::Hash => ": States.Hash($.data, 'SHA-256')",
        Func::JsonMerge => ": States.JsonMerge($.a, $.b, false)",
        Func::MathRandom => {
            ": States.MathRandom(start, end) or States.MathRandom(start, end, seed)"
        }
        Func::MathAdd => ": States.MathAdd($.value, step)",
        Func::StringSplit => ": States.StringSplit($.text, 'delimiters')",
        Func::Uuid => ": States.UUID()",
    }
}
