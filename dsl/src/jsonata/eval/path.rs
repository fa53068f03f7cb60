//! Location paths: steps applied in turn to every item of the context
//! sequence, results flattened one level (jsonata-js's `evaluatePath`,
//! `evaluateStep`, `evaluateTupleStep` and `evaluateFilter`).
//!
//! A path whose steps bind variables (`@$x`, `#$i`, or a step that a `%`
//! refers to) runs as a *tuple stream*: each item carries its bindings.

use std::rc::Rc;

use super::{Ev, Res};
use crate::jsonata::ast::{Kind, Node, Stage};
use crate::jsonata::functions::truthy;
use crate::jsonata::value::{Frame, Tuple, Val, V};
use crate::jsonata::Error;

impl<'a> Ev<'a, '_, '_> {
    pub(super) fn path(&mut self, node: &'a Node, input: &V<'a>, env: &Rc<Frame<'a>>) -> Res<'a> {
        let Kind::Path {
            steps,
            keep_singleton,
        } = &node.kind
        else {
            return Ok(None);
        };
        let first_is_var = matches!(steps[0].kind, Kind::Var(..));
        let input_is_array = input.as_ref().is_some_and(|v| v.is_array());
        if !input_is_array && !*keep_singleton && node.ann.is_none() {
            if let Some(done) = self.simple_path(steps, input, env)? {
                return Ok(done);
            }
        }
        let input_seq: Vec<V<'a>> = match input {
            Some(v) if v.is_array() && !first_is_var => v.items().into_iter().map(Some).collect(),
            other => vec![other.clone()],
        };
        self.steps_from(node, steps, 0, input_seq, env)
    }

    /// The common case, without building sequences: a single context and
    /// plain steps through objects. `None` when the general walk is needed.
    fn simple_path(
        &mut self,
        steps: &'a [Node],
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Option<V<'a>>, Error> {
        if steps.iter().any(|s| s.ann.is_some() || s.keep_array)
            || steps[1..].iter().any(|s| !matches!(s.kind, Kind::Name(_)))
            || matches!(steps[0].kind, Kind::Sort(_))
        {
            return Ok(None);
        }
        let mut value = match self.eval(&steps[0], input, env)? {
            None => return Ok(Some(None)),
            Some(v) => v,
        };
        for (i, step) in steps.iter().enumerate().skip(1) {
            let Kind::Name(name) = &step.kind else {
                return Ok(None);
            };
            match &value {
                Val::JObj(o) => match o.get(name.as_str()) {
                    Some(v) => value = Val::json(v),
                    None => return Ok(Some(None)),
                },
                Val::Obj(o) => match o.get(name.as_str()) {
                    Some(v) => value = v.clone(),
                    None => return Ok(Some(None)),
                },
                v if v.is_array() => {
                    // continue the general way from here
                    let seq = flatten_results(vec![v.clone()])
                        .into_iter()
                        .map(Some)
                        .collect();
                    let path = self.steps_from_plain(steps, i, seq, env)?;
                    return Ok(Some(path));
                }
                _ => return Ok(Some(None)),
            }
        }
        Ok(Some(Some(value)))
    }

    /// Continue a plain path (no tuple steps) from step `start`.
    fn steps_from_plain(
        &mut self,
        steps: &'a [Node],
        start: usize,
        mut input: Vec<V<'a>>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        let mut result = Val::seq(Vec::new());
        for (i, step) in steps.iter().enumerate().skip(start) {
            result = self.step(step, &input, env, i == steps.len() - 1)?;
            if result.len() == 0 {
                break;
            }
            input = result.items().into_iter().map(Some).collect();
        }
        Ok(Some(result))
    }

    fn steps_from(
        &mut self,
        node: &'a Node,
        steps: &'a [Node],
        start: usize,
        mut input: Vec<V<'a>>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        let mut result = Val::seq(Vec::new());
        let mut tuples: Option<Vec<Tuple<'a>>> = None;
        let mut tuple_mode = false;
        for (i, step) in steps.iter().enumerate().skip(start) {
            if step.tuple() {
                tuple_mode = true;
            }
            if i == 0 && step.ann().is_some_and(|a| a.consarray) {
                let whole = Val::seq(input.iter().flatten().cloned().collect());
                match self.eval(step, &Some(whole), env)? {
                    Some(v) => result = v,
                    None => break,
                }
            } else if tuple_mode {
                tuples = Some(self.tuple_step(step, &input, tuples.take(), env)?);
            } else {
                result = self.step(step, &input, env, i == steps.len() - 1)?;
            }
            if !tuple_mode && result.is_array() && result.len() == 0 {
                break;
            }
            if step.focus().is_none() {
                input = if result.is_array() {
                    result.items().into_iter().map(Some).collect()
                } else {
                    vec![Some(result.clone())]
                };
            }
        }
        let mut stream = None;
        if tuple_mode {
            let tuples = Rc::new(tuples.unwrap_or_default());
            result = if node.tuple() {
                Val::Tuples(tuples.clone())
            } else {
                Val::seq(tuples.iter().filter_map(|t| t.at.clone()).collect())
            };
            stream = Some(tuples);
        }
        let Kind::Path { keep_singleton, .. } = &node.kind else {
            return Ok(Some(result));
        };
        if *keep_singleton {
            result = match result {
                Val::Arr(a) if a.cons && !a.seq => {
                    let mut wrapped = crate::jsonata::value::Array::seq(vec![Val::Arr(a)]);
                    wrapped.keep = true;
                    Val::Arr(Rc::new(wrapped))
                }
                Val::Arr(a) => {
                    let mut a = Rc::unwrap_or_clone(a);
                    a.keep = true;
                    Val::Arr(Rc::new(a))
                }
                other => other,
            };
        }
        if let Some(group) = node.ann().and_then(|a| a.group.as_ref()) {
            // grouping sees the tuple stream, so its bindings stay visible
            let input = match stream {
                Some(t) => Val::Tuples(t),
                None => result,
            };
            result = self.group(&group.pairs, group.pos, Some(input), env)?;
        }
        Ok(Some(result))
    }

