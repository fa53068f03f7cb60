//! Calling functions: argument evaluation, signature checks and the
//! context argument (`-`), lambdas and their closures, partial
//! application, `~>`, and the trampoline that runs tail calls in a loop.

use std::rc::Rc;

use super::{Ev, Res};
use crate::jsonata::ast::{Kind, Node};
use crate::jsonata::functions::{self, Builtin};
use crate::jsonata::signature::{Signature, A, MAX_PARAMS};
use crate::jsonata::value::{Array, Frame, Func, Val, V};
use crate::jsonata::Error;

/// What a name resolves to, without allocating for library functions.
pub(crate) enum Callee<'a> {
    Value(V<'a>),
    Builtin(Builtin),
    Extension(usize),
}

/// A function to call: borrowed from a value or named directly.
pub(crate) enum Proc<'f, 'a> {
    Func(&'f Func<'a>),
    Builtin(Builtin),
    Extension(usize),
}

impl<'a> Ev<'a, '_, '_> {
    /// A function call `proc(args)`; `applied` is the left side of `~>`,
    /// which becomes the first argument.
    pub(super) fn call(
        &mut self,
        node: &'a Node,
        proc: &'a Node,
        args: &'a [Node],
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
        applied: Option<V<'a>>,
    ) -> Res<'a> {
        let callee = match &proc.kind {
            Kind::Var(name, builtin) if !name.is_empty() => self.resolve(name, *builtin, env),
            _ => Callee::Value(self.eval(proc, input, env)?),
        };
        let name = proc_name(proc);
        if let Callee::Value(None) = callee {
            if let Some(step) = first_name(proc) {
                if !matches!(self.resolve(step, None, env), Callee::Value(None)) {
                    return Err(Error::new(
                        "T1005",
                        format!("Attempted to invoke a non-function. Did you mean ${step}?"),
                    )
                    .at(node.pos)
                    .with_token(step));
                }
            }
        }
        let mut values = Vec::with_capacity(args.len() + usize::from(applied.is_some()));
        if let Some(first) = applied {
            values.push(first);
        }
        for a in args {
            values.push(self.eval(a, input, env)?);
        }
        let decorate = |e: Error| e.or_at(node.pos).or_token(name);
        match &callee {
            Callee::Value(Some(Val::Func(f))) => self.apply(Proc::Func(f), values, input, env),
            Callee::Builtin(b) => self.apply(Proc::Builtin(*b), values, input, env),
            Callee::Extension(i) => self.apply(Proc::Extension(*i), values, input, env),
            Callee::Value(_) => Err(not_a_function()),
        }
        .map_err(decorate)
    }

    /// Apply a function and run the tail calls it returns until a value
    /// comes back (jsonata-js's `apply` and its trampoline).
    pub(crate) fn apply(
        &mut self,
        proc: Proc<'_, 'a>,
        args: Vec<V<'a>>,
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        let mut result = self.apply_inner(proc, args, input, env)?;
        loop {
            let thunk = match &result {
                Some(Val::Func(f)) if matches!(**f, Func::Thunk { .. }) => f.clone(),
                _ => return Ok(result),
            };
            let Func::Thunk {
                call,
                env: tenv,
                input: tinput,
            } = &*thunk
            else {
                return Ok(result);
            };
            let Kind::Call { proc, args } = &call.kind else {
                return Ok(result);
            };
            let name = proc_name(proc);
            let callee = match &proc.kind {
                Kind::Var(n, b) if !n.is_empty() => self.resolve(n, *b, tenv),
                _ => Callee::Value(self.eval(proc, tinput, tenv)?),
            };
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(self.eval(a, tinput, tenv)?);
            }
            let decorate = |e: Error| e.or_at(proc.pos).or_token(name);
            result = match &callee {
                Callee::Value(Some(Val::Func(f))) => {
                    self.apply_inner(Proc::Func(f), values, input, env)
                }
                Callee::Builtin(b) => self.apply_inner(Proc::Builtin(*b), values, input, env),
                Callee::Extension(i) => self.apply_inner(Proc::Extension(*i), values, input, env),
                Callee::Value(_) => Err(not_a_function()),
            }
            .map_err(decorate)?;
        }
    }

    /// Apply a function value (convenience for the library).
    pub(crate) fn apply_value(
        &mut self,
        f: &Val<'a>,
        args: Vec<V<'a>>,
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        match f {
            Val::Func(func) => self.apply(Proc::Func(func), args, input, env),
            _ => Err(not_a_function()),
        }
    }

    fn apply_inner(
        &mut self,
        proc: Proc<'_, 'a>,
        args: Vec<V<'a>>,
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        match proc {
            Proc::Builtin(b) => {
                let args = validate(&b.signature(), args, input)?;
                functions::call(self, b, args, input, env)
            }
            Proc::Extension(i) => {
                let ext = &self.env.extensions[i];
                let sig = Signature::parse(ext.signature)?;
                let args = validate(&sig, args, input)?;
                self.call_extension(i, &args)
            }
            Proc::Func(f) => match f {
                Func::Builtin(b) => self.apply_inner(Proc::Builtin(*b), args, input, env),
                Func::Extension(i) => self.apply_inner(Proc::Extension(*i), args, input, env),
                Func::Lambda {
                    def,
                    env: closure,
                    input: captured,
                } => {
                    let args = match &def.signature {
                        Some(sig) => validate(sig, args, input)?,
                        None => args,
                    };
                    let frame = self.frame(Some(closure.clone()));
                    let mut args = args.into_iter();
                    for p in &def.params {
                        frame.bind(p, args.next().flatten());
                    }
                    self.eval(&def.body, captured, &frame)
                }
                Func::Thunk {
                    call,
                    env: tenv,
                    input: tinput,
                } => self.eval(call, tinput, tenv),
                Func::Partial { func, args: bound } => {
                    let mut supplied = args.into_iter();
                    let full: Vec<V<'a>> = bound
                        .iter()
                        .map(|b| match b {
                            Some(v) => v.clone(),
                            None => supplied.next().flatten(),
                        })
                        .collect();
                    self.apply_inner(Proc::Func(func), full, input, env)
                }
                Func::Regex(re) => {
                    let args = validate(&Signature::of("<s-n?:o>"), args, input)?;
                    functions::regex::call_regex(re, &args)
                }
                Func::RegexNext { re, text, from } => functions::regex::next_match(re, text, *from),
                Func::Transform { def, env: tenv } => {
                    let args = validate(&Signature::of("<(oa):o>"), args, input)?;
                    self.transform(def, tenv, args.into_iter().next().flatten())
                }
                Func::Chain(first, second) => {
                    let mid = self.apply(Proc::Func(first), args, input, env)?;
                    self.apply(Proc::Func(second), vec![mid], input, env)
                }
            },
        }
    }

    /// `f(a, ?, c)`: a function waiting for the `?` arguments.
    pub(super) fn partial(
        &mut self,
        node: &'a Node,
        proc: &'a Node,
        args: &'a [Option<Node>],
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        let mut bound = Vec::with_capacity(args.len());
        for a in args {
            bound.push(match a {
                None => None,
                Some(a) => Some(self.eval(a, input, env)?),
            });
        }
        let func = match &proc.kind {
            Kind::Var(name, builtin) if !name.is_empty() => match self.resolve(name, *builtin, env)
            {
                Callee::Value(v) => v,
                Callee::Builtin(b) => Some(Val::func(Func::Builtin(b))),
                Callee::Extension(i) => Some(Val::func(Func::Extension(i))),
            },
            _ => self.eval(proc, input, env)?,
        };
        match func {
            Some(Val::Func(f)) => {
                // a lambda binds every parameter it was not given a `?` for
                if let Func::Lambda { def, .. } = &*f {
                    bound.resize(def.params.len().max(bound.len()), Some(None));
                    bound.truncate(def.params.len());
                }
                Ok(Some(Val::func(Func::Partial {
                    func: f,
                    args: bound,
                })))
            }
            None if first_name(proc)
                .is_some_and(|n| !matches!(self.resolve(n, None, env), Callee::Value(None))) =>
            {
                let step = first_name(proc).unwrap_or_default();
                Err(Error::new(
                    "T1007",
                    format!("Attempted to partially apply a non-function. Did you mean ${step}?"),
                )
                .at(node.pos)
                .with_token(step))
            }
            _ => Err(
                Error::new("T1008", "Attempted to partially apply a non-function")
                    .at(node.pos)
                    .or_token(proc_name(proc)),
            ),
        }
    }

    /// `lhs ~> rhs`.
    pub(super) fn apply_op(
        &mut self,
        node: &'a Node,
        lhs: &'a Node,
        rhs: &'a Node,
        input: &V<'a>,
        env: &Rc<Frame<'a>>,
    ) -> Res<'a> {
        let l = self.eval(lhs, input, env)?;
        if let Kind::Call { proc, args } = &rhs.kind {
            return self.call(rhs, proc, args, input, env, Some(l));
        }
        let f = match self.eval(rhs, input, env)? {
            Some(Val::Func(f)) => f,
            _ => {
                return Err(Error::new(
                    "T2006",
                    "The right side of the function application operator ~> must be a function",
                )
                .at(node.pos))
            }
        };
        match l {
            Some(Val::Func(first)) => Ok(Some(Val::func(Func::Chain(first, f)))),
            other => self.apply(Proc::Func(&f), vec![other], input, env),
        }
    }

    /// How many arguments a function takes (jsonata-js's `getFunctionArity`),
    /// which decides what the higher-order functions pass it.
    pub(crate) fn arity(&self, f: &Func<'a>) -> usize {
        match f {
            Func::Builtin(b) => b.arity(),
            Func::Extension(i) => {
                Signature::parse(self.env.extensions[*i].signature).map_or(1, |s| s.params().len())
            }
            Func::Lambda { def, .. } => def.params.len(),
            Func::Thunk { .. } => 0,
            Func::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Func::Regex(_) => 2,
            Func::RegexNext { .. } => 0,
            Func::Transform { .. } | Func::Chain(..) => 1,
        }
    }
}

