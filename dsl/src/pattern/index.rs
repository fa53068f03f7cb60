//! Many patterns against one event, with matching time flat in the number
//! of patterns.
//!
//! Rules in practice pin at least one field to exact values (`type`,
//! `source`, `data.kind`). Each alternative (conjunction) of each pattern is
//! filed under ONE of its exact-valued fields, the one whose values are the
//! rarest across all loaded patterns, in a hash map per field path. Matching
//! an event then costs one lookup per distinct indexed path and value in
//! the event, plus a full check of the few candidates found there; only the
//! alternatives with no exact-valued field at all (pure prefix/numeric/…
//! patterns) are checked one by one. The index is rebuilt whole when rules
//! change, which is rare next to events.

use serde_json::Value;
use std::collections::HashMap;

use super::cond::Cond;
use super::parse::{Conj, Field};
use super::{conj_matches, visit, Pattern};

/// Exact-value buckets of one field path.
#[derive(Debug, Default)]
struct PathIndex {
    path: Vec<String>,
    strings: HashMap<String, Vec<u32>>,
    numbers: HashMap<u64, Vec<u32>>,
    bools: [Vec<u32>; 2],
    nulls: Vec<u32>,
}

/// Numbers are keyed by value: `5` and `5.0` share a bucket.
fn number_key(x: f64) -> u64 {
    if x == 0.0 {
        0f64.to_bits()
    } else {
        x.to_bits()
    }
}

impl PathIndex {
    fn bucket_mut(&mut self, v: &Value) -> &mut Vec<u32> {
        match v {
            Value::String(s) => self.strings.entry(s.clone()).or_default(),
            Value::Number(n) => self
                .numbers
                .entry(number_key(n.as_f64().unwrap_or(f64::NAN)))
                .or_default(),
            Value::Bool(b) => &mut self.bools[usize::from(*b)],
            _ => &mut self.nulls,
        }
    }

    fn bucket(&self, v: &Value) -> Option<&Vec<u32>> {
        match v {
            Value::String(s) => self.strings.get(s.as_str()),
            Value::Number(n) => self.numbers.get(&number_key(n.as_f64()?)),
            Value::Bool(b) => Some(&self.bools[usize::from(*b)]),
            Value::Null => Some(&self.nulls),
            _ => None,
        }
    }
}

/// Patterns identified by their position (`0..len`) in the list they were
/// built from.
#[derive(Debug, Default)]
pub struct PatternSet {
    /// (pattern position, alternative)
    conjs: Vec<(u32, Conj)>,
    paths: Vec<PathIndex>,
    /// Alternatives with no exact-valued field: checked for every event.
    residual: Vec<u32>,
    len: usize,
}

fn exact_values(f: &Field) -> Option<Vec<&Value>> {
    f.conds
        .iter()
        .map(|c| match c {
            Cond::Exact(v) => Some(v),
            _ => None,
        })
        .collect()
}

/// A hashable stand-in for an exact value, used only while building.
fn value_key(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("n{}", number_key(n.as_f64().unwrap_or(f64::NAN))),
        Value::String(s) => format!("s{s}"),
        other => format!("o{other}"),
    }
}

impl PatternSet {
    pub fn new(patterns: &[&Pattern]) -> PatternSet {
        let mut conjs = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            for c in &p.conjs {
                conjs.push((i as u32, c.clone()));
            }
        }
        // How many alternatives pin each (path, value): the cost of a bucket.
        let mut counts: HashMap<(Vec<String>, String), usize> = HashMap::new();
        for (_, conj) in &conjs {
            for f in conj {
                for v in exact_values(f).unwrap_or_default() {
                    *counts.entry((f.path.clone(), value_key(v))).or_default() += 1;
                }
            }
        }
        let mut set = PatternSet {
            len: patterns.len(),
            ..PatternSet::default()
        };
        let mut path_ids: HashMap<Vec<String>, usize> = HashMap::new();
        for (id, (_, conj)) in conjs.iter().enumerate() {
            let best = conj
                .iter()
                .filter_map(|f| exact_values(f).map(|vs| (f, vs)))
                .min_by_key(|(f, vs)| {
                    vs.iter()
                        .map(|v| counts[&(f.path.clone(), value_key(v))])
                        .sum::<usize>()
                });
            let Some((field, values)) = best else {
                set.residual.push(id as u32);
                continue;
            };
            let p = *path_ids.entry(field.path.clone()).or_insert_with(|| {
                set.paths.push(PathIndex {
                    path: field.path.clone(),
                    ..PathIndex::default()
                });
                set.paths.len() - 1
            });
            for v in values {
                let bucket = set.paths[p].bucket_mut(v);
                if bucket.last() != Some(&(id as u32)) {
                    bucket.push(id as u32);
                }
            }
        }
        set.conjs = conjs;
        set
    }

    /// How many patterns the set was built from.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions of the patterns that match, ascending, each once.
    pub fn matching(&self, event: &Value) -> Vec<usize> {
        let mut candidates: Vec<u32> = self.residual.clone();
        for index in &self.paths {
            visit(event, &index.path, &mut |leaf| {
                if let Some(b) = index.bucket(leaf) {
                    candidates.extend_from_slice(b);
                }
                false
            });
        }
        if candidates.len() > 1 {
            candidates.sort_unstable();
            candidates.dedup();
        }
        let mut out: Vec<usize> = Vec::new();
        for id in candidates {
            let (pattern, conj) = &self.conjs[id as usize];
            let pattern = *pattern as usize;
            if out.last() != Some(&pattern) && !out.contains(&pattern) && conj_matches(conj, event)
            {
                out.push(pattern);
            }
        }
        out.sort_unstable();
        out
    }
}
