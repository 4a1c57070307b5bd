//! The rule catalogue: ids, titles, default severities, NIST SP 800-190 risks, CIS ids and the
//! equivalent ids of peer tools (hadolint `DLxxxx`, checkov `CKV_*`).

use mamori_core::{Area, Finding, Location, Reference, Severity, Target};

use crate::node::Pos;

/// One rule of the configuration scanner.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id (`DL3008` for hadolint-compatible rules, `MK-K8S-001` for mamori's own).
    pub id: &'static str,
    /// Short title.
    pub title: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// NIST SP 800-190 area.
    pub area: Area,
    /// NIST SP 800-190 risk ids (section 3).
    pub nist: &'static [&'static str],
    /// CIS benchmark recommendations.
    pub cis: &'static [&'static str],
    /// Equivalent checks of peer tools.
    pub peers: &'static [&'static str],
    /// How to fix it.
    pub remediation: &'static str,
}

use Area::{Container as C, Host as H, Image as I, Orchestrator as O};
use Severity::{High as HI, Info as INF, Low as LO, Medium as ME};

// A table row: one argument per column reads better than a builder here.
#[allow(clippy::too_many_arguments)]
const fn r(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    area: Area,
    nist: &'static [&'static str],
    cis: &'static [&'static str],
    peers: &'static [&'static str],
    remediation: &'static str,
) -> Rule {
    Rule {
        id,
        title,
        severity,
        area,
        nist,
        cis,
        peers,
        remediation,
    }
}

const PIN: &[&str] = &["3.1.1"];
const CFG: &[&str] = &["3.1.2"];
const DOCKER_UPD: &[&str] = &["CIS Docker 4.7"];