pub(crate) fn not_a_function() -> Error {
    Error::new("T1006", "Attempted to invoke a non-function")
}

/// The name jsonata-js reports for the function of a call.
fn proc_name(proc: &Node) -> &str {
    match &proc.kind {
        Kind::Var(n, _) => n,
        _ => first_name(proc).unwrap_or(""),
    }
}

fn first_name(proc: &Node) -> Option<&str> {
    match &proc.kind {
        Kind::Path { steps, .. } => match &steps[0].kind {
            Kind::Name(n) => Some(n),
            Kind::Var(n, _) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// Check arguments against a signature and return them as the function
/// receives them: the context for a missing `-` argument, arrays for `a`.
pub(crate) fn validate<'a>(
    sig: &Signature,
    args: Vec<V<'a>>,
    context: &V<'a>,
) -> Result<Vec<V<'a>>, Error> {
    let mut small = [0u8; 16];
    let mut big = Vec::new();
    let letters: &[u8] = if args.len() <= small.len() {
        for (i, a) in args.iter().enumerate() {
            small[i] = Val::letter(a);
        }
        &small[..args.len()]
    } else {
        big.extend(args.iter().map(Val::letter));
        &big
    };
    let Some(counts) = sig.assign(letters) else {
        let index = sig.blame(letters);
        return Err(Error::new(
            "T0410",
            format!("Argument {index} of function {{token}} does not match function signature"),
        ));
    };
    let mut out = Vec::with_capacity(sig.params().len().max(args.len()));
    let mut args = args.into_iter();
    // `index` counts the arguments taken (jsonata-js's argIndex, which an
    // optional parameter that matched nothing still advances); `at` is where
    // this parameter's matched letters start.
    let mut index = 0;
    let mut at = 0;
    for (p, &count) in sig.params().iter().zip(counts.iter()).take(MAX_PARAMS) {
        if count == 0 {
            if p.context {
                if p.accepts & Val::letter(context) == 0 {
                    return Err(Error::new(
                        "T0411",
                        format!(
                            "Context value is not a compatible type with argument {} of function {{token}}",
                            index + 1
                        ),
                    ));
                }
                out.push(context.clone());
            } else {
                out.push(args.next().flatten());
                index += 1;
            }
            continue;
        }
        let run = &letters[at..at + count];
        at += count;
        for &letter in run {
            let arg = args.next().flatten();
            index += 1;
            if p.kind != b'a' {
                out.push(arg);
                continue;
            }
            let Some(arg) = arg else {
                out.push(None);
                continue;
            };
            if p.sub != 0 && !array_items_match(p.sub, p.sub_simple, letter, run, &arg) {
                return Err(Error::new(
                    "T0412",
                    format!(
                        "Argument {index} of function {{token}} must be an array of {}",
                        plural(p.sub)
                    ),
                ));
            }
            out.push(Some(if letter == A {
                arg
            } else {
                Val::Arr(Rc::new(Array::plain(vec![arg])))
            }));
        }
    }
    Ok(out)
}

fn array_items_match(sub: u8, simple: bool, letter: u8, run: &[u8], arg: &Val<'_>) -> bool {
    let want = crate::jsonata::signature::letter_bit(sub);
    if letter != A {
        // jsonata-js compares the letters matched with the type parameter
        return simple && run.len() == 1 && run[0] == want;
    }
    if arg.len() == 0 {
        return true;
    }
    let first = Val::letter(&arg.item(0));
    if first != want {
        return false;
    }
    let mut same = true;
    arg.for_each_item(|item| {
        if Val::letter(&Some(item)) != first {
            same = false;
        }
    });
    same
}

fn plural(sub: u8) -> &'static str {
    match sub {
        b'a' => "arrays",
        b'b' => "booleans",
        b'f' => "functions",
        b'n' => "numbers",
        b'o' => "objects",
        b's' => "strings",
        _ => "values",
    }
}
