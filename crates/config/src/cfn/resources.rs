//! Per-resource CloudFormation checks.

use mamori_core::Finding;

use super::at;
use crate::node::{Node, Value};

/// One resource being checked.
pub(super) struct Ctx<'a> {
    pub path: &'a str,
    pub id: &'a str,
    pub ty: &'a str,
    pub res: &'a Node,
    pub props: Option<&'a Node>,
    pub params: Option<&'a Node>,
}

impl Ctx<'_> {
    fn add(&self, out: &mut Vec<Finding>, rule: &str, node: Option<&Node>, message: String) {
        let pos = node.map_or(self.res.pos, |n| n.pos);
        out.push(at(rule, self.path, pos, self.id, message));
    }

    fn prop(&self, keys: &[&str]) -> Option<&Node> {
        self.props?.path(keys)
    }

    /// Follows `!Ref Param` / `{"Ref": "Param"}` to the parameter's literal `Default`.
    fn resolve<'n>(&'n self, n: &'n Node) -> &'n Node {
        let target = if n.tag.as_deref() == Some("Ref") {
            n.scalar_text()
        } else {
            n.get("Ref")
                .and_then(Node::as_str)
                .filter(|_| n.entries().len() == 1)
        };
        target
            .and_then(|t| self.params?.get(t)?.get("Default"))
            .unwrap_or(n)
    }

    /// A literal value, directly or through a parameter default.
    fn lit<'n>(&'n self, n: Option<&'n Node>) -> Option<&'n str> {
        n.map(|n| self.resolve(n)).and_then(Node::as_str)
    }
}

/// Case-insensitive key lookup (CDK custom resources use camelCase).
fn get_ci<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    n.entries()
        .iter()
        .find(|(k, _)| k.as_str().is_some_and(|s| s.eq_ignore_ascii_case(key)))
        .map(|(_, v)| v)
}

fn path_ci<'a>(n: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    let mut cur = n;
    for k in keys {
        cur = get_ci(cur, k)?;
    }
    Some(cur)
}

/// A literal (untagged, non-intrinsic) scalar string.
fn literal(n: &Node) -> Option<&str> {
    n.as_str()
}

fn as_list(n: Option<&Node>) -> Vec<&Node> {
    match n {
        Some(n) => match &n.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            _ => vec![n],
        },
        None => Vec::new(),
    }
}

pub(super) fn check(c: &Ctx<'_>, out: &mut Vec<Finding>) {
    match c.ty {
        "AWS::EC2::SecurityGroup" => {
            for rule in as_list(c.prop(&["SecurityGroupIngress"])) {
                sg_rule(c, rule, out);
            }
        }
        "AWS::EC2::SecurityGroupIngress" => {
            if let Some(p) = c.props {
                sg_rule(c, p, out);
            }
        }
        "AWS::RDS::DBInstance" | "AWS::RDS::DBCluster" => rds(c, out),
        "AWS::EKS::Cluster" => {
            if let Some(p) = c.props {
                eks(c, p, out);
            }
        }
        "Custom::AWSCDK-EKS-Cluster" => {
            if let Some(cfg) = c.prop(&["Config"]) {
                eks(c, cfg, out);
            }
        }
        "AWS::EC2::LaunchTemplate" => {
            if let Some(data) = c.prop(&["LaunchTemplateData"]) {
                metadata_options(c, data.get("MetadataOptions"), data, out);
                user_data(c, data.get("UserData"), out);
            }
        }
        "AWS::AutoScaling::LaunchConfiguration" | "AWS::EC2::Instance" => {
            if c.ty == "AWS::AutoScaling::LaunchConfiguration" {
                if let Some(p) = c.props {
                    metadata_options(c, p.get("MetadataOptions"), p, out);
                }
            }
            user_data(c, c.prop(&["UserData"]), out);
        }
        "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
            iam_document(c, c.prop(&["PolicyDocument"]), out);
        }
        "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
            for p in as_list(c.prop(&["Policies"])) {
                iam_document(c, p.get("PolicyDocument"), out);
            }
        }
        "AWS::S3::Bucket" => s3_bucket(c, out),
        "AWS::S3::BucketPolicy" => s3_policy(c, out),
        "AWS::ECS::TaskDefinition" => {
            for cd in as_list(c.prop(&["ContainerDefinitions"])) {
                for e in as_list(cd.get("Environment")) {
                    let (Some(n), Some(v)) = (e.get("Name").and_then(literal), e.get("Value"))
                    else {
                        continue;
                    };
                    env_value(c, n, v, "ECS container environment", out);
                }
            }
        }
        "AWS::Lambda::Function" | "AWS::Serverless::Function" => {
            for (k, v) in c
                .prop(&["Environment", "Variables"])
                .map(Node::entries)
                .unwrap_or(&[])
            {
                if let Some(n) = k.as_str() {
                    env_value(c, n, v, "Lambda environment", out);
                }
            }
        }
        _ => {}
    }
}

