//! Object functions, `$clone` and `$eval`.

use std::rc::Rc;

use indexmap::IndexSet;

use super::Builtin;
use crate::jsonata::eval::{lookup_field, Ev, Res};
use crate::jsonata::value::{round15, too_deep, Array, Frame, ObjMap, Str, Val, MAX_DATA_DEPTH, V};
use crate::jsonata::Error;

pub(crate) fn call<'a>(b: Builtin, a: V<'a>, key: V<'a>) -> Res<'a> {
    match b {
        Builtin::Keys => Ok(Some(Val::seq(keys(&a).into_iter().map(Val::Str).collect()))),
        Builtin::Lookup => {
            let (Some(a), Some(Val::Str(k))) = (a, key) else {
                return Ok(None);
            };
            Ok(lookup_field(&a, &k))
        }
        Builtin::Spread => Ok(a.map(|v| spread(&v, 0))),
        Builtin::Merge => {
            let Some(a) = a else { return Ok(None) };
            let mut out = ObjMap::default();
            a.for_each_item(|o| {
                for (k, v) in o.entries() {
                    out.insert(k, v);
                }
            });
            Ok(Some(Val::Obj(Rc::new(out))))
        }
        _ => match a {
            None => Ok(None),
            Some(v) => deep_clone(&v).map(Some),
        },
    }
}

fn keys<'a>(v: &V<'a>) -> Vec<Str<'a>> {
    match v {
        Some(v) if v.is_array() => {
            let mut all: IndexSet<
                Str<'a>,
                std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
            > = IndexSet::default();
            v.for_each_item(|item| {
                for k in keys(&Some(item)) {
                    all.insert(k);
                }
            });
            all.into_iter().collect()
        }
        Some(v) if v.is_object() => v.entries().into_iter().map(|(k, _)| k).collect(),
        _ => Vec::new(),
    }
}

fn spread<'a>(v: &Val<'a>, depth: usize) -> Val<'a> {
    if v.is_array() && depth < MAX_DATA_DEPTH {
        let mut out = Vec::new();
        v.for_each_item(|item| {
            let s = spread(&item, depth + 1);
            if s.is_array() {
                s.for_each_item(|x| out.push(x));
            } else {
                out.push(s);
            }
        });
        Val::seq(out)
    } else if v.is_object() {
        let items = v
            .entries()
            .into_iter()
            .map(|(k, val)| {
                let mut o = ObjMap::default();
                o.insert(k, val);
                Val::Obj(Rc::new(o))
            })
            .collect();
        Val::seq(items)
    } else {
        v.clone()
    }
}

/// `$clone`: jsonata-js round-trips through `$string` and `JSON.parse`,
/// so numbers are rounded to 15 digits and functions become `""`.
pub(crate) fn deep_clone<'a>(v: &Val<'a>) -> Result<Val<'a>, Error> {
    clone_at(v, 0)
}

fn clone_at<'a>(v: &Val<'a>, depth: usize) -> Result<Val<'a>, Error> {
    if depth > MAX_DATA_DEPTH {
        return Err(too_deep());
    }
    Ok(match v {
        Val::Num(n) => Val::Num(round15(crate::jsonata::eval::finite(*n)?)),
        Val::Func(_) => Val::str(""),
        Val::Str(_) | Val::Null | Val::Bool(_) => v.clone(),
        Val::Arr(a) if a.wrapper && !a.items.is_empty() => clone_at(&a.items[0], depth)?,
        Val::JArr(_) | Val::Arr(_) | Val::Tuples(_) => {
            let mut items = Vec::with_capacity(v.len());
            for item in v.items() {
                items.push(clone_at(&item, depth + 1)?);
            }
            Val::Arr(Rc::new(Array::plain(items)))
        }
        Val::JObj(_) | Val::Obj(_) => {
            let mut out = ObjMap::default();
            for (k, item) in v.entries() {
                out.insert(k, clone_at(&item, depth + 1)?);
            }
            Val::Obj(Rc::new(out))
        }
    })
}

/// `$eval(expr, context)`: parse and evaluate in the caller's scope.
pub(crate) fn eval_fn<'a>(
    ev: &mut Ev<'a, '_, '_>,
    expr: V<'a>,
    focus: V<'a>,
    input: &V<'a>,
    env: &Rc<Frame<'a>>,
) -> Res<'a> {
    let Some(expr) = expr else { return Ok(None) };
    let text = expr.as_str().unwrap_or_default();
    let node = crate::jsonata::parse_node(text).map_err(|e| {
        Error::new(
            "D3120",
            format!(
                "Syntax error in expression passed to function eval: {}",
                e.message
            ),
        )
    })?;
    let node = ev.keep_ast(node);
    let context = match focus {
        Some(f) if f.is_array() && !f.is_seq() => Some(Val::Arr(Rc::new(Array {
            items: vec![f],
            seq: true,
            wrapper: true,
            ..Default::default()
        }))),
        Some(f) => Some(f),
        None => input.clone(),
    };
    ev.eval(node, &context, env).map_err(|e| {
        if e.code == "U1001" {
            e
        } else {
            Error::new(
                "D3121",
                format!(
                    "Dynamic error evaluating the expression passed to function eval: {}",
                    e.message
                ),
            )
        }
    })
}
