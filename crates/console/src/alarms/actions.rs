//! What an alarm does on a state change: log a line, POST JSON to a webhook (optionally in
//! Slack's incoming-webhook shape), or send an e-mail over SMTP.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::AlarmState;

/// One action of an alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ActionConfig {
    /// Write a log line (warning for ALARM, info otherwise).
    Log,
    /// POST a JSON document to a URL.
    Webhook {
        /// `http://` or `https://` URL.
        url: String,
        /// Send Slack's `{"text": …}` shape instead of mamori's document.
        #[serde(default)]
        slack: bool,
    },
    /// Send an e-mail through an SMTP relay (plain SMTP; no STARTTLS or authentication yet).
    Email {
        /// Relay as `HOST:PORT`.
        smtp: String,
        /// Sender address.
        from: String,
        /// Recipients.
        to: Vec<String>,
    },
}

impl ActionConfig {
    /// Checks the action; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ActionConfig::Log => Ok(()),
            ActionConfig::Webhook { url, .. } => {
                if url.starts_with("http://") || url.starts_with("https://") {
                    Ok(())
                } else {
                    Err(format!(
                        "webhook url {url:?} must start with http:// or https://"
                    ))
                }
            }
            ActionConfig::Email { smtp, from, to } => {
                if !smtp.contains(':') {
                    return Err(format!("smtp {smtp:?} must be HOST:PORT"));
                }
                if to.is_empty() {
                    return Err("email action needs at least one recipient".into());
                }
                for addr in std::iter::once(from).chain(to) {
                    check_address(addr)?;
                }
                Ok(())
            }
        }
    }

    /// A short name for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ActionConfig::Log => "log",
            ActionConfig::Webhook { .. } => "webhook",
            ActionConfig::Email { .. } => "email",
        }
    }
}

fn check_address(a: &str) -> Result<(), String> {
    let ok = a.contains('@')
        && !a
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>' || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(format!("{a:?} is not a plain e-mail address"))
    }
}

/// What is sent about one transition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Alarm name.
    pub alarm: String,
    /// Alarm description.
    pub description: String,
    /// Previous state.
    pub previous_state: AlarmState,
    /// New state.
    pub state: AlarmState,
    /// The statistic value.
    pub value: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub time: String,
    /// Where to look (console URL), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
}

impl Notification {
    fn subject(&self) -> String {
        format!(
            "[mamori] {} is {} (was {})",
            self.alarm,
            self.state.as_str(),
            self.previous_state.as_str()
        )
    }
}

/// Runs every action; returns one result per action, in order. Blocking: call it off the async
/// executor.
pub fn run_actions(
    actions: &[ActionConfig],
    n: &Notification,
    timeout: Duration,
) -> Vec<Result<(), String>> {
    actions
        .iter()
        .map(|a| match a {
            ActionConfig::Log => {
                if n.state == AlarmState::Alarm {
                    tracing::warn!(alarm = %n.alarm, state = n.state.as_str(), value = ?n.value, "{}", n.reason);
                } else {
                    tracing::info!(alarm = %n.alarm, state = n.state.as_str(), value = ?n.value, "{}", n.reason);
                }
                Ok(())
            }
            ActionConfig::Webhook { url, slack } => post_webhook(url, *slack, n, timeout),
            ActionConfig::Email { smtp, from, to } => send_email(smtp, from, to, n, timeout),
        })
        .collect()
}

fn post_webhook(url: &str, slack: bool, n: &Notification, timeout: Duration) -> Result<(), String> {
    let body = if slack {
        serde_json::json!({ "text": format!("{}: {}", n.subject(), n.reason) })
    } else {
        serde_json::to_value(n).map_err(|e| e.to_string())?
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(true)
        .build()
        .into();
    agent
        .post(url)
        .header("content-type", "application/json")
        .send(body.to_string().as_bytes())
        .map(|_| ())
        .map_err(|e| format!("webhook {url}: {e}"))
}

/// Sends `n` as a plain-text e-mail through the SMTP relay at `relay` (`HOST:PORT`).
pub fn send_email(
    relay: &str,
    from: &str,
    to: &[String],
    n: &Notification,
    timeout: Duration,
) -> Result<(), String> {
    check_address(from)?;
    for t in to {
        check_address(t)?;
    }
    let addr = relay
        .to_socket_addrs()
        .map_err(|e| format!("smtp {relay}: {e}"))?
        .next()
        .ok_or_else(|| format!("smtp {relay}: no address"))?;
    let stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("smtp {relay}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut w = stream;
    let expect =
        |code: &str, what: &str, reader: &mut BufReader<TcpStream>| -> Result<(), String> {
            loop {
                let mut line = String::new();
                let n = reader
                    .read_line(&mut line)
                    .map_err(|e| format!("smtp {relay} after {what}: {e}"))?;
                if n == 0 {
                    return Err(format!("smtp {relay} closed the connection after {what}"));
                }
                if !line.starts_with(code) {
                    return Err(format!(
                        "smtp {relay} answered {:?} to {what}",
                        line.trim_end()
                    ));
                }
                // "250-" continues a multi-line reply; "250 " ends it.
                if line.as_bytes().get(3) != Some(&b'-') {
                    return Ok(());
                }
            }
        };
    let send = |cmd: &str, w: &mut TcpStream| {
        w.write_all(cmd.as_bytes())
            .map_err(|e| format!("smtp {relay}: {e}"))
    };
    expect("220", "connecting", &mut reader)?;
    send("EHLO mamori\r\n", &mut w)?;
    expect("250", "EHLO", &mut reader)?;
    send(&format!("MAIL FROM:<{from}>\r\n"), &mut w)?;
    expect("250", "MAIL FROM", &mut reader)?;
    for t in to {
        send(&format!("RCPT TO:<{t}>\r\n"), &mut w)?;
        expect("25", "RCPT TO", &mut reader)?;
    }
    send("DATA\r\n", &mut w)?;
    expect("354", "DATA", &mut reader)?;
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let mut body = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        to.join(", "),
        n.subject().replace(['\r', '\n'], " ")
    );
    let text = format!(
        "Alarm: {}\n{}\nState: {} (was {})\nValue: {}\nThreshold: {}\nReason: {}\nTime: {}\n{}",
        n.alarm,
        n.description,
        n.state.as_str(),
        n.previous_state.as_str(),
        n.value.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        n.threshold,
        n.reason,
        n.time,
        n.console_url
            .as_deref()
            .map(|u| format!("Console: {u}\n"))
            .unwrap_or_default()
    );
    for line in text.lines() {
        // Dot-stuffing (RFC 5321 4.5.2): a line that starts with '.' gets another one.
        if line.starts_with('.') {
            body.push('.');
        }
        body.push_str(line);
        body.push_str("\r\n");
    }
    body.push_str(".\r\n");
    send(&body, &mut w)?;
    expect("250", "the message", &mut reader)?;
    send("QUIT\r\n", &mut w)?;
    let _ = expect("221", "QUIT", &mut reader);
    Ok(())
}
