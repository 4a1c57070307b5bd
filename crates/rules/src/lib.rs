//! mamori's runtime rules engine: loads Falco rules files unchanged, compiles their conditions,
//! evaluates events and renders Falco-compatible JSON alerts. Pure and synchronous.
//!
//! Stages, like Falco's loader: **read** (YAML with positions, [`yaml`]) → **collect** (lists,
//! macros, rules, `append`/`override`, [`collect`]) → **compile** (condition [`parser`], macro
//! and list expansion, exceptions, typed [`fields`], precompiled matchers) → **index** (rules by
//! `evt.type`). Every problem is a [`Diagnostic`] with a stable code, file:line:col and item.
//!
//! Evaluation: each event type gets its own program, built at load time: `evt.type` tests
//! folded to constants, dead rules dropped, cheap operands first, `or`s of string tests on one
//! field merged, rules pre-selected by the values of a few fields they pin (`proc.name in
//! (...)`), and conditions run as flat jumping code. A property test checks on random events
//! that the programs match exactly the rules the plain conditions match.
//!
//! Main types: [`load`] / [`RulesFile`] → [`Loaded`] ([`Ruleset`] + warnings) or [`LoadFailed`];
//! [`Engine`] evaluates [`mamori_core::Event`]s and emits [`Alert`]s; [`replay`] reads JSON Lines.
//!
//! ```
//! use mamori_rules::{load, Engine, RulesFile, Settings};
//!
//! let yaml = r#"
//! - list: shells
//!   items: [bash, sh]
//! - rule: Shell in container
//!   desc: a shell ran
//!   condition: evt.type = execve and proc.name in (shells) and container.id != host
//!   output: shell %proc.name in %container.id
//!   priority: NOTICE
//! "#;
//! let loaded = load(&[RulesFile::new("demo.yaml", yaml)]).unwrap();
//! let engine = Engine::new(loaded.ruleset, Settings::default());
//! let ev = mamori_rules::replay::parse_line(
//!     r#"{"evt.type":"execve","proc.name":"bash","container.id":"abc"}"#, 1).unwrap();
//! let mut alerts = Vec::new();
//! engine.process(&ev, |a| alerts.push(a));
//! assert_eq!(alerts[0].output_fields["container.id"], "abc");
//! assert!(alerts[0].output.ends_with("Notice shell bash in abc"));
//! ```

pub mod ast;
pub mod collect;
mod compile;
pub mod diag;
mod engine;
pub mod fields;
mod loader;
pub mod matchers;
mod output;
pub mod parser;
pub mod priority;
mod program;
pub mod replay;
mod specialize;
pub mod yaml;

pub use diag::{Code, Diagnostic, Level, Pos};
pub use engine::{CompiledRule, Engine, RuleMatching, Ruleset, Settings, Stats};
pub use loader::{load, LoadFailed, Loaded, RulesFile};
pub use output::{evt_time, rfc3339_nanos, Alert};
pub use priority::Priority;

/// mamori's own default ruleset (`rules/mamori_rules.yaml`), embedded in the binary.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/mamori_rules.yaml");

/// The file name shown in diagnostics for [`DEFAULT_RULES`].
pub const DEFAULT_RULES_NAME: &str = "<builtin>/mamori_rules.yaml";
