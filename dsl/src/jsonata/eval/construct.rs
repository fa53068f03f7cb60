//! Building values: array constructors, object constructors and group-by
//! (one algorithm in jsonata-js), order-by, and the transform operator.

use std::rc::Rc;

use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;

use indexmap::IndexMap;

use super::{Ev, Res};
use crate::jsonata::ast::{Kind, Node, SortTerm, TransformDef};
use crate::jsonata::functions::{self, append};
use crate::jsonata::value::{Array, Frame, ObjMap, Str, Tuple, Val, V};
use crate::jsonata::Error;

/// The items grouped under one key: one item as itself, several appended.
enum Data<'a> {
    One(Val<'a>),
    Many(Vec<Val<'a>>),
}

enum GroupItem<'a> {
    Value(V<'a>),
    Tuple(Tuple<'a>),
}

impl<'a> Ev<'a, '_, '_> {
    /// `[a, b, c]`: items are appended (flattening arrays), except nested
    /// array constructors, which stay arrays.
    pub(super) fn array(
        &mut self,
        node: &'a Node,
        items: &'a [Node],
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = self.eval(item, input, env)? {
                if matches!(item.kind, Kind::Array(_)) || !v.is_array() {
                    out.push(v);
                } else {
                    v.for_each_item(|x| out.push(x));
                }
            }
        }
        let cons = node.ann().is_some_and(|a| a.consarray);
        Ok(Some(Val::Arr(Rc::new(Array {
            items: out,
            cons,
            ..Default::default()
        }))))
    }

    /// An object constructor, or a group-by applied to `input`: each item
    /// is filed under the keys the pairs compute, then each group's value
    /// is evaluated against the items filed under it.
    pub(crate) fn group(
        &mut self,
        pairs: &'a [(Node, Node)],
        pos: usize,
        input: V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Val<'a>, Error> {
        let items: Vec<GroupItem<'a>> = match input {
            Some(Val::Tuples(t)) => t.iter().cloned().map(GroupItem::Tuple).collect(),
            Some(v) if v.is_array() => v
                .items()
                .into_iter()
                .map(|x| GroupItem::Value(Some(x)))
                .collect(),
            other => vec![GroupItem::Value(other)],
        };
        let items = if items.is_empty() {
            vec![GroupItem::Value(None)]
        } else {
            items
        };
        if items.len() == 1 {
            if let GroupItem::Value(item) = &items[0] {
                return self.object_of_one(pairs, pos, item, env);
            }
        }
        let mut groups: IndexMap<Str<'a>, (Vec<usize>, usize), BuildHasherDefault<DefaultHasher>> =
            IndexMap::default();
        for (idx, item) in items.iter().enumerate() {
            let (context, frame) = match item {
                GroupItem::Value(v) => (v.clone(), env.clone()),
                GroupItem::Tuple(t) => (t.at.clone(), self.tuple_frame(env, t)),
            };
            for (pi, (k, _)) in pairs.iter().enumerate() {
                let Some(key) = key_of(self.eval(k, &context, &frame)?, pos)? else {
                    continue;
                };
                match groups.get_mut(&key) {
                    Some((members, expr)) => {
                        if *expr != pi {
                            return Err(duplicate_key(&key, pos));
                        }
                        members.push(idx);
                    }
                    None => {
                        groups.insert(key, (vec![idx], pi));
                    }
                }
            }
        }
        let mut result = ObjMap::with_capacity_and_hasher(groups.len(), Default::default());
        for (key, (members, pi)) in groups {
            let (context, frame) = match &items[members[0]] {
                GroupItem::Value(_) => {
                    let data = gather(members.iter().filter_map(|&m| match &items[m] {
                        GroupItem::Value(v) => v.clone(),
                        GroupItem::Tuple(_) => None,
                    }));
                    (data, env.clone())
                }
                GroupItem::Tuple(_) => {
                    let tuples: Vec<&Tuple<'a>> = members
                        .iter()
                        .filter_map(|&m| match &items[m] {
                            GroupItem::Tuple(t) => Some(t),
                            GroupItem::Value(_) => None,
                        })
                        .collect();
                    let reduced = reduce_tuples(&tuples);
                    let frame = self.tuple_frame(env, &reduced);
                    (reduced.at, frame)
                }
            };
            if let Some(v) = self.eval(&pairs[pi].1, &context, &frame)? {
                result.insert(key, v);
            }
        }
        Ok(Val::Obj(Rc::new(result)))
    }

    /// The common object constructor: one context item, so no grouping.
    fn object_of_one(
        &mut self,
        pairs: &'a [(Node, Node)],
        pos: usize,
        item: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Val<'a>, Error> {
        let mut keys: Vec<Option<Str<'a>>> = Vec::with_capacity(pairs.len());
        for (k, _) in pairs {
            let key = key_of(self.eval(k, item, env)?, pos)?;
            if let Some(key) = &key {
                if keys.iter().flatten().any(|seen| seen == key) {
                    return Err(duplicate_key(key, pos));
                }
            }
            keys.push(key);
        }
        let mut result = ObjMap::with_capacity_and_hasher(pairs.len(), Default::default());
        for (key, (_, v)) in keys.into_iter().zip(pairs) {
            let Some(key) = key else { continue };
            if let Some(value) = self.eval(v, item, env)? {
                result.insert(key, value);
            }
        }
        Ok(Val::Obj(Rc::new(result)))
    }

    /// Order-by on plain values: a stable merge sort on the terms.
    pub(super) fn sort_values(
        &mut self,
        terms: &'a [SortTerm],
        pos: usize,
        items: Vec<Val<'a>>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Vec<Val<'a>>, Error> {
        if items.len() <= 1 {
            return Ok(items);
        }
        let mut keyed = Vec::with_capacity(items.len());
        for item in items {
            let mut keys = Vec::with_capacity(terms.len());
            let ctx = Some(item);
            for t in terms {
                keys.push(self.eval(&t.expr, &ctx, env)?);
            }
            keyed.push((keys, ctx));
        }
        let sorted = merge_sort(keyed, &mut |a, b| compare_keys(terms, &a.0, &b.0, pos))?;
        Ok(sorted.into_iter().filter_map(|(_, v)| v).collect())
    }

    pub(super) fn sort_tuples(
        &mut self,
        terms: &'a [SortTerm],
        pos: usize,
        tuples: Vec<Tuple<'a>>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Vec<Tuple<'a>>, Error> {
        if tuples.len() <= 1 {
            return Ok(tuples);
        }
        let mut keyed = Vec::with_capacity(tuples.len());
        for t in tuples {
            let frame = self.tuple_frame(env, &t);
            let mut keys = Vec::with_capacity(terms.len());
            for term in terms {
                keys.push(self.eval(&term.expr, &t.at, &frame)?);
            }
            keyed.push((keys, t));
        }
        let sorted = merge_sort(keyed, &mut |a, b| compare_keys(terms, &a.0, &b.0, pos))?;
        Ok(sorted.into_iter().map(|(_, t)| t).collect())
    }

    /// Apply `| pattern | update, delete |` to a deep copy of `obj`.
    ///
    /// jsonata-js mutates the copy in place through the matched objects;
    /// values here are immutable, so matches are recognised by identity in
    /// the fresh copy, their changes recorded, and the copy rebuilt.
    pub(super) fn transform(
        &mut self,
        def: &'a TransformDef,
        env: &Rc<Frame<'a>>,
        obj: V<'a>,
    ) -> Res<'a> {
        let Some(obj) = obj else { return Ok(None) };
        let clone = match self.resolve("clone", Some(functions::Builtin::Clone), env) {
            super::Callee::Builtin(functions::Builtin::Clone) => functions::object::deep_clone(&obj)?,
            super::Callee::Value(Some(f @ Val::Func(_))) => {
                match self.apply_value(&f, vec![Some(obj)], &None, env)? {
                    Some(v) => v,
                    None => return Ok(None),
                }
            }
            _ => {
                return Err(Error::new(
                    "T2013",
                    "The transform expression clones the input object using the $clone() function.  This has been overridden in the current scope by a non-function.",
                ))
            }
        };
        let matches = self.eval(&def.pattern, &Some(clone.clone()), env)?;
        let matches = match matches {
            None => return Ok(Some(clone)),
            Some(m) if m.is_array() => m.items(),
            Some(m) => vec![m],
        };
        let mut patches: Vec<(*const ObjMap<'a>, Patch<'a>)> = Vec::new();
        for m in matches {
            let ctx = Some(m.clone());
            let update = self.eval(&def.update, &ctx, env)?;
            let mut patch = Patch::default();
            match update {
                None => {}
                Some(u) if u.is_object() => patch.set = u.entries(),
                Some(_) => {
                    return Err(Error::new(
                        "T2011",
                        "The insert/update clause of the transform expression must evaluate to an object",
                    )
                    .at(def.update.pos))
                }
            }
            if let Some(d) = &def.delete {
                if let Some(del) = self.eval(d, &ctx, env)? {
                    let names = if del.is_array() {
                        del.items()
                    } else {
                        vec![del]
                    };
                    for n in names {
                        match n {
                            Val::Str(s) => patch.delete.push(s),
                            _ => {
                                return Err(Error::new(
                                    "T2012",
                                    "The delete clause of the transform expression must evaluate to a string or array of strings",
                                )
                                .at(d.pos))
                            }
                        }
                    }
                }
            }
            if let Val::Obj(o) = &m {
                patches.push((Rc::as_ptr(o), patch));
            }
        }
        if patches.is_empty() {
            return Ok(Some(clone));
        }
        Ok(Some(rebuild(&clone, &patches, 0)?))
    }
}

#[derive(Default)]
struct Patch<'a> {
    set: Vec<(Str<'a>, Val<'a>)>,
    delete: Vec<Str<'a>>,
}

