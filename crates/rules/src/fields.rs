//! The field table: every field the engine knows, with Falco's type and argument rules.

/// The type of a field's value, as Falco checks operators against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text (`charbuf`, `fspath`, ...).
    Str,
    /// Signed or unsigned integer, time or duration.
    Num,
    /// Boolean.
    Bool,
    /// An IP address.
    Ip,
    /// An IP network (`fd.net`): compared against CIDRs.
    Net,
    /// A byte buffer (`evt.buffer`).
    Bytes,
}

impl FieldType {
    /// Lowercase name for messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Num => "number",
            FieldType::Bool => "bool",
            FieldType::Ip => "ipaddr",
            FieldType::Net => "ipnet",
            FieldType::Bytes => "bytebuf",
        }
    }
}

/// Whether a field takes a `[arg]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument allowed.
    None,
    /// Optional argument.
    Optional,
    /// Argument required.
    Required,
}

/// One known field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    /// Field name (without argument).
    pub name: &'static str,
    /// Value type.
    pub ty: FieldType,
    /// Argument rules.
    pub arg: ArgKind,
    /// Whether the field (without argument) yields several values (`proc.aname`, `fd.types`).
    pub multi: bool,
}

const fn f(name: &'static str, ty: FieldType) -> FieldInfo {
    FieldInfo {
        name,
        ty,
        arg: ArgKind::None,
        multi: false,
    }
}

const fn fa(name: &'static str, ty: FieldType, arg: ArgKind, multi: bool) -> FieldInfo {
    FieldInfo {
        name,
        ty,
        arg,
        multi,
    }
}

use ArgKind::{Optional, Required};
use FieldType::{Bool, Bytes, Ip, Net, Num, Str};

