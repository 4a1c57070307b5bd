//! Each Dockerfile rule on a small positive and negative fixture.

use mamori_config::{scan_source, Settings};

fn ids(text: &str) -> Vec<String> {
    let r = scan_source("Dockerfile", text, &Settings::default());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.findings.into_iter().map(|f| f.rule_id).collect()
}

/// Asserts that `rule` fires on `bad` and not on `good`.
fn case(rule: &str, bad: &str, good: &str) {
    let b = ids(bad);
    assert!(
        b.iter().any(|i| i == rule),
        "{rule} should fire on:\n{bad}\ngot {b:?}"
    );
    let g = ids(good);
    assert!(
        !g.iter().any(|i| i == rule),
        "{rule} should not fire on:\n{good}\ngot {g:?}"
    );
}

const H: &str = "FROM debian:12\n";
const T: &str = "USER 1000\n";

fn df(body: &str) -> String {
    format!("{H}{body}\n{T}")
}

#[test]
fn apt_rules() {
    case(
        "DL3008",
        &df("RUN apt-get install -y --no-install-recommends curl"),
        &df("RUN apt-get install -y --no-install-recommends curl=7.88"),
    );
    case(
        "DL3014",
        &df("RUN apt-get install --no-install-recommends curl=1"),
        &df("RUN apt-get install -qq --no-install-recommends curl=1"),
    );
    case(
        "DL3015",
        &df("RUN apt-get install -y curl=1"),
        &df("RUN apt-get install -y --no-install-recommends curl=1"),
    );
    case("DL3009", &df("RUN apt-get update && apt-get install -y --no-install-recommends a=1"), &df("RUN apt-get update && apt-get install -y --no-install-recommends a=1 && rm -rf /var/lib/apt/lists/*"));
    case(
        "DL3027",
        &df("RUN apt install -y curl"),
        &df("RUN apt-get install -y --no-install-recommends curl=1"),
    );
    case(
        "MK-DF-006",
        &df("RUN apt-get install -y --allow-unauthenticated a=1"),
        &df("RUN apt-get install -y a=1"),
    );
}

#[test]
fn apt_lists_only_matter_in_the_final_or_used_stages() {
    let multi = "FROM debian:12 AS build\nRUN apt-get update\nFROM debian:12\nUSER 1\n";
    assert!(!ids(multi).contains(&"DL3009".to_string()));
    let used = "FROM debian:12 AS build\nRUN apt-get update\nFROM build\nUSER 1\n";
    assert!(ids(used).contains(&"DL3009".to_string()));
}

#[test]
fn apk_pip_npm_gem_go_yum_dnf() {
    case(
        "DL3018",
        &df("RUN apk add --no-cache curl"),
        &df("RUN apk add --no-cache curl=8.0 --virtual .deps"),
    );
    case(
        "DL3019",
        &df("RUN apk add curl=1"),
        &df("RUN apk add --no-cache curl=1"),
    );
    case(
        "MK-DF-006",
        &df("RUN apk add --no-cache --allow-untrusted x=1"),
        &df("RUN apk add --no-cache x=1"),
    );
    case(
        "DL3013",
        &df("RUN pip install --no-cache-dir flask"),
        &df("RUN pip install --no-cache-dir flask==3.0 -r req.txt"),
    );
    case(
        "DL3042",
        &df("RUN pip install flask==3.0"),
        &df("RUN pip install --no-cache-dir flask==3.0"),
    );
    case(
        "DL3042",
        &df("RUN python3 -m pip install flask==3.0"),
        &df("ENV PIP_NO_CACHE_DIR=1\nRUN pip install flask==3.0"),
    );
    case(
        "DL3016",
        &df("RUN npm install express"),
        &df("RUN npm install express@4.18.2 @scope/x@1.0.0"),
    );
    case(
        "DL3028",
        &df("RUN gem install rails"),
        &df("RUN gem install rails:7.1"),
    );
    case(
        "DL3062",
        &df("RUN go install example.com/cmd/x"),
        &df("RUN go install example.com/cmd/x@v1.2.3"),
    );
    case(
        "DL3030",
        &df("RUN yum install httpd-2.4 && yum clean all"),
        &df("RUN yum install -y httpd-2.4 && yum clean all"),
    );
    case(
        "DL3033",
        &df("RUN yum install -y httpd && yum clean all"),
        &df("RUN yum install -y httpd-2.4.6 && yum clean all"),
    );
    case(
        "DL3032",
        &df("RUN yum install -y httpd-2.4"),
        &df("RUN yum install -y httpd-2.4 && yum clean all"),
    );
    case(
        "DL3038",
        &df("RUN dnf install httpd-2.4 && dnf clean all"),
        &df("RUN dnf install -y httpd-2.4 && dnf clean all"),
    );
    case(
        "DL3040",
        &df("RUN dnf install -y httpd-2.4"),
        &df("RUN dnf install -y httpd-2.4 && dnf clean all"),
    );
    case(
        "DL3041",
        &df("RUN dnf install -y httpd && dnf clean all"),
        &df("RUN dnf install -y httpd-2.4 && dnf clean all"),
    );
    case(
        "DL3060",
        &df("RUN yarn install"),
        &df("RUN yarn install && yarn cache clean"),
    );
}

