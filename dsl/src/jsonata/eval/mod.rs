//! The tree-walking evaluator. One [`Ev`] lives for one call of
//! `Expression::evaluate`; it holds the caller's [`Env`], the step and
//! depth counters behind [`Limits`](super::Limits), and the arenas that keep
//! expressions parsed by `$eval` and values returned by extensions alive
//! for the whole evaluation (so they can be borrowed like the input).

mod apply;
mod construct;
mod ops;
mod path;

use std::cell::OnceCell;
use std::rc::Rc;

use serde_json::Value;

use super::ast::{Kind, Node};
use super::functions::Builtin;
use super::value::{Array, Frame, Func, Str, Val, V};
use super::{Bindings, Env, Error};

pub(crate) use apply::Callee;
pub(crate) use construct::merge_sort;
pub(crate) use ops::{deep_equal, finite, utf16_cmp};

/// An append-only arena without `unsafe`: a chain of boxes, each set once,
/// so a reference to an item lives as long as the arena.
pub(crate) struct Arena<T> {
    head: OnceCell<Box<Link<T>>>,
}

pub(crate) struct Link<T> {
    item: T,
    next: OnceCell<Box<Link<T>>>,
}

impl<T> Arena<T> {
    pub fn new() -> Arena<T> {
        Arena {
            head: OnceCell::new(),
        }
    }
}

impl<T> Drop for Arena<T> {
    fn drop(&mut self) {
        // unlink iteratively: a long chain must not recurse on drop
        let mut next = self.head.take();
        while let Some(mut link) = next {
            next = link.next.take();
        }
    }
}

/// Where the next item of an arena goes.
struct Tail<'a, T> {
    arena: &'a Arena<T>,
    last: Option<&'a Link<T>>,
}

impl<'a, T> Tail<'a, T> {
    fn alloc(&mut self, item: T) -> &'a T {
        let cell: &'a OnceCell<Box<Link<T>>> = match self.last {
            None => &self.arena.head,
            Some(link) => &link.next,
        };
        // `last` is always the end of the chain, so the cell is empty
        let _ = cell.set(Box::new(Link {
            item,
            next: OnceCell::new(),
        }));
        let link: &'a Link<T> = cell.get().expect("the cell was just set");
        self.last = Some(link);
        &link.item
    }
}

pub(crate) struct Ev<'a, 'r, 'x> {
    pub env: &'r mut Env<'x>,
    pub bindings: &'a dyn Bindings,
    depth: usize,
    steps: u64,
    /// Every scope made, so that closures stored in the scopes they close
    /// over (recursive functions) can be released when evaluation ends.
    frames: Vec<std::rc::Weak<Frame<'a>>>,
    asts: Tail<'a, Node>,
    values: Tail<'a, Value>,
}

pub(crate) type Res<'a> = Result<V<'a>, Error>;

impl<'a, 'r, 'x> Ev<'a, 'r, 'x> {
    pub fn new(
        env: &'r mut Env<'x>,
        bindings: &'a dyn Bindings,
        asts: &'a Arena<Node>,
        values: &'a Arena<Value>,
    ) -> Self {
        Ev {
            env,
            bindings,
            depth: 0,
            steps: 0,
            frames: Vec::new(),
            asts: Tail {
                arena: asts,
                last: None,
            },
            values: Tail {
                arena: values,
                last: None,
            },
        }
    }

    /// Evaluate a whole expression against the caller's input.
    pub fn run(
        &mut self,
        root: &'a Node,
        input: Option<&'a Value>,
    ) -> Result<Option<Value>, Error> {
        let top = self.frame(None);
        let input = input.map(Val::json);
        top.bind("$", input.clone());
        // a top-level array is wrapped so that paths see it as one item
        let context = match input {
            Some(Val::JArr(a)) => Some(Val::Arr(Rc::new(Array {
                items: vec![Val::JArr(a)],
                seq: true,
                wrapper: true,
                ..Default::default()
            }))),
            other => other,
        };
        let result = self.eval(root, &context, &top)?;
        match result {
            None => Ok(None),
            Some(v) => super::value::to_json(&v, 0),
        }
    }