    /// One step applied to every item of `input`, results flattened.
    fn step(
        &mut self,
        step: &'a Node,
        input: &[V<'a>],
        env: &Rc<Frame<'a>>,
        last: bool,
    ) -> Result<Val<'a>, Error> {
        if let Kind::Sort(terms) = &step.kind {
            let items: Vec<Val<'a>> = input.iter().flatten().cloned().collect();
            let mut result = Val::seq(self.sort_values(terms, step.pos, items, env)?);
            if let Some(ann) = step.ann() {
                for stage in &ann.stages {
                    if let Stage::Filter(p) = stage {
                        result = self.filter(p, Some(result), env)?;
                    }
                }
            }
            return Ok(result);
        }
        let stages = step.ann().map(|a| a.stages.as_slice()).unwrap_or(&[]);
        let mut results = Vec::with_capacity(input.len());
        for item in input {
            let mut res = self.eval(step, item, env)?;
            for stage in stages {
                if let Stage::Filter(p) = stage {
                    res = Some(self.filter(p, res, env)?);
                }
            }
            if let Some(r) = res {
                results.push(r);
            }
        }
        if last && results.len() == 1 && results[0].is_array() && !results[0].is_seq() {
            return Ok(results.pop().unwrap_or(Val::Null));
        }
        Ok(Val::seq(flatten_results(results)))
    }

    fn tuple_step(
        &mut self,
        step: &'a Node,
        input: &[V<'a>],
        tuples: Option<Vec<Tuple<'a>>>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Vec<Tuple<'a>>, Error> {
        let ann = step.ann();
        if let Kind::Sort(terms) = &step.kind {
            let mut result = match tuples {
                Some(t) => self.sort_tuples(terms, step.pos, t, env)?,
                None => {
                    let items = input.iter().flatten().cloned().collect();
                    let sorted = self.sort_values(terms, step.pos, items, env)?;
                    let index = ann.and_then(|a| a.index.as_deref());
                    sorted
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let mut t = Tuple {
                                at: Some(v),
                                binds: Vec::new(),
                            };
                            if let Some(index) = index {
                                t.set(index, Some(Val::Num(i as f64)));
                            }
                            t
                        })
                        .collect()
                }
            };
            if let Some(ann) = ann {
                result = self.stages(&ann.stages, result, env)?;
            }
            return Ok(result);
        }
        let tuples = tuples.unwrap_or_else(|| {
            input
                .iter()
                .map(|v| Tuple {
                    at: v.clone(),
                    binds: Vec::new(),
                })
                .collect()
        });
        let focus = ann.and_then(|a| a.focus.as_deref());
        let index = ann.and_then(|a| a.index.as_deref());
        let ancestor = ann.and_then(|a| a.ancestor.as_deref());
        let mut out = Vec::new();
        for t in &tuples {
            let frame = self.tuple_frame(env, t);
            let Some(res) = self.eval(step, &t.at, &frame)? else {
                continue;
            };
            if let Val::Tuples(inner) = &res {
                for r in inner.iter() {
                    let mut nt = t.clone();
                    nt.at = r.at.clone();
                    for (k, v) in &r.binds {
                        nt.set(k, v.clone());
                    }
                    out.push(nt);
                }
                continue;
            }
            let items = if res.is_array() {
                res.items()
            } else {
                vec![res]
            };
            for (bb, item) in items.into_iter().enumerate() {
                let mut nt = t.clone();
                match focus {
                    Some(f) => nt.set(f, Some(item)),
                    None => nt.at = Some(item),
                }
                if let Some(index) = index {
                    nt.set(index, Some(Val::Num(bb as f64)));
                }
                if let Some(label) = ancestor {
                    nt.set(label, t.at.clone());
                }
                out.push(nt);
            }
        }
        if let Some(ann) = ann {
            out = self.stages(&ann.stages, out, env)?;
        }
        Ok(out)
    }

