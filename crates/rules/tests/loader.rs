//! Loader semantics (Falco `test_rule_loader.cpp` behaviours): lists, macros, append/override,
//! exceptions, versions, and coded diagnostics with positions for bad input.

use mamori_rules::{
    load, replay::parse_line, Code, Engine, Level, LoadFailed, RulesFile, Settings,
};

fn ok(yaml: &str) -> mamori_rules::Loaded {
    load(&[RulesFile::new("t.yaml", yaml)]).unwrap_or_else(|e| {
        for d in &e.diagnostics {
            eprintln!("{d}");
        }
        panic!("{e}")
    })
}

fn fails(yaml: &str) -> LoadFailed {
    load(&[RulesFile::new("t.yaml", yaml)]).expect_err("should fail")
}

fn first_error(f: &LoadFailed) -> &mamori_rules::Diagnostic {
    f.diagnostics
        .iter()
        .find(|d| d.level == Level::Error)
        .unwrap()
}

fn fires(l: mamori_rules::Loaded, ev: &str) -> Vec<String> {
    let e = Engine::new(
        l.ruleset,
        Settings {
            rule_matching: mamori_rules::RuleMatching::All,
            ..Settings::default()
        },
    );
    let mut v = Vec::new();
    e.process(&parse_line(ev, 1).unwrap(), |a| v.push(a.output));
    v
}

const RULE: &str = "
- list: shells
  items: [ash, bash]
- macro: spawn
  condition: evt.type = execve
- rule: r
  desc: legit rule description
  condition: spawn and proc.name in (shells)
  output: shell %proc.name
  priority: WARNING
";

const PWSH: &str = r#"{"evt.type":"execve","proc.name":"pwsh","proc.cmdline":"pwsh -c x"}"#;
const BASH: &str = r#"{"evt.type":"execve","proc.name":"bash","proc.cmdline":"bash -c x"}"#;

#[test]
fn list_append_with_override_and_legacy_append() {
    // test_rule_loader list_append: appended items are part of the list.
    let y = format!("{RULE}\n- list: shells\n  items: [pwsh]\n  override:\n    items: append\n");
    assert_eq!(fires(ok(&y), PWSH).len(), 1);
    let y = format!("{RULE}\n- list: shells\n  items: [pwsh]\n  append: true\n");
    let l = ok(&y);
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadDeprecatedAppend));
    assert_eq!(fires(l, PWSH).len(), 1);
}

#[test]
fn list_redefinition_replaces() {
    let y = format!("{RULE}\n- list: shells\n  items: [pwsh]\n");
    let l = ok(&y);
    assert_eq!(fires(l, BASH).len(), 0);
}

#[test]
fn lists_inside_lists_expand() {
    let y = "
- list: a
  items: [bash]
- list: b
  items: [a, zsh]
- rule: r
  desc: d
  condition: evt.type = execve and proc.name in (b)
  output: o
  priority: INFO
";
    assert_eq!(fires(ok(y), BASH).len(), 1);
}

#[test]
fn macro_append_or() {
    // test_rule_loader macro_append: `or proc.name = ssh` extends the macro.
    let y = "
- macro: m
  condition: proc.name = ssh
- macro: m
  condition: or proc.name = bash
  override:
    condition: append
- rule: r
  desc: d
  condition: evt.type = execve and (m)
  output: o
  priority: INFO
";
    assert_eq!(fires(ok(y), BASH).len(), 1);
}

#[test]
fn rule_override_append_concatenates_with_a_space() {
    let y = format!(
        "{RULE}\n- rule: r\n  desc: with append\n  output: and more\n  condition: and proc.cmdline contains x\n  override:\n    desc: append\n    output: append\n    condition: append\n"
    );
    let l = ok(&y);
    assert_eq!(
        l.ruleset.rules()[0].desc,
        "legit rule description with append"
    );
    assert_eq!(
        fires(l, BASH),
        ["00:00:00.000000000: Warning shell bash and more"]
    );
}

#[test]
fn rule_override_replace_priority_and_enabled() {
    let y = format!(
        "{RULE}\n- rule: r\n  priority: ERROR\n  enabled: false\n  override:\n    priority: replace\n    enabled: replace\n"
    );
    let l = ok(&y);
    assert_eq!(l.ruleset.rules()[0].priority, mamori_rules::Priority::Error);
    assert!(!l.ruleset.rules()[0].enabled);
}