    /// A new scope inside `parent`.
    pub fn frame(&mut self, parent: Option<Rc<Frame<'a>>>) -> Rc<Frame<'a>> {
        let f = Frame::new(parent);
        if self.frames.len() == self.frames.capacity() && self.frames.len() >= 64 {
            self.frames.retain(|w| w.strong_count() > 0);
        }
        self.frames.push(Rc::downgrade(&f));
        f
    }

    /// Break the reference cycles between scopes and the closures bound
    /// in them.
    pub fn release(&mut self) {
        for f in self.frames.drain(..) {
            if let Some(f) = f.upgrade() {
                f.clear();
            }
        }
    }

    /// Call extension `i` with JSON arguments.
    pub(crate) fn call_extension(&mut self, i: usize, args: &[V<'a>]) -> Res<'a> {
        let mut json = Vec::with_capacity(args.len());
        for a in args {
            json.push(match a {
                Some(v) => super::value::to_json(v, 0)?,
                None => None,
            });
        }
        let call = self.env.extensions[i].call;
        match call(&json, self.env)? {
            None => Ok(None),
            Some(v) => {
                let v = self.keep_value(v);
                Ok(Some(Val::json(v)))
            }
        }
    }

    /// Keep an expression parsed during evaluation (`$eval`).
    pub fn keep_ast(&mut self, node: Node) -> &'a Node {
        self.asts.alloc(node)
    }

    /// Keep a JSON value made during evaluation (extension results).
    pub fn keep_value(&mut self, v: Value) -> &'a Value {
        self.values.alloc(v)
    }

    /// Evaluate `node` against the context `input` in scope `env`:
    /// jsonata-js's `evaluate`, including its predicates, grouping and
    /// the unwrapping of singleton sequences.
    pub fn eval(&mut self, node: &'a Node, input: &V<'a>, env: &Rc<Frame<'a>>) -> Res<'a> {
        self.depth += 1;
        self.steps += 1;
        if self.depth > self.env.limits.max_depth {
            self.depth -= 1;
            return Err(Error::new(
                "U1001",
                "Stack overflow error: Check for non-terminating recursive function.  Consider rewriting as tail-recursive.",
            )
            .at(node.pos));
        }
        if self.steps > self.env.limits.max_steps {
            self.depth -= 1;
            return Err(Error::new(
                "U1001",
                "Expression evaluation timeout: Check for infinite loop",
            )
            .at(node.pos));
        }
        let r = self.eval_annotated(node, input, env);
        self.depth -= 1;
        r
    }

    fn eval_annotated(&mut self, node: &'a Node, input: &V<'a>, env: &Rc<Frame<'a>>) -> Res<'a> {
        let mut result = self.eval_kind(node, input, env)?;
        if let Some(ann) = node.ann() {
            for p in &ann.predicate {
                result = Some(self.filter(p, result, env)?);
            }
            if let (Some(group), false) = (&ann.group, matches!(node.kind, Kind::Path { .. })) {
                result = Some(self.group(&group.pairs, group.pos, result, env)?);
            }
        }
        Ok(match result {
            Some(Val::Arr(a)) if a.seq => {
                let keep = a.keep || node.keep_array;
                match a.items.len() {
                    0 => None,
                    1 if !keep => Some(a.items[0].clone()),
                    _ if node.keep_array && !a.keep => {
                        let mut a = Rc::unwrap_or_clone(a);
                        a.keep = true;
                        Some(Val::Arr(Rc::new(a)))
                    }
                    _ => Some(Val::Arr(a)),
                }
            }
            other => other,
        })
    }

    fn eval_kind(&mut self, node: &'a Node, input: &V<'a>, env: &Rc<Frame<'a>>) -> Res<'a> {
        Ok(match &node.kind {
            Kind::Path { .. } => self.path(node, input, env)?,
            Kind::Name(name) => input.as_ref().and_then(|i| lookup_field(i, name)),
            Kind::Wildcard => wildcard(input),
            Kind::Descendant => descendants(input)?,
            Kind::Parent { label, .. } => env.lookup(label).flatten(),
            Kind::Str(s) => Some(Val::Str(Str::B(s))),
            Kind::Num(n) => Some(Val::Num(*n)),
            Kind::Bool(b) => Some(Val::Bool(*b)),
            Kind::Null => Some(Val::Null),
            Kind::Regex(re) => Some(Val::func(Func::Regex(re))),
            Kind::Var(name, builtin) => self.variable(name, *builtin, input, env),
            Kind::Binary(op, lhs, rhs) => self.binary(node, *op, lhs, rhs, input, env)?,
            Kind::Neg(e) => match self.eval(e, input, env)? {
                None => None,
                Some(v) => match ops::numeric(&v)? {
                    Some(n) => Some(Val::Num(-n)),
                    None => {
                        return Err(Error::new("D1002", "Cannot negate a non-numeric value")
                            .at(node.pos)
                            .with_token("-"))
                    }
                },
            },
            Kind::Array(items) => self.array(node, items, input, env)?,
            Kind::Object(pairs) => Some(self.group(pairs, node.pos, input.clone(), env)?),
            Kind::Sort(_) => None,
            Kind::Cond(c, t, e) => {
                let cond = self.eval(c, input, env)?;
                if super::functions::truthy(&cond)? {
                    self.eval(t, input, env)?
                } else if let Some(e) = e {
                    self.eval(e, input, env)?
                } else {
                    None
                }
            }
            Kind::Block { exprs, scoped } => {
                let frame;
                let env = if *scoped {
                    frame = self.frame(Some(env.clone()));
                    &frame
                } else {
                    env
                };
                let mut result = None;
                for e in exprs {
                    result = self.eval(e, input, env)?;
                }
                result
            }
            Kind::Bind(name, rhs) => {
                let v = self.eval(rhs, input, env)?;
                env.bind(name, v.clone());
                v
            }
            Kind::Call { proc, args } => self.call(node, proc, args, input, env, None)?,
            Kind::Partial { proc, args } => self.partial(node, proc, args, input, env)?,
            Kind::Lambda(def) => Some(Val::func(Func::Lambda {
                def,
                env: env.clone(),
                input: input.clone(),
            })),
            Kind::TailCall(call) => Some(Val::func(Func::Thunk {
                call,
                env: env.clone(),
                input: input.clone(),
            })),
            Kind::Apply(lhs, rhs) => self.apply_op(node, lhs, rhs, input, env)?,
            Kind::Transform(def) => Some(Val::func(Func::Transform {
                def,
                env: env.clone(),
            })),
        })
    }

    /// `$name`: the context for `$`, then the scopes, then the caller's
    /// bindings, then extensions, then the library.
    fn variable(
        &mut self,
        name: &'a str,
        builtin: Option<Builtin>,
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> V<'a> {
        if name.is_empty() {
            return match input {
                Some(Val::Arr(a)) if a.wrapper => a.items.first().cloned(),
                other => other.clone(),
            };
        }
        match self.resolve(name, builtin, env) {
            Callee::Value(v) => v,
            Callee::Builtin(b) => Some(Val::func(Func::Builtin(b))),
            Callee::Extension(i) => Some(Val::func(Func::Extension(i))),
        }
    }

    /// Look a variable up without allocating for library functions.
    pub fn resolve(&self, name: &str, builtin: Option<Builtin>, env: &Rc<Frame<'a>>) -> Callee<'a> {
        if let Some(v) = env.lookup(name) {
            return Callee::Value(v);
        }
        if let Some(v) = self.bindings.lookup(name) {
            return Callee::Value(Some(Val::json(v)));
        }
        if let Some(i) = self.env.extensions.iter().position(|e| e.name == name) {
            return Callee::Extension(i);
        }
        match builtin.or_else(|| Builtin::from_name(name)) {
            Some(b) => Callee::Builtin(b),
            None => Callee::Value(None),
        }
    }
}

/// jsonata-js's `lookup`: a field of an object, or of each object in an
/// array (flattened one level), as a sequence.
pub(crate) fn lookup_field<'a>(input: &Val<'a>, key: &str) -> V<'a> {
    match input {
        Val::JObj(o) => o.get(key).map(Val::json),
        Val::Obj(o) => o.get(key).cloned(),
        Val::JArr(_) | Val::Arr(_) => {
            let mut out = Vec::new();
            lookup_in_array(input, key, &mut out, 0);
            Some(Val::seq(out))
        }
        _ => None,
    }
}

fn lookup_in_array<'a>(input: &Val<'a>, key: &str, out: &mut Vec<Val<'a>>, depth: usize) {
    input.for_each_item(|item| {
        let res = match &item {
            Val::JArr(_) | Val::Arr(_) if depth < super::value::MAX_DATA_DEPTH => {
                let mut inner = Vec::new();
                lookup_in_array(&item, key, &mut inner, depth + 1);
                Some(Val::seq(inner))
            }
            other => lookup_field(other, key),
        };
        match res {
            Some(v) if v.is_array() => v.for_each_item(|x| out.push(x)),
            Some(v) => out.push(v),
            None => {}
        }
    });
}

/// `*`: the values of an object's fields, arrays flattened.
fn wildcard<'a>(input: &V<'a>) -> V<'a> {
    let input = match input {
        Some(Val::Arr(a)) if a.wrapper && !a.items.is_empty() => a.items.first().cloned(),
        other => other.clone(),
    };
    let mut out = Vec::new();
    let mut plain = false;
    if let Some(v) = &input {
        // an array is an object to JavaScript: its items are its values
        let values = if v.is_array() {
            v.items()
        } else {
            v.entries().into_iter().map(|(_, x)| x).collect()
        };
        if v.is_object() || v.is_array() {
            for value in values {
                if value.is_array() {
                    flatten(&value, &mut out, 0);
                    plain = true;
                } else {
                    out.push(value);
                }
            }
        }
    }
    // jsonata-js builds the result with `append` once an array is seen,
    // which makes it a plain array (not unwrapped when a singleton)
    Some(if plain {
        Val::array(out)
    } else {
        Val::seq(out)
    })
}

