//! Evaluation of each rule type.

use std::collections::{BTreeMap, BTreeSet};

use mamori_core::ImageRef;
use time::OffsetDateTime;

use super::{Operation, Request, RuleResult, Subject};
use crate::document::{
    Action, CapabilityRestriction, ContainerRule, ImageRule, KubectlAccessRule, PodRule,
    PodSecurityRule, Rule, ScanResultRule,
};
use crate::pss::{self, LevelVersion, PodLike};
use crate::scope::glob_match;
use crate::verdict::VerdictSource;

pub(super) struct Ctx<'a, 'r> {
    pub req: &'a Request<'r>,
    pub subject: &'a Subject<'a>,
    pub action: Action,
    pub now: OffsetDateTime,
    pub verdicts: &'a dyn VerdictSource,
}

/// A finding of a non-PSS rule: text and pointer relative to the pod.
struct Hit {
    text: String,
    pointer: Option<String>,
}

fn hit(text: String, pointer: impl Into<Option<String>>) -> Hit {
    Hit {
        text,
        pointer: pointer.into(),
    }
}

fn mamori_result(ctx: &Ctx<'_, '_>, rule: &Rule, hits: Vec<Hit>) -> Vec<RuleResult> {
    if hits.is_empty() {
        return Vec::new();
    }
    let pointer = hits
        .iter()
        .find_map(|h| h.pointer.clone())
        .map(|p| format!("{}{p}", ctx.subject.pointer_prefix));
    let texts: Vec<String> = hits.into_iter().map(|h| h.text).collect();
    vec![RuleResult {
        rule_id: rule.id.clone(),
        rule_type: rule.kind.type_name(),
        action: ctx.action,
        message: format!("violates mamori rule {:?}: {}", rule.id, texts.join(", ")),
        pointer,
    }]
}

// ---- podSecurity ----

const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";

/// Mode → level:version, from the rule and (when enabled) the namespace labels.
fn modes(ctx: &Ctx<'_, '_>, r: &PodSecurityRule) -> BTreeMap<Action, LevelVersion> {
    let mut m = BTreeMap::new();
    let default = LevelVersion {
        level: r.level,
        version: r.version,
    };
    m.insert(ctx.action, default);
    let Some(labels) = ctx.req.namespace_labels.filter(|_| r.namespace_labels) else {
        return m;
    };
    for (mode, action) in [
        ("enforce", Action::Enforce),
        ("audit", Action::Audit),
        ("warn", Action::Warn),
    ] {
        let level = labels.get(&format!("{LABEL_PREFIX}{mode}"));
        let version = labels.get(&format!("{LABEL_PREFIX}{mode}-version"));
        if level.is_none() && version.is_none() {
            continue;
        }
        // Invalid values fall back to the rule's own level/version, as PSA falls back to defaults.
        let level = level.and_then(|l| l.parse().ok()).unwrap_or(r.level);
        let version = version.and_then(|v| v.parse().ok()).unwrap_or(r.version);
        let mut action = action;
        // Templates never enforce in advisory mode; enforceAfter applies to labels too.
        if action == Action::Enforce && ctx.action != Action::Enforce {
            action = if ctx.subject.is_template {
                Action::Warn
            } else {
                ctx.action.max(Action::Audit)
            };
        }
        m.insert(action, LevelVersion { level, version });
    }
    m
}

/// Whether a pod UPDATE changes anything Pod Security looks at (PSA: container count or images).
fn significant_update(ctx: &Ctx<'_, '_>, pod: &PodLike) -> bool {
    if ctx.req.operation != Operation::Update || ctx.subject.is_template {
        return true;
    }
    let Some(old) = &ctx.subject.old_pod else {
        return true;
    };
    let images = |p: &PodLike| -> Vec<String> {
        p.all_containers()
            .map(|c| format!("{}/{}", c.kind.field(), c.container.image))
            .collect()
    };
    images(old) != images(pod)
}

