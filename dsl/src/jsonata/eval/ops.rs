//! Binary operators (jsonata-js's `evaluateBinary` and friends).

use std::rc::Rc;

use super::{Ev, Res};
use crate::jsonata::ast::{BinOp, Node};
use crate::jsonata::functions::{self, truthy};
use crate::jsonata::value::{non_finite, Frame, Val, V};
use crate::jsonata::Error;

/// Infinity is a number to `typeof` but an error wherever jsonata-js
/// checks `isNumeric` (D1001).
pub(crate) fn finite(n: f64) -> Result<f64, Error> {
    if n.is_finite() {
        Ok(n)
    } else {
        Err(non_finite(n))
    }
}

/// `isNumeric`: `Some(n)` for a number that is not NaN, D1001 for an infinity.
pub(crate) fn numeric(v: &Val<'_>) -> Result<Option<f64>, Error> {
    match v {
        Val::Num(n) if !n.is_nan() => finite(*n).map(Some),
        _ => Ok(None),
    }
}

impl<'a> Ev<'a, '_, '_> {
    pub(super) fn binary(
        &mut self,
        node: &'a Node,
        op: BinOp,
        lhs: &'a Node,
        rhs: &'a Node,
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        let l = self.eval(lhs, input, env)?;
        let at = |e: Error| e.at(node.pos).with_token(op.token());
        match op {
            BinOp::And => {
                let r =
                    truthy(&l).map_err(at)? && truthy(&self.eval(rhs, input, env)?).map_err(at)?;
                return Ok(Some(Val::Bool(r)));
            }
            BinOp::Or => {
                let r =
                    truthy(&l).map_err(at)? || truthy(&self.eval(rhs, input, env)?).map_err(at)?;
                return Ok(Some(Val::Bool(r)));
            }
            BinOp::Default => {
                return if truthy(&l).map_err(at)? {
                    Ok(l)
                } else {
                    self.eval(rhs, input, env)
                };
            }
            BinOp::Coalesce => {
                return if l.is_some() {
                    Ok(l)
                } else {
                    self.eval(rhs, input, env)
                };
            }
            _ => {}
        }
        let r = self.eval(rhs, input, env)?;
        let result = match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                arithmetic(op, &l, &r)
            }
            BinOp::Eq => Ok(Some(Val::Bool(
                l.is_some() && r.is_some() && deep_equal(&l, &r, 0)?,
            ))),
            BinOp::Ne => Ok(Some(Val::Bool(
                l.is_some() && r.is_some() && !deep_equal(&l, &r, 0)?,
            ))),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => compare(op, &l, &r),
            BinOp::Concat => {
                let mut s = match &l {
                    Some(v) => functions::string::stringify(v, false)?,
                    None => String::new(),
                };
                if let Some(v) = &r {
                    s.push_str(&functions::string::stringify(v, false)?);
                }
                Ok(Some(Val::string(s)))
            }
            BinOp::Range => range(&l, &r),
            BinOp::In => Ok(Some(Val::Bool(includes(&l, &r)))),
            BinOp::And | BinOp::Or | BinOp::Default | BinOp::Coalesce => Ok(None),
        };
        result.map_err(at)
    }
}

fn arithmetic<'a>(op: BinOp, l: &V<'a>, r: &V<'a>) -> Res<'a> {
    let ln = match l {
        Some(v) => Some(numeric(v)?.ok_or_else(|| {
            Error::new(
                "T2001",
                format!(
                    "The left side of the {} operator must evaluate to a number",
                    op.token()
                ),
            )
        })?),
        None => None,
    };
    let rn = match r {
        Some(v) => Some(numeric(v)?.ok_or_else(|| {
            Error::new(
                "T2002",
                format!(
                    "The right side of the {} operator must evaluate to a number",
                    op.token()
                ),
            )
        })?),
        None => None,
    };
    let (Some(a), Some(b)) = (ln, rn) else {
        return Ok(None);
    };
    Ok(Some(Val::Num(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        _ => a % b,
    })))
}

