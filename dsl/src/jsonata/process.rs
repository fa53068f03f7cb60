//! The pass after parsing (jsonata-js's `processAST`): flattens `.` chains
//! into paths of steps, attaches predicates, `#`/`@` bindings, order-by and
//! group-by to steps, marks tail calls, and resolves each `%` (parent) to
//! the step whose context it reads.
//!
//! A `%` starts as a *slot* seeking its step, `level` steps up. Walking
//! back along the path, each name or wildcard step passed lowers the level;
//! the step where it reaches zero binds the slot's label in the tuple
//! stream. Slots live in a table because two `%`s resolving to one step
//! share a label, which is only known once both are seen.

use super::ast::{BinOp, Group, Kind, LambdaDef, Node, SortTerm, Stage, TransformDef};
use super::functions::Builtin;
use super::parser::{Syn, S};
use super::regex::Regex;
use super::tree::{for_each_child, walk};
use super::Error;

struct Slot {
    label: usize,
    level: i64,
}

pub(crate) struct Processor {
    slots: Vec<Slot>,
}

fn error(code: &'static str, message: impl Into<String>, pos: usize) -> Error {
    Error::new(code, message).at(pos)
}

impl Processor {
    /// Process the whole tree and resolve parent labels.
    pub fn run(syn: Syn) -> Result<Node, Error> {
        let mut p = Processor { slots: Vec::new() };
        let mut node = p.process(syn)?;
        let seeking = node.ann().is_some_and(|a| !a.seeking_parent.is_empty());
        if matches!(node.kind, Kind::Parent { .. }) || seeking {
            let mut e = error(
                "S0217",
                "The object representing the 'parent' cannot be derived from this expression",
                node.pos,
            );
            e.token = Some(node.type_name().to_string());
            return Err(e);
        }
        p.label(&mut node);
        Ok(node)
    }