/// The text an `Fn::Join` / `Fn::Sub` builds, with every non-literal part replaced by a space
/// (CDK renders any string holding a token this way).
fn rendered(n: &Node) -> Option<String> {
    rendered_with(n, " ")
}

/// [`rendered`] with `token` in place of each non-literal part.
pub(super) fn rendered_with(n: &Node, token: &str) -> Option<String> {
    let [(k, v)] = n.entries() else { return None };
    match k.as_str()? {
        "Fn::Join" => {
            let [delim, parts] = v.items() else {
                return None;
            };
            let delim = literal(delim)?;
            let parts: Vec<String> = parts
                .items()
                .iter()
                .map(|p| match literal(p) {
                    Some(s) => s.to_string(),
                    None => rendered_with(p, token).unwrap_or_else(|| token.to_string()),
                })
                .collect();
            Some(parts.join(delim))
        }
        "Fn::Sub" => match &v.value {
            Value::Seq(items) => items.first().and_then(literal).map(String::from),
            _ => literal(v).map(String::from),
        },
        _ => None,
    }
}

fn env_value(c: &Ctx<'_>, name: &str, v: &Node, place: &str, out: &mut Vec<Finding>) {
    let Some(value) = literal(v) else {
        // A built value: only recognisable token formats count, since the parts that are not
        // literal (a Ref to a secret parameter, say) may be the secret's real source.
        if let Some(text) = rendered(v) {
            if let Some(m) = mamori_secrets::scan_text(&text).into_iter().next() {
                c.add(
                    out,
                    "MK-CFN-012",
                    Some(v),
                    format!(
                        "{place} {name} is built (Fn::Join/Fn::Sub) around a {} ({})",
                        m.kind.describe(),
                        m.redacted
                    ),
                );
            }
        }
        return;
    };
    if let Some(kind) = mamori_secrets::check_assignment(name, value) {
        c.add(
            out,
            "MK-CFN-012",
            Some(v),
            format!(
                "{place} {name} holds a {} ({})",
                kind.describe(),
                mamori_secrets::redact(value)
            ),
        );
    }
}

/// Collects literal strings under a node (inside Fn::Base64, Fn::Sub, Fn::Join …).
fn literal_strings<'a>(n: &'a Node, out: &mut Vec<&'a str>, depth: u32) {
    if depth > 32 {
        return;
    }
    match &n.value {
        Value::Scalar(s, _) => out.push(s),
        Value::Seq(items) => items
            .iter()
            .for_each(|i| literal_strings(i, out, depth + 1)),
        Value::Map(entries) => entries
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), Some("Ref" | "Fn::GetAtt" | "Fn::ImportValue")))
            .for_each(|(_, v)| literal_strings(v, out, depth + 1)),
        Value::Null => {}
    }
}

fn user_data(c: &Ctx<'_>, ud: Option<&Node>, out: &mut Vec<Finding>) {
    let Some(ud) = ud else { return };
    let mut parts = Vec::new();
    literal_strings(ud, &mut parts, 0);
    let text = parts.join("\n");
    if let Some(m) = mamori_secrets::scan_text(&text).into_iter().next() {
        c.add(
            out,
            "MK-CFN-012",
            Some(ud),
            format!("UserData contains a {} ({})", m.kind.describe(), m.redacted),
        );
    }
}