/// Copy `v` with the recorded patches applied to the objects they name.
fn rebuild<'a>(
    v: &Val<'a>,
    patches: &[(*const ObjMap<'a>, Patch<'a>)],
    depth: usize,
) -> Result<Val<'a>, Error> {
    if depth > crate::jsonata::value::MAX_DATA_DEPTH {
        return Err(crate::jsonata::value::too_deep());
    }
    Ok(match v {
        Val::Obj(o) => {
            let mut out = ObjMap::with_capacity_and_hasher(o.len(), Default::default());
            for (k, item) in o.iter() {
                out.insert(k.clone(), rebuild(item, patches, depth + 1)?);
            }
            let me = Rc::as_ptr(o);
            for (_, p) in patches.iter().filter(|(ptr, _)| *ptr == me) {
                for (k, val) in &p.set {
                    out.insert(k.clone(), val.clone());
                }
                for k in &p.delete {
                    out.shift_remove(k);
                }
            }
            Val::Obj(Rc::new(out))
        }
        Val::Arr(a) => {
            let mut items = Vec::with_capacity(a.items.len());
            for item in &a.items {
                items.push(rebuild(item, patches, depth + 1)?);
            }
            Val::Arr(Rc::new(Array {
                items,
                ..Array::clone(a)
            }))
        }
        other => other.clone(),
    })
}