#[test]
fn priority_cannot_be_appended() {
    let y = format!("{RULE}\n- rule: r\n  priority: ERROR\n  override:\n    priority: append\n");
    let f = fails(&y);
    assert!(
        first_error(&f).message.contains("cannot be appended"),
        "{f}"
    );
}

#[test]
fn override_keys_must_match_item_keys() {
    let y = format!(
        "{RULE}\n- rule: r\n  desc: x\n  priority: ERROR\n  override:\n    desc: replace\n"
    );
    let f = fails(&y);
    assert!(
        first_error(&f)
            .message
            .contains("unexpected key 'priority'"),
        "{f}"
    );
    let y = format!("{RULE}\n- rule: r\n  override:\n    desc: replace\n");
    let f = fails(&y);
    assert!(
        first_error(&f).message.contains("'desc' is not defined"),
        "{f}"
    );
}

#[test]
fn append_and_override_together_is_an_error() {
    let y = format!(
        "{RULE}\n- list: shells\n  items: [x]\n  append: true\n  override:\n    items: append\n"
    );
    assert_eq!(first_error(&fails(&y)).code, Code::LoadErrOverride);
}

#[test]
fn append_before_definition_is_an_error_replace_is_not() {
    // test_rule_loader: macro override append before definition fails; replace works.
    let y = "- macro: m\n  condition: proc.name = a\n  override:\n    condition: append\n";
    assert_eq!(first_error(&fails(y)).code, Code::LoadErrNoPrevious);
    let y = "
- macro: m
  condition: proc.name = nope
  override:
    condition: replace
- macro: m
  condition: proc.name = bash
- rule: r
  desc: d
  condition: evt.type = execve and m
  output: o
  priority: INFO
";
    assert_eq!(fires(ok(y), BASH).len(), 1);
}

#[test]
fn standalone_enabled_is_deprecated_but_works() {
    let y = format!("{RULE}\n- rule: r\n  enabled: false\n");
    let l = ok(&y);
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadDeprecatedEnabled));
    assert_eq!(l.ruleset.stats().enabled, 0);
}

#[test]
fn exceptions_tuple_form() {
    // test_rule_loader exceptions: rows are AND-ed tuples, OR-ed together, negated.
    let y = "
- rule: r
  desc: d
  condition: evt.type = execve and proc.cmdline contains x
  output: o
  priority: INFO
  exceptions:
    - name: known
      fields: [proc.name, proc.cmdline]
      comps: [in, startswith]
      values:
        - [bash, bash -c]
        - [[zsh, ksh], zsh]
";
    let l = ok(y);
    assert!(fires(l, BASH).is_empty());
    let l = ok(y);
    assert_eq!(fires(l, PWSH).len(), 1);
}

#[test]
fn exceptions_scalar_form_and_list_values() {
    let y = "
- list: ok_shells
  items: [bash]
- rule: r
  desc: d
  condition: evt.type = execve
  output: o
  priority: INFO
  exceptions:
    - name: names
      fields: proc.name
      values: [ok_shells, dash]
";
    let l = ok(y);
    assert!(fires(l, BASH).is_empty(), "list names in values expand");
    assert_eq!(fires(ok(y), PWSH).len(), 1);
}

#[test]
fn exception_appending_values() {
    let y = "
- rule: r
  desc: d
  condition: evt.type = execve
  output: o
  priority: INFO
  exceptions:
    - name: names
      fields: [proc.name]
      values: [[zsh]]
- rule: r
  exceptions:
    - name: names
      values: [[bash]]
  override:
    exceptions: append
";
    assert!(fires(ok(y), BASH).is_empty());
}

#[test]
fn exception_errors() {
    let base = "- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: INFO\n  exceptions:\n";
    let bad_len =
        format!("{base}    - name: e\n      fields: [proc.name, proc.pid]\n      values: [[a]]\n");
    assert!(first_error(&fails(&bad_len))
        .message
        .contains("equal length"));
    let bad_comp = format!("{base}    - name: e\n      fields: [proc.name]\n      comps: [likes]\n      values: [[a]]\n");
    assert!(first_error(&fails(&bad_comp))
        .message
        .contains("not a supported comparison operator"));
    let bad_field =
        format!("{base}    - name: e\n      fields: [proc.nope]\n      values: [[a]]\n");
    assert!(first_error(&fails(&bad_field))
        .message
        .contains("not a supported filter field"));
    let mixed = format!(
        "{base}    - name: e\n      fields: proc.name\n      comps: [in]\n      values: [a]\n"
    );
    assert!(first_error(&fails(&mixed))
        .message
        .contains("must both be strings"));
}