fn sg_rule(c: &Ctx<'_>, rule: &Node, out: &mut Vec<Finding>) {
    let port = |n: Option<&Node>| c.lit(n).and_then(|s| s.trim().parse::<i64>().ok());
    let v4 = c.lit(rule.get("CidrIp")) == Some("0.0.0.0/0");
    let v6 = c.lit(rule.get("CidrIpv6")) == Some("::/0");
    if !v4 && !v6 {
        return;
    }
    let who = if v4 { "0.0.0.0/0" } else { "::/0" };
    let proto = c
        .lit(rule.get("IpProtocol"))
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(proto.as_str(), "icmp" | "1" | "icmpv6" | "58") {
        return;
    }
    let what = if proto == "-1" || proto == "all" {
        "all protocols and ports".to_string()
    } else {
        let from = port(rule.get("FromPort"));
        let to = port(rule.get("ToPort")).or(from);
        match (from, to) {
            (Some(f), Some(t)) if f == t && (f == 80 || f == 443) => return,
            (Some(f), Some(t)) if f == -1 || t - f >= 1000 => format!("wide port range {f}-{t}"),
            (Some(f), Some(t)) => {
                let ports = if f == t {
                    format!("port {f}")
                } else {
                    format!("ports {f}-{t}")
                };
                let db = [
                    (22, "SSH"),
                    (3389, "RDP"),
                    (3306, "MySQL"),
                    (5432, "PostgreSQL"),
                    (1433, "SQL Server"),
                    (1521, "Oracle"),
                    (6379, "Redis"),
                    (27017, "MongoDB"),
                    (9200, "Elasticsearch"),
                    (2379, "etcd"),
                    (10250, "kubelet"),
                ]
                .iter()
                .filter(|(p, _)| (f..=t).contains(p))
                .map(|(p, n)| format!("{n} {p}"))
                .collect::<Vec<_>>();
                if db.is_empty() {
                    ports
                } else {
                    format!("{ports} ({})", db.join(", "))
                }
            }
            _ => "ports given by an intrinsic function".to_string(),
        }
    };
    c.add(
        out,
        "MK-CFN-001",
        Some(rule),
        format!("ingress from {who} to {what}"),
    );
}

fn rds(c: &Ctx<'_>, out: &mut Vec<Finding>) {
    if let Some(p) = c.prop(&["PubliclyAccessible"]) {
        if c.resolve(p).as_bool() == Some(true) {
            c.add(
                out,
                "MK-CFN-002",
                Some(p),
                "PubliclyAccessible is true".to_string(),
            );
        }
    }
    let member = c.prop(&["DBClusterIdentifier"]).is_some();
    let engine = c.prop(&["Engine"]).and_then(literal).unwrap_or("");
    let snapshot = c.prop(&["DBSnapshotIdentifier"]).is_some()
        || c.prop(&["SnapshotIdentifier"]).is_some()
        || c.prop(&["SourceDBInstanceIdentifier"]).is_some();
    match c.prop(&["StorageEncrypted"]) {
        Some(n) if c.resolve(n).as_bool() == Some(false) => c.add(
            out,
            "MK-CFN-003",
            Some(n),
            "StorageEncrypted is false".to_string(),
        ),
        Some(_) => {}
        None => {
            let applies = if c.ty == "AWS::RDS::DBCluster" {
                c.prop(&["EngineMode"]).and_then(literal) != Some("serverless") && !snapshot
            } else {
                !member && !snapshot && !engine.starts_with("aurora")
            };
            if applies {
                c.add(
                    out,
                    "MK-CFN-003",
                    None,
                    "StorageEncrypted is not set (defaults to false)".to_string(),
                );
            }
        }
    }
    if let Some(pw) = c.prop(&["MasterUserPassword"]) {
        if let Some(v) = literal(pw) {
            if !v.contains("{{resolve:") {
                c.add(
                    out,
                    "MK-CFN-004",
                    Some(pw),
                    format!(
                        "MasterUserPassword is a literal ({})",
                        mamori_secrets::redact(v)
                    ),
                );
            }
        } else if let Some(param) = pw
            .get("Ref")
            .or(if pw.tag.as_deref() == Some("Ref") {
                Some(pw)
            } else {
                None
            })
            .and_then(Node::scalar_text)
        {
            // A parameter with a literal default and no NoEcho leaks the password too.
            let p = c.params.and_then(|ps| ps.get(param));
            if let Some(def) = p.and_then(|p| p.get("Default")).and_then(literal) {
                if !def.is_empty() {
                    c.add(out, "MK-CFN-004", Some(pw), format!("MasterUserPassword comes from parameter {param} with a literal default"));
                }
            }
        }
    }
}