/// All fields known to the engine.
pub static FIELDS: &[FieldInfo] = &[
    // evt.*
    f("evt.type", Str),
    f("evt.num", Num),
    f("evt.time", Str),
    f("evt.time.s", Str),
    f("evt.time.iso8601", Str),
    f("evt.datetime", Str),
    f("evt.rawtime", Num),
    f("evt.rawtime.s", Num),
    f("evt.cpu", Num),
    f("evt.hostname", Str),
    f("evt.source", Str),
    f("evt.dir", Str),
    f("evt.args", Str),
    fa("evt.arg", Str, Required, false),
    fa("evt.rawarg", Str, Required, false),
    f("evt.res", Str),
    f("evt.rawres", Num),
    f("evt.failed", Bool),
    f("evt.is_open_read", Bool),
    f("evt.is_open_write", Bool),
    f("evt.is_open_exec", Bool),
    f("evt.is_open_create", Bool),
    f("evt.buffer", Bytes),
    f("evt.buflen", Num),
    f("evt.category", Str),
    f("evt.is_io", Bool),
    f("evt.is_io_read", Bool),
    f("evt.is_io_write", Bool),
    f("evt.abspath", Str),
    f("evt.plugininfo", Str),
    f("syscall.type", Str),
    // proc.* / thread.*
    f("proc.name", Str),
    f("proc.exe", Str),
    f("proc.exepath", Str),
    f("proc.cmdline", Str),
    f("proc.args", Str),
    f("proc.cmdnargs", Num),
    f("proc.cmdlenargs", Num),
    f("proc.exeline", Str),
    fa("proc.env", Str, Optional, false),
    fa("proc.aenv", Str, Optional, false),
    f("proc.cwd", Str),
    f("proc.tty", Num),
    f("proc.pid", Num),
    f("proc.ppid", Num),
    f("proc.vpid", Num),
    f("proc.pvpid", Num),
    f("proc.sid", Num),
    f("proc.sname", Str),
    f("proc.sid.exe", Str),
    f("proc.sid.exepath", Str),
    f("proc.vpgid", Num),
    f("proc.vpgid.name", Str),
    f("proc.vpgid.exe", Str),
    f("proc.vpgid.exepath", Str),
    f("proc.is_vpgid_leader", Bool),
    f("proc.is_sid_leader", Bool),
    f("proc.loginshellid", Num),
    f("proc.pname", Str),
    f("proc.pexe", Str),
    f("proc.pexepath", Str),
    f("proc.pcmdline", Str),
    fa("proc.aname", Str, Optional, true),
    fa("proc.aexe", Str, Optional, true),
    fa("proc.aexepath", Str, Optional, true),
    fa("proc.acmdline", Str, Optional, true),
    fa("proc.apid", Num, Optional, true),
    f("proc.is_exe_upper_layer", Bool),
    f("proc.is_exe_lower_layer", Bool),
    f("proc.is_exe_writable", Bool),
    f("proc.is_exe_from_memfd", Bool),
    f("proc.is_container_healthcheck", Bool),
    f("proc.is_container_liveness_probe", Bool),
    f("proc.is_container_readiness_probe", Bool),
    f("proc.exe_ino", Num),
    f("proc.exe_ino.ctime", Num),
    f("proc.exe_ino.mtime", Num),
    f("proc.exe_ino.ctime_duration_proc_start", Num),
    f("proc.exe_ino.ctime_duration_pidns_start", Num),
    f("proc.pidns_init_start_ts", Num),
    f("proc.duration", Num),
    f("proc.ppid.duration", Num),
    f("proc.pid.ts", Num),
    f("proc.ppid.ts", Num),
    f("proc.stdin.type", Str),
    f("proc.stdout.type", Str),
    f("proc.stderr.type", Str),
    f("proc.stdin.name", Str),
    f("proc.stdout.name", Str),
    f("proc.stderr.name", Str),
    f("thread.tid", Num),
    f("thread.vtid", Num),
    f("thread.cap_permitted", Str),
    f("thread.cap_effective", Str),
    f("thread.cap_inheritable", Str),
    f("thread.cgroups", Str),
    fa("thread.cgroup", Str, Required, false),
    // user.* / group.*
    f("user.uid", Num),
    f("user.name", Str),
    f("user.homedir", Str),
    f("user.shell", Str),
    f("user.loginuid", Num),
    f("user.loginname", Str),
    f("group.gid", Num),
    f("group.name", Str),
    // fd.*
    f("fd.num", Num),
    f("fd.type", Str),
    f("fd.typechar", Str),
    f("fd.name", Str),
    f("fd.nameraw", Str),
    f("fd.directory", Str),
    f("fd.filename", Str),
    f("fd.ip", Ip),
    f("fd.cip", Ip),
    f("fd.sip", Ip),
    f("fd.lip", Ip),
    f("fd.rip", Ip),
    f("fd.port", Num),
    f("fd.cport", Num),
    f("fd.sport", Num),
    f("fd.lport", Num),
    f("fd.rport", Num),
    f("fd.l4proto", Str),
    f("fd.sockfamily", Str),
    f("fd.is_server", Bool),
    f("fd.uid", Str),
    f("fd.containername", Str),
    f("fd.containerdirectory", Str),
    f("fd.proto", Str),
    f("fd.cproto", Str),
    f("fd.sproto", Str),
    f("fd.lproto", Str),
    f("fd.rproto", Str),
    f("fd.net", Net),
    f("fd.cnet", Net),
    f("fd.snet", Net),
    f("fd.lnet", Net),
    f("fd.rnet", Net),
    f("fd.connected", Bool),
    f("fd.name_changed", Bool),
    f("fd.cip.name", Str),
    f("fd.sip.name", Str),
    f("fd.lip.name", Str),
    f("fd.rip.name", Str),
    f("fd.dev", Num),
    f("fd.dev.major", Num),
    f("fd.dev.minor", Num),
    f("fd.ino", Num),
    fa("fd.types", Str, Optional, true),
    f("fd.is_upper_layer", Bool),
    f("fd.is_lower_layer", Bool),
    // container.* (container plugin, provided natively)
    f("container.id", Str),
    f("container.full_id", Str),
    f("container.name", Str),
    f("container.image", Str),
    f("container.image.id", Str),
    f("container.image.repository", Str),
    f("container.image.tag", Str),
    f("container.image.digest", Str),
    f("container.type", Str),
    f("container.privileged", Bool),
    f("container.mounts", Str),
    fa("container.mount", Str, Required, false),
    fa("container.mount.source", Str, Required, false),
    fa("container.mount.dest", Str, Required, false),
    fa("container.mount.mode", Str, Required, false),
    fa("container.mount.rdwr", Str, Required, false),
    fa("container.mount.propagation", Str, Required, false),
    f("container.start_ts", Num),
    f("container.duration", Num),
    f("container.ip", Ip),
    f("container.cni.json", Str),
    f("container.host_pid", Bool),
    f("container.host_network", Bool),
    f("container.host_ipc", Bool),
    f("container.healthcheck", Str),
    f("container.liveness_probe", Str),
    f("container.readiness_probe", Str),
    fa("container.label", Str, Required, false),
    f("container.labels", Str),
    // k8s.* (container plugin)
    f("k8s.ns.name", Str),
    f("k8s.pod.name", Str),
    f("k8s.pod.id", Str),
    f("k8s.pod.uid", Str),
    f("k8s.pod.sandbox_id", Str),
    f("k8s.pod.full_sandbox_id", Str),
    fa("k8s.pod.label", Str, Required, false),
    f("k8s.pod.labels", Str),
    f("k8s.pod.ip", Ip),
    f("k8s.pod.cni.json", Str),
];