fn key_of<'a>(key: V<'a>, pos: usize) -> Result<Option<Str<'a>>, Error> {
    match key {
        None => Ok(None),
        Some(Val::Str(s)) => Ok(Some(s)),
        Some(_) => {
            Err(Error::new("T1003", "Key in object structure must evaluate to a string").at(pos))
        }
    }
}

fn duplicate_key(key: &str, pos: usize) -> Error {
    Error::new(
        "D1009",
        format!("Multiple key definitions evaluate to same key: {key:?}"),
    )
    .at(pos)
}

/// The context for a group's value: one item as itself, several appended
/// (`$append` flattens array items one level, as jsonata-js does).
fn gather<'a>(items: impl Iterator<Item = Val<'a>>) -> V<'a> {
    let mut data: Option<Data<'a>> = None;
    for item in items {
        data = Some(match data {
            None => Data::One(item),
            Some(Data::One(first)) => {
                let mut v = Vec::new();
                push_flat(&mut v, first);
                push_flat(&mut v, item);
                Data::Many(v)
            }
            Some(Data::Many(mut v)) => {
                push_flat(&mut v, item);
                Data::Many(v)
            }
        });
    }
    match data {
        None => None,
        Some(Data::One(v)) => Some(v),
        Some(Data::Many(v)) => Some(Val::array(v)),
    }
}

