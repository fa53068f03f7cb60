//! One nesting limit for every JSON document Sluice accepts or makes
//! (execution inputs, task results, state outputs, variables): a document
//! nested deeper could be stored but not read back, because records wrap
//! it in a few more levels and serde_json reads at most 128.

use serde_json::Value;

/// The deepest nesting of arrays and objects a document may have.
pub const MAX_DEPTH: usize = 100;

/// The nesting depth of `value` (a scalar is 0, `[]` and `{}` are 1), or
/// `None` once it passes `max`. The recursion stops at `max + 1` levels, so
/// a document of any depth is safe to check; nothing is allocated (it runs
/// on every state's output).
pub fn depth_within(value: &Value, max: usize) -> Option<usize> {
    fn go(v: &Value, level: usize, max: usize) -> Option<usize> {
        let children: &mut dyn Iterator<Item = &Value> = match v {
            Value::Array(items) => &mut items.iter(),
            Value::Object(map) => &mut map.values(),
            _ => return Some(level),
        };
        let level = level + 1;
        if level > max {
            return None;
        }
        let mut deepest = level;
        for child in children {
            deepest = deepest.max(go(child, level, max)?);
        }
        Some(deepest)
    }
    go(value, 0, max)
}

/// The error text for a document deeper than [`MAX_DEPTH`]; `what` names it
/// ("the input", "the output of state 'A'").
pub fn too_deep(what: &str) -> String {
    format!("{what} is nested more than {MAX_DEPTH} levels deep (arrays and objects); flatten it")
}

/// `Ok` when `value` is at most [`MAX_DEPTH`] deep, else [`too_deep`].
pub fn check(value: &Value, what: &str) -> Result<(), String> {
    match depth_within(value, MAX_DEPTH) {
        Some(_) => Ok(()),
        None => Err(too_deep(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!([v]);
        }
        v
    }

    #[test]
    fn depth_counts_arrays_and_objects() {
        assert_eq!(depth_within(&json!(1), 10), Some(0));
        assert_eq!(depth_within(&json!({"a": [1, {"b": []}]}), 10), Some(4));
        assert_eq!(depth_within(&nested(MAX_DEPTH), MAX_DEPTH), Some(MAX_DEPTH));
        assert_eq!(depth_within(&nested(MAX_DEPTH + 1), MAX_DEPTH), None);
    }

    #[test]
    fn the_error_names_the_document_and_the_limit() {
        let e = check(&nested(101), "the input").unwrap_err();
        assert_eq!(
            e,
            "the input is nested more than 100 levels deep (arrays and objects); flatten it"
        );
        assert!(check(&nested(100), "the input").is_ok());
    }
}