#[test]
fn shell_usage_rules() {
    case("DL3001", &df("RUN service nginx start"), &df("RUN echo hi"));
    case(
        "DL3003",
        &df("RUN cd /tmp && make"),
        &df("WORKDIR /tmp\nRUN make"),
    );
    case(
        "DL3004",
        &df("RUN sudo make install"),
        &df("RUN make install"),
    );
    case(
        "DL3046",
        &df("RUN useradd -u 123456 app"),
        &df("RUN useradd -l -u 123456 app"),
    );
    case(
        "DL3047",
        &df("RUN wget https://x/y"),
        &df("RUN wget -q https://x/y"),
    );
    case(
        "DL4001",
        &df("RUN wget -q https://x\nRUN curl -fsS https://y"),
        &df("RUN curl -fsS https://y"),
    );
    case(
        "DL4005",
        &df("RUN ln -sf /bin/bash /bin/sh"),
        &df("SHELL [\"/bin/bash\", \"-c\"]"),
    );
    case("DL4006", &df("RUN curl -fsS https://x | tar -xz"), &df("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -fsS https://x | tar -xz"));
    case(
        "DL3059",
        &df("RUN echo a\nRUN echo b"),
        &df("RUN echo a\nCOPY a /a\nRUN echo b"),
    );
    case(
        "DL3059",
        &df("RUN echo a\n# note\nRUN echo b"),
        &df("RUN echo a; echo b\nRUN echo c"),
    );
    case(
        "DL4006",
        &df("RUN a | b"),
        &df("SHELL [\"/bin/bash\", \"-exo\", \"pipefail\", \"-c\"]\nRUN a | b"),
    );
    case(
        "DL4006",
        &df("RUN x=\"$(cat f | head -1)\""),
        &df("RUN case \"$a\" in x86_64|aarch64) echo ;; esac"),
    );
}

#[test]
fn instruction_rules() {
    case("DL3000", &df("WORKDIR app"), &df("WORKDIR /app"));
    case(
        "DL3002",
        "FROM debian:12\nUSER root\n",
        "FROM debian:12\nUSER root\nRUN id\nUSER 1000\n",
    );
    case(
        "DL3006",
        "FROM debian\nUSER 1\n",
        "FROM debian:12\nUSER 1\n",
    );
    case(
        "DL3007",
        "FROM debian:latest\nUSER 1\n",
        "FROM debian@sha256:abc\nUSER 1\n",
    );
    case("DL3011", &df("EXPOSE 80000"), &df("EXPOSE 8080/tcp"));
    case(
        "DL3012",
        &df("HEALTHCHECK CMD a\nHEALTHCHECK CMD b"),
        &df("HEALTHCHECK CMD a"),
    );
    case("DL3020", &df("ADD app /app"), &df("ADD app.tar.gz /app/"));
    case("DL3021", &df("COPY a b /dst"), &df("COPY a b /dst/"));
    case(
        "DL3022",
        &df("COPY --from=builder /a /a"),
        "FROM debian:12 AS builder\nFROM debian:12\nCOPY --from=builder /a /a\nUSER 1\n",
    );
    case(
        "DL3023",
        "FROM debian:12 AS x\nCOPY --from=x /a /a\nUSER 1\n",
        "FROM debian:12 AS y\nFROM debian:12 AS x\nCOPY --from=y /a /a\nUSER 1\n",
    );
    case(
        "DL3024",
        "FROM debian:12 AS x\nFROM debian:12 AS x\nUSER 1\n",
        "FROM debian:12 AS x\nFROM debian:12 AS y\nUSER 1\n",
    );
    case(
        "DL3025",
        &df("CMD node app.js"),
        &df("CMD [\"node\", \"app.js\"]"),
    );
    case(
        "DL3029",
        "FROM --platform=linux/amd64 debian:12\nUSER 1\n",
        "FROM --platform=$BUILDPLATFORM debian:12\nUSER 1\n",
    );
    case(
        "DL3043",
        &df("ONBUILD FROM debian"),
        &df("ONBUILD RUN make"),
    );
    case("DL3044", &df("ENV A=1 B=$A"), &df("ENV A=1\nENV B=$A"));
    case("DL3045", &df("COPY a ./"), &df("WORKDIR /app\nCOPY a ./"));
    case(
        "DL3061",
        "RUN echo\nFROM debian:12\nUSER 1\n",
        "ARG V=12\nFROM debian:$V\nUSER 1\n",
    );
    case("DL3066", &df("USER app"), &df("USER 1000:1000"));
    case(
        "DL3067",
        "FROM debian:12 AS b\nFROM debian:12\nCOPY --from=b / /\nUSER 1\n",
        "FROM debian:12 AS b\nFROM debian:12\nCOPY --from=b /app /app\nUSER 1\n",
    );
    case("DL4000", &df("MAINTAINER me"), &df("LABEL maintainer=me"));
    case(
        "DL4003",
        &df("CMD [\"a\"]\nCMD [\"b\"]"),
        &df("CMD [\"a\"]"),
    );
    case(
        "DL4004",
        &df("ENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]"),
        &df("ENTRYPOINT [\"a\"]"),
    );
}

