//! Whether a pending open is for writing.
//!
//! `FAN_OPEN_PERM` events say which file is opened, not how. While the event waits for our
//! answer, the opening thread sits inside its syscall, and `/proc/<pid>/task/<tid>/syscall`
//! shows that syscall's number and six arguments (`257 0xffffff9c 0x7ffd… 0x241 …`). The flags
//! are an argument of `open`/`openat`/`open_by_handle_at`, and the first field of the
//! `struct open_how` that `openat2` points to (read from `/proc/<pid>/mem`).
//!
//! The event names the thread group, not the thread: every thread of the process is looked at,
//! and the ones in an open-family call count. A multi-threaded process with several opens in
//! flight gets the most permissive reading that is safe: `Write` if any of them writes.

use std::os::unix::fs::FileExt;

/// How a pending open uses the file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpenIntent {
    /// Read only (`O_RDONLY`, no `O_CREAT`/`O_TRUNC`), or the open of an exec.
    Read,
    /// Write, read-write, create or truncate.
    Write,
    /// No thread of the process was found in an open call (it is gone, the open came from
    /// io_uring or a syscall this module does not know, or `/proc` could not be read).
    Unknown,
}

/// The intent of the open the process `pid` is waiting in (see the module docs).
pub fn open_intent(pid: u32) -> OpenIntent {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return OpenIntent::Unknown;
    };
    let mem = std::cell::OnceCell::new();
    let read_u64 = |addr: u64| -> Option<u64> {
        let f = mem
            .get_or_init(|| std::fs::File::open(format!("/proc/{pid}/mem")).ok())
            .as_ref()?;
        let mut b = [0u8; 8];
        f.read_exact_at(&mut b, addr).ok()?;
        Some(u64::from_ne_bytes(b))
    };
    let mut found = None;
    for t in tasks.flatten() {
        let Ok(line) = std::fs::read_to_string(t.path().join("syscall")) else {
            continue;
        };
        match intent_of_syscall_line(&line, &read_u64) {
            Some(OpenIntent::Write) => return OpenIntent::Write,
            Some(i) => found = found.or(Some(i)),
            None => {}
        }
    }
    found.unwrap_or(OpenIntent::Unknown)
}

/// Reads one `/proc/…/syscall` line. `None`: this thread is not in an open-family call.
/// `read_u64` reads the opener's memory (for `openat2`'s `struct open_how`).
pub(crate) fn intent_of_syscall_line(
    line: &str,
    read_u64: &dyn Fn(u64) -> Option<u64>,
) -> Option<OpenIntent> {
    let mut it = line.split_whitespace();
    let nr: i64 = it.next()?.parse().ok()?;
    let args: Vec<u64> = it
        .take(6)
        .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .collect();
    let arg = |i: usize| args.get(i).copied();
    let flags = match nr {
        libc::SYS_openat | libc::SYS_open_by_handle_at => arg(2),
        libc::SYS_openat2 => match arg(2).and_then(read_u64) {
            Some(f) => Some(f),
            None => return Some(OpenIntent::Unknown),
        },
        libc::SYS_execve | libc::SYS_execveat => return Some(OpenIntent::Read),
        _ => return legacy(nr, arg(1)),
    };
    Some(flags.map_or(OpenIntent::Unknown, intent_of_flags))
}