pub(super) fn pod_security(ctx: &Ctx<'_, '_>, rule: &Rule, r: &PodSecurityRule) -> Vec<RuleResult> {
    let Some(pod) = &ctx.subject.pod else {
        return Vec::new();
    };
    let ex = &r.exemptions;
    if ex.usernames.contains(&ctx.req.user.username)
        || ex.namespaces.iter().any(|n| n == ctx.req.namespace)
        || pod
            .spec
            .runtime_class_name
            .as_ref()
            .is_some_and(|rc| ex.runtime_class_names.contains(rc))
    {
        return Vec::new();
    }
    if !significant_update(ctx, pod) {
        return Vec::new();
    }
    let mut cache: BTreeMap<String, Vec<pss::Violation>> = BTreeMap::new();
    let mut out = Vec::new();
    for (action, lv) in modes(ctx, r) {
        let violations = cache
            .entry(lv.to_string())
            .or_insert_with(|| pss::check_pod(lv.level, lv.version, pod));
        if violations.is_empty() {
            continue;
        }
        out.push(RuleResult {
            rule_id: rule.id.clone(),
            rule_type: rule.kind.type_name(),
            action,
            message: pss::violation_message(lv, violations),
            pointer: violations
                .first()
                .map(|v| format!("{}{}", ctx.subject.pointer_prefix, v.pointer)),
        });
    }
    out
}

// ---- pod properties ----

pub(super) fn pod_props(ctx: &Ctx<'_, '_>, rule: &Rule, r: &PodRule) -> Vec<RuleResult> {
    let Some(pod) = &ctx.subject.pod else {
        return Vec::new();
    };
    let s = &pod.spec;
    let mut hits = Vec::new();
    for (on, set, name, ptr) in [
        (
            r.host_network,
            s.host_network,
            "hostNetwork",
            "/spec/hostNetwork",
        ),
        (r.host_pid, s.host_pid, "hostPID", "/spec/hostPID"),
        (r.host_ipc, s.host_ipc, "hostIPC", "/spec/hostIPC"),
    ] {
        if on && set == Some(true) {
            hits.push(hit(format!("{name}=true"), ptr.to_string()));
        }
    }
    if r.host_path {
        for (i, v) in s.volumes.iter().enumerate() {
            if v.set_sources().any(|k| k == "hostPath") {
                hits.push(hit(
                    format!("hostPath volume {:?}", v.name),
                    format!("/spec/volumes/{i}/hostPath"),
                ));
            }
        }
    }
    if r.host_port {
        for c in pod.all_containers() {
            for (i, p) in c.container.ports.iter().enumerate() {
                if let Some(hp) = p.host_port.filter(|p| *p != 0) {
                    hits.push(hit(
                        format!("container {:?} uses hostPort {hp}", c.container.name),
                        c.pointer(&format!("/ports/{i}/hostPort")),
                    ));
                }
            }
        }
    }
    if r.automount_service_account_token && s.automount_service_account_token != Some(false) {
        hits.push(hit(
            "service account token is mounted (set automountServiceAccountToken=false)".into(),
            "/spec/automountServiceAccountToken".to_string(),
        ));
    }
    mamori_result(ctx, rule, hits)
}

// ---- container properties ----

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

