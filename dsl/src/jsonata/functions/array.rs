//! Array functions.

use std::rc::Rc;

use super::Builtin;
use crate::jsonata::eval::{deep_equal, Ev, Res};
use crate::jsonata::value::{Array, Val, V};

pub(crate) fn zip<'a>(arrays: Vec<V<'a>>) -> Val<'a> {
    // an undefined argument has no items, so the result is empty
    let len = if arrays.iter().any(|a| a.is_none()) {
        0
    } else {
        arrays.iter().flatten().map(|a| a.len()).min().unwrap_or(0)
    };
    let arrays: Vec<Val<'a>> = arrays.into_iter().flatten().collect();
    let rows = (0..len)
        .map(|i| Val::array(arrays.iter().filter_map(|a| a.item(i)).collect()))
        .collect();
    Val::array(rows)
}

pub(crate) fn call<'a>(ev: &mut Ev<'a, '_, '_>, b: Builtin, arr: V<'a>) -> Res<'a> {
    let Some(arr) = arr else { return Ok(None) };
    match b {
        Builtin::Distinct => {
            if !arr.is_array() || arr.len() <= 1 {
                return Ok(Some(arr));
            }
            let mut out: Vec<Val<'a>> = Vec::new();
            for item in arr.items() {
                let mut seen = false;
                for o in &out {
                    if deep_equal(&Some(item.clone()), &Some(o.clone()), 0)? {
                        seen = true;
                        break;
                    }
                }
                if !seen {
                    out.push(item);
                }
            }
            let seq = arr.is_seq();
            Ok(Some(Val::Arr(Rc::new(Array {
                items: out,
                seq,
                ..Default::default()
            }))))
        }
        _ if arr.len() <= 1 => Ok(Some(arr)),
        Builtin::Reverse => {
            let mut items = arr.items();
            items.reverse();
            Ok(Some(Val::array(items)))
        }
        _ => {
            // the "inside-out" Fisher-Yates shuffle, randomness from Env
            let items = arr.items();
            let mut out: Vec<Val<'a>> = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let j = (ev.env.rng.next_f64() * (i + 1) as f64).floor() as usize;
                let j = j.min(i);
                if j == i {
                    out.push(item);
                } else {
                    let moved = out[j].clone();
                    out.push(moved);
                    out[j] = item;
                }
            }
            Ok(Some(Val::array(out)))
        }
    }
}
