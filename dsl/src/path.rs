//! ASL Paths: JSONPath expressions rooted at the state input (`$`) or the
//! context object (`$$`), compiled once at validation.
//!
//! Parsing and indefinite queries (wildcards, filters, slices, descendants,
//! unions) go through `jsonpath-rust`. Definite *reference paths* (only
//! `.name`, `['name']` and `[index]`) are walked directly: ResultPath must
//! *write* into a document, which jsonpath-rust cannot do, and a direct walk
//! avoids the per-match path strings the crate builds on the hot path.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::{Map, Value};
use std::fmt;

use crate::error::StatesError;
use crate::vars::{self, Variables};

/// Which document a path reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$` — the effective input of the state.
    Input,
    /// `$$` — the context object (Execution, State, StateMachine, Map, Task).
    Context,
    /// `$name` — a workflow variable (`Assign`).
    Variable(String),
}

/// What a path reads besides the state input: the context object and the
/// workflow variables in scope.
#[derive(Clone, Copy)]
pub struct Docs<'a> {
    pub context: &'a Value,
    pub vars: &'a dyn Variables,
}

impl<'a> Docs<'a> {
    /// A context object and no variables.
    pub fn context(context: &'a Value) -> Docs<'a> {
        Docs { context, vars: &() }
    }
}

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Field(String),
    /// An array index; negative counts from the end, as in RFC 9535.
    Index(i64),
}

#[derive(Debug, Clone)]
enum Kind {
    Reference(Vec<Step>),
    Query(JpQuery),
}

/// A compiled ASL Path.
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
    root: Root,
    kind: Kind,
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Brackets and parentheses a path may nest (outside quoted names).
/// jsonpath-rust's parser backtracks on failed alternatives, and nested
/// filters and function calls multiply its work: a 1 KiB path of nested
/// `[?` and `subset_of(` kept it busy for minutes (found by the `jsonpath`
/// fuzz target). Sixteen levels parse in well under a millisecond; real
/// paths nest two or three.
pub const MAX_PATH_NESTING: usize = 16;

/// Refuse a path that nests deeper than [`MAX_PATH_NESTING`].
fn check_nesting(text: &str) -> Result<(), String> {
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ']' | ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_PATH_NESTING {
        return Err(format!(
            "'{text}' nests brackets and parentheses {deepest} deep; a path may nest at most {MAX_PATH_NESTING} (split the filter, or compute part of it in an earlier state)"
        ));
    }
    Ok(())
}