pub(super) fn container_props(
    ctx: &Ctx<'_, '_>,
    rule: &Rule,
    r: &ContainerRule,
) -> Vec<RuleResult> {
    let Some(pod) = &ctx.subject.pod else {
        return Vec::new();
    };
    let psc = pod.spec.security_context.as_ref();
    let mut hits = Vec::new();
    for c in pod.all_containers() {
        let k = c.container;
        if rule.scope.image_exempt(&k.image) {
            continue;
        }
        let sc = k.security_context.as_ref();
        let name = &k.name;
        if r.privileged && sc.and_then(|s| s.privileged) == Some(true) {
            hits.push(hit(
                format!("container {name:?} is privileged"),
                c.pointer("/securityContext/privileged"),
            ));
        }
        if r.allow_privilege_escalation
            && sc.and_then(|s| s.allow_privilege_escalation) != Some(false)
        {
            hits.push(hit(
                format!(
                    "container {name:?} must set securityContext.allowPrivilegeEscalation=false"
                ),
                c.pointer("/securityContext/allowPrivilegeEscalation"),
            ));
        }
        if r.run_as_root {
            let non_root = sc
                .and_then(|s| s.run_as_non_root)
                .or(psc.and_then(|p| p.run_as_non_root));
            let user = sc
                .and_then(|s| s.run_as_user)
                .or(psc.and_then(|p| p.run_as_user));
            if user == Some(0) {
                hits.push(hit(
                    format!("container {name:?} runs as user 0"),
                    c.pointer("/securityContext/runAsUser"),
                ));
            } else if non_root == Some(false) {
                hits.push(hit(
                    format!("container {name:?} sets runAsNonRoot=false"),
                    c.pointer("/securityContext/runAsNonRoot"),
                ));
            }
        }
        if r.writable_root_filesystem && sc.and_then(|s| s.read_only_root_filesystem) != Some(true)
        {
            hits.push(hit(
                format!("container {name:?} must set securityContext.readOnlyRootFilesystem=true"),
                c.pointer("/securityContext/readOnlyRootFilesystem"),
            ));
        }
        if let Some(level) = r.capabilities {
            let caps = sc.and_then(|s| s.capabilities.as_ref());
            let add = caps.map(|c| c.add.as_slice()).unwrap_or(&[]);
            let drops_all = caps.is_some_and(|c| c.drop.iter().any(|d| d == "ALL"));
            let bad_add: Vec<&String> = add
                .iter()
                .filter(|a| match level {
                    CapabilityRestriction::RestrictNondefaults
                    | CapabilityRestriction::RestrictAll => true,
                    CapabilityRestriction::Baseline => !BASELINE_CAPS.contains(&a.as_str()),
                    CapabilityRestriction::Restricted => *a != "NET_BIND_SERVICE",
                })
                .collect();
            if !bad_add.is_empty() {
                hits.push(hit(
                    format!("container {name:?} adds capabilities {bad_add:?}"),
                    c.pointer("/securityContext/capabilities/add"),
                ));
            }
            let must_drop = matches!(
                level,
                CapabilityRestriction::RestrictAll | CapabilityRestriction::Restricted
            );
            if must_drop && !drops_all {
                hits.push(hit(
                    format!("container {name:?} must drop ALL capabilities"),
                    c.pointer("/securityContext/capabilities/drop"),
                ));
            }
        }
        if r.resource_limits_missing {
            let limits = k.resources.as_ref().map(|r| &r.limits);
            let missing: Vec<&str> = ["cpu", "memory"]
                .into_iter()
                .filter(|res| !limits.is_some_and(|l| l.contains_key(*res)))
                .collect();
            if !missing.is_empty() {
                hits.push(hit(
                    format!(
                        "container {name:?} has no resources.limits.{}",
                        missing.join("/")
                    ),
                    c.pointer("/resources/limits"),
                ));
            }
        }
    }
    mamori_result(ctx, rule, hits)
}

// ---- images ----

pub(super) fn image(ctx: &Ctx<'_, '_>, rule: &Rule, r: &ImageRule) -> Vec<RuleResult> {
    let Some(pod) = &ctx.subject.pod else {
        return Vec::new();
    };
    let mut hits = Vec::new();
    for c in pod.all_containers() {
        let img = c.container.image.as_str();
        if rule.scope.image_exempt(img) {
            continue;
        }
        let ptr = c.pointer("/image");
        let who = format!("image {img:?} of container {:?}", c.container.name);
        let parsed = img.parse::<ImageRef>();
        let Ok(parsed) = parsed else {
            hits.push(hit(format!("{who} is not a valid image reference"), ptr));
            continue;
        };
        if r.latest_tag && parsed.is_latest() {
            hits.push(hit(format!("{who} uses the latest tag"), ptr.clone()));
        }
        if r.digest_required && parsed.digest.is_none() {
            hits.push(hit(format!("{who} is not pinned by digest"), ptr.clone()));
        }
        if !r.allowed_registries.is_empty()
            && !r
                .allowed_registries
                .iter()
                .any(|g| glob_match(g, &parsed.registry))
        {
            hits.push(hit(
                format!(
                    "{who} comes from registry {:?}, which is not allowed",
                    parsed.registry
                ),
                ptr.clone(),
            ));
        }
        for m in &r.matches {
            if m.matches(img) {
                hits.push(hit(
                    format!(
                        "{who} matches {:?} {:?} {:?}",
                        m.field, m.operator, m.values
                    ),
                    ptr.clone(),
                ));
            }
        }
    }
    mamori_result(ctx, rule, hits)
}

// ---- scan results ----

