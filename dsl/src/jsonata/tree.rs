//! Walking the processed expression tree: its direct children (for the
//! passes that rewrite it) and a depth-first read-only walk over children
//! and annotations (for the checks that read it).

use super::ast::{Kind, Node, Stage};

/// Apply `f` to each direct child expression (not the annotations).
pub(crate) fn for_each_child(node: &mut Node, f: &mut dyn FnMut(&mut Node)) {
    match &mut node.kind {
        Kind::Path { steps, .. } => steps.iter_mut().for_each(f),
        Kind::Binary(_, l, r) | Kind::Apply(l, r) => {
            f(l);
            f(r);
        }
        Kind::Neg(e) | Kind::Bind(_, e) | Kind::TailCall(e) => f(e),
        Kind::Array(items) | Kind::Block { exprs: items, .. } => items.iter_mut().for_each(f),
        Kind::Object(pairs) => {
            for (k, v) in pairs {
                f(k);
                f(v);
            }
        }
        Kind::Sort(terms) => terms.iter_mut().for_each(|t| f(&mut t.expr)),
        Kind::Cond(c, t, e) => {
            f(c);
            f(t);
            if let Some(e) = e {
                f(e);
            }
        }
        Kind::Call { proc, args } => {
            f(proc);
            args.iter_mut().for_each(f);
        }
        Kind::Partial { proc, args } => {
            f(proc);
            args.iter_mut().flatten().for_each(f);
        }
        Kind::Lambda(def) => f(&mut def.body),
        Kind::Transform(def) => {
            f(&mut def.pattern);
            f(&mut def.update);
            if let Some(d) = &mut def.delete {
                f(d);
            }
        }
        _ => {}
    }
}

/// Depth-first walk over children and annotations; `f` returns whether to
/// descend into the node.
pub(crate) fn walk(node: &Node, f: &mut dyn FnMut(&Node) -> bool) {
    if !f(node) {
        return;
    }
    if let Some(ann) = node.ann() {
        for p in &ann.predicate {
            walk(p, f);
        }
        for s in &ann.stages {
            if let Stage::Filter(n) = s {
                walk(n, f);
            }
        }
        if let Some(g) = &ann.group {
            for (k, v) in &g.pairs {
                walk(k, f);
                walk(v, f);
            }
        }
    }
    // `for_each_child` needs `&mut`; walking by shared reference here.
    match &node.kind {
        Kind::Path { steps, .. } => steps.iter().for_each(|s| walk(s, f)),
        Kind::Binary(_, l, r) | Kind::Apply(l, r) => {
            walk(l, f);
            walk(r, f);
        }
        Kind::Neg(e) | Kind::Bind(_, e) | Kind::TailCall(e) => walk(e, f),
        Kind::Array(items) | Kind::Block { exprs: items, .. } => {
            items.iter().for_each(|i| walk(i, f))
        }
        Kind::Object(pairs) => pairs.iter().for_each(|(k, v)| {
            walk(k, f);
            walk(v, f);
        }),
        Kind::Sort(terms) => terms.iter().for_each(|t| walk(&t.expr, f)),
        Kind::Cond(c, t, e) => {
            walk(c, f);
            walk(t, f);
            if let Some(e) = e {
                walk(e, f);
            }
        }
        Kind::Call { proc, args } => {
            walk(proc, f);
            args.iter().for_each(|a| walk(a, f));
        }
        Kind::Partial { proc, args } => {
            walk(proc, f);
            args.iter().flatten().for_each(|a| walk(a, f));
        }
        Kind::Lambda(def) => walk(&def.body, f),
        Kind::Transform(def) => {
            walk(&def.pattern, f);
            walk(&def.update, f);
            if let Some(d) = &def.delete {
                walk(d, f);
            }
        }
        _ => {}
    }
}