#[test]
fn undefined_macro_and_cycles_are_errors() {
    let y = "- rule: r\n  desc: d\n  condition: nope\n  output: o\n  priority: INFO\n";
    let f = fails(y);
    let d = first_error(&f);
    assert!(d.message.contains("undefined macro 'nope'"), "{d}");
    assert_eq!((d.pos.line, d.pos.col), (3, 14));
    // A cycle needs a redefinition: a macro only sees macros defined before its last
    // definition (see `macro_visibility_follows_falco`).
    let y = "
- macro: a
  condition: proc.name = x
- macro: b
  condition: a
- macro: a
  condition: b
- rule: r
  desc: d
  condition: a
  output: o
  priority: INFO
";
    assert!(first_error(&fails(y)).message.contains("cycle"));
}

const R_USES_A: &str = "
- rule: r
  desc: d
  condition: evt.type = execve and a
  output: o
  priority: INFO
";

#[test]
fn macro_visibility_follows_falco() {
    // Falco's rule_loader_compiler: a macro's condition sees the macros whose first
    // definition comes before the macro's last definition; a rule sees every macro.
    let later = "
- macro: a
  condition: b
- macro: b
  condition: proc.name = bash
";
    let f = fails(&format!("{later}{R_USES_A}"));
    let d = first_error(&f);
    assert_eq!(d.item, "macro 'a'", "{d}");
    assert!(d.message.contains("undefined macro 'b'"), "{d}");
    assert_eq!(d.pos.line, 3, "{d}");
    // A rule may use a macro defined after it.
    let rule_first = format!("{R_USES_A}\n- macro: a\n  condition: proc.name = bash\n");
    assert_eq!(fires(ok(&rule_first), BASH).len(), 1);
    // Redefining (or appending to) a macro after the one it names makes that one visible
    // (falcosecurity/falco#1793).
    let redefined = format!("{later}- macro: a\n  condition: b\n{R_USES_A}");
    assert_eq!(fires(ok(&redefined), BASH).len(), 1);
    let appended = "
- macro: a
  condition: proc.name = zsh
- macro: b
  condition: proc.name = bash
- macro: a
  condition: or b
  override:
    condition: append
";
    assert_eq!(fires(ok(&format!("{appended}{R_USES_A}")), BASH).len(), 1);
}

#[test]
fn unused_macros_and_disabled_rules_are_still_resolved() {
    // Falco resolves every macro and compiles disabled rules: an undefined macro is an error
    // even where nothing would evaluate it.
    let unused = "
- macro: lonely
  condition: nowhere
- rule: r
  desc: d
  condition: evt.type = execve
  output: o
  priority: INFO
";
    let f = fails(unused);
    let d = first_error(&f);
    assert_eq!(d.item, "macro 'lonely'", "{d}");
    assert!(d.message.contains("undefined macro 'nowhere'"), "{d}");
    let disabled = "
- rule: r
  desc: d
  condition: evt.type = execve and nowhere
  output: o
  priority: INFO
  enabled: false
";
    let f = fails(disabled);
    assert!(first_error(&f)
        .message
        .contains("undefined macro 'nowhere'"));
}

#[test]
fn list_visibility_follows_falco() {
    // A list item naming a list defined later is a plain string, unless the list holding it
    // was redefined or appended to after that list was defined (Falco's compile_list_infos);
    // conditions see every list whatever the order.
    let rule = "
- rule: r
  desc: d
  condition: evt.type = execve and proc.name in (outer)
  output: o
  priority: INFO
";
    let later = "
- list: outer
  items: [inner]
- list: inner
  items: [bash]
";
    let l = ok(&format!("{rule}{later}"));
    assert!(fires(l, BASH).is_empty());
    let inner_literal = r#"{"evt.type":"execve","proc.name":"inner"}"#;
    assert_eq!(fires(ok(&format!("{rule}{later}")), inner_literal).len(), 1);
    let appended =
        format!("{later}- list: outer\n  items: [zsh]\n  override:\n    items: append\n");
    assert_eq!(fires(ok(&format!("{rule}{appended}")), BASH).len(), 1);
}

#[test]
fn parse_errors_have_position_and_code() {
    let y = "- rule: r\n  desc: d\n  condition: (proc.name = a\n  output: o\n  priority: INFO\n";
    let f = fails(y);
    let d = first_error(&f);
    assert_eq!(d.code, Code::LoadErrCompileCondition);
    assert_eq!(d.item, "rule 'r'");
    assert_eq!(d.pos.line, 3);
    assert!(d
        .to_string()
        .starts_with("t.yaml:3:14: error LOAD_ERR_COMPILE_CONDITION (rule 'r')"));
}

