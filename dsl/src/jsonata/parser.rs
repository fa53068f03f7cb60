//! Top-down operator-precedence (Pratt) parser, with jsonata-js's binding
//! powers, producing the raw syntax tree [`Syn`] that `process` turns into
//! the evaluator's [`Node`](super::ast::Node).
//!
//! Nesting is bounded ([`MAX_NESTING`]) so that neither this parser nor the
//! passes after it can overflow the Rust stack on hostile input.

use super::lexer::{Lexer, Tok, Token};
use super::signature::Signature;
use super::Error;

/// Deepest nesting of the syntax tree accepted. jsonata-js has no such limit
/// (it is bounded by the JavaScript stack); expressions written by people
/// stay far below it.
pub(crate) const MAX_NESTING: u32 = 1000;

#[derive(Debug)]
pub(crate) struct Syn {
    pub s: S,
    pub pos: usize,
    pub keep_array: bool,
    depth: u32,
}

#[derive(Debug)]
pub(crate) enum S {
    Name(String),
    Var(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex {
        pattern: String,
        flags: String,
    },
    /// `and`, `or`, `in` used where a name is expected.
    OpName(&'static str),
    Wildcard,
    Descendant,
    Parent,
    /// The end of the text where an operand was expected.
    End,
    /// `?` as an argument of a partial application.
    Placeholder,
    Binary(&'static str, Box<Syn>, Box<Syn>),
    Neg(Box<Syn>),
    Array(Vec<Syn>),
    Object(Vec<(Syn, Syn)>),
    GroupBy(Box<Syn>, Vec<(Syn, Syn)>),
    OrderBy(Box<Syn>, Vec<(bool, Syn)>),
    Call {
        proc: Box<Syn>,
        args: Vec<Syn>,
        partial: bool,
    },
    Lambda {
        params: Vec<String>,
        signature: Option<Signature>,
        body: Box<Syn>,
    },
    Cond(Box<Syn>, Box<Syn>, Option<Box<Syn>>),
    Block(Vec<Syn>),
    Transform(Box<Syn>, Box<Syn>, Option<Box<Syn>>),
}

impl Syn {
    fn leaf(s: S, pos: usize) -> Syn {
        Syn {
            s,
            pos,
            keep_array: false,
            depth: 1,
        }
    }

    fn with(s: S, pos: usize, children: &[u32]) -> Result<Syn, Error> {
        let depth = 1 + children.iter().copied().max().unwrap_or(0);
        if depth > MAX_NESTING {
            return Err(too_deep(pos));
        }
        Ok(Syn {
            s,
            pos,
            keep_array: false,
            depth,
        })
    }
}

fn too_deep(pos: usize) -> Error {
    Error::new(
        "S0201",
        format!("Syntax error: the expression is nested more than {MAX_NESTING} levels deep"),
    )
    .at(pos)
}

/// Left binding power of an operator token (0 for everything else).
fn lbp(tok: &Tok) -> u32 {
    match tok {
        Tok::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "*" | "/" | "%" => 60,
            "+" | "-" | "&" => 50,
            "=" | "<" | ">" | "!=" | "<=" | ">=" | "~>" | "in" | "^" | "?:" | "??" => 40,
            "and" => 30,
            "or" => 25,
            "?" => 20,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

/// The text a token stands for, as jsonata-js rebuilds a lambda signature.
fn token_text(tok: &Tok) -> String {
    match tok {
        Tok::Op(op) => (*op).to_string(),
        Tok::Name(s) | Tok::Str(s) => s.clone(),
        Tok::Var(s) => format!("${s}"),
        Tok::Num(n) => super::value::format_number(*n),
        Tok::Bool(b) => b.to_string(),
        Tok::Null => "null".into(),
        Tok::Regex { pattern, .. } => format!("/{pattern}/"),
        Tok::End => String::new(),
    }
}

fn token_value(tok: &Tok) -> Option<String> {
    match tok {
        Tok::End => None,
        t => Some(token_text(t)),
    }
}

pub(crate) struct Parser {
    lexer: Lexer,
    node: Token,
    /// Pratt recursion depth, bounded like the tree's.
    depth: u32,
}

fn is_op(t: &Token, op: &str) -> bool {
    matches!(t.tok, Tok::Op(o) if o == op)
}

impl Parser {
    pub fn parse(text: &str) -> Result<Syn, Error> {
        let mut p = Parser {
            lexer: Lexer::new(text),
            node: Token {
                tok: Tok::End,
                pos: 0,
            },
            depth: 0,
        };
        p.advance(None, false)?;
        let expr = p.expression(0)?;
        if p.node.tok != Tok::End {
            return Err(p.syntax_error());
        }
        Ok(expr)
    }

    fn syntax_error(&self) -> Error {
        let token = token_text(&self.node.tok);
        let mut e = Error::new("S0201", format!("Syntax error: {token}")).at(self.node.pos);
        e.token = Some(token);
        e
    }

    /// Check the current token is `id` (when given), then read the next.
    fn advance(&mut self, id: Option<&str>, infix: bool) -> Result<(), Error> {
        if let Some(id) = id {
            if !is_op(&self.node, id) {
                let (code, message) = if self.node.tok == Tok::End {
                    ("S0203", format!("Expected {id} before end of expression"))
                } else {
                    (
                        "S0202",
                        format!("Expected {id}, got {}", token_text(&self.node.tok)),
                    )
                };
                let mut e = Error::new(code, message).at(self.node.pos);
                e.token = token_value(&self.node.tok);
                return Err(e);
            }
        }
        let next = self.lexer.next(infix)?;
        if let Tok::Op(op @ ("!" | "~")) = next.tok {
            let mut e = Error::new("S0204", format!("Unknown operator: {op}")).at(next.pos);
            e.token = Some(op.to_string());
            return Err(e);
        }
        self.node = next;
        Ok(())
    }

    fn expression(&mut self, rbp: u32) -> Result<Syn, Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(too_deep(self.node.pos));
        }
        let t = self.node.clone();
        self.advance(None, true)?;
        let mut left = self.nud(t)?;
        while rbp < lbp(&self.node.tok) {
            let t = self.node.clone();
            self.advance(None, false)?;
            left = self.led(t, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, t: Token) -> Result<Syn, Error> {
        let pos = t.pos;
        let leaf = |s| Ok(Syn::leaf(s, pos));
        match t.tok {
            Tok::Name(n) => leaf(S::Name(n)),
            Tok::Var(n) => leaf(S::Var(n)),
            Tok::Str(s) => leaf(S::Str(s)),
            Tok::Num(n) => leaf(S::Num(n)),
            Tok::Bool(b) => leaf(S::Bool(b)),
            Tok::Null => leaf(S::Null),
            Tok::Regex { pattern, flags } => leaf(S::Regex { pattern, flags }),
            Tok::End => leaf(S::End),
            Tok::Op(op) => match op {
                "and" | "or" | "in" => leaf(S::OpName(op)),
                "*" => leaf(S::Wildcard),
                "**" => leaf(S::Descendant),
                "%" => leaf(S::Parent),
                "-" => {
                    let e = self.expression(70)?;
                    let d = e.depth;
                    Syn::with(S::Neg(Box::new(e)), pos, &[d])
                }
                "(" => self.block(pos),
                "[" => self.array(pos),
                "{" => {
                    let pairs = self.object_pairs()?;
                    let d = pairs_depth(&pairs);
                    Syn::with(S::Object(pairs), pos, &[d])
                }
                "|" => self.transform(pos),
                _ => {
                    let mut e = Error::new(
                        "S0211",
                        format!("The symbol {op} cannot be used as a unary operator"),
                    )
                    .at(pos);
                    e.token = Some(op.to_string());
                    Err(e)
                }
            },
        }
    }

    fn block(&mut self, pos: usize) -> Result<Syn, Error> {
        let mut exprs = Vec::new();
        while !is_op(&self.node, ")") {
            exprs.push(self.expression(0)?);
            if !is_op(&self.node, ";") {
                break;
            }
            self.advance(Some(";"), false)?;
        }
        self.advance(Some(")"), true)?;
        let d = exprs.iter().map(|e| e.depth).max().unwrap_or(0);
        Syn::with(S::Block(exprs), pos, &[d])
    }

    fn array(&mut self, pos: usize) -> Result<Syn, Error> {
        let mut items = Vec::new();
        if !is_op(&self.node, "]") {
            loop {
                let mut item = self.expression(0)?;
                if is_op(&self.node, "..") {
                    let rpos = self.node.pos;
                    self.advance(Some(".."), false)?;
                    let rhs = self.expression(0)?;
                    let d = [item.depth, rhs.depth];
                    item = Syn::with(S::Binary("..", Box::new(item), Box::new(rhs)), rpos, &d)?;
                }
                items.push(item);
                if !is_op(&self.node, ",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("]"), true)?;
        let d = items.iter().map(|e| e.depth).max().unwrap_or(0);
        Syn::with(S::Array(items), pos, &[d])
    }

    fn object_pairs(&mut self) -> Result<Vec<(Syn, Syn)>, Error> {
        let mut pairs = Vec::new();
        if !is_op(&self.node, "}") {
            loop {
                let k = self.expression(0)?;
                self.advance(Some(":"), false)?;
                let v = self.expression(0)?;
                pairs.push((k, v));
                if !is_op(&self.node, ",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)?;
        Ok(pairs)
    }

    fn transform(&mut self, pos: usize) -> Result<Syn, Error> {
        let pattern = self.expression(0)?;
        self.advance(Some("|"), false)?;
        let update = self.expression(0)?;
        let mut delete = None;
        if is_op(&self.node, ",") {
            self.advance(Some(","), false)?;
            delete = Some(Box::new(self.expression(0)?));
        }
        self.advance(Some("|"), false)?;
        let d = [
            pattern.depth,
            update.depth,
            delete.as_ref().map_or(0, |d| d.depth),
        ];
        Syn::with(
            S::Transform(Box::new(pattern), Box::new(update), delete),
            pos,
            &d,
        )
    }

    fn led(&mut self, t: Token, left: Syn) -> Result<Syn, Error> {
        let pos = t.pos;
        let Tok::Op(op) = t.tok else {
            return Err(self.syntax_error());
        };
        match op {
            "(" => self.call(pos, left),
            "[" => {
                if is_op(&self.node, "]") {
                    // `[]`: keep singleton arrays, flagged on the innermost step
                    let mut left = left;
                    let mut step = &mut left;
                    while let S::Binary("[", lhs, _) = &mut step.s {
                        step = lhs;
                    }
                    step.keep_array = true;
                    self.advance(Some("]"), false)?;
                    Ok(left)
                } else {
                    let rhs = self.expression(0)?;
                    self.advance(Some("]"), true)?;
                    let d = [left.depth, rhs.depth];
                    Syn::with(S::Binary("[", Box::new(left), Box::new(rhs)), pos, &d)
                }
            }
            "^" => self.order_by(pos, left),
            "{" => {
                let pairs = self.object_pairs()?;
                let d = [left.depth, pairs_depth(&pairs)];
                Syn::with(S::GroupBy(Box::new(left), pairs), pos, &d)
            }
            ":=" => {
                if !matches!(left.s, S::Var(_)) {
                    let mut e = Error::new(
                        "S0212",
                        "The left side of := must be a variable name (start with $)",
                    )
                    .at(left.pos);
                    e.token = syn_token(&left);
                    return Err(e);
                }
                let rhs = self.expression(9)?;
                let d = [left.depth, rhs.depth];
                Syn::with(S::Binary(":=", Box::new(left), Box::new(rhs)), pos, &d)
            }
            "@" | "#" => {
                let rhs = self.expression(80)?;
                if !matches!(rhs.s, S::Var(_)) {
                    let mut e = Error::new(
                        "S0214",
                        format!("The right side of {op} must be a variable name (start with $)"),
                    )
                    .at(rhs.pos);
                    e.token = Some(op.to_string());
                    return Err(e);
                }
                let d = [left.depth, rhs.depth];
                Syn::with(S::Binary(op, Box::new(left), Box::new(rhs)), pos, &d)
            }
            // `a ?: b` (a if it is truthy) and `a ?? b` (a if it exists):
            // like the condition's `else`, the right side takes the rest.
            "?:" | "??" => {
                let rhs = self.expression(0)?;
                let d = [left.depth, rhs.depth];
                Syn::with(S::Binary(op, Box::new(left), Box::new(rhs)), pos, &d)
            }
            "?" => {
                let then = self.expression(0)?;
                let mut otherwise = None;
                if is_op(&self.node, ":") {
                    self.advance(Some(":"), false)?;
                    otherwise = Some(Box::new(self.expression(0)?));
                }
                let d = [
                    left.depth,
                    then.depth,
                    otherwise.as_ref().map_or(0, |o| o.depth),
                ];
                Syn::with(S::Cond(Box::new(left), Box::new(then), otherwise), pos, &d)
            }
            _ => {
                let rhs = self.expression(lbp(&Tok::Op(op)))?;
                let d = [left.depth, rhs.depth];
                Syn::with(S::Binary(op, Box::new(left), Box::new(rhs)), pos, &d)
            }
        }
    }

    fn call(&mut self, pos: usize, left: Syn) -> Result<Syn, Error> {
        let mut args = Vec::new();
        let mut partial = false;
        if !is_op(&self.node, ")") {
            loop {
                if is_op(&self.node, "?") {
                    partial = true;
                    args.push(Syn::leaf(S::Placeholder, self.node.pos));
                    self.advance(Some("?"), false)?;
                } else {
                    args.push(self.expression(0)?);
                }
                if !is_op(&self.node, ",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(")"), true)?;
        let is_lambda = matches!(&left.s, S::Name(n) if n == "function" || n == "\u{3bb}");
        if !is_lambda {
            let d = [left.depth, args.iter().map(|a| a.depth).max().unwrap_or(0)];
            return Syn::with(
                S::Call {
                    proc: Box::new(left),
                    args,
                    partial,
                },
                pos,
                &d,
            );
        }
        let mut params = Vec::new();
        for (i, arg) in args.into_iter().enumerate() {
            match arg.s {
                S::Var(name) => params.push(name),
                other => {
                    let mut e = Error::new(
                        "S0208",
                        format!(
                            "Parameter {} of function definition must be a variable name (start with $)",
                            i + 1
                        ),
                    )
                    .at(arg.pos);
                    e.token = syn_token(&Syn::leaf(other, arg.pos));
                    return Err(e);
                }
            }
        }
        let mut signature = None;
        if is_op(&self.node, "<") {
            let sig_pos = self.node.pos;
            let mut depth = 1;
            let mut text = String::from("<");
            while depth > 0 && !is_op(&self.node, "{") && self.node.tok != Tok::End {
                self.advance(None, false)?;
                if is_op(&self.node, ">") {
                    depth -= 1;
                } else if is_op(&self.node, "<") {
                    depth += 1;
                }
                text.push_str(&token_text(&self.node.tok));
            }
            self.advance(Some(">"), false)?;
            signature = Some(Signature::parse(&text).map_err(|mut e| {
                e.position = Some(sig_pos + e.position.unwrap_or(0));
                e
            })?);
        }
        self.advance(Some("{"), false)?;
        let body = self.expression(0)?;
        self.advance(Some("}"), false)?;
        let d = [body.depth];
        Syn::with(
            S::Lambda {
                params,
                signature,
                body: Box::new(body),
            },
            pos,
            &d,
        )
    }

    fn order_by(&mut self, pos: usize, left: Syn) -> Result<Syn, Error> {
        self.advance(Some("("), false)?;
        let mut terms = Vec::new();
        loop {
            let mut descending = false;
            if is_op(&self.node, "<") {
                self.advance(Some("<"), false)?;
            } else if is_op(&self.node, ">") {
                descending = true;
                self.advance(Some(">"), false)?;
            }
            terms.push((descending, self.expression(0)?));
            if !is_op(&self.node, ",") {
                break;
            }
            self.advance(Some(","), false)?;
        }
        self.advance(Some(")"), false)?;
        let d = [
            left.depth,
            terms.iter().map(|t| t.1.depth).max().unwrap_or(0),
        ];
        Syn::with(S::OrderBy(Box::new(left), terms), pos, &d)
    }
}

fn pairs_depth(pairs: &[(Syn, Syn)]) -> u32 {
    pairs
        .iter()
        .map(|(k, v)| k.depth.max(v.depth))
        .max()
        .unwrap_or(0)
}

/// What jsonata-js reports as the `token` of an error about this node.
pub(crate) fn syn_token(s: &Syn) -> Option<String> {
    Some(match &s.s {
        S::Name(n) | S::Var(n) | S::Str(n) => n.clone(),
        S::Num(n) => super::value::format_number(*n),
        S::Bool(b) => b.to_string(),
        S::Null => "null".into(),
        S::OpName(o) => (*o).to_string(),
        S::Binary(op, ..) => (*op).to_string(),
        _ => return None,
    })
}