pub(super) fn scan_result(ctx: &Ctx<'_, '_>, rule: &Rule, r: &ScanResultRule) -> Vec<RuleResult> {
    let Some(pod) = &ctx.subject.pod else {
        return Vec::new();
    };
    let mut hits = Vec::new();
    let mut seen = BTreeSet::new();
    for c in pod.all_containers() {
        let img = c.container.image.as_str();
        if rule.scope.image_exempt(img) || !seen.insert(img) {
            continue;
        }
        let ptr = c.pointer("/image");
        let (verdict, why_missing) = match ctx.verdicts.verdict(img) {
            Ok(v) => (v, "has not been scanned".to_string()),
            Err(e) => (None, format!("has no scan result ({})", e.reason)),
        };
        let verdict = verdict.filter(|v| match &r.unscanned {
            Some(u) if u.max_scan_age_days > 0 => {
                (ctx.now - v.scanned_at).whole_days() <= i64::from(u.max_scan_age_days)
            }
            _ => true,
        });
        let Some(v) = verdict else {
            if r.unscanned.is_some() {
                hits.push(hit(format!("image {img:?} {why_missing}"), ptr));
            }
            continue;
        };
        if let Some(cond) = &r.vulnerabilities {
            let ids: Vec<&str> = v
                .vulnerabilities
                .iter()
                .filter(|x| x.severity >= cond.severity && (!cond.fixable_only || x.fixable))
                .map(|x| x.id.as_str())
                .collect();
            if !ids.is_empty() {
                hits.push(hit(
                    format!(
                        "image {img:?} has {} {}vulnerabilities of severity {} or higher ({})",
                        ids.len(),
                        if cond.fixable_only { "fixable " } else { "" },
                        cond.severity.as_str(),
                        first_ids(&ids)
                    ),
                    ptr.clone(),
                ));
            }
        }
        if let Some(cond) = &r.cvss {
            let ids: Vec<&str> = v
                .vulnerabilities
                .iter()
                .filter(|x| x.severity >= cond.severity)
                .filter(|x| cond.attack_vector.is_none() || x.attack_vector == cond.attack_vector)
                .filter(|x| {
                    cond.attack_complexity.is_none()
                        || x.attack_complexity == cond.attack_complexity
                })
                .map(|x| x.id.as_str())
                .collect();
            if !ids.is_empty() {
                hits.push(hit(
                    format!(
                        "image {img:?} has {} vulnerabilities matching the CVSS condition ({})",
                        ids.len(),
                        first_ids(&ids)
                    ),
                    ptr.clone(),
                ));
            }
        }
        if r.secrets && v.secrets > 0 {
            hits.push(hit(
                format!("image {img:?} contains {} secrets", v.secrets),
                ptr.clone(),
            ));
        }
        if r.malware && v.malware > 0 {
            hits.push(hit(
                format!("image {img:?} contains {} malware findings", v.malware),
                ptr.clone(),
            ));
        }
    }
    mamori_result(ctx, rule, hits)
}

fn first_ids(ids: &[&str]) -> String {
    let mut s = ids.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > 3 {
        s.push_str(", …");
    }
    s
}

// ---- kubectl access ----

pub(super) fn kubectl_access(
    ctx: &Ctx<'_, '_>,
    rule: &Rule,
    r: &KubectlAccessRule,
) -> Vec<RuleResult> {
    let req = ctx.req;
    if req.resource != "pods" {
        return Vec::new();
    }
    let what = match (req.operation, req.sub_resource) {
        (Operation::Connect, "exec") if r.exec => "exec into",
        (Operation::Connect, "attach") if r.attach => "attach to",
        (Operation::Connect, "portforward") if r.port_forward => "port-forward to",
        (Operation::Update, "ephemeralcontainers") if r.ephemeral_containers => {
            "add an ephemeral container to"
        }
        _ => return Vec::new(),
    };
    let user = &req.user;
    if r.allowed_users
        .iter()
        .any(|g| glob_match(g, &user.username))
        || user.groups.iter().any(|g| r.allowed_groups.contains(g))
    {
        return Vec::new();
    }
    mamori_result(
        ctx,
        rule,
        vec![hit(
            format!("user {:?} may not {what} pod {:?}", user.username, req.name),
            None,
        )],
    )
}