impl Path {
    /// Compile a path. The error message explains what a valid path looks like.
    pub fn parse(text: &str) -> Result<Path, String> {
        let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            match vars::leading_name(rest) {
                Some(name) => (Root::Variable(name.to_string()), &rest[name.len()..]),
                None => (Root::Input, rest),
            }
        } else {
            return Err(format!(
                "'{text}' is not a JSONPath: a path must start with '$' (the state input) or '$$' (the context object)"
            ));
        };
        let kind = match simple_reference(rest).or_else(|| literal_reference(rest)) {
            Some(steps) => Kind::Reference(steps),
            None => {
                check_nesting(text)?;
                let query =
                    parse_json_path(&format!("${}", bracket_dot_names(rest))).map_err(|e| {
                        format!(
                            "'{text}' is not a valid JSONPath{}",
                            syntax_position(&e.to_string())
                        )
                    })?;
                match reference_steps(&query) {
                    Some(steps) => Kind::Reference(steps),
                    None => Kind::Query(query),
                }
            }
        };
        Ok(Path {
            text: text.to_string(),
            root,
            kind,
        })
    }

    /// Compile a path that must be a reference path (ResultPath, ItemsPath).
    pub fn parse_reference(text: &str) -> Result<Path, String> {
        let path = Path::parse(text)?;
        if !path.is_reference() {
            return Err(format!(
                "'{text}' must be a reference path: use only '.field', \"['field']\" and '[index]', without wildcards, filters, slices or '..'"
            ));
        }
        Ok(path)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
    pub fn root(&self) -> &Root {
        &self.root
    }
    /// The variable this path reads, if it reads one.
    pub fn variable(&self) -> Option<&str> {
        match &self.root {
            Root::Variable(name) => Some(name),
            _ => None,
        }
    }
    /// The document this path reads from (`None`: an unknown variable).
    pub fn document<'a>(&self, input: &'a Value, docs: Docs<'a>) -> Option<&'a Value> {
        match &self.root {
            Root::Input => Some(input),
            Root::Context => Some(docs.context),
            Root::Variable(name) => docs.vars.get(name),
        }
    }
    /// True for a definite path that identifies at most one node.
    pub fn is_reference(&self) -> bool {
        matches!(self.kind, Kind::Reference(_))
    }
    /// The steps of a reference path, if it is one.
    pub fn steps(&self) -> Option<&[Step]> {
        match &self.kind {
            Kind::Reference(s) => Some(s),
            Kind::Query(_) => None,
        }
    }

    /// Look the path up. A reference path gives its node or `None`; any other
    /// path gives an array of every match (possibly empty), as AWS does.
    pub fn lookup<'a>(
        &self,
        input: &'a Value,
        docs: Docs<'a>,
    ) -> Option<std::borrow::Cow<'a, Value>> {
        let doc = self.document(input, docs)?;
        match &self.kind {
            Kind::Reference(steps) => walk(doc, steps).map(std::borrow::Cow::Borrowed),
            Kind::Query(q) => {
                let found = js_path_process(q, doc).ok()?;
                Some(std::borrow::Cow::Owned(Value::Array(
                    found.into_iter().map(|r| r.val.clone()).collect(),
                )))
            }
        }
    }

    /// Select the value, failing with `States.Runtime` when a reference path
    /// finds nothing (the message names the path and the input).
    pub fn select(&self, input: &Value, docs: Docs<'_>) -> Result<Value, StatesError> {
        self.select_cow(input, docs)
            .map(std::borrow::Cow::into_owned)
    }

    /// [`Path::select`] without copying what a reference path finds.
    pub fn select_cow<'a>(
        &self,
        input: &'a Value,
        docs: Docs<'a>,
    ) -> Result<std::borrow::Cow<'a, Value>, StatesError> {
        match self.lookup(input, docs) {
            Some(v) => Ok(v),
            None => Err(StatesError::runtime(self.not_found(input, docs))),
        }
    }

    /// Why a lookup found nothing, for error causes.
    pub fn not_found(&self, input: &Value, docs: Docs<'_>) -> String {
        match self.document(input, docs) {
            Some(doc) => format!(
                "Invalid path '{}': no value at this path in {}",
                self.text,
                preview(doc)
            ),
            None => format!(
                "Invalid path '{}': the variable '{}' is not defined in this scope; assign it with 'Assign' in an earlier state",
                self.text,
                self.variable().unwrap_or_default()
            ),
        }
    }

    /// Write `value` at this reference path inside `target` (ResultPath),
    /// creating intermediate objects as AWS does. `$` replaces the target.
    pub fn set(&self, target: &mut Value, value: Value) -> Result<(), StatesError> {
        let Kind::Reference(steps) = &self.kind else {
            return Err(StatesError::runtime(format!(
                "'{}' is not a reference path",
                self.text
            )));
        };
        let fail = |target: &Value| {
            StatesError::new(
                crate::error::names::RESULT_PATH_MATCH_FAILURE,
                format!(
                    "Unable to apply ReferencePath {} to input {}",
                    self.text,
                    preview(target)
                ),
            )
        };
        let Some((last, parents)) = steps.split_last() else {
            *target = value;
            return Ok(());
        };
        let snapshot_needed = !matches!(target, Value::Object(_));
        if snapshot_needed {
            return Err(fail(target));
        }
        let mut cur: &mut Value = target;
        for step in parents {
            let ok = match (step, &*cur) {
                (Step::Field(_), Value::Object(_)) => true,
                (Step::Index(i), Value::Array(a)) => index(a.len(), *i).is_some(),
                _ => false,
            };
            if !ok {
                return Err(fail(cur));
            }
            cur = match (step, cur) {
                (Step::Field(name), Value::Object(map)) => {
                    let slot = map
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !(slot.is_object() || slot.is_array()) {
                        *slot = Value::Object(Map::new());
                    }
                    slot
                }
                (Step::Index(i), Value::Array(a)) => {
                    let n = a.len();
                    &mut a[index(n, *i).expect("checked above")]
                }
                _ => unreachable!("checked above"),
            };
        }
        match (last, cur) {
            (Step::Field(name), Value::Object(map)) => {
                map.insert(name.clone(), value);
                Ok(())
            }
            (Step::Index(i), Value::Array(a)) => match index(a.len(), *i) {
                Some(k) => {
                    a[k] = value;
                    Ok(())
                }
                None => Err(fail(&Value::Array(a.clone()))),
            },
            (_, other) => Err(fail(other)),
        }
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let k = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&k).then_some(k as usize)
}