fn eks(c: &Ctx<'_>, p: &Node, out: &mut Vec<Finding>) {
    let vpc = path_ci(p, &["ResourcesVpcConfig"]);
    let public = vpc.and_then(|v| get_ci(v, "EndpointPublicAccess"));
    let public_on = public.is_none_or(|n| n.as_bool() != Some(false));
    if public_on {
        let cidrs = vpc.and_then(|v| get_ci(v, "PublicAccessCidrs"));
        let open = match cidrs {
            None => true,
            Some(n) => n.items().iter().any(|i| i.as_str() == Some("0.0.0.0/0")),
        };
        if open {
            c.add(
                out,
                "MK-CFN-005",
                public.or(vpc),
                "API endpoint is public and PublicAccessCidrs is not restricted".to_string(),
            );
        }
    }
    let types = path_ci(p, &["Logging", "ClusterLogging", "EnabledTypes"]);
    let audit = types.is_some_and(|t| {
        t.items()
            .iter()
            .any(|i| i.as_str().or_else(|| get_ci(i, "Type").and_then(literal)) == Some("audit"))
    });
    if !audit {
        c.add(
            out,
            "MK-CFN-006",
            types,
            "control-plane audit logging is not enabled".to_string(),
        );
    }
    if path_ci(p, &["EncryptionConfig"]).is_none() {
        c.add(
            out,
            "MK-CFN-007",
            None,
            "no EncryptionConfig for secrets".to_string(),
        );
    }
    let boot = path_ci(
        p,
        &["AccessConfig", "BootstrapClusterCreatorAdminPermissions"],
    );
    if boot.is_none_or(|b| b.as_bool() != Some(false)) {
        c.add(
            out,
            "MK-CFN-008",
            boot,
            "BootstrapClusterCreatorAdminPermissions is not false".to_string(),
        );
    }
}

fn metadata_options(c: &Ctx<'_>, mo: Option<&Node>, parent: &Node, out: &mut Vec<Finding>) {
    let tokens = mo.and_then(|m| m.get("HttpTokens"));
    match tokens.map(|t| t.as_str()) {
        Some(Some("required")) => {}
        Some(None) => {} // intrinsic: unknown
        _ => c.add(
            out,
            "MK-CFN-009",
            tokens.or(mo).or(Some(parent)),
            "HttpTokens is not required (IMDSv1 allowed)".to_string(),
        ),
    }
    if let Some(h) = mo.and_then(|m| m.get("HttpPutResponseHopLimit")) {
        if h.as_i64().is_some_and(|v| v > 2) {
            c.add(
                out,
                "MK-CFN-009",
                Some(h),
                "HttpPutResponseHopLimit is above 2".to_string(),
            );
        }
    }
}

fn has_star(n: Option<&Node>) -> bool {
    as_list(n).iter().any(|i| i.as_str() == Some("*"))
}

fn iam_document(c: &Ctx<'_>, doc: Option<&Node>, out: &mut Vec<Finding>) {
    let Some(doc) = doc else { return };
    for st in as_list(doc.get("Statement")) {
        let allow = st.get("Effect").and_then(literal) == Some("Allow");
        if allow && has_star(st.get("Action")) && has_star(st.get("Resource")) {
            c.add(
                out,
                "MK-CFN-010",
                Some(st),
                "statement allows Action * on Resource *".to_string(),
            );
        }
    }
}

fn s3_bucket(c: &Ctx<'_>, out: &mut Vec<Finding>) {
    if let Some(acl) = c.prop(&["AccessControl"]) {
        if matches!(
            acl.as_str(),
            Some("PublicRead" | "PublicReadWrite" | "AuthenticatedRead")
        ) {
            c.add(
                out,
                "MK-CFN-011",
                Some(acl),
                format!("AccessControl is {}", acl.as_str().unwrap_or("")),
            );
        }
    }
    if let Some(pab) = c.prop(&["PublicAccessBlockConfiguration"]) {
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            if let Some(v) = pab.get(key) {
                if v.as_bool() == Some(false) {
                    c.add(
                        out,
                        "MK-CFN-011",
                        Some(v),
                        format!("PublicAccessBlockConfiguration.{key} is false"),
                    );
                }
            }
        }
    }
}

fn s3_policy(c: &Ctx<'_>, out: &mut Vec<Finding>) {
    let Some(doc) = c.prop(&["PolicyDocument"]) else {
        return;
    };
    for st in as_list(doc.get("Statement")) {
        let allow = st.get("Effect").and_then(literal) == Some("Allow");
        let principal = st.get("Principal");
        let anyone = principal.is_some_and(|p| p.as_str() == Some("*") || has_star(p.get("AWS")));
        if allow && anyone && st.get("Condition").is_none() {
            c.add(
                out,
                "MK-CFN-011",
                Some(st),
                "bucket policy allows any principal without a condition".to_string(),
            );
        }
    }
}