/// Looks up a field by name (without argument).
pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    FIELDS.iter().find(|fi| fi.name == name)
}

/// Resolves `name` (and optional bracket argument) to a field and its argument, accepting the
/// dotted argument form `evt.arg.flags` / `k8s.pod.label.app`.
pub fn resolve(name: &str, arg: Option<&str>) -> Option<(&'static FieldInfo, Option<String>)> {
    if let Some(fi) = lookup(name) {
        return Some((fi, arg.map(str::to_string)));
    }
    if arg.is_some() {
        return None;
    }
    // Dotted argument: the longest prefix that takes an argument.
    let mut cut = name.len();
    while let Some(dot) = name[..cut].rfind('.') {
        let (head, tail) = (&name[..dot], &name[dot + 1..]);
        if let Some(fi) = lookup(head) {
            if fi.arg != ArgKind::None && !tail.is_empty() {
                return Some((fi, Some(tail.to_string())));
            }
        }
        cut = dot;
    }
    None
}

/// The canonical key of a field with its argument, as used in replay events
/// (`proc.aname[2]`, `evt.arg.flags`).
pub fn canonical_key(name: &str, arg: Option<&str>) -> String {
    match arg {
        None => name.to_string(),
        Some(a)
            if matches!(name, "evt.arg" | "evt.rawarg" | "k8s.pod.label")
                && !a.is_empty()
                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            format!("{name}.{a}")
        }
        Some(a) => format!("{name}[{a}]"),
    }
}

/// Other spellings of the same key that a replay file may use.
pub fn alias_keys(name: &str, arg: Option<&str>) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(a) = arg {
        let bracket = format!("{name}[{a}]");
        let dotted = format!("{name}.{a}");
        let canon = canonical_key(name, arg);
        for k in [bracket, dotted] {
            if k != canon {
                v.push(k);
            }
        }
        if name == "proc.aname" && a == "1" {
            v.push("proc.pname".to_string());
        }
        if name == "proc.aexe" && a == "1" {
            v.push("proc.pexe".to_string());
        }
        if name == "proc.aexepath" && a == "1" {
            v.push("proc.pexepath".to_string());
        }
        if name == "proc.acmdline" && a == "1" {
            v.push("proc.pcmdline".to_string());
        }
    } else {
        let back = match name {
            "proc.pname" => Some("proc.aname[1]"),
            "proc.pexe" => Some("proc.aexe[1]"),
            "proc.pexepath" => Some("proc.aexepath[1]"),
            "proc.pcmdline" => Some("proc.acmdline[1]"),
            "k8s.pod.uid" => Some("k8s.pod.id"),
            "k8s.pod.id" => Some("k8s.pod.uid"),
            _ => None,
        };
        if let Some(b) = back {
            v.push(b.to_string());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_args_resolve() {
        let (fi, a) = resolve("evt.arg.flags", None).unwrap();
        assert_eq!(fi.name, "evt.arg");
        assert_eq!(a.as_deref(), Some("flags"));
        let (fi, a) = resolve("k8s.pod.label.app", None).unwrap();
        assert_eq!(fi.name, "k8s.pod.label");
        assert_eq!(a.as_deref(), Some("app"));
        assert!(resolve("proc.nosuch", None).is_none());
        assert!(resolve("fd.name.x", None).is_none());
    }

    #[test]
    fn canonical_keys() {
        assert_eq!(canonical_key("evt.arg", Some("flags")), "evt.arg.flags");
        assert_eq!(canonical_key("proc.aname", Some("2")), "proc.aname[2]");
        assert_eq!(canonical_key("evt.arg", Some("0")), "evt.arg.0");
    }

    #[test]
    fn no_duplicate_fields() {
        let mut names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
    }
}