fn push_flat<'a>(out: &mut Vec<Val<'a>>, v: Val<'a>) {
    if v.is_array() {
        v.for_each_item(|x| out.push(x));
    } else {
        out.push(v);
    }
}

/// Merge the tuples of a group: each binding (and the context) becomes
/// the `$append` of its values.
fn reduce_tuples<'a>(tuples: &[&Tuple<'a>]) -> Tuple<'a> {
    let mut result = tuples[0].clone();
    for t in &tuples[1..] {
        result.at = append(result.at.take(), t.at.clone());
        for (k, v) in &t.binds {
            let current = result
                .binds
                .iter()
                .find(|(n, _)| n == k)
                .and_then(|(_, v)| v.clone());
            result.set(k, append(current, v.clone()));
        }
    }
    result
}

/// Compare sort keys term by term; `Ok(true)` when `a` goes after `b`.
fn compare_keys(terms: &[SortTerm], a: &[V<'_>], b: &[V<'_>], pos: usize) -> Result<bool, Error> {
    for (i, term) in terms.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        let comp = match (x, y) {
            (None, None) => 0,
            (None, _) => 1,
            (_, None) => -1,
            (Some(x), Some(y)) => {
                let ok = |v: &Val<'_>| matches!(v, Val::Num(_) | Val::Str(_));
                if !ok(x) || !ok(y) {
                    return Err(Error::new(
                        "T2008",
                        "The expressions within an order-by clause must evaluate to numeric or string values",
                    )
                    .at(pos));
                }
                let ord = match (x, y) {
                    (Val::Num(p), Val::Num(q)) => p.partial_cmp(q),
                    (Val::Str(p), Val::Str(q)) => Some(super::ops::utf16_cmp(p, q)),
                    _ => {
                        return Err(Error::new(
                            "T2007",
                            "Type mismatch when comparing values in order-by clause",
                        )
                        .at(pos))
                    }
                };
                let c = match ord {
                    Some(std::cmp::Ordering::Less) => -1,
                    Some(std::cmp::Ordering::Greater) => 1,
                    _ => 0,
                };
                if term.descending {
                    -c
                } else {
                    c
                }
            }
        };
        // undefined sorts last whatever the direction, as in jsonata-js
        if comp != 0 {
            return Ok(comp == 1);
        }
    }
    Ok(false)
}

/// Stable merge sort with a fallible "goes after" comparator (jsonata-js's
/// `$sort` algorithm, so ties keep their order).
pub(crate) fn merge_sort<T>(
    mut items: Vec<T>,
    after: &mut dyn FnMut(&T, &T) -> Result<bool, Error>,
) -> Result<Vec<T>, Error> {
    if items.len() <= 1 {
        return Ok(items);
    }
    let right = items.split_off(items.len() / 2);
    let left = merge_sort(items, after)?;
    let right = merge_sort(right, after)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                if after(a, b)? {
                    out.extend(r.next());
                } else {
                    out.extend(l.next());
                }
            }
            (Some(_), None) => {
                out.extend(l);
                break;
            }
            (None, _) => {
                out.extend(r);
                break;
            }
        }
    }
    Ok(out)
}