fn walk<'a>(mut doc: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    for step in steps {
        doc = match (step, doc) {
            (Step::Field(name), Value::Object(map)) => map.get(name)?,
            (Step::Index(i), Value::Array(a)) => &a[index(a.len(), *i)?],
            _ => return None,
        };
    }
    Some(doc)
}

/// The steps of the commonest paths (`.name` with ASCII identifier names and
/// `[n]` with a non-negative index), read without the general parser, which
/// costs microseconds per path and dominated validation. Anything else
/// (quotes, whitespace, negative indices, non-ASCII, wildcards, filters, …)
/// gives `None` and goes through `jsonpath-rust`; on what it accepts this
/// agrees with that parser (RFC 9535 `member-name-shorthand` and `int`), which
/// a test checks.
fn simple_reference(rest: &str) -> Option<Vec<Step>> {
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                if !b
                    .get(start)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                {
                    return None;
                }
                let mut end = start + 1;
                while b
                    .get(end)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    end += 1;
                }
                steps.push(Step::Field(rest[start..end].to_string()));
                i = end;
            }
            b'[' => {
                let start = i + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                let digits = &rest[start..end];
                // RFC 9535 `int`: no leading zeros; at most 15 digits keeps it
                // far inside the parser's safe-integer range.
                if digits.is_empty()
                    || digits.len() > 15
                    || (digits.len() > 1 && digits.starts_with('0'))
                    || b.get(end) != Some(&b']')
                {
                    return None;
                }
                steps.push(Step::Index(digits.parse().ok()?));
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// A reference path with bracketed names (`$['a b']["c"][0].d`) read as
/// AWS (Jayway JsonPath) reads them: the name is everything up to the
/// closing quote and bracket, taken literally — a backslash is not an escape
/// (recorded: `$['Test\""Name"']` selects the key `Test\""Name"`).
/// `None` for anything else (wildcards, filters, slices, unions, …).
fn literal_reference(rest: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut i = 0;
    let b = rest.as_bytes();
    while i < b.len() {
        if rest[i..].starts_with("['") || rest[i..].starts_with("[\"") {
            let close = if b[i + 1] == b'\'' { "']" } else { "\"]" };
            let start = i + 2;
            let end = start + rest[start..].find(close)?;
            steps.push(Step::Field(rest[start..end].to_string()));
            i = end + 2;
        } else if b[i] == b'[' {
            let end = i + rest[i..].find(']')?;
            let n: i64 = rest[i + 1..end].parse().ok()?;
            steps.push(Step::Index(n));
            i = end + 1;
        } else if b[i] == b'.' && b.get(i + 1).is_some_and(|c| *c != b'.' && *c != b'[') {
            let start = i + 1;
            let end = rest[start..]
                .find(['.', '['])
                .map_or(rest.len(), |e| start + e);
            let name = &rest[start..end];
            if name.is_empty() || name.contains(['*', '?', '(', ')', '@', ' ', ',', ':']) {
                return None;
            }
            steps.push(Step::Field(name.to_string()));
            i = end;
        } else {
            return None;
        }
    }
    Some(steps)
}

fn reference_steps(query: &JpQuery) -> Option<Vec<Step>> {
    query
        .segments
        .iter()
        .map(|seg| match seg {
            Segment::Selector(Selector::Name(n)) => Some(Step::Field(unquote(n))),
            Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
            _ => None,
        })
        .collect()
}

/// jsonpath-rust keeps bracketed names with their quotes; strip them.
fn unquote(name: &str) -> String {
    let b = name.as_bytes();
    if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] {
        name[1..name.len() - 1].to_string()
    } else {
        name.to_string()
    }
}

