//! Typed access to the fields of one JSON object in a definition, recording a
//! problem (with its JSON pointer) for each wrong type instead of stopping.

use serde_json::{Map, Value};

use crate::error::{child_pointer, Problems};
use crate::path::Path;

pub(crate) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub ptr: String,
}

impl<'a> Obj<'a> {
    /// View `value` (at `ptr`) as an object, or record that it must be one.
    /// `what` names the object in the message; it is only rendered when
    /// there is a problem, so callers pass `format_args!` rather than a String.
    pub fn new(
        value: &'a Value,
        ptr: &str,
        what: impl std::fmt::Display,
        problems: &mut Problems,
    ) -> Option<Obj<'a>> {
        match value {
            Value::Object(map) => Some(Obj {
                map,
                ptr: ptr.to_string(),
            }),
            other => {
                problems.push(
                    ptr,
                    format!("{what} must be a JSON object, found {}", kind(other)),
                );
                None
            }
        }
    }

    pub fn at(&self, key: &str) -> String {
        child_pointer(&self.ptr, key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// Record every field not in `allowed`, naming the valid ones.
    pub fn unknown_fields(
        &self,
        allowed: &[&str],
        what: impl std::fmt::Display,
        problems: &mut Problems,
    ) {
        self.unknown_fields_except(allowed, &[], what, problems)
    }

    /// As [`Obj::unknown_fields`], leaving alone the `reported` fields, which
    /// have their own, more specific problem.
    pub fn unknown_fields_except(
        &self,
        allowed: &[&str],
        reported: &[&str],
        what: impl std::fmt::Display,
        problems: &mut Problems,
    ) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) && !reported.contains(&key.as_str()) {
                let hint = match suggest(key, allowed) {
                    Some(s) => format!(" (did you mean '{s}'?)"),
                    None => String::new(),
                };
                problems.push(
                    self.at(key),
                    format!(
                        "unknown field '{key}' in {what}{hint}; valid fields are: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    pub fn string(&self, key: &str, problems: &mut Problems) -> Option<&'a str> {
        match self.map.get(key)? {
            Value::String(s) => Some(s),
            other => {
                problems.push(
                    self.at(key),
                    format!("'{key}' must be a string, found {}", kind(other)),
                );
                None
            }
        }
    }

    pub fn required_string(
        &self,
        key: &str,
        what: &str,
        problems: &mut Problems,
    ) -> Option<&'a str> {
        if !self.has(key) {
            problems.push(
                &self.ptr,
                format!("{what} is missing the required field '{key}'"),
            );
            return None;
        }
        self.string(key, problems)
    }

    pub fn bool(&self, key: &str, problems: &mut Problems) -> Option<bool> {
        match self.map.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                problems.push(
                    self.at(key),
                    format!("'{key}' must be true or false, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// A whole number within `[min, max]`.
    pub fn integer(&self, key: &str, min: u64, max: u64, problems: &mut Problems) -> Option<u64> {
        let v = self.map.get(key)?;
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ if v.is_number()
                && v.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f >= min as f64 && f <= max as f64) =>
            {
                v.as_f64().map(|f| f as u64)
            }
            _ => {
                problems.push(
                    self.at(key),
                    format!(
                        "'{key}' must be a whole number from {min} to {max}, found {}",
                        short(v)
                    ),
                );
                None
            }
        }
    }

    /// A number within `[min, max]`.
    pub fn number(&self, key: &str, min: f64, max: f64, problems: &mut Problems) -> Option<f64> {
        let v = self.map.get(key)?;
        match v.as_f64() {
            Some(n) if n >= min && n <= max => Some(n),
            _ => {
                problems.push(
                    self.at(key),
                    if max == f64::MAX {
                        format!(
                            "'{key}' must be a number of at least {min:?}, found {}",
                            short(v)
                        )
                    } else {
                        format!(
                            "'{key}' must be a number from {min} to {max}, found {}",
                            short(v)
                        )
                    },
                );
                None
            }
        }
    }

    /// A JSONPath (any kind) in a string field.
    pub fn path(&self, key: &str, problems: &mut Problems) -> Option<Path> {
        let s = self.string(key, problems)?;
        match Path::parse(s) {
            Ok(p) => Some(p),
            Err(e) => {
                problems.push(self.at(key), e);
                None
            }
        }
    }

    /// A reference path (ResultPath, ItemsPath).
    pub fn reference_path(&self, key: &str, problems: &mut Problems) -> Option<Path> {
        let s = self.string(key, problems)?;
        match Path::parse_reference(s) {
            Ok(p) => Some(p),
            Err(e) => {
                problems.push(self.at(key), e);
                None
            }
        }
    }
}

pub(crate) use crate::text::json_kind as kind;

fn short(v: &Value) -> String {
    crate::path::preview(v)
}

/// The allowed name closest to `key` (case-insensitive equal, or one edit away).
pub(crate) fn suggest<'s>(key: &str, allowed: &[&'s str]) -> Option<&'s str> {
    let lower = key.to_ascii_lowercase();
    allowed
        .iter()
        .copied()
        .find(|a| a.to_ascii_lowercase() == lower)
        .or_else(|| {
            allowed
                .iter()
                .copied()
                .find(|a| crate::text::edit_distance(&lower, &a.to_ascii_lowercase()) <= 2)
        })
}