    fn stages(
        &mut self,
        stages: &'a [Stage],
        mut tuples: Vec<Tuple<'a>>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Vec<Tuple<'a>>, Error> {
        for stage in stages {
            match stage {
                Stage::Filter(p) => tuples = self.filter_tuples(p, tuples, env)?,
                Stage::Index(name) => {
                    for (i, t) in tuples.iter_mut().enumerate() {
                        t.set(name, Some(Val::Num(i as f64)));
                    }
                }
            }
        }
        Ok(tuples)
    }

    /// A predicate `[…]`: a number selects by position (negative from the
    /// end), anything else keeps the items for which it is truthy.
    pub(super) fn filter(
        &mut self,
        pred: &'a Node,
        input: V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Val<'a>, Error> {
        let input = match input {
            Some(Val::Tuples(t)) => {
                let t = Rc::unwrap_or_clone(t);
                return Ok(Val::Tuples(Rc::new(self.filter_tuples(pred, t, env)?)));
            }
            None => return Ok(Val::seq(Vec::new())),
            Some(v) => v,
        };
        let items = if input.is_array() {
            input.items()
        } else {
            vec![input]
        };
        if let Kind::Num(n) = pred.kind {
            let mut index = n.floor();
            if index < 0.0 {
                index += items.len() as f64;
            }
            let mut out = Vec::new();
            if index >= 0.0 {
                if let Some(item) = items.get(index as usize) {
                    if item.is_array() {
                        return Ok(item.clone());
                    }
                    out.push(item.clone());
                }
            }
            return Ok(Val::seq(out));
        }
        let len = items.len();
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let res = self.eval(pred, &Some(item.clone()), env)?;
            for _ in 0..selects(&res, i, len)? {
                out.push(item.clone());
            }
        }
        Ok(Val::seq(out))
    }

    fn filter_tuples(
        &mut self,
        pred: &'a Node,
        tuples: Vec<Tuple<'a>>,
        env: &Rc<Frame<'a>>,
    ) -> Result<Vec<Tuple<'a>>, Error> {
        if let Kind::Num(n) = pred.kind {
            let mut index = n.floor();
            if index < 0.0 {
                index += tuples.len() as f64;
            }
            if index < 0.0 {
                return Ok(Vec::new());
            }
            return Ok(tuples.into_iter().nth(index as usize).into_iter().collect());
        }
        let len = tuples.len();
        let mut out = Vec::new();
        for (i, t) in tuples.into_iter().enumerate() {
            let frame = self.tuple_frame(env, &t);
            let res = self.eval(pred, &t.at, &frame)?;
            for _ in 0..selects(&res, i, len)? {
                out.push(t.clone());
            }
        }
        Ok(out)
    }
}

/// How many times item `index` of `len` is selected by predicate value
/// `res`: numbers (or arrays of numbers) are positions, anything else is
/// a condition.
fn selects(res: &V<'_>, index: usize, len: usize) -> Result<usize, Error> {
    let position_matches = |n: f64| {
        let mut ii = n.floor();
        if ii < 0.0 {
            ii += len as f64;
        }
        ii == index as f64
    };
    match res {
        Some(Val::Num(n)) if !n.is_nan() => {
            crate::jsonata::eval::ops::finite(*n)?;
            Ok(usize::from(position_matches(*n)))
        }
        Some(v) if v.is_array() && all_numbers(v)? => {
            let mut count = 0;
            v.for_each_item(|item| {
                if let Val::Num(n) = item {
                    if position_matches(n) {
                        count += 1;
                    }
                }
            });
            Ok(count)
        }
        other => Ok(usize::from(truthy(other)?)),
    }
}

fn all_numbers(v: &Val<'_>) -> Result<bool, Error> {
    let mut all = true;
    let mut err = None;
    v.for_each_item(|item| match item {
        Val::Num(n) if !n.is_nan() => {
            if !n.is_finite() && err.is_none() {
                err = Some(crate::jsonata::value::non_finite(n));
            }
        }
        _ => all = false,
    });
    match err {
        Some(e) => Err(e),
        None => Ok(all),
    }
}

/// Flatten step results one level; constructed arrays stay whole.
pub(super) fn flatten_results(results: Vec<Val<'_>>) -> Vec<Val<'_>> {
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        if r.is_array() && !r.is_cons() {
            r.for_each_item(|x| out.push(x));
        } else {
            out.push(r);
        }
    }
    out
}

impl<'a> Ev<'a, '_, '_> {
    /// A scope binding a tuple's variables.
    pub(super) fn tuple_frame(&mut self, env: &Rc<Frame<'a>>, t: &Tuple<'a>) -> Rc<Frame<'a>> {
        if t.binds.is_empty() {
            return env.clone();
        }
        let frame = self.frame(Some(env.clone()));
        for (k, v) in &t.binds {
            frame.bind(k, v.clone());
        }
        frame
    }
}
