//! Policy decisions and internal conditions as Falco-shaped alerts.

use mamori_core::event::{Event, Value};
use mamori_policy::runtime::{Decision, Status};
use mamori_rules::{evt_time, rfc3339_nanos, Alert};

pub(crate) fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::List(l) => serde_json::Value::from(l.clone()),
    }
}

/// A policy decision as an alert: rule `<policy>: <control>`, priority Critical for block and
/// Warning for detect, source `policy`, every context field in `output_fields`.
pub fn decision_alert(d: &Decision, base: &Event, hostname: &str) -> Alert {
    let ev = d.to_event(base);
    let mut fields = serde_json::Map::new();
    for (k, v) in &ev.fields {
        fields.insert(k.clone(), value_json(v));
    }
    fields.insert("evt.time".into(), serde_json::Value::from(ev.time_ns));
    let get = |k: &str| match ev.fields.get(k) {
        Some(Value::Str(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        _ => "<NA>".into(),
    };
    let priority = if d.status == Status::Block {
        "Critical"
    } else {
        "Warning"
    };
    let text = format!(
        "{} (status={} policy={} control={} mode={} proc={} exe={} pid={} user={} container={} image={} pod={} ns={})",
        d.message,
        d.status.as_str(),
        d.policy,
        d.control.as_str(),
        d.mode.as_str(),
        get("proc.name"),
        get("proc.exepath"),
        get("proc.pid"),
        get("user.name"),
        get("container.id"),
        get("container.image"),
        get("k8s.pod.name"),
        get("k8s.ns.name"),
    );
    Alert {
        hostname: hostname.to_string(),
        output: format!("{}: {priority} {text}", evt_time(ev.time_ns)),
        output_fields: fields,
        priority: priority.into(),
        rule: format!("{}: {}", d.policy, d.control.as_str()),
        source: "policy".into(),
        tags: vec![
            "mamori".into(),
            "runtime_policy".into(),
            d.control.as_str().into(),
            d.status.as_str().into(),
        ],
        time: rfc3339_nanos(ev.time_ns),
        status: Some(d.status.as_str().into()),
    }
}

pub(crate) fn internal_alert(hostname: &str, rule: &str, text: String, key: &str, n: u64) -> Alert {
    let now = crate::enrich::wall_ns();
    let mut fields = serde_json::Map::new();
    fields.insert(key.into(), serde_json::Value::from(n));
    fields.insert("evt.time".into(), serde_json::Value::from(now));
    Alert {
        hostname: hostname.to_string(),
        output: format!("{}: Critical {rule}. {text}", evt_time(now)),
        output_fields: fields,
        priority: "Critical".into(),
        rule: rule.into(),
        source: "internal".into(),
        tags: vec!["mamori".into(), "internal".into()],
        time: rfc3339_nanos(now),
        status: None,
    }
}
