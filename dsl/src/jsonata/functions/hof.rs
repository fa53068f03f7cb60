//! Higher-order functions. A callback gets as many of (value, index or
//! key, whole input) as its arity asks for, as in jsonata-js.

use std::rc::Rc;

use super::{truthy, Builtin};
use crate::jsonata::eval::{merge_sort, utf16_cmp, Ev, Res};
use crate::jsonata::value::{Frame, ObjMap, Val, V};
use crate::jsonata::Error;

fn callback_args<'a>(arity: usize, value: Val<'a>, key: Val<'a>, whole: &Val<'a>) -> Vec<V<'a>> {
    let mut args = Vec::with_capacity(3);
    args.push(Some(value));
    if arity >= 2 {
        args.push(Some(key));
    }
    if arity >= 3 {
        args.push(Some(whole.clone()));
    }
    args
}

fn arity_of<'a>(ev: &Ev<'a, '_, '_>, f: &Val<'a>) -> usize {
    match f {
        Val::Func(func) => ev.arity(func),
        _ => 0,
    }
}

pub(crate) fn call<'a>(
    ev: &mut Ev<'a, '_, '_>,
    b: Builtin,
    a: V<'a>,
    f: V<'a>,
    c: V<'a>,
    env: &Rc<Frame<'a>>,
) -> Res<'a> {
    match b {
        Builtin::Sift => return sift(ev, a, f, env),
        Builtin::Each => return each(ev, a, f, env),
        _ => {}
    }
    let Some(arr) = a else { return Ok(None) };
    match b {
        Builtin::Map | Builtin::Filter => {
            let Some(func) = f else { return Ok(None) };
            let arity = arity_of(ev, &func);
            let mut out = Vec::new();
            for (i, item) in arr.items().into_iter().enumerate() {
                let args = callback_args(arity, item.clone(), Val::Num(i as f64), &arr);
                let res = ev.apply_value(&func, args, &None, env)?;
                if b == Builtin::Map {
                    out.extend(res);
                } else if truthy(&res)? {
                    out.push(item);
                }
            }
            Ok(Some(Val::seq(out)))
        }
        Builtin::Single => {
            let arity = f.as_ref().map_or(0, |func| arity_of(ev, func));
            let mut found = None;
            for (i, item) in arr.items().into_iter().enumerate() {
                let pass = match &f {
                    Some(func) => {
                        let args = callback_args(arity, item.clone(), Val::Num(i as f64), &arr);
                        truthy(&ev.apply_value(func, args, &None, env)?)?
                    }
                    None => true,
                };
                if pass {
                    if found.is_some() {
                        return Err(Error::new(
                            "D3138",
                            "The $single() function expected exactly 1 matching result.  Instead it matched more.",
                        ));
                    }
                    found = Some(item);
                }
            }
            match found {
                Some(v) => Ok(Some(v)),
                None => Err(Error::new(
                    "D3139",
                    "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
                )),
            }
        }
        Builtin::Reduce => {
            let Some(func) = f else { return Ok(None) };
            let arity = arity_of(ev, &func);
            if arity < 2 {
                return Err(Error::new(
                    "D3050",
                    "The second argument of reduce function must be a function with at least two arguments",
                ));
            }
            let items = arr.items();
            let (mut acc, start) = match c {
                None if !items.is_empty() => (Some(items[0].clone()), 1),
                init => (init, 0),
            };
            for (i, item) in items.into_iter().enumerate().skip(start) {
                let mut args = vec![acc, Some(item)];
                if arity >= 3 {
                    args.push(Some(Val::Num(i as f64)));
                }
                if arity >= 4 {
                    args.push(Some(arr.clone()));
                }
                acc = ev.apply_value(&func, args, &None, env)?;
            }
            Ok(acc)
        }
        _ => sort(ev, arr, f, env),
    }
}

fn sort<'a>(ev: &mut Ev<'a, '_, '_>, arr: Val<'a>, f: V<'a>, env: &Rc<Frame<'a>>) -> Res<'a> {
    if arr.len() <= 1 {
        return Ok(Some(arr));
    }
    let items = arr.items();
    let sorted = match f {
        None => {
            let all_num = items.iter().all(|v| v.as_num().is_some());
            let all_str = items.iter().all(|v| v.as_str().is_some());
            if !all_num && !all_str {
                return Err(Error::new(
                    "D3070",
                    "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function",
                ));
            }
            merge_sort(items, &mut |a, b| {
                Ok(match (a, b) {
                    (Val::Num(x), Val::Num(y)) => x > y,
                    (Val::Str(x), Val::Str(y)) => utf16_cmp(x, y).is_gt(),
                    _ => false,
                })
            })?
        }
        Some(func) => merge_sort(items, &mut |a, b| {
            let res = ev.apply_value(&func, vec![Some(a.clone()), Some(b.clone())], &None, env)?;
            Ok(js_truthy(&res))
        })?,
    };
    Ok(Some(Val::array(sorted)))
}

/// JavaScript truthiness (what `if (comparator(a, b))` sees).
fn js_truthy(v: &V<'_>) -> bool {
    match v {
        None | Some(Val::Null) => false,
        Some(Val::Bool(b)) => *b,
        Some(Val::Num(n)) => *n != 0.0 && !n.is_nan(),
        Some(Val::Str(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

fn sift<'a>(ev: &mut Ev<'a, '_, '_>, obj: V<'a>, f: V<'a>, env: &Rc<Frame<'a>>) -> Res<'a> {
    let (Some(obj), Some(func)) = (obj, f) else {
        return Ok(None);
    };
    let arity = arity_of(ev, &func);
    let mut out = ObjMap::default();
    for (k, v) in obj.entries() {
        let args = callback_args(arity, v.clone(), Val::Str(k.clone()), &obj);
        if truthy(&ev.apply_value(&func, args, &None, env)?)? {
            out.insert(k, v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(Val::Obj(Rc::new(out))))
}

fn each<'a>(ev: &mut Ev<'a, '_, '_>, obj: V<'a>, f: V<'a>, env: &Rc<Frame<'a>>) -> Res<'a> {
    let (Some(obj), Some(func)) = (obj, f) else {
        return Ok(Some(Val::seq(Vec::new())));
    };
    let arity = arity_of(ev, &func);
    let mut out = Vec::new();
    for (k, v) in obj.entries() {
        let args = callback_args(arity, v, Val::Str(k), &obj);
        out.extend(ev.apply_value(&func, args, &None, env)?);
    }
    Ok(Some(Val::seq(out)))
}
