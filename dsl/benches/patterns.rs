//! Trigger-rule matching (issue 5): events per second against 1, 100, 1,000
//! and 10,000 loaded rules, next to the floor every event pays anyway —
//! parsing its JSON with serde_json — so results read as a ratio.
//!
//! Target: ≥ 200,000 events/s per core with 1,000 rules, flat as rules grow.
//!
//! Run with `cargo bench -p sluice-dsl --bench patterns`; figures in
//! `docs/benchmarks.md` ("Trigger rules (issue 5)").

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::Duration;

use sluice_dsl::{Pattern, PatternSet};

/// A realistic mix: every rule pins its `type` (what EventBridge rules do),
/// and adds a second condition of one of several operator kinds.
fn rule(i: usize) -> Value {
    let kind = format!("order.event{}", i % 5_000);
    match i % 5 {
        0 => json!({"type": [kind], "source": ["shop/web", "shop/app"]}),
        1 => {
            json!({"type": [kind], "data": {"total": [{"numeric": [">", i % 100, "<=", 10_000]}]}})
        }
        2 => {
            json!({"type": [kind], "data": {"city": [{"prefix": "Par"}, {"equals-ignore-case": "rome"}]}})
        }
        3 => json!({"type": [kind], "data": {"customer": {"tier": [{"anything-but": ["free"]}]}}}),
        _ => json!({"$or": [{"type": [kind]}, {"data": {"sku": [format!("SKU-{i}")]}}]}),
    }
}

fn event_text(i: usize) -> String {
    json!({
        "specversion": "1.0", "id": format!("ev-{i}"), "source": "shop/web",
        "type": format!("order.event{}", i % 7), "time": "2026-11-23T12:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "order": format!("o-{i}"), "total": 120.5, "city": "Paris",
            "customer": {"id": "c-17", "tier": "gold"},
            "items": [{"sku": "SKU-1", "qty": 2}, {"sku": "SKU-9", "qty": 1}]
        }
    })
    .to_string()
}

fn bench_patterns(c: &mut Criterion) {
    let texts: Vec<String> = (0..64).map(event_text).collect();
    let events: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    let mut g = c.benchmark_group("patterns");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));

    let mut k = 0;
    g.bench_function("baseline/serde_json_parse", |b| {
        b.iter(|| {
            k = (k + 1) % texts.len();
            black_box(serde_json::from_str::<Value>(black_box(&texts[k])).unwrap())
        })
    });
    for n in [1, 100, 1_000, 10_000] {
        let patterns: Vec<Pattern> = (0..n)
            .map(|i| Pattern::compile(&rule(i), "").unwrap())
            .collect();
        let set = PatternSet::new(&patterns.iter().collect::<Vec<_>>());
        let mut k = 0;
        g.bench_function(format!("match/{n}_rules"), |b| {
            b.iter(|| {
                k = (k + 1) % events.len();
                black_box(set.matching(black_box(&events[k])))
            })
        });
        let mut k = 0;
        g.bench_function(format!("parse_and_match/{n}_rules"), |b| {
            b.iter(|| {
                k = (k + 1) % texts.len();
                let v: Value = serde_json::from_str(black_box(&texts[k])).unwrap();
                black_box(set.matching(&v))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_patterns);
criterion_main!(benches);
