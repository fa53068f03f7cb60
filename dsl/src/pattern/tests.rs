use serde_json::{json, Value};

use super::{Pattern, PatternSet};

/// Matches, checked three ways that must agree: `matches`, `explain`, and a
/// one-pattern set.
fn m(pattern: Value, event: Value) -> bool {
    let p = Pattern::compile(&pattern, "").unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let direct = p.matches(&event);
    assert_eq!(
        direct,
        p.explain(&event).is_ok(),
        "explain disagrees for {pattern}"
    );
    let set = PatternSet::new(&[&p]);
    assert_eq!(
        direct,
        set.matching(&event) == vec![0],
        "the set disagrees for {pattern}"
    );
    direct
}

fn problem(pattern: Value) -> String {
    Pattern::compile(&pattern, "/pattern")
        .unwrap_err()
        .to_string()
}

fn order() -> Value {
    json!({
        "specversion": "1.0", "id": "1", "source": "shop/web", "type": "order.created",
        "data": {
            "amount": 42.5, "count": 3, "paid": true, "coupon": null, "note": "",
            "city": "Paris", "ip": "10.0.3.7", "tags": ["new", "vip"],
            "items": [{"sku": "A-1", "qty": 1}, {"sku": "B-2", "qty": 5}],
            "file": "photos/cat.PNG"
        }
    })
}

#[test]
fn exact_values_of_every_kind() {
    assert!(m(json!({"type": ["order.created"]}), order()));
    assert!(!m(json!({"type": ["order.deleted"]}), order()));
    assert!(m(json!({"data": {"count": [3]}}), order()));
    assert!(
        m(json!({"data": {"count": [3.0]}}), order()),
        "numbers compare by value"
    );
    assert!(m(json!({"data": {"amount": [42.5]}}), order()));
    assert!(m(json!({"data": {"paid": [true]}}), order()));
    assert!(!m(json!({"data": {"paid": [false]}}), order()));
    assert!(m(json!({"data": {"coupon": [null]}}), order()));
    assert!(!m(json!({"data": {"city": [null]}}), order()));
    assert!(m(json!({"data": {"note": [""]}}), order()), "empty string");
    assert!(!m(json!({"data": {"city": [""]}}), order()));
    assert!(
        !m(json!({"data": {"count": ["3"]}}), order()),
        "a string is not a number"
    );
}

#[test]
fn several_values_are_or_and_several_fields_are_and() {
    assert!(m(json!({"type": ["a", "order.created"]}), order()));
    assert!(m(
        json!({"type": ["order.created"], "source": ["shop/web"]}),
        order()
    ));
    assert!(!m(
        json!({"type": ["order.created"], "source": ["shop/app"]}),
        order()
    ));
}

#[test]
fn arrays_in_the_event_match_when_any_element_does() {
    assert!(m(json!({"data": {"tags": ["vip"]}}), order()));
    assert!(m(json!({"data": {"tags": ["x", "new"]}}), order()));
    assert!(!m(json!({"data": {"tags": ["old"]}}), order()));
    assert!(m(json!({"data": {"items": {"sku": ["B-2"]}}}), order()));
    assert!(m(
        json!({"data": {"items": {"qty": [{"numeric": [">", 4]}]}}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"items": {"qty": [{"numeric": [">", 5]}]}}}),
        order()
    ));
}

#[test]
fn prefix_and_suffix() {
    assert!(m(json!({"source": [{"prefix": "shop/"}]}), order()));
    assert!(!m(json!({"source": [{"prefix": "Shop/"}]}), order()));
    assert!(m(
        json!({"source": [{"prefix": {"equals-ignore-case": "SHOP/"}}]}),
        order()
    ));
    assert!(m(json!({"data": {"file": [{"suffix": ".PNG"}]}}), order()));
    assert!(!m(json!({"data": {"file": [{"suffix": ".png"}]}}), order()));
    assert!(m(
        json!({"data": {"file": [{"suffix": {"equals-ignore-case": ".png"}}]}}),
        order()
    ));
    assert!(
        m(json!({"source": [{"prefix": ""}]}), order()),
        "an empty prefix matches any string"
    );
    assert!(
        !m(json!({"data": {"count": [{"prefix": "3"}]}}), order()),
        "prefix only matches strings"
    );
}