pub(crate) fn flatten<'a>(v: &Val<'a>, out: &mut Vec<Val<'a>>, depth: usize) {
    if v.is_array() && depth < super::value::MAX_DATA_DEPTH {
        v.for_each_item(|item| flatten(&item, out, depth + 1));
    } else {
        out.push(v.clone());
    }
}

/// `**`: every value below (and including) the context.
fn descendants<'a>(input: &V<'a>) -> Res<'a> {
    let Some(input) = input else { return Ok(None) };
    let mut out = Vec::new();
    recurse_descendants(input, &mut out, 0)?;
    Ok(if out.len() == 1 {
        out.pop()
    } else {
        Some(Val::seq(out))
    })
}

fn recurse_descendants<'a>(v: &Val<'a>, out: &mut Vec<Val<'a>>, depth: usize) -> Result<(), Error> {
    if depth > super::value::MAX_DATA_DEPTH {
        return Err(super::value::too_deep());
    }
    if v.is_array() {
        let mut r = Ok(());
        v.for_each_item(|item| {
            if r.is_ok() {
                r = recurse_descendants(&item, out, depth + 1);
            }
        });
        return r;
    }
    out.push(v.clone());
    if v.is_object() {
        for (_, value) in v.entries() {
            recurse_descendants(&value, out, depth + 1)?;
        }
    }
    Ok(())
}
