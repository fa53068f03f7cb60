//! Runtime values of one evaluation.
//!
//! Input and bindings stay borrowed (`&'a serde_json::Value` behind
//! [`Val::JArr`]/[`Val::JObj`], strings as [`Str::B`]); only values the
//! expression builds are allocated, behind `Rc` so copies are cheap. Arrays
//! carry jsonata-js's hidden flags (a *sequence* is unwrapped when it holds
//! one item, a *constructed* array `[…]` is not flattened into a path, and
//! so on); they live only during one evaluation and never cross threads.

use indexmap::IndexMap;
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::ops::Deref;
use std::rc::Rc;

use super::ast::{LambdaDef, Node, TransformDef};
use super::functions::Builtin;
use super::regex::Regex;
use super::Error;

/// A string: borrowed from the input or the expression, or built.
#[derive(Clone)]
pub(crate) enum Str<'a> {
    B(&'a str),
    R(Rc<str>),
}

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::B(s) => s,
            Str::R(s) => s,
        }
    }
}

impl PartialEq for Str<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
impl Eq for Str<'_> {}
impl Hash for Str<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}
impl std::borrow::Borrow<str> for Str<'_> {
    fn borrow(&self) -> &str {
        self
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str::R(Rc::from(s))
    }
}

/// Objects built during evaluation keep insertion order. The hasher has a
/// fixed key: the crate takes no randomness from the OS.
pub(crate) type ObjMap<'a> = IndexMap<Str<'a>, Val<'a>, BuildHasherDefault<DefaultHasher>>;

/// A built array with jsonata-js's flags.
#[derive(Clone, Default)]
pub(crate) struct Array<'a> {
    pub items: Vec<Val<'a>>,
    /// A sequence: the result of navigation, unwrapped when a singleton.
    pub seq: bool,
    /// Made by an array constructor `[…]`: not flattened by a path step.
    pub cons: bool,
    /// Marked by `[]`: a singleton stays an array.
    pub keep: bool,
    /// The top-level input array, wrapped so paths see it as one item.
    pub wrapper: bool,
}

impl<'a> Array<'a> {
    pub fn seq(items: Vec<Val<'a>>) -> Array<'a> {
        Array {
            items,
            seq: true,
            ..Default::default()
        }
    }
    pub fn plain(items: Vec<Val<'a>>) -> Array<'a> {
        Array {
            items,
            ..Default::default()
        }
    }
}

/// One item of a tuple stream: the context value and the variables bound
/// along the path so far (`@$x`, `#$i`, parent labels).
#[derive(Clone)]
pub(crate) struct Tuple<'a> {
    pub at: Option<Val<'a>>,
    pub binds: Vec<(&'a str, Option<Val<'a>>)>,
}

impl<'a> Tuple<'a> {
    pub fn set(&mut self, name: &'a str, v: Option<Val<'a>>) {
        match self.binds.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => self.binds.push((name, v)),
        }
    }
}

/// A variable scope. Frames are shared by closures, so they are `Rc` with
/// interior mutability; bindings are few, so a vector beats a map.
pub(crate) struct Frame<'a> {
    vars: RefCell<Vec<(&'a str, Option<Val<'a>>)>>,
    pub parent: Option<Rc<Frame<'a>>>,
}

impl<'a> Frame<'a> {
    pub fn new(parent: Option<Rc<Frame<'a>>>) -> Rc<Frame<'a>> {
        Rc::new(Frame {
            vars: RefCell::new(Vec::new()),
            parent,
        })
    }

    pub fn bind(&self, name: &'a str, v: Option<Val<'a>>) {
        let mut vars = self.vars.borrow_mut();
        match vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => vars.push((name, v)),
        }
    }

    /// Drop every binding (ends the evaluation's reference cycles).
    pub fn clear(&self) {
        let old = std::mem::take(&mut *self.vars.borrow_mut());
        drop(old);
    }

    /// `Some(value)` when some frame binds `name` (the value may be undefined).
    pub fn lookup(&self, name: &str) -> Option<Option<Val<'a>>> {
        let mut frame = self;
        loop {
            if let Some((_, v)) = frame.vars.borrow().iter().find(|(n, _)| *n == name) {
                return Some(v.clone());
            }
            match &frame.parent {
                Some(p) => frame = p,
                None => return None,
            }
        }
    }
}

