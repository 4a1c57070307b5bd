//! Folding and ordering must not change results: the per-type programs are compared with the
//! generic conditions on hand-written cases, and on random events over Falco's own rules files.

use mamori_core::event::Value;
use mamori_core::Event;
use proptest::prelude::*;

use crate::fields::FieldType;
use crate::program::{EvtType, Lhs, Node, NumTest, StrTest, Test};
use crate::{load, Engine, RulesFile, Settings};

fn engine(yaml: &str) -> Engine {
    let l = load(&[RulesFile::new("t.yaml", yaml)]).unwrap();
    Engine::new(l.ruleset, Settings::default())
}

fn program_len(e: &Engine, ctx: EvtType) -> usize {
    let rs = e.ruleset();
    let n = rs.slots.types.len();
    let i = match ctx {
        EvtType::Known(i) => i as usize,
        EvtType::Unknown => n,
        EvtType::Missing => n + 1,
    };
    rs.programs[i].rules.len()
}

fn ev(fields: &[(&str, Value)]) -> Event {
    let mut e = Event::default();
    for (k, v) in fields {
        e.fields.insert((*k).to_string(), v.clone());
    }
    e
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

#[test]
fn evt_type_tests_fold_and_dead_rules_are_dropped() {
    let e = engine(
        r#"
- rule: either
  desc: d
  condition: (evt.type = open and fd.name = /a) or (evt.type = connect and fd.sport = 1)
  output: o
  priority: INFO
- rule: never
  desc: d
  condition: evt.type = open and not evt.type in (open, openat)
  output: o
  priority: INFO
- rule: not open
  desc: d
  condition: evt.type != open and proc.name = x
  output: o
  priority: INFO
"#,
    );
    let rs = e.ruleset();
    let open = rs.slots.types["open"];
    let connect = rs.slots.types["connect"];
    // "either" only (its connect half folds away); "never" is dead; "not open" folds to false.
    assert_eq!(program_len(&e, EvtType::Known(open)), 1);
    match &rs.programs[open as usize].rules[0].1 {
        Node::Check(c) => assert!(matches!(c.test, Test::Str(StrTest::Eq(_)))),
        other => panic!("expected a single fd.name check, got {other:?}"),
    }
    // connect: "either" (sport half) and "not open" (untyped: runs everywhere).
    assert_eq!(program_len(&e, EvtType::Known(connect)), 2);
    // An unknown type: only the untyped rule, reduced to its proc.name test.
    assert_eq!(program_len(&e, EvtType::Unknown), 1);
    // No evt.type at all: `evt.type != open` is false, like the generic evaluation.
    assert_eq!(program_len(&e, EvtType::Missing), 0);
    let hit = ev(&[("evt.type", s("open")), ("fd.name", s("/a"))]);
    assert_eq!(e.optimised_matches(&hit), vec![0]);
    assert_eq!(e.reference_matches(&hit), vec![0]);
    let other = ev(&[("evt.type", s("mkdir")), ("proc.name", s("x"))]);
    assert_eq!(e.optimised_matches(&other), vec![2]);
    assert_eq!(e.reference_matches(&other), vec![2]);
    let none = ev(&[("proc.name", s("x"))]);
    assert!(e.optimised_matches(&none).is_empty());
    assert!(e.reference_matches(&none).is_empty());
}

#[test]
fn type_only_macros_vanish_and_operands_are_ordered() {
    let e = engine(
        r#"
- macro: open_write
  condition: evt.type in (open, openat) and evt.is_open_write = true and fd.typechar = 'f'
- rule: w
  desc: d
  condition: >
    fd.name regex '.*x' and not proc.name in (a, b, c) and open_write
    and fd.name startswith /etc
  output: o
  priority: INFO
"#,
    );
    let rs = e.ruleset();
    let openat = rs.slots.types["openat"];
    let prog = &rs.programs[openat as usize];
    let Node::And(kids) = &prog.rules[0].1 else {
        panic!("expected an and");
    };
    // The macro (used once) is inlined without its evt.type test and flattened; the cheap
    // comparisons that are likely false come first, the regex (dear) and the negated list
    // test (rarely false) last.
    assert_eq!(kids.len(), 5);
    let test_of = |n: &Node| match n {
        Node::Check(c) => (false, matches!(c.test, Test::Str(StrTest::Regex(_)))),
        Node::Not(_) => (true, false),
        other => panic!("{other:?}"),
    };
    for k in &kids[..3] {
        assert_eq!(test_of(k), (false, false), "{k:?}");
    }
    let tail: Vec<_> = kids[3..].iter().map(test_of).collect();
    assert!(tail.contains(&(false, true)) && tail.contains(&(true, false)));
    assert!(!kids.iter().any(|k| matches!(k, Node::Macro(_))));
}

/// Values worth trying for each slot: the constants the rules compare it with (and
/// neighbours), so random events do match rules.
fn value_pools(e: &Engine) -> Vec<Vec<Value>> {
    fn walk(n: &Node, pools: &mut [Vec<Value>]) {
        match n {
            Node::And(v) | Node::Or(v) => v.iter().for_each(|c| walk(c, pools)),
            Node::Not(c) => walk(c, pools),
            Node::Macro(_) | Node::AnyStr(_) => {}
            Node::Check(c) => {
                let Lhs::Slot { slot, .. } = c.lhs else {
                    return;
                };
                let Some(pool) = pools.get_mut(slot as usize) else {
                    return;
                };
                let mut add_str = |t: &str| pool.push(Value::Str(t.to_string()));
                match &c.test {
                    Test::Str(t) => match t {
                        StrTest::Eq(v) | StrTest::Ne(v) | StrTest::Ord(_, v) => add_str(v),
                        StrTest::StartsWith(v) => {
                            add_str(v);
                            add_str(&format!("{v}/x"));
                        }
                        StrTest::EndsWith(v) => add_str(&format!("/x/{v}")),
                        StrTest::Contains(f) => {
                            add_str(&format!("a{}b", String::from_utf8_lossy(f.needle())))
                        }
                        StrTest::IContains(v) => add_str(&v.to_uppercase()),
                        StrTest::InSmall(v) => v.iter().for_each(|x| add_str(x)),
                        StrTest::In(set) => set.keys().take(8).for_each(&mut add_str),
                        _ => {}
                    },
                    Test::Num(NumTest::Cmp(_, n)) => {
                        for d in [-1, 0, 1] {
                            pool.push(Value::Int(n.saturating_add(d)));
                        }
                    }
                    Test::Num(NumTest::In(v)) => v.iter().for_each(|n| pool.push(Value::Int(*n))),
                    _ => {}
                }
            }
        }
    }
    let rs = e.ruleset();
    let mut pools = vec![Vec::new(); rs.slots.len()];
    for r in &rs.rules {
        walk(&r.cond, &mut pools);
    }
    for m in &rs.macro_nodes {
        walk(m, &mut pools);
    }
    pools
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn random_event(e: &Engine, pools: &[Vec<Value>], seed: u64) -> Event {
    let rs = e.ruleset();
    let mut rng = Rng(seed | 1);
    let mut ev = Event::default();
    let mut types: Vec<&str> = rs.slots.types.keys().map(|k| &**k).collect();
    types.sort_unstable();
    match rng.below(20) {
        0 => {}
        1 => {
            ev.fields.insert("evt.type".into(), s("nosuchcall"));
        }
        _ => {
            let t = types[rng.below(types.len())];
            ev.fields.insert("evt.type".into(), s(t));
        }
    }
    let generic = [
        "",
        "/etc/shadow",
        "bash",
        "host",
        "runc",
        "/usr/bin/x",
        "0",
        "true",
    ];
    let density = 2 + rng.below(6);
    for (slot, keys) in rs.slots.lookup.iter().enumerate() {
        if rng.below(8) >= density {
            continue;
        }
        let key = &keys[rng.below(keys.len())];
        let ty = rs.slots.keys[slot].1;
        let pool = &pools[slot];
        let v = match ty {
            FieldType::Bool => Value::Bool(rng.below(2) == 0),
            FieldType::Num if rng.below(8) != 0 => match pool.get(rng.below(pool.len() + 2)) {
                Some(v) => v.clone(),
                None => Value::Int(rng.below(5) as i64 - 1),
            },
            FieldType::Ip | FieldType::Net => {
                s(["10.0.0.1", "127.0.0.1", "::1", "x"][rng.below(4)])
            }
            _ => match rng.below(12) {
                0 => Value::List(vec![
                    generic[rng.below(generic.len())].into(),
                    generic[rng.below(generic.len())].into(),
                ]),
                // Values of another type than the field's: compared as text, or not at all.
                1 => Value::Int(rng.below(3) as i64),
                2 => Value::Bool(rng.below(2) == 0),
                3 | 4 => s(generic[rng.below(generic.len())]),
                _ => match pool.get(rng.below(pool.len() + 1)) {
                    Some(v) => v.clone(),
                    None => s(generic[rng.below(generic.len())]),
                },
            },
        };
        ev.fields.insert(key.to_string(), v);
    }
    ev
}

fn falco_engine() -> Option<Engine> {
    let dir = mamori_testkit::shared_data("falco-rules")?;
    let files: Vec<RulesFile> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|n| RulesFile::new(*n, std::fs::read_to_string(dir.join(n)).unwrap()))
    .collect();
    Some(Engine::new(
        load(&files).unwrap().ruleset,
        Settings::default(),
    ))
}

fn agree(e: &Engine, pools: &[Vec<Value>], seed: u64) -> Result<usize, TestCaseError> {
    let ev = random_event(e, pools, seed);
    let want = e.reference_matches(&ev);
    let got = e.optimised_matches(&ev);
    prop_assert_eq!(&got, &want, "event {:?}", ev.fields);
    Ok(want.len())
}

#[test]
fn optimised_programs_agree_with_generic_conditions_on_falco_rules() {
    let Some(e) = falco_engine() else {
        return;
    };
    let pools = value_pools(&e);
    let matched = std::cell::Cell::new(0usize);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
    let result = runner.run(&any::<u64>(), |seed| {
        if agree(&e, &pools, seed)? > 0 {
            matched.set(matched.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The comparison means something only if rules do fire on these events.
    let matched = matched.get();
    assert!(
        matched > 100,
        "only {matched} of 3000 random events matched a rule"
    );
}

#[test]
fn optimised_programs_agree_with_generic_conditions_on_default_rules() {
    let l = load(&[RulesFile::new("d", crate::DEFAULT_RULES)]).unwrap();
    let e = Engine::new(l.ruleset, Settings::default());
    let pools = value_pools(&e);
    let matched = std::cell::Cell::new(0usize);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
    let result = runner.run(&any::<u64>(), |seed| {
        if agree(&e, &pools, seed)? > 0 {
            matched.set(matched.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let matched = matched.get();
    assert!(
        matched > 30,
        "only {matched} of 3000 random events matched a rule"
    );
}

#[test]
fn rules_are_preselected_by_pinned_field_values() {
    let e = engine(
        r#"
- macro: cd_write
  condition: proc.name in (c, d) and evt.is_open_write = true
- rule: r0
  desc: d
  condition: evt.type = open and proc.name = a and fd.name = x
  output: o
  priority: INFO
- rule: r1
  desc: d
  condition: evt.type = open and proc.name in (a, b, e, f, g, h, i)
  output: o
  priority: INFO
- rule: r2
  desc: d
  condition: evt.type = open and (proc.name = b or (proc.name = c and fd.name = y))
  output: o
  priority: INFO
- rule: r3
  desc: d
  condition: evt.type = open and cd_write
  output: o
  priority: INFO
- rule: r4
  desc: d
  condition: evt.type = open and not proc.name = a
  output: o
  priority: INFO
- rule: r5
  desc: d
  condition: evt.type = open and (proc.name = a or fd.name = y)
  output: o
  priority: INFO
"#,
    );
    let rs = e.ruleset();
    let open = rs.slots.types["open"] as usize;
    let name = rs.slots.map["proc.name"];
    let d = rs.programs[open].dispatch.as_ref().expect("pre-selected");
    assert_eq!(d.slots()[0], name);
    type Fields = Vec<(&'static str, Value)>;
    let cases: Vec<(Fields, Vec<u32>)> = vec![
        (
            vec![("proc.name", s("a")), ("fd.name", s("x"))],
            vec![0, 1, 5],
        ),
        (vec![("proc.name", s("b"))], vec![1, 2, 4]),
        (
            vec![("proc.name", s("c")), ("fd.name", s("y"))],
            vec![2, 4, 5],
        ),
        (
            vec![
                ("proc.name", s("d")),
                ("evt.is_open_write", Value::Bool(true)),
            ],
            vec![3, 4],
        ),
        // Compared as text, a string "true" reads as the boolean.
        (
            vec![("proc.name", s("d")), ("evt.is_open_write", s("true"))],
            vec![3, 4],
        ),
        (
            vec![("proc.name", s("d")), ("evt.is_open_write", Value::Int(1))],
            vec![3, 4],
        ),
        (
            vec![("proc.name", s("zz")), ("fd.name", s("y"))],
            vec![4, 5],
        ),
        // Missing: only rules that do not pin proc.name can match (`not proc.name = a` does).
        (vec![("fd.name", s("y"))], vec![4, 5]),
        // A list: `in` needs every value in the set, `=` any of them; all rules are tried.
        (
            vec![("proc.name", Value::List(vec!["a".into(), "b".into()]))],
            vec![1, 2, 5],
        ),
    ];
    for (fields, want) in cases {
        let mut f = fields.clone();
        f.push(("evt.type", s("open")));
        let ev = ev(&f);
        assert_eq!(e.reference_matches(&ev), want, "{fields:?}");
        assert_eq!(e.optimised_matches(&ev), want, "{fields:?}");
    }
}

/// Fields derived as "any of these slots" (`proc.aname`, `fd.ip`, `fd.port`, ...) are tested
/// value by value instead of on the built list; on random mixes of text, numbers, booleans,
/// lists and missing values, that gives the same answers as the list.
#[test]
fn derived_lists_tested_value_by_value_agree_with_the_built_list() {
    let checks = [
        "proc.aname exists",
        "proc.aname = bash",
        "proc.aname != bash",
        "proc.aname in (bash, sh, 1, true)",
        "not proc.aname in (runc)",
        "proc.aname startswith ba",
        "proc.aname contains '5'",
        "proc.aname pmatch (/usr)",
        "fd.port = 53",
        "fd.port in (53, 80)",
        "fd.port > 1000",
        "fd.port exists",
        "fd.net = 10.0.0.0/8",
        "fd.ip != 127.0.0.1",
        "fd.snet in (192.168.0.0/16, ::1)",
        "fd.cnet exists",
    ];
    let yaml: String = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "- rule: r{i}\n  desc: d\n  condition: evt.type = open and {c}\n  output: o\n  priority: INFO\n"
            )
        })
        .collect();
    let e = engine(&yaml);
    let keys = [
        "proc.pname",
        "proc.aname[2]",
        "proc.aname[3]",
        "proc.aname[8]",
        "fd.sip",
        "fd.cip",
        "fd.sport",
        "fd.cport",
        // The derived fields themselves, sometimes carried by the event.
        "proc.aname",
        "fd.port",
    ];
    let texts = [
        "bash",
        "sh",
        "runc",
        "1",
        "53",
        "80",
        "5000",
        "true",
        "10.1.2.3",
        "127.0.0.1",
        "192.168.1.1",
        "::1",
        "/usr/bin",
        "x",
    ];
    let hits = std::cell::Cell::new(0usize);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
    let result = runner.run(&any::<u64>(), |seed| {
        let mut rng = Rng(seed | 1);
        let mut ev = ev(&[("evt.type", s("open"))]);
        for k in keys {
            let v = match rng.below(if k.contains('[') || k.contains("port") {
                8
            } else {
                7
            }) {
                0 | 1 => continue,
                2 => Value::Int([1, 53, 80, 5000][rng.below(4)]),
                3 => Value::Bool(rng.below(2) == 0),
                4 => Value::List(vec![
                    texts[rng.below(texts.len())].into(),
                    texts[rng.below(texts.len())].into(),
                ]),
                _ if k == "proc.aname" || k == "fd.port" => continue,
                _ => s(texts[rng.below(texts.len())]),
            };
            ev.fields.insert(k.to_string(), v);
        }
        let want = e.reference_matches(&ev);
        let got = e.optimised_matches(&ev);
        hits.set(hits.get() + want.len());
        prop_assert_eq!(&got, &want, "event {:?}", ev.fields);
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    assert!(hits.get() > 3000, "only {} matches", hits.get());
}

/// String comparisons of one field joined by `or` are merged into one node; on random values
/// of every kind (text, numbers, booleans, lists, missing), it answers like the `or`.
#[test]
fn merged_string_ors_agree_with_the_or() {
    let checks = [
        "(fd.name = /etc/a or fd.name startswith /usr/ or fd.name endswith .conf or fd.name in (/x, /y, /z, /w, /v, /u, /t) or fd.name contains tmp)",
        "(proc.name = bash or proc.name = sh)",
        "(fd.name startswith /etc or fd.name glob '/var/*/log' or fd.name pmatch (/opt))",
        "not (proc.name in (a, b) or proc.name = c or proc.name startswith x)",
        "(fd.directory = /etc or fd.directory startswith /usr)",
        "(proc.aname = bash or proc.aname startswith sy)",
        "(fd.types in (ipv4, ipv6) or fd.types = file)",
        "(proc.name = true or proc.name = 1 or proc.name endswith ue or proc.pname = sh)",
    ];
    let yaml: String = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "- rule: r{i}\n  desc: d\n  condition: evt.type = open and {c}\n  output: o\n  priority: INFO\n"
            )
        })
        .collect();
    let e = engine(&yaml);
    fn has_any_str(n: &Node) -> bool {
        match n {
            Node::AnyStr(_) => true,
            Node::And(v) | Node::Or(v) => v.iter().any(has_any_str),
            Node::Not(x) => has_any_str(x),
            _ => false,
        }
    }
    let rs = e.ruleset();
    let open = rs.slots.types["open"] as usize;
    let merged = rs.programs[open]
        .rules
        .iter()
        .filter(|(_, n)| has_any_str(n))
        .count();
    assert!(merged >= 5, "only {merged} rules have merged ors");
    let keys = [
        "fd.name",
        "proc.name",
        "proc.pname",
        "proc.aname[2]",
        "fd.types",
        "fd.directory",
    ];
    let texts = [
        "/etc/a",
        "/usr/bin/x",
        "/a.conf",
        "/x",
        "/y",
        "/tmp/z",
        "/var/q/log",
        "/opt/k",
        "bash",
        "sh",
        "c",
        "xyz",
        "true",
        "1",
        "trash",
        "/etc",
        "ipv4",
        "file",
        "sy",
        "/usr",
    ];
    let hits = std::cell::Cell::new(0usize);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
    let result = runner.run(&any::<u64>(), |seed| {
        let mut rng = Rng(seed | 1);
        let mut ev = ev(&[("evt.type", s("open"))]);
        for k in keys {
            let v = match rng.below(8) {
                0 => continue,
                1 => Value::Int(rng.below(3) as i64),
                2 => Value::Bool(rng.below(2) == 0),
                3 => Value::List(vec![
                    texts[rng.below(texts.len())].into(),
                    texts[rng.below(texts.len())].into(),
                ]),
                _ if k == "fd.directory" => continue,
                _ => s(texts[rng.below(texts.len())]),
            };
            ev.fields.insert(k.to_string(), v);
        }
        let want = e.reference_matches(&ev);
        let got = e.optimised_matches(&ev);
        hits.set(hits.get() + want.len());
        prop_assert_eq!(&got, &want, "event {:?}", ev.fields);
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    assert!(hits.get() > 2000, "only {} matches", hits.get());
}

#[test]
fn rules_are_preselected_by_boolean_fields() {
    let rule = |i: usize, c: &str| {
        format!("- rule: b{i}\n  desc: d\n  condition: evt.type = open and {c}\n  output: o\n  priority: INFO\n")
    };
    let yaml: String = [
        "evt.is_open_write = true and fd.name = a",
        "evt.is_open_write = true",
        "evt.is_open_write = false",
        "evt.is_open_write != true and fd.name exists",
        "evt.is_open_write in (true) or evt.is_open_write = true",
        "fd.name = a",
        "not evt.is_open_write = true",
    ]
    .iter()
    .enumerate()
    .map(|(i, c)| rule(i, c))
    .collect();
    let e = engine(&yaml);
    let rs = e.ruleset();
    let open = rs.slots.types["open"] as usize;
    let w = rs.slots.map["evt.is_open_write"];
    let d = rs.programs[open].dispatch.as_ref().expect("pre-selected");
    assert!(d.slots().contains(&w));
    let cases: Vec<(Option<Value>, Vec<u32>)> = vec![
        (Some(Value::Bool(true)), vec![0, 1, 4, 5]),
        (Some(Value::Bool(false)), vec![2, 3, 5, 6]),
        (Some(s("true")), vec![0, 1, 4, 5]),
        (Some(s("false")), vec![2, 3, 5, 6]),
        (Some(s("yes")), vec![5, 6]),
        (Some(Value::Int(1)), vec![0, 1, 4, 5]),
        (None, vec![5, 6]),
    ];
    for (val, want) in cases {
        let mut f = vec![("evt.type", s("open")), ("fd.name", s("a"))];
        if let Some(v) = &val {
            f.push(("evt.is_open_write", v.clone()));
        }
        let ev = ev(&f);
        assert_eq!(e.reference_matches(&ev), want, "{val:?}");
        assert_eq!(e.optimised_matches(&ev), want, "{val:?}");
    }
}
