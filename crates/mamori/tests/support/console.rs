//! Shared by the tests that run a real `mamori console` process: start it on a free port, and talk
//! HTTP/1.1 to it without a client library.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `mamori console`; killed when dropped.
pub struct Console {
    /// The process.
    pub child: Child,
    /// `HOST:PORT` it listens on.
    pub addr: String,
    token: String,
}

impl Console {
    /// Starts `mamori console --listen 127.0.0.1:0 --data DATA` with `token` as admin token and
    /// waits until it prints its address.
    pub fn start(data: &Path, token: &str) -> Console {
        Console::start_with(&["console"], data, token)
    }

    /// The same with other leading arguments (`["up", "--runtime-root", DIR]`).
    pub fn start_with(args: &[&str], data: &Path, token: &str) -> Console {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mamori"))
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("MAMORI_ADMIN_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mamori console starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut pending: Option<String> = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Some(Ok(line)) = lines.next() else { break };
            // `mamori up` prints the sensor line after the address: wait for it too.
            if args[0] == "up" && !line.starts_with("runtime sensor") {
                if let Some(addr) = line.strip_prefix("console listening on http://") {
                    pending = Some(addr.split_whitespace().next().expect("address").to_string());
                }
                continue;
            }
            if let Some(addr) = pending.take().or_else(|| {
                line.strip_prefix("console listening on http://")
                    .map(|a| a.split_whitespace().next().expect("address").to_string())
            }) {
                // Keep draining stdout so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return Console {
                    child,
                    addr,
                    token: token.to_string(),
                };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("console did not report its address");
    }

    /// One request with the admin token; see [`http`].
    pub fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        http(&self.addr, &self.token, method, path, body)
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP/1.1 request on a fresh connection with a bearer token; returns status and body.
pub fn http(
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
