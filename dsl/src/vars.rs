//! Workflow variables (`Assign`): how states read them (`$name` in paths,
//! intrinsics and JSONata), their names, and the size limits AWS sets.
//!
//! A scope is a plain JSON object of name → value. The top-level states of
//! a workflow share one; each Parallel branch and Map iteration has its own,
//! which reads the outer scopes but never writes them. A state reads the
//! values as they were when it was entered: what it assigns takes effect
//! when it leaves (AWS "Passing data between states with variables").

use serde_json::{Map, Value};

use crate::error::{names, StatesError};

/// Longest variable name, in characters.
pub const MAX_NAME_LEN: usize = 80;
/// Largest value of one variable, in bytes of JSON.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Largest total of the values one `Assign` sets, in bytes of JSON.
pub const MAX_ASSIGN_BYTES: usize = 256 * 1024;
/// Largest total of the variables an execution holds, in bytes of JSON.
pub const MAX_TOTAL_BYTES: usize = 10 * 1024 * 1024;

/// The variables one state assigns, by name.
pub type Assigned = Map<String, Value>;

/// Values `$name` reads.
pub trait Variables {
    fn get(&self, name: &str) -> Option<&Value>;
}

/// No variables at all.
impl Variables for () {
    fn get(&self, _name: &str) -> Option<&Value> {
        None
    }
}

/// One scope.
impl Variables for Map<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        Map::get(self, name)
    }
}

/// A scope in front of the scopes around it: the inner one wins.
pub struct Nested<'a> {
    pub own: &'a Map<String, Value>,
    pub outer: &'a dyn Variables,
}

impl Variables for Nested<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.own.get(name).or_else(|| self.outer.get(name))
    }
}

/// Nested scopes, the outermost first: a name is looked up from the
/// innermost scope out.
#[derive(Debug, Clone, Default)]
pub struct Scopes(pub Vec<Map<String, Value>>);

impl Variables for Scopes {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().rev().find_map(|scope| scope.get(name))
    }
}

/// True for a character that may start a variable name.
fn starts_name(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

/// True for a character that may continue a variable name.
fn continues_name(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The variable name at the start of `rest` (what follows a `$` in a path),
/// if it starts with one: `items` in `$items[0].id`.
pub fn leading_name(rest: &str) -> Option<&str> {
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    if !starts_name(first) {
        return None;
    }
    let end = chars
        .find(|(_, c)| !continues_name(*c))
        .map_or(rest.len(), |(i, _)| i);
    Some(&rest[..end])
}

/// Why `name` cannot be a variable name, if it cannot.
pub fn check_name(name: &str) -> Result<(), String> {
    if name == "states" {
        return Err(
            "'states' is reserved: Step Functions supplies $states; choose another variable name"
                .into(),
        );
    }
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(format!(
            "a variable name must be 1 to {MAX_NAME_LEN} characters long, found {len}"
        ));
    }
    if leading_name(name).map(str::len) != Some(name.len()) {
        return Err(format!(
            "'{name}' is not a valid variable name: use letters, digits and '_', starting with a letter or '_'"
        ));
    }
    Ok(())
}

/// Check what one state assigns against AWS's limits; `current` is the
/// size of the variables the execution holds besides these.
pub fn check_sizes(state: &str, assigned: &Assigned) -> Result<(), StatesError> {
    let mut total = 0;
    for (name, value) in assigned {
        crate::depth::check(
            value,
            &format!("The variable '{name}' assigned in state '{state}'"),
        )
        .map_err(StatesError::runtime)?;
        let size = crate::interp::pipeline::json_size(value, MAX_ASSIGN_BYTES);
        if size > MAX_VALUE_BYTES {
            return Err(StatesError::new(
                names::RUNTIME,
                format!(
                    "The variable '{name}' assigned in state '{state}' has a size exceeding the maximum number of bytes service limit ({MAX_VALUE_BYTES} bytes)"
                ),
            ));
        }
        total += size;
    }
    if total > MAX_ASSIGN_BYTES {
        return Err(StatesError::new(
            names::RUNTIME,
            format!(
                "The variables assigned in state '{state}' have a total size exceeding the maximum number of bytes service limit ({MAX_ASSIGN_BYTES} bytes)"
            ),
        ));
    }
    Ok(())
}

/// Apply `assigned` to a scope, keeping the scope within
/// [`MAX_TOTAL_BYTES`].
pub fn apply(
    state: &str,
    scope: &mut Map<String, Value>,
    assigned: Assigned,
) -> Result<(), StatesError> {
    for (name, value) in assigned {
        scope.insert(name, value);
    }
    let total: usize = scope
        .iter()
        .map(|(_, v)| crate::interp::pipeline::json_size(v, MAX_TOTAL_BYTES))
        .sum();
    if total > MAX_TOTAL_BYTES {
        return Err(StatesError::new(
            names::RUNTIME,
            format!(
                "The variables of the execution reached a size exceeding the maximum number of bytes service limit ({MAX_TOTAL_BYTES} bytes) when state '{state}' assigned them"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_at_the_start_of_paths() {
        assert_eq!(leading_name("items[0].id"), Some("items"));
        assert_eq!(leading_name("x"), Some("x"));
        assert_eq!(leading_name("_a1.b"), Some("_a1"));
        assert_eq!(leading_name(".a"), None);
        assert_eq!(leading_name("[0]"), None);
        assert_eq!(leading_name("1a"), None);
        assert_eq!(leading_name(""), None);
    }

    #[test]
    fn name_rules() {
        assert!(check_name("order_total").is_ok());
        assert!(check_name("states").is_err());
        assert!(check_name("1x").is_err());
        assert!(check_name("a-b").is_err());
        assert!(check_name(&"a".repeat(81)).is_err());
    }

    #[test]
    fn inner_scopes_shadow_outer_ones() {
        let outer: Map<String, Value> = json!({"a": 1, "b": 2}).as_object().cloned().unwrap();
        let own: Map<String, Value> = json!({"b": 3}).as_object().cloned().unwrap();
        let nested = Nested {
            own: &own,
            outer: &outer,
        };
        assert_eq!(nested.get("a"), Some(&json!(1)));
        assert_eq!(nested.get("b"), Some(&json!(3)));
        assert_eq!(nested.get("c"), None);
    }

    #[test]
    fn oversized_variables_are_refused() {
        let mut big = Assigned::new();
        big.insert("x".into(), json!("y".repeat(MAX_VALUE_BYTES)));
        assert_eq!(check_sizes("S", &big).unwrap_err().error, names::RUNTIME);
    }
}