#[test]
fn mamori_extras() {
    case(
        "MK-DF-001",
        "FROM debian:12\nRUN echo\n",
        "FROM debian:12\nUSER 10001\n",
    );
    case(
        "MK-DF-002",
        &df("RUN curl -fsSL https://get.example.sh | sh"),
        &df("RUN curl -fsSLo x.sh https://get.example.sh && sha256sum -c x.sha && sh x.sh"),
    );
    case(
        "MK-DF-003",
        &df("RUN curl -k https://x -o y"),
        &df("RUN curl https://x -o y"),
    );
    case(
        "MK-DF-003",
        &df("RUN wget --no-check-certificate https://x"),
        &df("RUN wget -q https://x"),
    );
    case(
        "MK-DF-003",
        &df("RUN npm config set strict-ssl false"),
        &df("RUN npm config set strict-ssl true"),
    );
    case(
        "MK-DF-003",
        &df("RUN pip install --no-cache-dir --trusted-host pypi.org a==1"),
        &df("RUN pip install --no-cache-dir a==1"),
    );
    case(
        "MK-DF-004",
        &df("ADD https://x/y.tar.gz /y"),
        &df("ADD --checksum=sha256:abc https://x/y.tar.gz /y"),
    );
    case(
        "MK-DF-005",
        &df("ENV DB_PASSWORD=hunter22x"),
        &df("ENV DB_PASSWORD_FILE=/run/secrets/db"),
    );
    case(
        "MK-DF-005",
        &df("ENV AWS_ACCESS_KEY_ID AKIAIOSFODNN7EXAMPLE"),
        &df("ENV AWS_REGION eu-west-1"),
    );
    case("MK-DF-005", &df("ARG GITHUB_TOKEN"), &df("ARG VERSION"));
}

#[test]
fn heredoc_scripts_are_checked() {
    let t = "FROM debian:12\nRUN <<EOF\nset -e\napt-get install -y --no-install-recommends curl\nEOF\nUSER 1\n";
    assert!(ids(t).contains(&"DL3008".to_string()));
}

#[test]
fn powershell_dockerfiles_have_no_shell_noise() {
    let t = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nSHELL [\"powershell\", \"-Command\", \"$ErrorActionPreference = 'Stop';\"]\nRUN $url = 'https://x/go.zip'; `\n    Invoke-WebRequest -Uri $url -OutFile go.zip | Out-Null; `\n    cd C:\\go; apt-get install x\nUSER ContainerUser\n";
    let got = ids(t);
    for noisy in ["DL4006", "DL3003", "DL3008", "DL1000"] {
        assert!(!got.contains(&noisy.to_string()), "{noisy} in {got:?}");
    }
}

#[test]
fn ignore_pragmas() {
    let t = "FROM debian:12\n# mamori:ignore=DL3008 pinned by snapshot mirror\nRUN apt-get install -y --no-install-recommends curl\nUSER 1\n";
    let r = scan_source("Dockerfile", t, &Settings::default());
    assert!(!r.findings.iter().any(|f| f.rule_id == "DL3008"));
    assert_eq!(r.suppressed, 1);
}

#[test]
fn findings_carry_positions_and_references() {
    let r = scan_source(
        "Dockerfile",
        "FROM debian:latest\n\nRUN apt-get install -y --no-install-recommends curl\nUSER 1\n",
        &Settings::default(),
    );
    let f = r.findings.iter().find(|f| f.rule_id == "DL3008").unwrap();
    assert_eq!((f.location.line, f.location.column), (Some(3), Some(1)));
    assert_eq!(f.nist, vec!["3.1.1".to_string()]);
    assert!(f.references.iter().any(|r| r.id() == "DL3008"));
}