    fn process(&mut self, syn: Syn) -> Result<Node, Error> {
        let pos = syn.pos;
        let keep = syn.keep_array;
        let mut result = match syn.s {
            S::Binary(op, lhs, rhs) => self.binary(op, *lhs, *rhs, pos, keep)?,
            S::GroupBy(lhs, pairs) => {
                let mut result = self.process(*lhs)?;
                if result.ann().is_some_and(|a| a.group.is_some()) {
                    return Err(error(
                        "S0210",
                        "Each step can only have one grouping expression",
                        pos,
                    ));
                }
                let pairs = self.pairs(pairs, None)?;
                result.ann_mut().group = Some(Group { pairs, pos });
                result
            }
            S::OrderBy(lhs, terms) => self.order_by(*lhs, terms, pos)?,
            S::Array(items) => {
                let mut node = Node::new(Kind::Array(Vec::new()), pos);
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.process(item)?;
                    push_ancestry(&mut node, &v);
                    out.push(v);
                }
                node.kind = Kind::Array(out);
                node
            }
            S::Object(pairs) => {
                let mut node = Node::new(Kind::Null, pos);
                let pairs = self.pairs(pairs, Some(&mut node))?;
                node.kind = Kind::Object(pairs);
                node
            }
            S::Neg(e) => {
                let e = self.process(*e)?;
                if let Kind::Num(n) = e.kind {
                    Node::new(Kind::Num(-n), e.pos)
                } else {
                    let mut node = Node::new(Kind::Null, pos);
                    push_ancestry(&mut node, &e);
                    node.kind = Kind::Neg(Box::new(e));
                    node
                }
            }
            S::Call {
                proc,
                args,
                partial,
            } => self.call(*proc, args, partial, pos)?,
            S::Lambda {
                params,
                signature,
                body,
            } => {
                let body = tail_call_optimize(self.process(*body)?);
                Node::new(
                    Kind::Lambda(Box::new(LambdaDef {
                        params,
                        signature,
                        body,
                    })),
                    pos,
                )
            }
            S::Cond(c, t, e) => {
                let mut node = Node::new(Kind::Null, pos);
                let c = self.process(*c)?;
                push_ancestry(&mut node, &c);
                let t = self.process(*t)?;
                push_ancestry(&mut node, &t);
                let e = match e {
                    Some(e) => {
                        let e = self.process(*e)?;
                        push_ancestry(&mut node, &e);
                        Some(Box::new(e))
                    }
                    None => None,
                };
                node.kind = Kind::Cond(Box::new(c), Box::new(t), e);
                node
            }
            S::Transform(p, u, d) => {
                let pattern = self.process(*p)?;
                let update = self.process(*u)?;
                let delete = d.map(|d| self.process(*d)).transpose()?;
                Node::new(
                    Kind::Transform(Box::new(TransformDef {
                        pattern,
                        update,
                        delete,
                    })),
                    pos,
                )
            }
            S::Block(exprs) => {
                let mut node = Node::new(Kind::Null, pos);
                let mut out = Vec::with_capacity(exprs.len());
                let mut consarray = false;
                for e in exprs {
                    let part = self.process(e)?;
                    push_ancestry(&mut node, &part);
                    if is_consarray(&part) {
                        consarray = true;
                    }
                    out.push(part);
                }
                if consarray {
                    node.ann_mut().consarray = true;
                }
                let scoped = out.iter().any(binds_variables);
                node.kind = Kind::Block { exprs: out, scoped };
                node
            }
            S::Name(n) => name_path(n, pos, keep),
            S::OpName(op) => name_path(op.to_string(), pos, keep),
            S::Parent => {
                let slot = self.slots.len();
                self.slots.push(Slot {
                    label: slot,
                    level: 1,
                });
                Node::new(
                    Kind::Parent {
                        label: String::new(),
                        slot,
                    },
                    pos,
                )
            }
            S::Str(s) => Node::new(Kind::Str(s), pos),
            S::Num(n) => Node::new(Kind::Num(n), pos),
            S::Bool(b) => Node::new(Kind::Bool(b), pos),
            S::Null => Node::new(Kind::Null, pos),
            S::Wildcard => Node::new(Kind::Wildcard, pos),
            S::Descendant => Node::new(Kind::Descendant, pos),
            S::Var(v) => {
                let builtin = Builtin::from_name(&v);
                Node::new(Kind::Var(v, builtin), pos)
            }
            S::Regex { pattern, flags } => {
                let re = Regex::new(&pattern, &flags).map_err(|e| e.at(pos))?;
                Node::new(Kind::Regex(Box::new(re)), pos)
            }
            S::End => return Err(error("S0207", "Unexpected end of expression", pos)),
            S::Placeholder => {
                let mut e = error("S0201", "Syntax error: ?", pos);
                e.token = Some("?".into());
                return Err(e);
            }
        };
        if keep {
            result.keep_array = true;
        }
        Ok(result)
    }

    fn pairs(
        &mut self,
        pairs: Vec<(Syn, Syn)>,
        mut owner: Option<&mut Node>,
    ) -> Result<Vec<(Node, Node)>, Error> {
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let k = self.process(k)?;
            let v = self.process(v)?;
            if let Some(owner) = owner.as_deref_mut() {
                push_ancestry(owner, &k);
                push_ancestry(owner, &v);
            }
            out.push((k, v));
        }
        Ok(out)
    }

    fn call(
        &mut self,
        proc: Syn,
        args: Vec<Syn>,
        partial: bool,
        pos: usize,
    ) -> Result<Node, Error> {
        let mut node = Node::new(Kind::Null, pos);
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            if matches!(a.s, S::Placeholder) {
                out.push(None);
            } else {
                let a = self.process(a)?;
                push_ancestry(&mut node, &a);
                out.push(Some(a));
            }
        }
        let proc = Box::new(self.process(proc)?);
        node.kind = if partial {
            Kind::Partial { proc, args: out }
        } else {
            Kind::Call {
                proc,
                args: out.into_iter().flatten().collect(),
            }
        };
        Ok(node)
    }

    fn binary(
        &mut self,
        op: &'static str,
        lhs: Syn,
        rhs: Syn,
        pos: usize,
        keep: bool,
    ) -> Result<Node, Error> {
        match op {
            "." => self.dot(lhs, rhs),
            "[" => self.predicate(lhs, rhs, pos),
            ":=" => {
                let S::Var(name) = lhs.s else {
                    return Err(error(
                        "S0212",
                        "The left side of := must be a variable name (start with $)",
                        pos,
                    ));
                };
                let rhs = self.process(rhs)?;
                let mut node = Node::new(Kind::Null, pos);
                push_ancestry(&mut node, &rhs);
                node.kind = Kind::Bind(name, Box::new(rhs));
                Ok(node)
            }
            "@" => self.focus(lhs, rhs, pos, keep),
            "#" => self.index(lhs, rhs),
            "~>" => {
                let lhs = self.process(lhs)?;
                let rhs = self.process(rhs)?;
                let mut node = Node::new(Kind::Null, pos);
                node.keep_array = lhs.keep_array || rhs.keep_array;
                node.kind = Kind::Apply(Box::new(lhs), Box::new(rhs));
                Ok(node)
            }
            _ => {
                let bop = BinOp::from_token(op).ok_or_else(|| {
                    let mut e = error("S0201", format!("Syntax error: {op}"), pos);
                    e.token = Some(op.to_string());
                    e
                })?;
                let lhs = self.process(lhs)?;
                let rhs = self.process(rhs)?;
                let mut node = Node::new(Kind::Null, pos);
                push_ancestry(&mut node, &lhs);
                push_ancestry(&mut node, &rhs);
                node.kind = Kind::Binary(bop, Box::new(lhs), Box::new(rhs));
                Ok(node)
            }
        }
    }

    fn dot(&mut self, lhs: Syn, rhs: Syn) -> Result<Node, Error> {
        let lstep = self.process(lhs)?;
        let lpos = lstep.pos;
        let parent_slot = match lstep.kind {
            Kind::Parent { slot, .. } => Some(slot),
            _ => None,
        };
        let mut result = if matches!(lstep.kind, Kind::Path { .. }) {
            lstep
        } else {
            Node::new(
                Kind::Path {
                    steps: vec![lstep],
                    keep_singleton: false,
                },
                lpos,
            )
        };
        if let Some(slot) = parent_slot {
            result.ann_mut().seeking_parent = vec![slot];
        }
        let rest = self.process(rhs)?;
        {
            let Kind::Path {
                steps,
                keep_singleton,
            } = &mut result.kind
            else {
                unreachable!("result is a path")
            };
            match rest.kind {
                Kind::Path { steps: more, .. } => steps.extend(more),
                _ => {
                    let mut rest = rest;
                    if let Some(ann) = rest.ann.as_deref_mut() {
                        if !ann.predicate.is_empty() {
                            let preds = std::mem::take(&mut ann.predicate);
                            ann.stages = preds.into_iter().map(Stage::Filter).collect();
                        }
                    }
                    steps.push(rest);
                }
            }
            for step in steps.iter_mut() {
                match &step.kind {
                    Kind::Num(_) | Kind::Bool(_) | Kind::Null => {
                        return Err(error(
                            "S0213",
                            format!(
                                "The literal value {} cannot be used as a step within a path expression",
                                literal_text(&step.kind)
                            ),
                            step.pos,
                        ));
                    }
                    Kind::Str(s) => step.kind = Kind::Name(s.clone()),
                    _ => {}
                }
            }
            if steps.iter().any(|s| s.keep_array) {
                *keep_singleton = true;
            }
            if matches!(steps[0].kind, Kind::Array(_)) {
                steps[0].ann_mut().consarray = true;
            }
            let last = steps.len() - 1;
            if matches!(steps[last].kind, Kind::Array(_)) {
                steps[last].ann_mut().consarray = true;
            }
        }
        self.resolve_ancestry(&mut result)?;
        Ok(result)
    }

    fn predicate(&mut self, lhs: Syn, rhs: Syn, pos: usize) -> Result<Node, Error> {
        let mut result = self.process(lhs)?;
        let predicate = self.process(rhs)?;
        let is_path = matches!(result.kind, Kind::Path { .. });
        let step: &mut Node = match &mut result.kind {
            Kind::Path { steps, .. } => steps.last_mut().expect("paths have steps"),
            _ => &mut result,
        };
        if step.ann().is_some_and(|a| a.group.is_some()) {
            return Err(error(
                "S0209",
                "A predicate cannot follow a grouping expression in a step",
                pos,
            ));
        }
        let seeking: Vec<usize> = predicate
            .ann()
            .map(|a| a.seeking_parent.clone())
            .unwrap_or_default();
        if !seeking.is_empty() {
            for slot in seeking {
                if self.slots[slot].level == 1 {
                    self.seek_parent(step, slot)?;
                } else {
                    self.slots[slot].level -= 1;
                }
            }
            push_ancestry(step, &predicate);
        }
        if is_path {
            step.ann_mut().stages.push(Stage::Filter(predicate));
        } else {
            step.ann_mut().predicate.push(predicate);
        }
        Ok(result)
    }

    fn order_by(&mut self, lhs: Syn, terms: Vec<(bool, Syn)>, pos: usize) -> Result<Node, Error> {
        let result = self.process(lhs)?;
        let mut result = if matches!(result.kind, Kind::Path { .. }) {
            result
        } else {
            let p = result.pos;
            Node::new(
                Kind::Path {
                    steps: vec![result],
                    keep_singleton: false,
                },
                p,
            )
        };
        let mut sort = Node::new(Kind::Null, pos);
        let mut out = Vec::with_capacity(terms.len());
        for (descending, e) in terms {
            let expr = self.process(e)?;
            push_ancestry(&mut sort, &expr);
            out.push(SortTerm { descending, expr });
        }
        sort.kind = Kind::Sort(out);
        if let Kind::Path { steps, .. } = &mut result.kind {
            steps.push(sort);
        }
        self.resolve_ancestry(&mut result)?;
        Ok(result)
    }

    fn focus(&mut self, lhs: Syn, rhs: Syn, pos: usize, keep: bool) -> Result<Node, Error> {
        let S::Var(name) = rhs.s else {
            return Err(error(
                "S0214",
                "The right side of @ must be a variable name (start with $)",
                pos,
            ));
        };
        let mut result = self.process(lhs)?;
        let step: &mut Node = match &mut result.kind {
            Kind::Path { steps, .. } => steps.last_mut().expect("paths have steps"),
            _ => &mut result,
        };
        if step
            .ann()
            .is_some_and(|a| !a.stages.is_empty() || !a.predicate.is_empty())
        {
            return Err(error(
                "S0215",
                "A context variable binding must precede any predicates on a step",
                pos,
            ));
        }
        if matches!(step.kind, Kind::Sort(_)) {
            return Err(error(
                "S0216",
                "A context variable binding must precede the 'order-by' clause on a step",
                pos,
            ));
        }
        if keep {
            step.keep_array = true;
        }
        let ann = step.ann_mut();
        ann.focus = Some(name);
        ann.tuple = true;
        Ok(result)
    }

    fn index(&mut self, lhs: Syn, rhs: Syn) -> Result<Node, Error> {
        let S::Var(name) = rhs.s else {
            return Err(error(
                "S0214",
                "The right side of # must be a variable name (start with $)",
                rhs.pos,
            ));
        };
        let result = self.process(lhs)?;
        let mut result = if matches!(result.kind, Kind::Path { .. }) {
            result
        } else {
            let mut step = result;
            if let Some(ann) = step.ann.as_deref_mut() {
                if !ann.predicate.is_empty() {
                    let preds = std::mem::take(&mut ann.predicate);
                    ann.stages = preds.into_iter().map(Stage::Filter).collect();
                }
            }
            let p = step.pos;
            Node::new(
                Kind::Path {
                    steps: vec![step],
                    keep_singleton: false,
                },
                p,
            )
        };
        if let Kind::Path { steps, .. } = &mut result.kind {
            let step = steps.last_mut().expect("paths have steps");
            let ann = step.ann_mut();
            if ann.stages.is_empty() {
                ann.index = Some(name);
            } else {
                ann.stages.push(Stage::Index(name));
            }
            ann.tuple = true;
        }
        Ok(result)
    }

    fn seek_parent(&mut self, node: &mut Node, slot: usize) -> Result<(), Error> {
        match &mut node.kind {
            Kind::Name(_) | Kind::Wildcard => {
                self.slots[slot].level -= 1;
                if self.slots[slot].level == 0 {
                    let ann = node.ann_mut();
                    if let Some(existing) = ann.ancestor_slot {
                        self.slots[slot].label = self.slots[existing].label;
                    }
                    ann.ancestor_slot = Some(slot);
                    ann.tuple = true;
                }
            }
            Kind::Parent { .. } => self.slots[slot].level += 1,
            Kind::Block { exprs, .. } => {
                if let Some(last) = exprs.last_mut() {
                    self.seek_parent(last, slot)?;
                    node.ann_mut().tuple = true;
                }
            }
            Kind::Path { steps, .. } => {
                let mut index = steps.len() as isize - 1;
                self.seek_parent(&mut steps[index as usize], slot)?;
                index -= 1;
                while self.slots[slot].level > 0 && index >= 0 {
                    self.seek_parent(&mut steps[index as usize], slot)?;
                    index -= 1;
                }
                node.ann_mut().tuple = true;
            }
            _ => {
                let mut e = error(
                    "S0217",
                    "The object representing the 'parent' cannot be derived from this expression",
                    node.pos,
                );
                e.token = Some(node.type_name().to_string());
                return Err(e);
            }
        }
        Ok(())
    }

    fn resolve_ancestry(&mut self, path: &mut Node) -> Result<(), Error> {
        let Kind::Path { steps, .. } = &mut path.kind else {
            return Ok(());
        };
        let last = &steps[steps.len() - 1];
        let mut slots: Vec<usize> = last
            .ann()
            .map(|a| a.seeking_parent.clone())
            .unwrap_or_default();
        if let Kind::Parent { slot, .. } = last.kind {
            slots.push(slot);
        }
        let mut unresolved = Vec::new();
        for slot in slots {
            let mut index = steps.len() as isize - 2;
            while self.slots[slot].level > 0 {
                if index < 0 {
                    unresolved.push(slot);
                    break;
                }
                let mut i = index as usize;
                index -= 1;
                // contiguous steps that bind the focus count as one
                while index >= 0
                    && steps[i].focus().is_some()
                    && steps[index as usize].focus().is_some()
                {
                    i = index as usize;
                    index -= 1;
                }
                self.seek_parent(&mut steps[i], slot)?;
            }
        }
        if !unresolved.is_empty() {
            path.ann_mut().seeking_parent.extend(unresolved);
        }
        Ok(())
    }

    /// Give every `%` and every step it resolved to their final label.
    fn label(&self, node: &mut Node) {
        let name = |slot: usize| format!("!{}", self.slots[slot].label);
        if let Kind::Parent { label, slot } = &mut node.kind {
            *label = name(*slot);
        }
        if let Some(ann) = node.ann.as_deref_mut() {
            if let Some(slot) = ann.ancestor_slot {
                ann.ancestor = Some(name(slot));
            }
            for p in &mut ann.predicate {
                self.label(p);
            }
            for s in &mut ann.stages {
                if let Stage::Filter(n) = s {
                    self.label(n);
                }
            }
            if let Some(g) = &mut ann.group {
                for (k, v) in &mut g.pairs {
                    self.label(k);
                    self.label(v);
                }
            }
        }
        for_each_child(node, &mut |c| self.label(c));
    }
}

