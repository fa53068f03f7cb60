//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector`, and the
//! `input` of trigger rules. A field whose name ends in `.$` takes its value
//! from a path or an intrinsic function; everything else is copied as is.
//! Templates are compiled once, at validation.

use serde_json::{Map, Value};

use crate::error::{pointer_token, Problems, StatesError};
use crate::intrinsic::{looks_like_intrinsic, Intrinsic};
use crate::path::{preview, Docs, Path};
use crate::Random;

#[derive(Debug, Clone)]
pub enum Template {
    /// A subtree with no `.$` field anywhere: copied as is.
    Literal(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Template>),
}

/// One field of an object template.
#[derive(Debug, Clone)]
pub enum Node {
    Value(Template),
    /// `"name.$": "$.path"`; keeps the field name for error causes.
    Path(Path),
    Intrinsic(Intrinsic),
}

impl Template {
    /// Compile `value` (found at JSON pointer `ptr`); every bad `.$` field is
    /// recorded. `None` when any problem was found.
    pub fn compile(value: &Value, ptr: &str, problems: &mut Problems) -> Option<Template> {
        let before = problems.len();
        let t = compile(value, Ptr::Root(ptr), problems);
        (problems.len() == before).then_some(t)
    }

    /// True when this template reads the context object.
    pub fn evaluate(
        &self,
        input: &Value,
        docs: Docs<'_>,
        rng: &mut dyn Random,
    ) -> Result<Value, StatesError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Array(items) => items
                .iter()
                .map(|t| t.evaluate(input, docs, rng))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (name, node) in fields {
                    let v = match node {
                        Node::Value(t) => t.evaluate(input, docs, rng)?,
                        Node::Path(p) => match p.lookup(input, docs) {
                            Some(v) => v.into_owned(),
                            None => {
                                return Err(StatesError::runtime(match p.document(input, docs) {
                                    Some(doc) => format!(
                                        "The JSONPath '{p}' specified for the field '{name}.$' could not be found in the input '{}'",
                                        preview(doc)
                                    ),
                                    None => format!("The field '{name}.$': {}", p.not_found(input, docs)),
                                }));
                            }
                        },
                        Node::Intrinsic(f) => f.eval(input, docs, rng)?,
                    };
                    out.insert(name.clone(), v);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

/// Where a template node sits: a JSON pointer rendered only when a problem
/// is reported, so compiling a valid template formats no pointers.
#[derive(Clone, Copy)]
enum Ptr<'a> {
    Root(&'a str),
    Key(&'a Ptr<'a>, &'a str),
    Index(&'a Ptr<'a>, usize),
}

impl std::fmt::Display for Ptr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ptr::Root(p) => f.write_str(p),
            Ptr::Key(parent, key) => write!(f, "{parent}/{}", pointer_token(key)),
            Ptr::Index(parent, i) => write!(f, "{parent}/{i}"),
        }
    }
}

fn compile(value: &Value, ptr: Ptr, problems: &mut Problems) -> Template {
    if !has_dynamic(value) {
        return Template::Literal(value.clone());
    }
    match value {
        Value::Array(items) => Template::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| compile(v, Ptr::Index(&ptr, i), problems))
                .collect(),
        ),
        Value::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            for (key, v) in map {
                let at = Ptr::Key(&ptr, key);
                match key.strip_suffix(".$") {
                    Some(name) => {
                        if let Some(node) = dynamic_field(key, v, at, problems) {
                            fields.push((name.to_string(), node));
                        }
                    }
                    None => fields.push((key.clone(), Node::Value(compile(v, at, problems)))),
                }
            }
            Template::Object(fields)
        }
        other => Template::Literal(other.clone()),
    }
}

fn dynamic_field(key: &str, v: &Value, at: Ptr, problems: &mut Problems) -> Option<Node> {
    let Value::String(text) = v else {
        problems.push(
            at.to_string(),
            format!("the value of '{key}' must be a string holding a JSONPath ('$.field') or an intrinsic function ('States.Format(...)'); remove '.$' from the name to use a literal value"),
        );
        return None;
    };
    if looks_like_intrinsic(text) {
        match Intrinsic::parse(text) {
            Ok(f) => Some(Node::Intrinsic(f)),
            Err(e) => {
                problems.push(at.to_string(), e);
                None
            }
        }
    } else {
        match Path::parse(text) {
            Ok(p) => Some(Node::Path(p)),
            Err(e) => {
                problems.push(
                    at.to_string(),
                    format!(
                        "{e}; a field ending in '.$' needs a JSONPath or an intrinsic function"
                    ),
                );
                None
            }
        }
    }
}

fn has_dynamic(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k.ends_with(".$") || has_dynamic(v)),
        Value::Array(items) => items.iter().any(has_dynamic),
        _ => false,
    }
}
