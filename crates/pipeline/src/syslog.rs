//! Syslog output: RFC 3164 datagrams to a local socket (`/dev/log`) or a UDP address.

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;

use mamori_rules::Alert;

use crate::{Counters, Output, OutputError};

enum Sink {
    Unix(UnixDatagram, String),
    Udp(UdpSocket, String),
}

/// Sends each alert's output line to syslog (facility `user`), severity from its priority.
pub struct SyslogOutput {
    sink: Sink,
    c: Counters,
}

impl std::fmt::Debug for SyslogOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Syslog severity (0 emergency … 7 debug) of a Falco priority name.
pub fn severity(priority: &str) -> u8 {
    match priority {
        "Emergency" => 0,
        "Alert" => 1,
        "Critical" => 2,
        "Error" => 3,
        "Warning" => 4,
        "Notice" => 5,
        "Informational" => 6,
        _ => 7,
    }
}

/// The RFC 3164 message for an alert (facility user = 1).
pub fn message(alert: &Alert) -> String {
    let pri = 8 + u32::from(severity(&alert.priority));
    format!("<{pri}>mamori: {}", alert.output)
}

impl SyslogOutput {
    /// Sends to a Unix datagram socket such as `/dev/log`.
    pub fn unix(path: &str) -> Result<Self, OutputError> {
        let s = UnixDatagram::unbound().map_err(|source| OutputError::Io {
            what: "syslog socket".into(),
            source,
        })?;
        s.connect(path).map_err(|source| OutputError::Io {
            what: path.to_string(),
            source,
        })?;
        Ok(SyslogOutput {
            sink: Sink::Unix(s, path.to_string()),
            c: Counters::default(),
        })
    }

    /// Sends to a UDP `host:port`.
    pub fn udp(addr: &str) -> Result<Self, OutputError> {
        let s = UdpSocket::bind("0.0.0.0:0").map_err(|source| OutputError::Io {
            what: "syslog udp socket".into(),
            source,
        })?;
        s.connect(addr).map_err(|source| OutputError::Io {
            what: addr.to_string(),
            source,
        })?;
        Ok(SyslogOutput {
            sink: Sink::Udp(s, addr.to_string()),
            c: Counters::default(),
        })
    }
}

impl Output for SyslogOutput {
    fn send(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.c.received += 1;
        let msg = message(alert);
        let r = match &self.sink {
            Sink::Unix(s, _) => s.send(msg.as_bytes()),
            Sink::Udp(s, _) => s.send(msg.as_bytes()),
        };
        match r {
            Ok(_) => {
                self.c.sent += 1;
                Ok(())
            }
            Err(source) => {
                self.c.dropped += 1;
                Err(OutputError::Io {
                    what: self.name(),
                    source,
                })
            }
        }
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn counters(&self) -> Counters {
        self.c
    }

    fn name(&self) -> String {
        match &self.sink {
            Sink::Unix(_, p) => format!("syslog:{p}"),
            Sink::Udp(_, a) => format!("syslog:udp:{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::alert;

    #[test]
    fn udp_messages_carry_priority_and_output() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap().to_string();
        let mut o = SyslogOutput::udp(&addr).unwrap();
        o.send(&alert("a")).unwrap();
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        // user facility (1) * 8 + warning (4) = 12
        assert_eq!(text, "<12>mamori: 22:13:20.000000000: Warning x");
        assert_eq!(o.counters().sent, 1);
    }

    #[test]
    fn unix_socket_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&p).unwrap();
        let mut o = SyslogOutput::unix(p.to_str().unwrap()).unwrap();
        o.send(&alert("a")).unwrap();
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("<12>mamori: "));
        assert!(SyslogOutput::unix("/nonexistent/sock").is_err());
    }
}
