//! Property tests: printing a condition tree and parsing it back gives the same tree, and the
//! parser never panics on arbitrary input.

use mamori_rules::ast::{Check, Expr, FieldExpr, Literal, Modifier, Op, Rhs, Transformer};
use mamori_rules::parser::parse_condition;
use proptest::prelude::*;

fn plain_field() -> impl Strategy<Value = FieldExpr> {
    (
        prop::sample::select(vec![
            "proc.name",
            "fd.name",
            "evt.arg",
            "proc.aname",
            "k8s.pod.label",
        ]),
        prop::option::of("[a-z0-9/ ._-]{0,6}"),
    )
        .prop_map(|(n, a)| FieldExpr::Field {
            name: n.to_string(),
            arg: a,
        })
}

fn field() -> impl Strategy<Value = FieldExpr> {
    plain_field().prop_recursive(2, 4, 1, |inner| {
        (
            prop::sample::select(vec![
                Transformer::ToLower,
                Transformer::ToUpper,
                Transformer::B64,
            ]),
            inner,
        )
            .prop_map(|(tf, a)| FieldExpr::Transform { tf, args: vec![a] })
    })
}

fn lit() -> impl Strategy<Value = Literal> {
    "\\PC{0,12}".prop_map(|text| Literal {
        text,
        quoted: false,
    })
}

fn check() -> impl Strategy<Value = Expr> {
    let scalar_ops = prop::sample::select(vec![
        Op::Eq,
        Op::Ne,
        Op::Contains,
        Op::IContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::Glob,
        Op::Regex,
    ]);
    let list_ops = prop::sample::select(vec![Op::In, Op::Intersects, Op::Pmatch]);
    prop_oneof![
        (field(), scalar_ops.clone(), lit()).prop_map(|(lhs, op, v)| Check {
            lhs,
            op,
            modifier: None,
            rhs: Rhs::Value(v)
        }),
        (field(), list_ops, prop::collection::vec(lit(), 0..4)).prop_map(|(lhs, op, v)| Check {
            lhs,
            op,
            modifier: None,
            rhs: Rhs::List(v)
        }),
        (field(), scalar_ops, prop::collection::vec(lit(), 0..3)).prop_map(|(lhs, op, v)| Check {
            lhs,
            op,
            modifier: Some(Modifier::AnyOf),
            rhs: Rhs::List(v)
        }),
        (
            field(),
            prop::sample::select(vec![Op::Lt, Op::Ge]),
            -1000i64..1000
        )
            .prop_map(|(lhs, op, n)| Check {
                lhs,
                op,
                modifier: None,
                rhs: Rhs::Value(Literal {
                    text: n.to_string(),
                    quoted: false
                })
            }),
        field().prop_map(|lhs| Check {
            lhs,
            op: Op::Exists,
            modifier: None,
            rhs: Rhs::None
        }),
        (field(), plain_field()).prop_map(|(lhs, f)| Check {
            lhs,
            op: Op::Eq,
            modifier: None,
            rhs: Rhs::Val(f)
        }),
    ]
    .prop_map(|c| Expr::Check(Box::new(c)))
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        check(),
        "[a-z][a-z0-9_]{0,6}"
            .prop_filter("keyword", |s| !matches!(s.as_str(), "and" | "or" | "not"))
            .prop_map(Expr::Ident)
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

/// Drops the `quoted` flag, which printing may change.
fn norm(e: &Expr) -> String {
    format!("{e}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_parse_round_trip(e in expr()) {
        let text = e.to_string();
        let back = parse_condition(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
        prop_assert_eq!(norm(&back), norm(&e));
        // Structure is kept too (And/Or/Not nesting, operators, values).
        let strip = |x: &Expr| x.to_string();
        prop_assert_eq!(strip(&back), text);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,80}") {
        let _ = parse_condition(&s);
    }

    #[test]
    fn parser_never_panics_on_condition_like_text(s in "[a-z. ()=!<>,'\"\\[\\]0-9]{0,60}") {
        let _ = parse_condition(&s);
    }

    #[test]
    fn loader_never_panics_on_rule_like_yaml(
        cond in "[a-z. ()=!<>,'\"0-9]{0,40}",
        out in "[a-z %.\\[\\]0-9]{0,30}",
    ) {
        let y = format!(
            "- list: l\n  items: [a, b]\n- macro: m\n  condition: {cond:?}\n- rule: r\n  desc: d\n  condition: {cond:?}\n  output: {out:?}\n  priority: INFO\n"
        );
        let _ = mamori_rules::load(&[mamori_rules::RulesFile::new("p.yaml", y)]);
    }
}

/// Found by the `condition_parser` fuzz target: a quoted `[` was printed bare and the printed
/// condition no longer parsed.
#[test]
fn bracket_value_prints_quoted_and_reparses() {
    let e = mamori_rules::parser::parse_condition("C.nn< \u{8}'['").unwrap();
    let printed = e.to_string();
    let again = mamori_rules::parser::parse_condition(&printed).unwrap();
    assert_eq!(again.to_string(), printed);
}

/// Found by the condition_parser fuzz target: a value that looks like the start of a dotted
/// field name (`o.`) must be printed so that it parses back.
#[test]
fn field_like_values_print_so_they_parse_back() {
    for cond in [
        "o.Z.Z < 'o.'",
        "proc.name = 'and'",
        "proc.name = 'a.'",
        "fd.name = 'x.y'",
    ] {
        let e = parse_condition(cond).expect(cond);
        let text = e.to_string();
        let back = parse_condition(&text).unwrap_or_else(|err| panic!("{cond} -> {text:?}: {err}"));
        assert_eq!(back.to_string(), text, "{cond}");
    }
}