/// Every rule, grouped by family.
pub const RULES: &[Rule] = &[
    // --- Dockerfile: hadolint-compatible ids and default severities (error=high, warning=medium,
    // info=low, style=info).
    r("DL1000", "Dockerfile cannot be parsed", HI, I, CFG, &[], &["DL1000"], "Fix the Dockerfile syntax."),
    r("DL1001", "Please refrain from using inline ignore pragmas", INF, I, CFG, &[], &["DL1001"], "Fix the finding instead of ignoring it inline (off by default, as in hadolint)."),
    r("DL3000", "Use absolute WORKDIR", HI, I, CFG, &[], &["DL3000"], "Use an absolute path in WORKDIR."),
    r("DL3001", "Command makes no sense in a container", LO, I, CFG, &[], &["DL3001"], "Remove interactive or host-administration commands from RUN."),
    r("DL3002", "Last USER should not be root", ME, I, CFG, &["CIS Docker 4.1"], &["DL3002", "CKV_DOCKER_8"], "Switch to a non-root USER at the end of the final stage."),
    r("DL3003", "Use WORKDIR to switch to a directory", ME, I, CFG, &[], &["DL3003"], "Use WORKDIR instead of cd."),
    r("DL3004", "Do not use sudo", HI, I, CFG, &[], &["DL3004"], "Run the step as the right USER or use gosu."),
    r("DL3006", "Always tag the version of an image explicitly", ME, I, &["3.1.1", "3.1.5"], &[], &["DL3006", "CKV_DOCKER_7"], "Pin the base image to a tag or digest."),
    r("DL3007", "Using latest is prone to errors", ME, I, &["3.1.1", "3.1.5"], &[], &["DL3007", "CKV_DOCKER_7"], "Pin the base image to a release tag or digest."),
    r("DL3008", "Pin versions in apt-get install", ME, I, PIN, &[], &["DL3008"], "Use apt-get install <package>=<version>."),
    r("DL3009", "Delete the apt-get lists after installing something", LO, I, CFG, DOCKER_UPD, &["DL3009"], "Add rm -rf /var/lib/apt/lists/* to the same RUN."),
    r("DL3010", "Use ADD for extracting archives into an image", LO, I, CFG, &[], &["DL3010"], "ADD a local archive to extract it instead of COPY followed by tar/unzip."),
    r("DL3011", "Valid UNIX ports range from 0 to 65535", HI, I, CFG, &[], &["DL3011"], "Use a port between 0 and 65535."),
    r("DL3012", "Multiple HEALTHCHECK instructions", HI, I, CFG, &[], &["DL3012"], "Keep one HEALTHCHECK per stage."),
    r("DL3013", "Pin versions in pip", ME, I, PIN, &[], &["DL3013"], "Use pip install <package>==<version>."),
    r("DL3014", "Use the -y switch", ME, I, CFG, &[], &["DL3014"], "Use apt-get install -y."),
    r("DL3015", "Avoid additional packages by specifying --no-install-recommends", LO, I, CFG, &[], &["DL3015"], "Add --no-install-recommends."),
    r("DL3016", "Pin versions in npm", ME, I, PIN, &[], &["DL3016"], "Use npm install <package>@<version>."),
    r("DL3018", "Pin versions in apk add", ME, I, PIN, &[], &["DL3018"], "Use apk add <package>=<version>."),
    r("DL3019", "Use the --no-cache switch with apk add", LO, I, CFG, &[], &["DL3019"], "Use apk add --no-cache."),
    r("DL3020", "Use COPY instead of ADD for files and folders", HI, I, CFG, &["CIS Docker 4.9"], &["DL3020", "CKV_DOCKER_4"], "Use COPY for local files."),
    r("DL3021", "COPY with more than 2 arguments requires the last argument to end with /", HI, I, CFG, &[], &["DL3021"], "End the destination with /."),
    r("DL3022", "COPY --from should reference a previously defined FROM alias", ME, I, CFG, &[], &["DL3022"], "Define the stage before copying from it, or copy from an image reference."),
    r("DL3023", "COPY --from cannot reference its own FROM alias", HI, I, CFG, &[], &["DL3023"], "Copy from another stage."),
    r("DL3024", "FROM aliases (stage names) must be unique", HI, I, CFG, &[], &["DL3024"], "Rename the duplicate stage."),
    r("DL3025", "Use arguments JSON notation for CMD and ENTRYPOINT arguments", ME, I, CFG, &[], &["DL3025"], "Write CMD [\"executable\", \"arg\"]."),
    r("DL3026", "Use only an allowed registry in the FROM image", HI, I, &["3.1.5", "3.2.2"], &["CIS Docker 4.2"], &["DL3026"], "Pull base images only from the registries listed in trustedRegistries."),
    r("DL3027", "Do not use apt as it is meant to be an end-user tool", ME, I, CFG, &[], &["DL3027"], "Use apt-get or apt-cache."),
    r("DL3028", "Pin versions in gem install", ME, I, PIN, &[], &["DL3028"], "Use gem install <gem>:<version>."),
    r("DL3029", "Do not use --platform flag with FROM", ME, I, CFG, &[], &["DL3029"], "Let the builder choose the platform."),
    r("DL3030", "Use the -y switch with yum install", ME, I, CFG, &[], &["DL3030"], "Use yum install -y."),
    r("DL3032", "yum clean all missing after yum command", ME, I, CFG, &[], &["DL3032"], "Add yum clean all."),
    r("DL3033", "Specify version with yum install", ME, I, PIN, &[], &["DL3033"], "Use yum install <package>-<version>."),
    r("DL3034", "Non-interactive switch missing from zypper command", ME, I, CFG, &[], &["DL3034"], "Use zypper install -y."),
    r("DL3035", "Do not use zypper dist-upgrade", ME, I, CFG, &[], &["DL3035"], "Pin the base image instead of upgrading the distribution in the build."),
    r("DL3036", "zypper clean missing after zypper use", ME, I, CFG, &[], &["DL3036"], "Add zypper clean after zypper install."),
    r("DL3037", "Specify version with zypper install", ME, I, PIN, &[], &["DL3037"], "Use zypper install -y <package>=<version>."),
    r("DL3038", "Use the -y switch with dnf install", ME, I, CFG, &[], &["DL3038"], "Use dnf install -y."),
    r("DL3040", "dnf clean all missing after dnf command", ME, I, CFG, &[], &["DL3040"], "Add dnf clean all."),
    r("DL3041", "Specify version with dnf install", ME, I, PIN, &[], &["DL3041"], "Use dnf install <package>-<version>."),
    r("DL3042", "Avoid cache directory with pip install --no-cache-dir", ME, I, CFG, &[], &["DL3042"], "Use pip install --no-cache-dir."),
    r("DL3043", "ONBUILD, FROM or MAINTAINER triggered from within ONBUILD", HI, I, CFG, &[], &["DL3043"], "Remove the nested instruction."),
    r("DL3044", "Do not refer to an environment variable within the same ENV statement where it is defined", HI, I, CFG, &[], &["DL3044"], "Split the ENV instruction."),
    r("DL3045", "COPY to a relative destination without WORKDIR set", ME, I, CFG, &[], &["DL3045"], "Set WORKDIR or use an absolute destination."),
    r("DL3046", "useradd without flag -l and high UID will result in excessively large image", ME, I, CFG, &[], &["DL3046"], "Use useradd -l."),
    r("DL3047", "Avoid use of wget without progress bar", ME, I, CFG, &[], &["DL3047"], "Use wget --progress=dot:giga, -q or -nv."),
    r("DL3048", "Invalid label key", INF, I, CFG, &[], &["DL3048"], "Use lower-case reverse-DNS label keys (a-z, 0-9, . and -), not in the com.docker., io.docker. or org.dockerproject. namespaces."),
    r("DL3049", "Label is missing", LO, I, CFG, &[], &["DL3049"], "Set every label of the label schema in each stage (or inherit it)."),
    r("DL3050", "Superfluous label(s) present", LO, I, CFG, &[], &["DL3050"], "With strict-labels, set only the labels of the schema."),
    r("DL3051", "Label is empty", ME, I, CFG, &[], &["DL3051"], "Give the label a value."),
    r("DL3052", "Label is not a valid URL", ME, I, CFG, &[], &["DL3052"], "Use an absolute URL (scheme:...)."),
    r("DL3053", "Label is not a valid RFC 3339 time", ME, I, CFG, &[], &["DL3053"], "Use a time like 2024-01-31T12:00:00Z."),
    r("DL3054", "Label is not a valid SPDX license identifier", ME, I, CFG, &[], &["DL3054"], "Use an SPDX license id such as Apache-2.0."),
    r("DL3055", "Label is not a valid git hash", ME, I, CFG, &[], &["DL3055"], "Use a 7 or 40 character lower-case hex commit id."),
    r("DL3056", "Label does not conform to semantic versioning", ME, I, CFG, &[], &["DL3056"], "Use a version like 1.2.3."),
    r("DL3057", "HEALTHCHECK instruction missing", LO, I, CFG, &[], &["DL3057", "CKV_DOCKER_2"], "Add a HEALTHCHECK to the stage (off by default, as in hadolint)."),
    r("DL3058", "Label is not a valid e-mail address", ME, I, CFG, &[], &["DL3058"], "Use an RFC 5322 address such as team@example.com."),
    r("DL3059", "Multiple consecutive RUN instructions", LO, I, CFG, &[], &["DL3059"], "Consolidate the RUN instructions."),
    r("DL3060", "yarn cache clean missing after yarn install", LO, I, CFG, &[], &["DL3060"], "Add yarn cache clean."),
    r("DL3061", "Invalid instruction order: Dockerfile must begin with FROM, ARG or comment", HI, I, CFG, &[], &["DL3061"], "Start with FROM or ARG."),
    r("DL3062", "Pin versions in go install", ME, I, PIN, &[], &["DL3062"], "Use go install <package>@<version>."),
    r("DL3063", "Stage name should not be a reserved word", ME, I, CFG, &[], &["DL3063"], "Rename the stage: scratch and context are reserved."),
    r("DL3064", "Potentially sensitive data in ARG or ENV", ME, I, &["3.1.4"], &["CIS Docker 4.10"], &["DL3064"], "Pass secrets with RUN --mount=type=secret, never in ENV/ARG."),
    r("DL3065", "FROM --platform=$TARGETPLATFORM is redundant", ME, I, CFG, &[], &["DL3065"], "Drop the flag: the target platform is the default."),
    r("DL3066", "Non-numeric user-id may not be resolvable by host system", LO, I, CFG, &[], &["DL3066"], "Use a numeric USER uid:gid."),
    r("DL3067", "Do not copy an entire filesystem from another stage", ME, I, CFG, &[], &["DL3067"], "Copy only what is needed."),
    r("DL4000", "MAINTAINER is deprecated", HI, I, CFG, &[], &["DL4000"], "Use LABEL maintainer=..."),
    r("DL4001", "Either use wget or curl but not both", ME, I, CFG, &[], &["DL4001"], "Use one download tool."),
    r("DL4003", "Multiple CMD instructions found", ME, I, CFG, &[], &["DL4003"], "Keep one CMD per stage."),
    r("DL4004", "Multiple ENTRYPOINT instructions found", HI, I, CFG, &[], &["DL4004"], "Keep one ENTRYPOINT per stage."),
    r("DL4005", "Use SHELL to change the default shell", ME, I, CFG, &[], &["DL4005"], "Use the SHELL instruction instead of linking /bin/sh."),
    r("DL4006", "Set the SHELL option -o pipefail before RUN with a pipe in it", ME, I, CFG, &[], &["DL4006"], "Add SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]."),
    // --- Dockerfile: mamori extras.
    r("MK-DF-001", "Final stage runs as root: no USER instruction", ME, I, CFG, &["CIS Docker 4.1"], &["CKV_DOCKER_3"], "Create an unprivileged user and add USER to the final stage."),
    r("MK-DF-002", "Remote script piped into a shell", HI, I, &["3.1.3", "3.1.2"], &[], &[], "Download, verify a checksum or signature, then run."),
    r("MK-DF-003", "TLS certificate verification turned off", HI, I, &["3.1.3", "3.2.1"], &[], &["CKV2_DOCKER_2", "CKV2_DOCKER_3", "CKV2_DOCKER_4", "CKV2_DOCKER_5", "CKV2_DOCKER_6"], "Keep TLS verification on; install the right CA certificates."),
    r("MK-DF-004", "ADD of a remote URL", ME, I, &["3.1.3"], &["CIS Docker 4.9"], &[], "Download with a checksum (ADD --checksum) or with curl and verify."),
    r("MK-DF-005", "Secret in ENV or ARG", HI, I, &["3.1.4"], &["CIS Docker 4.10"], &["DL3064"], "Pass secrets with RUN --mount=type=secret, never in ENV/ARG."),
    r("MK-DF-006", "Package installation without signature or repository checks", HI, I, &["3.1.3"], &[], &["CKV2_DOCKER_7", "CKV2_DOCKER_8", "CKV2_DOCKER_9"], "Do not use --allow-untrusted, --allow-unauthenticated, --nogpgcheck."),
    // --- Kubernetes.
    r("MK-K8S-001", "Container without CPU or memory limits", ME, C, &["3.4.4"], &[], &["CKV_K8S_11", "CKV_K8S_13"], "Set resources.limits.cpu and resources.limits.memory."),
    r("MK-K8S-002", "Container without CPU or memory requests", LO, C, &["3.4.4"], &[], &["CKV_K8S_10", "CKV_K8S_12"], "Set resources.requests.cpu and resources.requests.memory."),
    r("MK-K8S-003", "Container without liveness probe", LO, C, &["3.4.4"], &[], &["CKV_K8S_8"], "Add a livenessProbe."),
    r("MK-K8S-004", "Container without readiness probe", LO, C, &["3.4.4"], &[], &["CKV_K8S_9"], "Add a readinessProbe."),
    r("MK-K8S-005", "Image uses the latest tag or no tag", ME, I, &["3.1.1", "3.2.2"], &[], &["CKV_K8S_14"], "Pin the image to a release tag and digest."),
    r("MK-K8S-006", "Image not pinned by digest", LO, I, &["3.1.5", "3.2.2"], &[], &["CKV_K8S_43"], "Reference the image as name@sha256:..."),
    r("MK-K8S-007", "Root filesystem is writable", LO, C, &["3.4.4"], &[], &["CKV_K8S_22"], "Set securityContext.readOnlyRootFilesystem: true."),
    r("MK-K8S-008", "Service account token mounted automatically", LO, O, &["3.3.2"], &["CIS Kubernetes 5.1.6", "CIS EKS 4.1.6"], &["CKV_K8S_38"], "Set automountServiceAccountToken: false unless the pod calls the API."),
    r("MK-K8S-009", "Secret in plain environment variable value", HI, O, &["3.1.4", "3.3.2"], &["CIS Kubernetes 5.4.1", "CIS EKS 4.4.1"], &[], "Use valueFrom.secretKeyRef, a CSI secret store or External Secrets."),
    r("MK-K8S-010", "Object in the default namespace", LO, O, &["3.3.4"], &["CIS Kubernetes 5.7.4", "CIS EKS 4.5.2"], &["CKV_K8S_21"], "Deploy into a dedicated namespace."),
    r("MK-K8S-011", "Service exposed through NodePort or LoadBalancer", LO, O, &["3.3.3"], &[], &[], "Prefer ClusterIP behind an ingress; restrict loadBalancerSourceRanges."),
    r("MK-K8S-040", "Pod Security Standards baseline violation", HI, C, &["3.4.3"], &["CIS Kubernetes 5.2", "CIS EKS 4.2"], &["CKV_K8S_16", "CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19", "CKV_K8S_26", "CKV_K8S_27"], "Fix the pod spec to meet the baseline Pod Security Standard."),
    r("MK-K8S-041", "Pod Security Standards restricted violation", ME, C, &["3.4.3"], &["CIS Kubernetes 5.2", "CIS EKS 4.2"], &["CKV_K8S_20", "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_37"], "Run as non-root, drop ALL capabilities, disallow privilege escalation, set seccompProfile RuntimeDefault."),
    r("MK-K8S-020", "RBAC rule uses wildcards", ME, O, &["3.3.1"], &["CIS Kubernetes 5.1.3", "CIS EKS 4.1.3"], &["CKV_K8S_49"], "List resources and verbs explicitly."),
    r("MK-K8S-021", "Binding to cluster-admin", HI, O, &["3.3.1"], &["CIS Kubernetes 5.1.1", "CIS EKS 4.1.1"], &[], "Bind a least-privilege role instead of cluster-admin."),
    r("MK-K8S-022", "RBAC grants escalate, bind or impersonate", HI, O, &["3.3.1"], &["CIS Kubernetes 5.1.8", "CIS EKS 4.1.8"], &["CKV_K8S_157", "CKV_K8S_158", "CKV2_K8S_3"], "Remove escalate/bind/impersonate verbs."),
    r("MK-K8S-023", "RBAC grants read access to secrets", ME, O, &["3.3.1", "3.1.4"], &["CIS Kubernetes 5.1.2", "CIS EKS 4.1.2"], &["CKV2_K8S_5"], "Limit get/list/watch on secrets to named resources."),
    r("MK-K8S-030", "Namespace has workloads but no egress NetworkPolicy blocking instance metadata", ME, C, &["3.4.2", "3.3.3"], &["CIS Kubernetes 5.3.2", "CIS EKS 4.3.2"], &[], "Add an egress NetworkPolicy with ipBlock except 169.254.169.254/32 for all pods."),
    r("MK-K8S-031", "Workload uses static AWS credentials without IRSA or Pod Identity", HI, O, &["3.1.4", "3.3.2"], &["CIS EKS 5.2.1"], &[], "Annotate the service account with eks.amazonaws.com/role-arn (IRSA) or use EKS Pod Identity."),
    r("MK-K8S-032", "Namespace without Pod Security Admission enforce label", ME, O, &["3.4.3"], &["CIS Kubernetes 5.2.1"], &[], "Label the namespace pod-security.kubernetes.io/enforce=restricted (or baseline)."),
    // --- Any file.
    r("MK-SEC-001", "Secret in a configuration file", HI, I, &["3.1.4"], &[], &["CKV_SECRET_2", "CKV_SECRET_6"], "Move the secret to a secret manager and rotate it."),
    // --- CloudFormation.
    r("MK-CFN-001", "Security group open to the internet", HI, H, &["3.5.4", "3.3.3"], &[], &["CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260"], "Restrict CidrIp/CidrIpv6 to known ranges; only 80/443 may be public."),
    r("MK-CFN-002", "RDS instance publicly accessible", HI, H, &["3.3.2"], &[], &["CKV_AWS_17"], "Set PubliclyAccessible: false."),
    r("MK-CFN-003", "RDS storage not encrypted", ME, H, &["3.3.2"], &[], &["CKV_AWS_16", "CKV_AWS_96"], "Set StorageEncrypted: true."),
    r("MK-CFN-004", "Literal database master password", HI, H, &["3.1.4"], &[], &[], "Use ManageMasterUserPassword or {{resolve:secretsmanager:...}}."),
    r("MK-CFN-005", "EKS API endpoint public to the internet", HI, O, &["3.3.2"], &["CIS EKS 5.4.1", "CIS EKS 5.4.2"], &[], "Set EndpointPublicAccess: false or restrict PublicAccessCidrs."),
    r("MK-CFN-006", "EKS control-plane audit logging off", ME, O, &["3.3.2"], &["CIS EKS 2.1.1"], &[], "Enable Logging.ClusterLogging.EnabledTypes including audit."),
    r("MK-CFN-007", "EKS secrets not envelope-encrypted with KMS", ME, O, &["3.3.2"], &["CIS EKS 5.3.1"], &["CKV_AWS_58"], "Add EncryptionConfig with a KMS key for secrets."),
    r("MK-CFN-008", "EKS cluster creator gets cluster-admin", ME, O, &["3.3.1"], &[], &[], "Set AccessConfig.BootstrapClusterCreatorAdminPermissions: false."),
    r("MK-CFN-009", "Launch template allows IMDSv1 or a hop limit above 2", ME, H, &["3.4.2"], &[], &["CKV_AWS_79"], "Set MetadataOptions.HttpTokens: required and HttpPutResponseHopLimit <= 2."),
    r("MK-CFN-010", "IAM policy allows * on *", HI, O, &["3.3.1"], &[], &["CKV_AWS_62", "CKV_AWS_63"], "Grant specific actions on specific resources."),
    r("MK-CFN-011", "S3 bucket may be public", HI, H, &["3.3.2"], &[], &["CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"], "Enable all four PublicAccessBlockConfiguration settings; no public ACL."),
    r("MK-CFN-012", "Secret in plain environment or user data", HI, H, &["3.1.4"], &[], &["CKV_AWS_45", "CKV_AWS_46"], "Reference Secrets Manager or SSM SecureString instead."),
    r("MK-CFN-013", "Secret-like parameter without NoEcho", ME, H, &["3.1.4"], &[], &[], "Set NoEcho: true on the parameter."),
];