#[cfg(target_arch = "x86_64")]
fn legacy(nr: i64, arg1: Option<u64>) -> Option<OpenIntent> {
    match nr {
        libc::SYS_open => Some(arg1.map_or(OpenIntent::Unknown, intent_of_flags)),
        libc::SYS_creat => Some(OpenIntent::Write),
        libc::SYS_uselib => Some(OpenIntent::Read),
        _ => None,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn legacy(_nr: i64, _arg1: Option<u64>) -> Option<OpenIntent> {
    None
}

/// Open flags → intent: any write access mode, `O_CREAT` or `O_TRUNC` is a write.
pub(crate) fn intent_of_flags(flags: u64) -> OpenIntent {
    // Open flags are an int; the upper half of the register is not part of them.
    let f = (flags & 0xffff_ffff) as libc::c_int;
    if f & libc::O_ACCMODE != libc::O_RDONLY || f & (libc::O_CREAT | libc::O_TRUNC) != 0 {
        OpenIntent::Write
    } else {
        OpenIntent::Read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_mem(_: u64) -> Option<u64> {
        None
    }

    #[test]
    fn flags_are_read_from_openat_and_openat2() {
        let ro = format!(
            "{} 0xffffff9c 0x7ffd1000 0x80000 0x0 0x0 0x0 0x7ffd 0x7f00",
            libc::SYS_openat
        );
        assert_eq!(intent_of_syscall_line(&ro, &no_mem), Some(OpenIntent::Read));
        // O_WRONLY|O_CREAT|O_TRUNC
        let w = format!(
            "{} 0xffffff9c 0x7ffd1000 0x241 0x1b6 0x0 0x0 0x7ffd 0x7f00",
            libc::SYS_openat
        );
        assert_eq!(intent_of_syscall_line(&w, &no_mem), Some(OpenIntent::Write));
        let how = |addr: u64| (addr == 0x5000).then_some(libc::O_RDWR as u64);
        let o2 = format!(
            "{} 0xffffff9c 0x7ffd1000 0x5000 0x18 0x0 0x0 0x7ffd 0x7f00",
            libc::SYS_openat2
        );
        assert_eq!(intent_of_syscall_line(&o2, &how), Some(OpenIntent::Write));
        assert_eq!(
            intent_of_syscall_line(&o2, &no_mem),
            Some(OpenIntent::Unknown)
        );
    }

    #[test]
    fn other_syscalls_and_garbage_are_not_opens() {
        let read = format!(
            "{} 0x3 0x7ffd 0x100 0x0 0x0 0x0 0x7ffd 0x7f00",
            libc::SYS_read
        );
        assert_eq!(intent_of_syscall_line(&read, &no_mem), None);
        assert_eq!(intent_of_syscall_line("running", &no_mem), None);
        assert_eq!(intent_of_syscall_line("", &no_mem), None);
        assert_eq!(intent_of_syscall_line("-1 0x7ffd 0x7f00", &no_mem), None);
        let exec = format!(
            "{} 0x7ffd 0x7ffe 0x7fff 0x0 0x0 0x0 0x7ffd 0x7f00",
            libc::SYS_execve
        );
        assert_eq!(
            intent_of_syscall_line(&exec, &no_mem),
            Some(OpenIntent::Read)
        );
    }

    #[test]
    fn creat_and_trunc_count_as_writes() {
        assert_eq!(intent_of_flags(libc::O_RDONLY as u64), OpenIntent::Read);
        assert_eq!(
            intent_of_flags((libc::O_RDONLY | libc::O_CLOEXEC) as u64),
            OpenIntent::Read
        );
        assert_eq!(intent_of_flags(libc::O_CREAT as u64), OpenIntent::Write);
        assert_eq!(intent_of_flags(libc::O_TRUNC as u64), OpenIntent::Write);
        assert_eq!(intent_of_flags(libc::O_WRONLY as u64), OpenIntent::Write);
        assert_eq!(intent_of_flags(0xffff_ffff_0000_0000), OpenIntent::Read);
    }

    #[test]
    fn a_thread_blocked_in_open_is_read_from_proc() {
        assert_eq!(open_intent(u32::MAX - 7), OpenIntent::Unknown);
        // A thread of this process blocks in openat(O_WRONLY) on a FIFO until a reader comes.
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("f");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: mkfifo is not available");
            return;
        }
        let path = fifo.clone();
        let writer = std::thread::spawn(move || std::fs::OpenOptions::new().write(true).open(path));
        let mut seen = OpenIntent::Unknown;
        for _ in 0..200 {
            seen = open_intent(std::process::id());
            if seen == OpenIntent::Write {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Release the writer.
        let _reader = std::fs::File::open(&fifo).expect("open the FIFO for reading");
        writer.join().expect("writer thread").expect("writer open");
        assert_eq!(seen, OpenIntent::Write);
    }
}