fn compare<'a>(op: BinOp, l: &V<'a>, r: &V<'a>) -> Res<'a> {
    let comparable = |v: &V<'a>| matches!(v, None | Some(Val::Num(_)) | Some(Val::Str(_)));
    if !comparable(l) || !comparable(r) {
        return Err(Error::new(
            "T2010",
            format!(
                "The expressions either side of operator {} must evaluate to numeric or string values",
                op.token()
            ),
        ));
    }
    let (Some(a), Some(b)) = (l, r) else {
        return Ok(None);
    };
    let ord = match (a, b) {
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Str(x), Val::Str(y)) => Some(utf16_cmp(x, y)),
        _ => {
            return Err(Error::new(
                "T2009",
                format!(
                    "The values either side of operator {} must be of the same data type",
                    op.token()
                ),
            ))
        }
    };
    use std::cmp::Ordering::*;
    let result = match (op, ord) {
        (_, None) => false,
        (BinOp::Lt, Some(o)) => o == Less,
        (BinOp::Le, Some(o)) => o != Greater,
        (BinOp::Gt, Some(o)) => o == Greater,
        (_, Some(o)) => o != Less,
    };
    Ok(Some(Val::Bool(result)))
}

/// JavaScript compares strings by UTF-16 code units.
pub(crate) fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn range<'a>(l: &V<'a>, r: &V<'a>) -> Res<'a> {
    let int = |v: &V<'a>, code: &'static str, side: &str| -> Result<Option<f64>, Error> {
        match v {
            None => Ok(None),
            Some(Val::Num(n)) if n.is_finite() && n.fract() == 0.0 => Ok(Some(*n)),
            Some(_) => Err(Error::new(
                code,
                format!("The {side} side of the range operator (..) must evaluate to an integer"),
            )),
        }
    };
    let a = int(l, "T2003", "left")?;
    let b = int(r, "T2004", "right")?;
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(None);
    };
    if a > b {
        return Ok(None);
    }
    let size = b - a + 1.0;
    if size > 1e7 {
        return Err(Error::new(
            "D2014",
            format!(
                "The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate {}.",
                crate::jsonata::value::format_number(size)
            ),
        ));
    }
    let items = (0..size as i64).map(|i| Val::Num(a + i as f64)).collect();
    Ok(Some(Val::seq(items)))
}

/// `in`: strict (`===`) membership.
fn includes<'a>(l: &V<'a>, r: &V<'a>) -> bool {
    let (Some(l), Some(r)) = (l, r) else {
        return false;
    };
    if r.is_array() {
        let mut found = false;
        r.for_each_item(|item| {
            if !found && strict_equal(l, &item) {
                found = true;
            }
        });
        found
    } else {
        strict_equal(l, r)
    }
}

/// JavaScript's `===`: values for scalars, identity for everything else.
pub(crate) fn strict_equal<'a>(a: &Val<'a>, b: &Val<'a>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => **x == **y,
        (Val::JArr(x), Val::JArr(y)) => std::ptr::eq(*x, *y),
        (Val::JObj(x), Val::JObj(y)) => std::ptr::eq(*x, *y),
        (Val::Arr(x), Val::Arr(y)) => Rc::ptr_eq(x, y),
        (Val::Obj(x), Val::Obj(y)) => Rc::ptr_eq(x, y),
        (Val::Func(x), Val::Func(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// jsonata-js's `isDeepEqual`.
pub(crate) fn deep_equal<'a>(a: &V<'a>, b: &V<'a>, depth: usize) -> Result<bool, Error> {
    if depth > crate::jsonata::value::MAX_DATA_DEPTH {
        return Err(crate::jsonata::value::too_deep());
    }
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(a.is_none() && b.is_none());
    };
    if strict_equal(a, b) {
        return Ok(true);
    }
    if a.is_array() && b.is_array() {
        if a.len() != b.len() {
            return Ok(false);
        }
        for i in 0..a.len() {
            if !deep_equal(&a.item(i), &b.item(i), depth + 1)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if a.is_object() && b.is_object() {
        if a.obj_len() != b.obj_len() {
            return Ok(false);
        }
        for (k, v) in a.entries() {
            let other = b.field(&k);
            if other.is_none() || !deep_equal(&Some(v), &other, depth + 1)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    Ok(false)
}