/// Rules hadolint ships with severity `ignore`: catalogued, but reported only when asked for by
/// id (`--check`) or given a severity by a `.hadolint.yaml` `override`.
pub const OFF_BY_DEFAULT: &[&str] = &["DL1001", "DL3057"];

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// Builds a finding for rule `id` at `path:pos`.
pub(crate) fn finding(id: &str, path: &str, pos: Pos, message: String) -> Finding {
    let Some(rule) = rule(id) else {
        // A programming error, covered by the tests that every emitted id is catalogued.
        return Finding::new(id, id, Severity::Unknown, Area::Orchestrator)
            .with_target(Target::file(path))
            .with_location(Location::at(path, pos.line, pos.col))
            .with_message(message);
    };
    let mut f = Finding::new(rule.id, rule.title, rule.severity, rule.area)
        .with_target(Target::file(path))
        .with_location(Location::at(path, pos.line, pos.col))
        .with_message(message)
        .with_remediation(rule.remediation);
    for n in rule.nist {
        f = f.with_nist(*n);
    }
    for c in rule.cis {
        f = f.with_reference(Reference::Cis((*c).to_string()));
    }
    for p in rule.peers {
        f = f.with_reference(Reference::Peer((*p).to_string()));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_unique_and_nist_known() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule id");
        for r in RULES {
            for n in r.nist {
                assert!(mamori_core::nist::risk_by_id(n).is_some(), "{} {n}", r.id);
            }
        }
    }

    #[test]
    fn finding_carries_references() {
        let f = finding("DL3008", "Dockerfile", Pos { line: 3, col: 1 }, "x".into());
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.location.line, Some(3));
        assert!(f.references.contains(&Reference::Peer("DL3008".into())));
    }
}