/// AWS evaluates paths with Jayway JsonPath, which accepts dot-notation names
/// that RFC 9535 (and so jsonpath-rust) does not, such as `$.error-info`.
/// Rewrite such names into bracket notation (`$['error-info']`) before
/// parsing; brackets and filters are copied untouched.
fn bracket_dot_names(rest: &str) -> std::borrow::Cow<'_, str> {
    fn shorthand(name: &str) -> bool {
        name == "*"
            || name.chars().enumerate().all(|(i, c)| {
                c == '_'
                    || !c.is_ascii()
                    || c.is_ascii_alphabetic()
                    || (i > 0 && c.is_ascii_digit())
            })
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut out = String::with_capacity(rest.len() + 8);
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                // Copy a bracketed selection, minding nesting and quotes.
                let (mut depth, mut quote) = (0usize, None::<char>);
                while i < chars.len() {
                    let c = chars[i];
                    out.push(c);
                    i += 1;
                    match (quote, c) {
                        (Some(_), '\\') if i < chars.len() => {
                            out.push(chars[i]);
                            i += 1;
                        }
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'' | '"') => quote = Some(c),
                        (None, '[') => depth += 1,
                        (None, ']') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '.' => {
                out.push('.');
                i += 1;
                if chars.get(i) == Some(&'.') {
                    out.push('.');
                    i += 1;
                }
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if name.is_empty() || shorthand(&name) {
                    out.push_str(&name);
                } else {
                    changed = true;
                    out.pop();
                    if out.ends_with('.') {
                        // `..name` keeps its descendant marker.
                        out.push('.');
                    }
                    out.push_str("['");
                    out.push_str(&name.replace('\\', "\\\\").replace('\'', "\\'"));
                    out.push_str("']");
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(rest)
    }
}

/// jsonpath-rust reports pest's "--> LINE:COLUMN"; turn it into a hint.
fn syntax_position(message: &str) -> String {
    let column = message
        .split("-->")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pos| pos.split(':').nth(1))
        .and_then(|c| c.parse::<usize>().ok());
    match column {
        Some(c) => format!(" (syntax error at character {c}); paths look like $.field, $['a b'], $.list[0], $.list[*].id or $.list[?(@.n > 1)]"),
        None => format!(": {}", message.lines().next().unwrap_or(message)),
    }
}

/// A short rendering of a document for error causes (never the whole payload).
pub fn preview(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_paths_are_walked_and_written() {
        let p = Path::parse("$.a['b c'][1]").unwrap();
        assert!(p.is_reference());
        let doc = json!({"a": {"b c": [10, 20]}});
        assert_eq!(
            p.select(&doc, crate::path::Docs::context(&json!({})))
                .unwrap(),
            json!(20)
        );
        let mut t = json!({"x": 1});
        Path::parse("$.r.s").unwrap().set(&mut t, json!(5)).unwrap();
        assert_eq!(t, json!({"x": 1, "r": {"s": 5}}));
    }

    #[test]
    fn queries_return_arrays() {
        let p = Path::parse("$.items[?(@.n > 1)].n").unwrap();
        assert!(!p.is_reference());
        let doc = json!({"items": [{"n": 1}, {"n": 2}, {"n": 3}]});
        assert_eq!(
            p.select(&doc, crate::path::Docs::context(&json!({})))
                .unwrap(),
            json!([2, 3])
        );
    }

    #[test]
    fn context_paths_read_the_context() {
        let p = Path::parse("$$.Execution.Id").unwrap();
        assert_eq!(
            p.select(
                &json!({}),
                Docs::context(&json!({"Execution": {"Id": "e1"}}))
            )
            .unwrap(),
            json!("e1")
        );
    }

    #[test]
    fn missing_reference_is_runtime_error() {
        let e = Path::parse("$.nope")
            .unwrap()
            .select(&json!({}), crate::path::Docs::context(&json!({})))
            .unwrap_err();
        assert_eq!(e.error, "States.Runtime");
    }

    /// The fast reader of simple paths must agree with jsonpath-rust on
    /// every path it accepts: try every string of up to five tokens.
    #[test]
    fn simple_paths_agree_with_the_general_parser() {
        let tokens = [
            ".", "a", "_b", "Z9", "0", "1", "10", "01", "[", "]", "-", "$", "'", " ", "*", "é",
        ];
        let mut texts = vec![String::new()];
        let mut checked = 0;
        for _ in 0..5 {
            let mut next = Vec::new();
            for t in &texts {
                for tok in tokens {
                    next.push(format!("{t}{tok}"));
                }
            }
            for rest in &next {
                if let Some(fast) = simple_reference(rest) {
                    let query = parse_json_path(&format!("${rest}"))
                        .unwrap_or_else(|e| panic!("fast path accepted '${rest}': {e}"));
                    assert_eq!(reference_steps(&query), Some(fast), "'${rest}'");
                    checked += 1;
                }
            }
            texts = next;
        }
        assert!(checked > 1000, "only {checked} paths took the fast path");
    }

    #[test]
    fn jayway_dot_names_with_hyphens_work() {
        let doc = json!({"error-info": {"a b": 1}, "x": [{"k-1": 2}]});
        let p = Path::parse("$.error-info").unwrap();
        assert!(p.is_reference());
        assert_eq!(
            p.select(&doc, crate::path::Docs::context(&json!({})))
                .unwrap(),
            json!({"a b": 1})
        );
        assert_eq!(
            Path::parse("$.x[0].k-1")
                .unwrap()
                .select(&doc, crate::path::Docs::context(&json!({})))
                .unwrap(),
            json!(2)
        );
        assert_eq!(
            Path::parse("$..k-1")
                .unwrap()
                .select(&doc, crate::path::Docs::context(&json!({})))
                .unwrap(),
            json!([2])
        );
    }

    #[test]
    fn bracketed_names_are_literal_as_on_aws() {
        let p = Path::parse(r#"$['Test\""Name"']"#).unwrap();
        let doc = json!({r#"Test\""Name""#: "v"});
        assert_eq!(
            p.select(&doc, Docs::context(&json!({}))).unwrap(),
            json!("v")
        );
        let p = Path::parse(r#"$["a.b"][1]['c d'].e"#).unwrap();
        let doc = json!({"a.b": [0, {"c d": {"e": 5}}]});
        assert_eq!(p.select(&doc, Docs::context(&json!({}))).unwrap(), json!(5));
    }

    #[test]
    fn bad_paths_are_rejected() {
        assert!(Path::parse("foo").is_err());
        assert!(Path::parse("$.a[").is_err());
        assert!(Path::parse_reference("$.a[*]").is_err());
    }

    #[test]
    fn deeply_nested_paths_are_refused_before_the_parser_sees_them() {
        // The fuzz target's find, in short: each level doubled the parse.
        let deep = format!("$.a[?{} x", " subset_of( ( $.a[?".repeat(30));
        let started = std::time::Instant::now();
        let e = Path::parse(&deep).unwrap_err();
        assert!(e.contains("nests brackets and parentheses"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Sixteen levels are still parsed (and refused or accepted by the parser).
        let ok = format!("$.a{}", "[0]".repeat(40));
        assert!(Path::parse(&ok).is_ok(), "sequential brackets do not nest");
        let nested = format!("$.a{}{}", "[?@.b".repeat(MAX_PATH_NESTING), "]".repeat(16));
        if let Err(e) = Path::parse(&nested) {
            assert!(!e.contains("nests brackets"), "{e}");
        }
        assert!(Path::parse("$.a[?(@.b > 1 && (@.c < 2 || @.d == 3))]").is_ok());
        // Brackets inside quoted names do not count.
        let quoted = format!("$['{}']", "[(".repeat(40));
        assert!(Path::parse(&quoted).is_ok(), "{:?}", Path::parse(&quoted));
    }
}