#[test]
fn equals_ignore_case() {
    assert!(m(
        json!({"data": {"city": [{"equals-ignore-case": "pARIS"}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"city": [{"equals-ignore-case": "Paris "}]}}),
        order()
    ));
}

#[test]
fn anything_but_in_all_its_forms() {
    assert!(m(
        json!({"data": {"city": [{"anything-but": "Rome"}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"city": [{"anything-but": "Paris"}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"city": [{"anything-but": ["Rome", "Paris"]}]}}),
        order()
    ));
    assert!(m(
        json!({"data": {"count": [{"anything-but": [1, 2]}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"count": [{"anything-but": 3}]}}),
        order()
    ));
    assert!(m(
        json!({"source": [{"anything-but": {"prefix": "bank/"}}]}),
        order()
    ));
    assert!(!m(
        json!({"source": [{"anything-but": {"prefix": "shop/"}}]}),
        order()
    ));
    assert!(!m(
        json!({"data": {"file": [{"anything-but": {"suffix": ".PNG"}}]}}),
        order()
    ));
    assert!(m(
        json!({"data": {"file": [{"anything-but": {"suffix": ".jpg"}}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"city": [{"anything-but": {"equals-ignore-case": "PARIS"}}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"city": [{"anything-but": {"equals-ignore-case": ["rome", "paris"]}}]}}),
        order()
    ));
    assert!(m(
        json!({"data": {"city": [{"anything-but": {"equals-ignore-case": ["rome"]}}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"file": [{"anything-but": {"wildcard": "photos/*"}}]}}),
        order()
    ));
    assert!(m(
        json!({"data": {"file": [{"anything-but": {"wildcard": ["docs/*", "*.gif"]}}]}}),
        order()
    ));
    assert!(
        !m(
            json!({"data": {"missing": [{"anything-but": "x"}]}}),
            order()
        ),
        "anything-but needs the field"
    );
}

#[test]
fn numeric_ranges() {
    let amount = |range: Value| m(json!({"data": {"amount": [{"numeric": range}]}}), order());
    assert!(amount(json!([">", 0])));
    assert!(amount(json!([">", 0, "<=", 42.5])));
    assert!(!amount(json!([">", 0, "<", 42.5])));
    assert!(amount(json!([">=", 42.5])));
    assert!(!amount(json!([">", 42.5])));
    assert!(amount(json!(["=", 42.5])));
    assert!(!amount(json!(["=", 42])));
    assert!(amount(json!(["<", 100])));
    assert!(
        !m(json!({"data": {"city": [{"numeric": [">", 0]}]}}), order()),
        "numeric only matches numbers"
    );
}

#[test]
fn exists_true_and_false() {
    assert!(m(json!({"data": {"city": [{"exists": true}]}}), order()));
    assert!(
        m(json!({"data": {"coupon": [{"exists": true}]}}), order()),
        "null is a value"
    );
    assert!(!m(json!({"data": {"zip": [{"exists": true}]}}), order()));
    assert!(m(json!({"data": {"zip": [{"exists": false}]}}), order()));
    assert!(!m(json!({"data": {"city": [{"exists": false}]}}), order()));
    assert!(m(
        json!({"nothing": {"here": [{"exists": false}]}}),
        order()
    ));
    assert!(m(
        json!({"data": {"city": [{"exists": false}, "Paris"]}}),
        order()
    ));
}

#[test]
fn cidr_v4_and_v6() {
    assert!(m(
        json!({"data": {"ip": [{"cidr": "10.0.0.0/16"}]}}),
        order()
    ));
    assert!(!m(
        json!({"data": {"ip": [{"cidr": "10.1.0.0/16"}]}}),
        order()
    ));
    assert!(m(
        json!({"data": {"ip": [{"cidr": "10.0.3.7/32"}]}}),
        order()
    ));
    assert!(m(json!({"data": {"ip": [{"cidr": "0.0.0.0/0"}]}}), order()));
    let v6 = json!({"ip": "2001:db8::1"});
    assert!(m(json!({"ip": [{"cidr": "2001:db8::/32"}]}), v6.clone()));
    assert!(!m(json!({"ip": [{"cidr": "2001:db9::/32"}]}), v6.clone()));
    assert!(!m(json!({"ip": [{"cidr": "10.0.0.0/8"}]}), v6));
    assert!(!m(
        json!({"data": {"city": [{"cidr": "10.0.0.0/8"}]}}),
        order()
    ));
}

#[test]
fn wildcards() {
    let file = |w: &str| m(json!({"data": {"file": [{"wildcard": w}]}}), order());
    assert!(file("photos/*"));
    assert!(file("*.PNG"));
    assert!(file("photos/*.PNG"));
    assert!(file("*cat*"));
    assert!(file("photos/cat.PNG"));
    assert!(!file("photos/dog*"));
    assert!(!file("*.png"));
    assert!(!file("photos"));
    let star = json!({"k": "a*b"});
    assert!(m(json!({"k": [{"wildcard": "a\\*b"}]}), star.clone()));
    assert!(!m(
        json!({"k": [{"wildcard": "a\\*b"}]}),
        json!({"k": "axb"})
    ));
    assert!(m(json!({"k": [{"wildcard": "*"}]}), star));
    assert!(
        !m(json!({"k": [{"wildcard": "ab*ba"}]}), json!({"k": "aba"})),
        "pieces may not overlap"
    );
}

#[test]
fn or_at_the_top_and_nested() {
    let p = json!({"$or": [{"type": ["x"]}, {"data": {"city": ["Paris"]}}]});
    assert!(m(p, order()));
    let p = json!({"type": ["order.created"], "data": {"$or": [{"count": [9]}, {"paid": [true]}]}});
    assert!(m(p, order()));
    let p =
        json!({"type": ["order.created"], "data": {"$or": [{"count": [9]}, {"paid": [false]}]}});
    assert!(!m(p, order()));
}

#[test]
fn explain_names_the_failing_field() {
    let p = Pattern::compile(
        &json!({"type": ["order.created"], "data": {"amount": [{"numeric": [">", 100]}]}}),
        "",
    )
    .unwrap();
    let e = p.explain(&order()).unwrap_err();
    assert_eq!(e.pointer, "/data/amount");
    assert!(
        e.reason.contains("42.5") && e.reason.contains("numeric"),
        "{e}"
    );
    let p = Pattern::compile(&json!({"data": {"zip": ["75001"]}}), "").unwrap();
    let e = p.explain(&order()).unwrap_err();
    assert_eq!(e.pointer, "/data/zip");
    assert!(e.reason.contains("no field"), "{e}");
}

#[test]
fn bad_patterns_name_the_field_and_the_fix() {
    let e = problem(json!({"type": "order.created"}));
    assert!(
        e.starts_with("/pattern/type: ") && e.contains("array"),
        "{e}"
    );
    let e = problem(json!({"data": {"n": [{"numeric": [">", "x"]}]}}));
    assert!(e.starts_with("/pattern/data/n/0/numeric: "), "{e}");
    let e = problem(json!({"data": {"n": [{"numeric": [">", 5, "<", 1]}]}}));
    assert!(e.contains("empty"), "{e}");
    let e = problem(json!({"n": [{"prefixx": "a"}]}));
    assert!(e.contains("did you mean 'prefix'"), "{e}");
    let e = problem(json!({"n": [{"prefix": "a", "suffix": "b"}]}));
    assert!(e.contains("exactly one operator"), "{e}");
    let e = problem(json!({"n": []}));
    assert!(e.starts_with("/pattern/n: "), "{e}");
    let e = problem(json!({"n": [{"cidr": "10.0.0.0/33"}]}));
    assert!(e.starts_with("/pattern/n/0/cidr: "), "{e}");
    let e = problem(json!({"n": [{"wildcard": "a**b"}]}));
    assert!(e.contains("consecutive"), "{e}");
    let e = problem(json!({"$or": [{"a": [1]}]}));
    assert!(e.starts_with("/pattern/$or: "), "{e}");
    let e = problem(json!({"n": [{"exists": "yes"}]}));
    assert!(e.contains("true or false"), "{e}");
    let e = problem(json!({"n": [{"anything-but": {"numeric": [">", 1]}}]}));
    assert!(e.starts_with("/pattern/n/0/anything-but: "), "{e}");
    assert!(problem(json!([])).starts_with("/pattern: "));
    assert!(problem(json!({})).contains("empty"));
    let e = problem(json!({"a/b": ["x"], "c~d": "y"}));
    assert!(e.contains("/pattern/c~0d"), "{e}");
}

#[test]
fn or_explosion_is_refused() {
    let alt = json!({"$or": [{"a": [1]}, {"b": [1]}, {"c": [1]}, {"d": [1]}]});
    let mut p = serde_json::Map::new();
    for i in 0..6 {
        p.insert(format!("f{i}"), alt.clone());
    }
    assert!(problem(Value::Object(p)).contains("alternatives"));
}

#[test]
fn a_set_finds_every_matching_pattern_and_only_those() {
    let pats: Vec<Pattern> = [
        json!({"type": ["order.created"]}),
        json!({"type": ["order.created"], "data": {"city": ["Rome"]}}),
        json!({"source": [{"prefix": "shop"}]}),
        json!({"$or": [{"type": ["nope"]}, {"data": {"tags": ["vip"]}}]}),
        json!({"data": {"count": [3.0], "paid": [true]}}),
        json!({"type": ["order.deleted"]}),
        json!({"data": {"zip": [{"exists": false}]}}),
    ]
    .iter()
    .map(|p| Pattern::compile(p, "").unwrap())
    .collect();
    let set = PatternSet::new(&pats.iter().collect::<Vec<_>>());
    assert_eq!(set.matching(&order()), vec![0, 2, 3, 4, 6]);
    assert_eq!(set.len(), 7);
    assert_eq!(
        set.matching(&json!({"type": "order.deleted", "data": {"zip": 1}})),
        vec![5]
    );
}

#[test]
fn a_large_set_agrees_with_matching_one_by_one() {
    let mut pats = Vec::new();
    for i in 0..300 {
        let p = match i % 5 {
            0 => json!({"type": [format!("t{}", i % 17)], "source": ["s"]}),
            1 => json!({"data": {"n": [i % 7, {"numeric": [">", 100]}]}}),
            2 => json!({"data": {"n": [i % 11]}, "type": [{"prefix": "t1"}]}),
            3 => json!({"$or": [{"type": [format!("t{}", i % 13)]}, {"data": {"tag": ["x"]}}]}),
            _ => json!({"data": {"tag": [{"anything-but": format!("y{}", i % 3)}]}}),
        };
        pats.push(Pattern::compile(&p, "").unwrap());
    }
    let set = PatternSet::new(&pats.iter().collect::<Vec<_>>());
    for k in 0..60 {
        let event = json!({"type": format!("t{}", k % 19), "source": if k % 2 == 0 { "s" } else { "r" },
            "data": {"n": [k % 9, k * 10], "tag": if k % 4 == 0 { "x".to_string() } else { format!("y{}", k % 3) }}});
        let one_by_one: Vec<usize> = (0..pats.len())
            .filter(|&i| pats[i].matches(&event))
            .collect();
        assert_eq!(set.matching(&event), one_by_one, "event {event}");
    }
}

#[test]
fn eventbridge_names_are_aliases_of_type_and_data() {
    assert!(m(json!({"detail-type": ["order.created"]}), order()));
    assert!(m(json!({"detail": {"city": ["Paris"]}}), order()));
    assert!(!m(json!({"detail": {"city": ["Lyon"]}}), order()));
    assert!(m(
        json!({"source": ["shop/web"], "detail-type": [{"prefix": "order."}], "detail": {"amount": [{"numeric": [">", 40]}]}}),
        order()
    ));
    // Only at the top: a payload field named detail is itself.
    let nested = json!({"specversion": "1.0", "id": "2", "source": "s", "type": "t", "data": {"detail": {"x": 1}}});
    assert!(m(json!({"data": {"detail": {"x": [1]}}}), nested.clone()));
    assert!(m(json!({"detail": {"detail": {"x": [1]}}}), nested));
}
