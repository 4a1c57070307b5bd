#![allow(missing_docs)]
use mamori_core::Event;
use mamori_rules::{load, replay::parse_line, Engine, RulesFile, Settings};
use std::hint::black_box;
use std::time::Instant;
fn falco_files() -> Option<Vec<RulesFile>> {
    let dir = mamori_testkit::shared_data("falco-rules")?;
    Some(
        [
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ]
        .iter()
        .map(|n| {
            let p = dir.join(n);
            RulesFile::new(
                n.to_string(),
                std::fs::read_to_string(p).unwrap_or_default(),
            )
        })
        .collect(),
    )
}

/// A deterministic mix: 40% ordinary opens, 5% sensitive opens, 25% execs, 15% connects,
/// 15% mkdir/unlink/rename; varied processes, containers and paths.
fn mix(n: usize) -> Vec<Event> {
    let procs = [
        "nginx", "python3", "java", "node", "bash", "curl", "postgres", "cat", "ls", "sh",
    ];
    let files = [
        "/var/log/nginx/access.log",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/etc/ld.so.cache",
        "/proc/self/status",
        "/tmp/tmp.1234",
        "/app/config.json",
        "/etc/hosts",
        "/usr/share/zoneinfo/UTC",
        "/var/lib/postgresql/data/base/1",
        "/home/app/.cache/x",
    ];
    let sensitive = ["/etc/shadow", "/etc/sudoers", "/etc/pam.d/common-auth"];
    let mut out = Vec::with_capacity(n);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let p = procs[(x % procs.len() as u64) as usize];
        let cid = if x % 3 == 0 { "host" } else { "3ad7b26ded6d" };
        let bucket = i % 20;
        let line = if bucket < 8 {
            let f = files[((x >> 8) % files.len() as u64) as usize];
            format!(
                r#"{{"evt.type":"openat","evt.is_open_read":true,"evt.is_open_write":false,"fd.name":"{f}","fd.typechar":"f","fd.num":5,"proc.name":"{p}","proc.cmdline":"{p} run","proc.pname":"bash","proc.exepath":"/usr/bin/{p}","user.name":"app","user.uid":1000,"user.loginuid":-1,"proc.tty":0,"container.id":"{cid}","container.image.repository":"nginx","evt.time":{i}}}"#
            )
        } else if bucket == 8 {
            let f = sensitive[((x >> 8) % sensitive.len() as u64) as usize];
            format!(
                r#"{{"evt.type":"openat","evt.is_open_read":true,"fd.name":"{f}","fd.typechar":"f","fd.num":3,"proc.name":"{p}","proc.cmdline":"{p} {f}","proc.pname":"sh","proc.aname[2]":"runc","user.name":"root","user.uid":0,"user.loginuid":-1,"proc.tty":0,"container.id":"{cid}","evt.time":{i}}}"#
            )
        } else if bucket < 14 {
            let tty = if x % 7 == 0 { 34816 } else { 0 };
            format!(
                r#"{{"evt.type":"execve","proc.name":"{p}","proc.exepath":"/usr/bin/{p}","proc.cmdline":"{p} -c job","proc.args":"-c job","proc.pname":"containerd-shim","proc.pcmdline":"containerd-shim","proc.aname[2]":"containerd","user.name":"app","user.uid":1000,"user.loginuid":-1,"proc.tty":{tty},"evt.arg.flags":"","container.id":"{cid}","container.image.repository":"nginx","evt.time":{i}}}"#
            )
        } else if bucket < 17 {
            format!(
                r#"{{"evt.type":"connect","fd.typechar":"4","fd.type":"ipv4","fd.name":"10.0.0.5:40000->10.96.0.10:53","fd.sip":"10.96.0.10","fd.cip":"10.0.0.5","fd.sport":53,"fd.cport":40000,"fd.rport":53,"fd.lport":40000,"fd.l4proto":"udp","evt.rawres":0,"proc.name":"{p}","proc.cmdline":"{p}","proc.pname":"bash","user.name":"app","user.uid":1000,"container.id":"{cid}","evt.time":{i}}}"#
            )
        } else {
            let ty = ["mkdir", "unlinkat", "renameat2"][(x % 3) as usize];
            format!(
                r#"{{"evt.type":"{ty}","evt.arg.path":"/tmp/work/{i}","evt.arg.name":"/tmp/work/{i}","evt.arg.oldpath":"/tmp/a","evt.arg.newpath":"/tmp/b","evt.rawres":0,"proc.name":"{p}","proc.cmdline":"{p}","proc.pname":"bash","user.name":"app","user.uid":1000,"container.id":"{cid}","evt.time":{i}}}"#
            )
        };
        out.push(parse_line(&line, i + 1).unwrap_or_default());
    }
    out
}

fn main() {
    let files = falco_files().unwrap();
    let t = Instant::now();
    let e = Engine::new(load(&files).unwrap().ruleset, Settings::default());
    eprintln!("load {:?}", t.elapsed());
    let empty = Engine::new(
        load(&[RulesFile::new("e", "")]).unwrap().ruleset,
        Settings::default(),
    );
    let evs = mix(100);
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20000);
    let mut types: Vec<String> = evs
        .iter()
        .map(|e| format!("{:?}", e.fields.get("evt.type")))
        .collect();
    types.sort();
    types.dedup();
    let _ = iters;
    let cpu = || -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let time = |eng: &Engine, evs: &[&Event]| {
        let start = cpu();
        let mut n = 0;
        let mut calls = 0u64;
        loop {
            for _ in 0..100 {
                for ev in evs {
                    n += eng.count_matches(black_box(ev));
                }
            }
            calls += 100;
            let used = cpu() - start;
            if used > 1_000_000_000 {
                black_box(n);
                return used as f64 / (calls as f64 * evs.len() as f64);
            }
        }
    };
    let all: Vec<&Event> = evs.iter().collect();
    if let Ok(only) = std::env::var("ONLY") {
        let sub: Vec<&Event> = evs
            .iter()
            .filter(|e| only == "all" || format!("{:?}", e.fields.get("evt.type")).contains(&only))
            .collect();
        for _ in 0..5 {
            println!("{only} falco {:.1}", time(&e, &sub));
        }
        return;
    }
    println!(
        "all: base {:.1} falco {:.1}",
        time(&empty, &all),
        time(&e, &all)
    );
    for ty in &types {
        let sub: Vec<&Event> = evs
            .iter()
            .filter(|e| &format!("{:?}", e.fields.get("evt.type")) == ty)
            .collect();
        println!(
            "{ty} x{}: base {:.1} falco {:.1}",
            sub.len(),
            time(&empty, &sub),
            time(&e, &sub)
        );
    }
}
