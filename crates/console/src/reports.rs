//! Scan reports (image and configuration scans) posted in mamori's JSON report format
//! (`mamori.report/v1`), their findings, and the compliance view by NIST SP 800-190 area.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use mamori_core::nist::{Area, RISKS};
use mamori_core::Finding;

/// A report as stored: its header and its findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    /// Row id.
    pub id: i64,
    /// When the console received it (ns).
    pub received_ns: i64,
    /// Producing tool and version (`mamori 0.1.0`).
    pub tool: String,
    /// Scanned targets.
    pub targets: Vec<String>,
    /// Findings per severity, as counted on receipt.
    pub counts: std::collections::BTreeMap<String, u64>,
}

/// A decoded report ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingReport {
    /// Producing tool and version.
    pub tool: String,
    /// Scanned targets.
    pub targets: Vec<String>,
    /// The findings.
    pub findings: Vec<Finding>,
}

/// Decodes a `mamori.report/v1` document; says what is wrong otherwise.
pub fn decode_report(body: &[u8]) -> Result<IncomingReport, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    match v.get("schema").and_then(Value::as_str) {
        Some("mamori.report/v1") => {}
        Some(other) => {
            return Err(format!(
                "unsupported report schema {other:?} (expected mamori.report/v1)"
            ))
        }
        None => return Err("missing \"schema\" (expected mamori.report/v1)".into()),
    }
    let tool = match (v["tool"]["name"].as_str(), v["tool"]["version"].as_str()) {
        (Some(n), Some(ver)) => format!("{n} {ver}"),
        _ => return Err("missing \"tool\" {name, version}".into()),
    };
    let targets = match v.get("targets") {
        None | Some(Value::Null) => Vec::new(),
        Some(t) => serde_json::from_value(t.clone()).map_err(|e| format!("\"targets\": {e}"))?,
    };
    let findings = match v.get("findings") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, f)| {
                serde_json::from_value::<Finding>(f.clone())
                    .map_err(|e| format!("findings[{i}]: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("missing \"findings\" array".into()),
    };
    Ok(IncomingReport {
        tool,
        targets,
        findings,
    })
}

/// How mamori covers one NIST SP 800-190 risk, and how the stored data stands against it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskStatus {
    /// Risk id (`3.1.1`).
    pub id: &'static str,
    /// Countermeasure id (`4.1.1`).
    pub countermeasure: String,
    /// Risk title.
    pub title: &'static str,
    /// Area.
    pub area: Area,
    /// The mamori capabilities that address it.
    pub covered_by: Vec<&'static str>,
    /// Open findings mapped to it, in the stored reports.
    pub findings: u64,
    /// Findings of high or critical severity.
    pub high_or_critical: u64,
}

/// Which capabilities address each risk. Runtime detection (Falco-language rules) and admission
/// control apply across several risks; the mapping follows the guide's countermeasures.
pub fn coverage(risk_id: &str) -> Vec<&'static str> {
    match risk_id {
        "3.1.1" => vec![
            "image scan (vulnerabilities)",
            "admission (scan-result gate)",
        ],
        "3.1.2" => vec![
            "image scan (image config checks)",
            "config scan (Dockerfile)",
        ],
        "3.1.3" => vec!["runtime rules (drift, fileless exec)"],
        "3.1.4" => vec![
            "image scan (secrets)",
            "config scan (secrets in manifests, Dockerfiles, templates)",
        ],
        "3.1.5" => vec![
            "admission (image rules: registries, digests)",
            "config scan (image tags)",
        ],
        "3.2.1" => vec!["config scan (insecure registries)"],
        "3.2.2" => vec!["config scan (latest tags)", "admission (image rules)"],
        "3.2.3" => vec!["config scan (CloudFormation registry policies)"],
        "3.3.1" => vec![
            "config scan (RBAC)",
            "admission (kubectl exec/attach/port-forward)",
        ],
        "3.3.2" => vec!["config scan (EKS endpoint, secrets encryption)"],
        "3.3.3" => vec!["config scan (NetworkPolicy, security groups)"],
        "3.3.4" => vec!["config scan (namespaces)"],
        "3.3.5" => vec!["config scan (node settings)"],
        "3.4.1" => vec!["runtime rules (container escape behaviour)"],
        "3.4.2" => vec!["config scan (egress, IMDS)", "runtime rules (network)"],
        "3.4.3" => vec![
            "admission (Pod Security Standards)",
            "config scan (Pod Security Standards)",
        ],
        "3.4.4" => vec![
            "runtime rules",
            "config scan (read-only root, probes, limits)",
        ],
        "3.4.5" => vec![
            "admission (policies)",
            "runtime rules (unexpected processes)",
        ],
        "3.5.1" => vec![],
        "3.5.2" => vec!["admission (host namespaces)"],
        "3.5.3" => vec![],
        "3.5.4" => vec!["config scan (SSH exposure)", "runtime rules (host shells)"],
        "3.5.5" => vec![
            "admission (hostPath)",
            "runtime rules (writes below /etc, binary dirs)",
        ],
        _ => vec![],
    }
}

/// Builds the compliance view from per-risk finding counts `(risk id, all, high or critical)`.
pub fn compliance(counts: &[(String, u64, u64)]) -> Vec<RiskStatus> {
    RISKS
        .iter()
        .map(|r| {
            let (findings, high) = counts
                .iter()
                .find(|(id, _, _)| id == r.id)
                .map(|(_, a, h)| (*a, *h))
                .unwrap_or((0, 0));
            RiskStatus {
                id: r.id,
                countermeasure: r.countermeasure(),
                title: r.title,
                area: r.area,
                covered_by: coverage(r.id),
                findings,
                high_or_critical: high,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_checked_for_schema_and_findings() {
        let ok = br#"{"schema":"mamori.report/v1","tool":{"name":"mamori","version":"0.1.0"},"targets":["a"],"summary":{},
            "findings":[{"rule_id":"DL3007","title":"t","severity":"medium","area":"image","nist":["3.1.1"],"target":{"file":{"path":"Dockerfile"}},"message":"m"}]}"#;
        let r = decode_report(ok).expect("valid");
        assert_eq!((r.tool.as_str(), r.findings.len()), ("mamori 0.1.0", 1));
        assert!(decode_report(b"{}").unwrap_err().contains("schema"));
        assert!(decode_report(br#"{"schema":"other/v9"}"#)
            .unwrap_err()
            .contains("other/v9"));
        let bad = br#"{"schema":"mamori.report/v1","tool":{"name":"m","version":"1"},"findings":[{"rule_id":1}]}"#;
        assert!(decode_report(bad).unwrap_err().starts_with("findings[0]"));
    }

    #[test]
    fn compliance_lists_every_risk() {
        let v = compliance(&[("3.1.1".into(), 4, 1)]);
        assert_eq!(v.len(), 23);
        let r = v.iter().find(|r| r.id == "3.1.1").expect("3.1.1");
        assert_eq!(
            (r.findings, r.high_or_critical, r.countermeasure.as_str()),
            (4, 1, "4.1.1")
        );
        assert!(!r.covered_by.is_empty());
    }
}
