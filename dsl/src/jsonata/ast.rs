//! The processed syntax tree the evaluator walks: location paths are
//! flattened into steps, predicates are attached to the step they filter,
//! and `%` (parent) references are resolved to labels bound by the steps
//! they refer to. Built once by the parser and never changed after.

use super::functions::Builtin;
use super::regex::Regex;
use super::signature::Signature;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    /// Character offset in the expression, for errors.
    pub pos: usize,
    /// `[]` applied: a singleton sequence stays an array.
    pub keep_array: bool,
    /// What path processing attached to this node; most nodes have none.
    pub ann: Option<Box<Ann>>,
}

/// Annotations a node gets as a step of a path (rare, so boxed).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ann {
    /// Filters applied to the value of a node that is not a path step.
    pub predicate: Vec<Node>,
    /// Filters and `#` index bindings applied to a step's results.
    pub stages: Vec<Stage>,
    /// A `{ key: value }` grouping applied to the result.
    pub group: Option<Group>,
    /// `@$name`: bind the step's value to `$name`, keep the context.
    pub focus: Option<String>,
    /// `#$name`: bind the position in the step's results.
    pub index: Option<String>,
    /// The step takes part in a tuple stream (variables are bound per item).
    pub tuple: bool,
    /// The label a `%` somewhere later reads as this step's context.
    pub ancestor: Option<String>,
    /// An array constructor that starts or ends a path (not flattened).
    pub consarray: bool,
    pub(crate) ancestor_slot: Option<usize>,
    pub(crate) seeking_parent: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum Stage {
    Filter(Node),
    Index(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
    pub pos: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    And,
    Or,
    In,
    Range,
    /// `?:`: the left side when it is truthy, else the right.
    Default,
    /// `??`: the left side when it is defined, else the right.
    Coalesce,
}

impl BinOp {
    pub fn from_token(op: &str) -> Option<BinOp> {
        Some(match op {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "=" => BinOp::Eq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            "&" => BinOp::Concat,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "in" => BinOp::In,
            ".." => BinOp::Range,
            "?:" => BinOp::Default,
            "??" => BinOp::Coalesce,
            _ => return None,
        })
    }

    pub fn token(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "&",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::In => "in",
            BinOp::Range => "..",
            BinOp::Default => "?:",
            BinOp::Coalesce => "??",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expr: Node,
}

#[derive(Debug, Clone)]
pub(crate) struct LambdaDef {
    pub params: Vec<String>,
    pub signature: Option<Signature>,
    pub body: Node,
}

#[derive(Debug, Clone)]
pub(crate) struct TransformDef {
    pub pattern: Node,
    pub update: Node,
    pub delete: Option<Node>,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Path {
        steps: Vec<Node>,
        keep_singleton: bool,
    },
    Name(String),
    Wildcard,
    Descendant,
    /// `%`: reads the label bound by the step it refers to.
    Parent {
        label: String,
        slot: usize,
    },
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Regex(Box<Regex>),
    /// `$name`; the built-in of that name, if any, resolved at parse time.
    Var(String, Option<Builtin>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Neg(Box<Node>),
    Array(Vec<Node>),
    Object(Vec<(Node, Node)>),
    Sort(Vec<SortTerm>),
    Cond(Box<Node>, Box<Node>, Option<Box<Node>>),
    /// `( a; b )`; `scoped` when it binds variables and so needs a frame.
    Block {
        exprs: Vec<Node>,
        scoped: bool,
    },
    Bind(String, Box<Node>),
    Call {
        proc: Box<Node>,
        args: Vec<Node>,
    },
    /// `f(a, ?)`: `None` marks a `?` placeholder.
    Partial {
        proc: Box<Node>,
        args: Vec<Option<Node>>,
    },
    Lambda(Box<LambdaDef>),
    /// A call in tail position of a lambda body, run by the caller's
    /// trampoline so tail recursion does not grow the stack.
    TailCall(Box<Node>),
    Apply(Box<Node>, Box<Node>),
    Transform(Box<TransformDef>),
}

impl Node {
    pub fn new(kind: Kind, pos: usize) -> Node {
        Node {
            kind,
            pos,
            keep_array: false,
            ann: None,
        }
    }

    pub fn ann_mut(&mut self) -> &mut Ann {
        self.ann.get_or_insert_with(Default::default)
    }

    pub fn ann(&self) -> Option<&Ann> {
        self.ann.as_deref()
    }

    pub fn tuple(&self) -> bool {
        self.ann().is_some_and(|a| a.tuple)
    }

    pub fn focus(&self) -> Option<&str> {
        self.ann().and_then(|a| a.focus.as_deref())
    }

    /// The name of this node's type in jsonata-js, for errors (S0217).
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Path { .. } => "path",
            Kind::Name(_) => "name",
            Kind::Wildcard => "wildcard",
            Kind::Descendant => "descendant",
            Kind::Parent { .. } => "parent",
            Kind::Str(_) => "string",
            Kind::Num(_) => "number",
            Kind::Bool(_) | Kind::Null => "value",
            Kind::Regex(_) => "regex",
            Kind::Var(..) => "variable",
            Kind::Binary(..) => "binary",
            Kind::Neg(_) | Kind::Array(_) | Kind::Object(_) => "unary",
            Kind::Sort(_) => "sort",
            Kind::Cond(..) => "condition",
            Kind::Block { .. } => "block",
            Kind::Bind(..) => "bind",
            Kind::Call { .. } => "function",
            Kind::Partial { .. } => "partial",
            Kind::Lambda(_) | Kind::TailCall(_) => "lambda",
            Kind::Apply(..) => "apply",
            Kind::Transform(_) => "transform",
        }
    }
}