fn literal_text(kind: &Kind) -> String {
    match kind {
        Kind::Num(n) => super::value::format_number(*n),
        Kind::Bool(b) => b.to_string(),
        _ => "null".into(),
    }
}

fn name_path(name: String, pos: usize, keep: bool) -> Node {
    let step = Node::new(Kind::Name(name), pos);
    let mut step = step;
    step.keep_array = keep;
    Node::new(
        Kind::Path {
            steps: vec![step],
            keep_singleton: keep,
        },
        pos,
    )
}

fn is_consarray(node: &Node) -> bool {
    let flagged = |n: &Node| n.ann().is_some_and(|a| a.consarray);
    flagged(node) || matches!(&node.kind, Kind::Path { steps, .. } if flagged(&steps[0]))
}

fn push_ancestry(result: &mut Node, value: &Node) {
    let mut slots: Vec<usize> = value
        .ann()
        .map(|a| a.seeking_parent.clone())
        .unwrap_or_default();
    if let Kind::Parent { slot, .. } = value.kind {
        slots.push(slot);
    }
    if !slots.is_empty() {
        result.ann_mut().seeking_parent.extend(slots);
    }
}

/// A call in tail position becomes a thunk the trampoline runs.
fn tail_call_optimize(mut expr: Node) -> Node {
    let unfiltered = expr.ann().is_none_or(|a| a.predicate.is_empty());
    match &mut expr.kind {
        Kind::Call { .. } if unfiltered => {
            let pos = expr.pos;
            Node::new(Kind::TailCall(Box::new(expr)), pos)
        }
        Kind::Cond(_, then, otherwise) => {
            let t = std::mem::replace(then.as_mut(), Node::new(Kind::Null, 0));
            **then = tail_call_optimize(t);
            if let Some(o) = otherwise {
                let e = std::mem::replace(o.as_mut(), Node::new(Kind::Null, 0));
                **o = tail_call_optimize(e);
            }
            expr
        }
        Kind::Block { exprs, .. } => {
            if let Some(last) = exprs.pop() {
                exprs.push(tail_call_optimize(last));
            }
            expr
        }
        _ => expr,
    }
}

/// Whether evaluating this (outside nested blocks and lambdas) can bind a
/// variable in the enclosing frame: a `:=`, or `$eval` (which runs in the
/// caller's frame). Blocks that cannot are evaluated without a new frame.
fn binds_variables(node: &Node) -> bool {
    let mut found = false;
    walk(node, &mut |n| match &n.kind {
        Kind::Bind(..) => {
            found = true;
            false
        }
        Kind::Call { proc, .. } | Kind::Partial { proc, .. } if matches!(&proc.kind, Kind::Var(v, _) if v == "eval") =>
        {
            found = true;
            false
        }
        Kind::Block { .. } | Kind::Lambda(_) => false,
        _ => true,
    });
    found
}