/// Function values.
pub(crate) enum Func<'a> {
    Builtin(Builtin),
    /// Index into `Env::extensions`.
    Extension(usize),
    Lambda {
        def: &'a LambdaDef,
        env: Rc<Frame<'a>>,
        input: Option<Val<'a>>,
    },
    /// A pending tail call (see `Kind::TailCall`).
    Thunk {
        call: &'a Node,
        env: Rc<Frame<'a>>,
        input: Option<Val<'a>>,
    },
    /// `f(a, ?)`: `None` marks a place still to fill.
    Partial {
        func: Rc<Func<'a>>,
        args: Vec<Option<Option<Val<'a>>>>,
    },
    Regex(&'a Regex),
    /// The `next` of a match object: continue matching `text` from a byte offset.
    RegexNext {
        re: &'a Regex,
        text: Str<'a>,
        from: usize,
    },
    Transform {
        def: &'a TransformDef,
        env: Rc<Frame<'a>>,
    },
    /// `f ~> g` of two functions: `g(f(x))`.
    Chain(Rc<Func<'a>>, Rc<Func<'a>>),
}

#[derive(Clone)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Str<'a>),
    JArr(&'a Vec<Value>),
    JObj(&'a Map<String, Value>),
    Arr(Rc<Array<'a>>),
    Obj(Rc<ObjMap<'a>>),
    Func(Rc<Func<'a>>),
    /// A tuple stream flowing between path steps (never a result).
    Tuples(Rc<Vec<Tuple<'a>>>),
}

pub(crate) type V<'a> = Option<Val<'a>>;

impl<'a> Val<'a> {
    /// Borrow a JSON value; scalars are read into their own variants.
    pub fn json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Str::B(s)),
            Value::Array(a) => Val::JArr(a),
            Value::Object(o) => Val::JObj(o),
        }
    }

    pub fn str(s: &str) -> Val<'a> {
        Val::Str(Str::R(Rc::from(s)))
    }

    pub fn string(s: String) -> Val<'a> {
        Val::Str(Str::from(s))
    }

    pub fn seq(items: Vec<Val<'a>>) -> Val<'a> {
        Val::Arr(Rc::new(Array::seq(items)))
    }

    pub fn array(items: Vec<Val<'a>>) -> Val<'a> {
        Val::Arr(Rc::new(Array::plain(items)))
    }

    pub fn func(f: Func<'a>) -> Val<'a> {
        Val::Func(Rc::new(f))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Val::JArr(_) | Val::Arr(_) | Val::Tuples(_))
    }

    pub fn is_seq(&self) -> bool {
        matches!(self, Val::Arr(a) if a.seq)
    }

    pub fn is_cons(&self) -> bool {
        matches!(self, Val::Arr(a) if a.cons)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Val::JObj(_) | Val::Obj(_))
    }

    pub fn is_func(&self) -> bool {
        matches!(self, Val::Func(_))
    }

    /// The number, if this is one that is not NaN (infinities are numbers
    /// here; `check_finite` rejects them where jsonata-js does).
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Val::Num(n) if !n.is_nan() => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Items of an array (borrowed JSON items are read as values).
    pub fn len(&self) -> usize {
        match self {
            Val::JArr(a) => a.len(),
            Val::Arr(a) => a.items.len(),
            Val::Tuples(t) => t.len(),
            _ => 0,
        }
    }

    pub fn item(&self, i: usize) -> Option<Val<'a>> {
        match self {
            Val::JArr(a) => a.get(i).map(Val::json),
            Val::Arr(a) => a.items.get(i).cloned(),
            _ => None,
        }
    }

    /// The items of an array, or the value itself as a one-item list.
    pub fn items(&self) -> Vec<Val<'a>> {
        match self {
            Val::JArr(a) => a.iter().map(Val::json).collect(),
            Val::Arr(a) => a.items.clone(),
            other => vec![other.clone()],
        }
    }

    /// Iterate an array's items without collecting (non-arrays yield none).
    pub fn for_each_item(&self, mut f: impl FnMut(Val<'a>)) {
        match self {
            Val::JArr(a) => a.iter().for_each(|v| f(Val::json(v))),
            Val::Arr(a) => a.items.iter().for_each(|v| f(v.clone())),
            _ => {}
        }
    }

    /// Field `key` of an object.
    pub fn field(&self, key: &str) -> Option<Val<'a>> {
        match self {
            Val::JObj(o) => o.get(key).map(Val::json),
            Val::Obj(o) => o.get(key).cloned(),
            _ => None,
        }
    }

    /// An object's entries in order.
    pub fn entries(&self) -> Vec<(Str<'a>, Val<'a>)> {
        match self {
            Val::JObj(o) => o
                .iter()
                .map(|(k, v)| (Str::B(k.as_str()), Val::json(v)))
                .collect(),
            Val::Obj(o) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        }
    }

    pub fn obj_len(&self) -> usize {
        match self {
            Val::JObj(o) => o.len(),
            Val::Obj(o) => o.len(),
            _ => 0,
        }
    }

    /// The signature letter of this value.
    pub fn letter(v: &V<'a>) -> u8 {
        use super::signature::*;
        match v {
            None => M,
            Some(Val::Null) => L,
            Some(Val::Bool(_)) => B,
            Some(Val::Num(_)) => N,
            Some(Val::Str(_)) => S,
            Some(Val::JArr(_) | Val::Arr(_) | Val::Tuples(_)) => A,
            Some(Val::JObj(_) | Val::Obj(_)) => O,
            Some(Val::Func(_)) => F,
        }
    }
}