#[test]
fn malformed_yaml_is_a_coded_error() {
    let f = fails("- rule: [unclosed\n");
    assert_eq!(first_error(&f).code, Code::LoadErrYamlParse);
    let f = fails("rule: not a sequence\n");
    assert_eq!(first_error(&f).code, Code::LoadErrYamlValidate);
}

#[test]
fn missing_mandatory_keys_and_bad_priority() {
    let f = fails("- rule: r\n  desc: d\n  condition: evt.type = open\n  priority: INFO\n");
    assert!(first_error(&f).message.contains("'output'"));
    let f = fails(
        "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: LOUD\n",
    );
    assert!(first_error(&f).message.contains("invalid priority"));
}

#[test]
fn unknown_keys_and_items_warn() {
    let y = format!("{RULE}\n- something: else\n- rule: r2\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  colour: blue\n");
    let l = ok(&y);
    assert!(
        l.diagnostics
            .iter()
            .filter(|d| d.code == Code::LoadUnknownItem)
            .count()
            >= 2
    );
}

#[test]
fn unused_lists_and_macros_warn() {
    let y = format!(
        "{RULE}\n- list: lonely\n  items: [a]\n- macro: lonely_macro\n  condition: proc.name = a\n"
    );
    let l = ok(&y);
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadUnusedList && d.item == "list 'lonely'"));
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadUnusedMacro));
}

#[test]
fn rule_without_evttype_warns_unless_told_not_to() {
    let y = "- rule: r\n  desc: d\n  condition: proc.name = a\n  output: o\n  priority: INFO\n";
    assert!(ok(y)
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadNoEvttype));
    let y = format!("{y}  warn_evttypes: false\n");
    assert!(!ok(&y)
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadNoEvttype));
}

#[test]
fn skip_if_unknown_filter() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type = open and proc.nosuch = 1\n  output: o\n  priority: INFO\n";
    assert!(first_error(&fails(y)).message.contains("nonexistent"));
    let y = format!("{y}  skip-if-unknown-filter: true\n");
    let l = ok(&y);
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadSkippedRule));
    assert_eq!(l.ruleset.stats().rules, 0);
}

#[test]
fn unknown_output_field_is_an_output_error() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x %proc.nosuch\n  priority: INFO\n";
    assert_eq!(first_error(&fails(y)).code, Code::LoadErrCompileOutput);
}

#[test]
fn engine_and_plugin_versions() {
    assert!(load(&[RulesFile::new("t", "- required_engine_version: 0.57.0\n")]).is_ok());
    assert!(load(&[RulesFile::new("t", "- required_engine_version: 26\n")]).is_ok());
    let f = fails("- required_engine_version: 9.0.0\n");
    assert_eq!(first_error(&f).code, Code::LoadErrRequiredEngineVersion);
    let l = ok("- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n");
    assert!(l
        .diagnostics
        .iter()
        .any(|d| d.code == Code::LoadPluginNative));
    let f = fails("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n");
    assert_eq!(first_error(&f).code, Code::LoadErrRequiredPluginVersion);
}

#[test]
fn later_files_override_earlier_ones() {
    let a = RulesFile::new("a.yaml", RULE);
    let b = RulesFile::new(
        "b.yaml",
        "- list: shells\n  items: [pwsh]\n  override:\n    items: append\n",
    );
    let l = load(&[a, b]).unwrap();
    assert_eq!(fires(l, PWSH).len(), 1);
}

#[test]
fn hostile_yaml_does_not_panic() {
    for y in [
        "",
        "---\n...\n",
        "- 1\n- [a]\n",
        "- rule: {a: b}\n",
        "- list: x\n  items: {a: b}\n",
        "- macro: m\n  condition: [a]\n",
        "&a [*a]",
        "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: '%'\n  priority: INFO\n",
        "- rule: r\n  exceptions: 3\n",
    ] {
        let _ = load(&[RulesFile::new("t", y)]);
    }
}

#[test]
fn empty_lists_on_every_field_type_do_not_panic() {
    for c in [
        "evt.buffer in ()",
        "proc.pid in ()",
        "evt.is_open_read in ()",
        "fd.sip in ()",
        "fd.net in ()",
        "proc.name pmatch ()",
        "proc.name = oneof ()",
    ] {
        let y = format!("- rule: r\n  desc: d\n  condition: evt.type = open and {c}\n  output: o\n  priority: INFO\n");
        let _ = load(&[RulesFile::new("t", y)]);
    }
}
