//! Conformance on Falco's own rules files (shared data): they load unchanged, and the seed rules
//! fire with Falco's output text on replayed events while near-misses do not.

use std::path::Path;

use mamori_rules::{load, replay::parse_line, Alert, Engine, Level, RulesFile, Settings};

fn files(dir: &Path, names: &[&str]) -> Vec<RulesFile> {
    names
        .iter()
        .map(|n| {
            let p = dir.join(n);
            RulesFile::new(
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
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

const SHADOW: &str = r#"{"evt.type":"openat","evt.is_open_read":true,"fd.name":"/etc/shadow","fd.typechar":"f","fd.num":3,"proc.name":"cat","proc.exepath":"/usr/bin/cat","proc.cmdline":"cat /etc/shadow","proc.pname":"sh","proc.aname[2]":"runc","user.name":"root","user.uid":0,"user.loginuid":-1,"proc.tty":0,"container.id":"3ad7b26ded6d","container.image.repository":"nginx","k8s.ns.name":"default","k8s.pod.name":"nginx2-7844999d9c-8xgkx","evt.time":1700000000000000000}"#;

#[test]
fn read_sensitive_file_untrusted_fires_with_falco_output() {
    let Some(e) = engine(&ALL[..1]) else { return };
    let a = alerts(&e, SHADOW);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].rule, "Read sensitive file untrusted");
    assert_eq!(a[0].priority, "Warning");
    assert_eq!(
        a[0].output,
        "22:13:20.000000000: Warning Sensitive file opened for reading by non-trusted program | \
         file=/etc/shadow gparent=runc ggparent=<NA> gggparent=<NA> evt_type=openat user=root \
         user_uid=0 user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=sh \
         command=cat /etc/shadow terminal=0"
    );
    assert_eq!(a[0].output_fields["proc.aname[3]"], serde_json::Value::Null);
    assert_eq!(a[0].output_fields["user.uid"], 0);
    assert_eq!(a[0].time, "2023-11-14T22:13:20.000000000Z");
    assert!(a[0].tags.iter().any(|t| t == "maturity_stable"));
}

#[test]
fn read_sensitive_file_near_misses_do_not_fire() {
    let Some(e) = engine(&ALL[..1]) else { return };
    // A trusted program (passwd is in user_mgmt_binaries).
    let trusted = SHADOW.replace(r#""proc.name":"cat""#, r#""proc.name":"passwd""#);
    assert!(alerts(&e, &trusted).is_empty());
    // An ordinary file.
    let ordinary = SHADOW.replace("/etc/shadow", "/etc/hosts");
    assert!(alerts(&e, &ordinary).is_empty());
    // Opened for writing only.
    let write = SHADOW.replace(r#""evt.is_open_read":true"#, r#""evt.is_open_read":false"#);
    assert!(alerts(&e, &write).is_empty());
}

const SHELL: &str = r#"{"evt.type":"execve","proc.name":"bash","proc.exepath":"/bin/bash","proc.cmdline":"bash","proc.pname":"runc","proc.tty":34816,"user.name":"root","user.uid":0,"user.loginuid":-1,"evt.arg.flags":"EXE_WRITABLE","container.id":"3ad7b26ded6d","evt.time":1700000000000000000}"#;

#[test]
fn terminal_shell_in_container_fires_with_falco_output() {
    let Some(e) = engine(&ALL[..1]) else { return };
    let a = alerts(&e, SHELL);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].rule, "Terminal shell in container");
    assert_eq!(
        a[0].output,
        "22:13:20.000000000: Notice A shell was spawned in a container with an attached terminal | \
         evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/bin/bash \
         parent=runc command=bash terminal=34816 exe_flags=EXE_WRITABLE"
    );
}

#[test]
fn terminal_shell_near_misses_do_not_fire() {
    let Some(e) = engine(&ALL[..1]) else { return };
    // No terminal attached.
    assert!(alerts(&e, &SHELL.replace("34816", "0")).is_empty());
    // On the host, not in a container.
    assert!(alerts(&e, &SHELL.replace("3ad7b26ded6d", "host")).is_empty());
    // Parent is not a container entrypoint.
    assert!(alerts(
        &e,
        &SHELL.replace(r#""proc.pname":"runc""#, r#""proc.pname":"sshd""#)
    )
    .is_empty());
}

const WRITE_ETC: &str = r#"{"evt.type":"openat","evt.is_open_write":true,"evt.is_open_read":false,"fd.name":"/etc/evil.conf","fd.typechar":"f","fd.num":4,"proc.name":"python3","proc.exepath":"/usr/bin/python3","proc.cmdline":"python3 x.py","proc.pname":"bash","proc.pcmdline":"bash","user.name":"root","user.uid":0,"user.loginuid":1000,"proc.tty":0,"container.id":"host","evt.time":1700000000000000000}"#;

#[test]
fn write_below_etc_fires_with_sandbox() {
    let Some(e) = engine(&ALL) else { return };
    let a = alerts(&e, WRITE_ETC);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].rule, "Write below etc");
    assert_eq!(a[0].priority, "Error");
    assert_eq!(
        a[0].output,
        "22:13:20.000000000: Error File below /etc opened for writing | file=/etc/evil.conf \
         pcmdline=bash gparent=<NA> ggparent=<NA> gggparent=<NA> evt_type=openat user=root \
         user_uid=0 user_loginuid=1000 process=python3 proc_exepath=/usr/bin/python3 parent=bash \
         command=python3 x.py terminal=0"
    );
    // Near misses: a package manager writing, and a write below /tmp.
    assert!(alerts(
        &e,
        &WRITE_ETC.replace(r#""proc.name":"python3""#, r#""proc.name":"dpkg""#)
    )
    .is_empty());
    assert!(alerts(&e, &WRITE_ETC.replace("/etc/evil.conf", "/tmp/evil.conf")).is_empty());
}

const MKDIR: &str = r#"{"evt.type":"mkdir","evt.arg.path":"/bin/.hidden","proc.name":"evil","proc.exepath":"/tmp/evil","proc.cmdline":"evil","proc.pname":"bash","user.name":"root","user.uid":0,"user.loginuid":1000,"proc.tty":34816,"evt.time":1700000000000000000}"#;

#[test]
fn mkdir_binary_dirs_fires_with_sandbox() {
    let Some(e) = engine(&ALL) else { return };
    let a = alerts(&e, MKDIR);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].rule, "Mkdir binary dirs");
    assert_eq!(
        a[0].output,
        "22:13:20.000000000: Error Directory below known binary directory created | \
         directory=/bin/.hidden evt_type=mkdir user=root user_uid=0 user_loginuid=1000 \
         process=evil proc_exepath=/tmp/evil parent=bash command=evil terminal=34816"
    );
    assert!(alerts(&e, &MKDIR.replace("/bin/.hidden", "/tmp/.hidden")).is_empty());
    assert!(alerts(
        &e,
        &MKDIR.replace(r#""proc.name":"evil""#, r#""proc.name":"dpkg""#)
    )
    .is_empty());
}

#[test]
fn without_sandbox_the_sandbox_rules_do_not_exist() {
    let Some(e) = engine(&ALL[..2]) else { return };
    assert!(alerts(&e, MKDIR)
        .iter()
        .all(|a| a.rule != "Mkdir binary dirs"));
    assert!(alerts(&e, WRITE_ETC)
        .iter()
        .all(|a| a.rule != "Write below etc"));
}