/// A number as jsonata-js returns it in JSON: whole numbers as integers.
pub(crate) fn number_to_json(n: f64) -> Result<Value, Error> {
    if !n.is_finite() {
        return Err(non_finite(n));
    }
    if n == n.trunc() && n.abs() < 9_007_199_254_740_992.0 {
        // -0 prints as 0, as JSON.stringify does
        return Ok(Value::Number(Number::from(n as i64)));
    }
    Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
}

pub(crate) fn non_finite(n: f64) -> Error {
    Error::new(
        "D1001",
        format!("Number out of range: {}", format_number(n)),
    )
}

/// Depth of nesting beyond which values are not walked (serialising,
/// comparing, cloning), so that built-up data cannot overflow the stack.
pub(crate) const MAX_DATA_DEPTH: usize = 1000;

pub(crate) fn too_deep() -> Error {
    Error::new(
        "U1001",
        format!("Stack overflow error: value nested more than {MAX_DATA_DEPTH} levels deep"),
    )
}

/// Convert a result to JSON the way `JSON.stringify` would see it:
/// functions vanish from objects, become `null` in arrays, and a function
/// result is undefined; infinities are error D1001 (JSON cannot hold them).
pub(crate) fn to_json(v: &Val<'_>, depth: usize) -> Result<Option<Value>, Error> {
    if depth > MAX_DATA_DEPTH {
        return Err(too_deep());
    }
    Ok(Some(match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => number_to_json(*n)?,
        Val::Str(s) => Value::String(s.to_string()),
        Val::JArr(a) => Value::Array((*a).clone()),
        Val::JObj(o) => Value::Object((*o).clone()),
        Val::Arr(a) => {
            let mut out = Vec::with_capacity(a.items.len());
            for item in &a.items {
                out.push(to_json(item, depth + 1)?.unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        Val::Tuples(t) => {
            let mut out = Vec::with_capacity(t.len());
            for tuple in t.iter() {
                let item = match &tuple.at {
                    Some(v) => to_json(v, depth + 1)?,
                    None => None,
                };
                out.push(item.unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        Val::Obj(o) => {
            let mut out = Map::with_capacity(o.len());
            for (k, item) in o.iter() {
                if let Some(j) = to_json(item, depth + 1)? {
                    out.insert(k.to_string(), j);
                }
            }
            Value::Object(out)
        }
        Val::Func(_) => return Ok(None),
    }))
}

/// JavaScript's `Number.prototype.toString()` for finite numbers: the
/// shortest digits that round-trip, in fixed notation from 1e-7 to 1e21.
pub(crate) fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let point = exp + 1; // the decimal point sits after `point` digits
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (point - k) as usize));
    } else if 0 < point && point <= 21 {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if point - 1 < 0 { '-' } else { '+' });
        out.push_str(&(point - 1).abs().to_string());
    }
    out
}

/// `Number(n.toPrecision(15))`, which jsonata-js applies before printing
/// numbers in `$string` so that `0.1 + 0.2` prints as `0.3`; integers are
/// printed whole (`5890840712243076` stays as it is).
pub(crate) fn round15(n: f64) -> f64 {
    if !n.is_finite() || n == 0.0 || n.fract() == 0.0 {
        return n;
    }
    format!("{n:.14e}").parse().unwrap_or(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_javascript() {
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (-0.0, "0"),
            (2.5e-300, "2.5e-300"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (n, s) in cases {
            assert_eq!(format_number(n), s, "{n}");
        }
        assert_eq!(round15(0.1 + 0.2), 0.3);
        assert_eq!(round15(5890840712243076.0), 5890840712243076.0);
    }

    #[test]
    fn whole_numbers_become_integers() {
        assert_eq!(number_to_json(3.0).unwrap(), serde_json::json!(3));
        assert_eq!(number_to_json(-0.0).unwrap(), serde_json::json!(0));
        assert_eq!(number_to_json(2.5).unwrap(), serde_json::json!(2.5));
        assert_eq!(number_to_json(f64::INFINITY).unwrap_err().code, "D1001");
    }
}
