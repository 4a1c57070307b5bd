//! Conformance on Falco's own rules files (shared data): they load unchanged, and the seed rules
//! fire with Falco's output text on replayed events while near-misses do not.

use std::path::Path;

use mamori_rules::{load, replay::parse_line, Alert, Engine, Level, RulesFile, Settings};

fn files(dir: &Path, names: &[&str]) -> Vec<RulesFile> {
    names
        .iter()
        .map(|n| {
            let p = dir.join(n);
            RulesFile::new(p.display().to_string(), std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

const ALL: [&str; 3] = [
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

fn engine(names: &[&str]) -> Option<Engine> {
    let dir = mamori_testkit::shared_data("falco-rules")?;
    let loaded = match load(&files(&dir, names)) {
        Ok(l) => l,
        Err(e) => {
            for d in &e.diagnostics {
                if d.level == Level::Error {
                    eprintln!("{d}");
                }
            }
            panic!("{e}");
        }
    };
    Some(Engine::new(loaded.ruleset, Settings::default()))
}

fn alerts(engine: &Engine, line: &str) -> Vec<Alert> {
    let ev = parse_line(line, 1).unwrap();
    let mut out = Vec::new();
    engine.process(&ev, |a| out.push(a));
    out
}

#[test]
fn three_files_load_without_errors() {
    let Some(dir) = mamori_testkit::shared_data("falco-rules") else {
        return;
    };
    let loaded = load(&files(&dir, &ALL)).unwrap_or_else(|e| {
        for d in &e.diagnostics {
            eprintln!("{d}");
        }
        panic!("{e}")
    });
    let s = loaded.ruleset.stats();
    // 93 unique rule names across the three files (shared notes, section 3).
    assert_eq!(s.rules, 93, "{s:?}");
    assert!(s.enabled < s.rules);
    assert_eq!(s.macros, 315);
    assert_eq!(s.lists, 118);
    assert!(loaded.diagnostics.iter().all(|d| d.level == Level::Warning));
}
