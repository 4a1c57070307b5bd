#!/usr/bin/env bash
# Rebuilds the sensor's BPF object from sensor.bpf.c with Debian's clang (CO-RE against the committed
# vmlinux.h, so the object is the same whatever kernel builds it).
#   build.sh            rebuild sensor.bpf.o in place
#   build.sh --check    rebuild into a temp file and fail if it differs from the committed object
#   build.sh --vmlinux  regenerate vmlinux.h from the running kernel's BTF first (needs bpftool)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if [[ "${1:-}" == "--vmlinux" ]]; then
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
  shift
fi
out=sensor.bpf.o
if [[ "${1:-}" == "--check" ]]; then
  out="$(mktemp)"
  trap 'rm -f "$out"' EXIT
fi
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$here" -Wall -Werror \
  -fdebug-prefix-map="$here"=. -c sensor.bpf.c -o "$out"
# Strip DWARF (keeps .BTF and .BTF.ext, which CO-RE needs) so the object is small and
# reproducible.
llvm-strip -g "$out"
if [[ "${1:-}" == "--check" ]]; then
  if ! cmp -s "$out" sensor.bpf.o; then
    echo "crates/sensor/bpf/sensor.bpf.o is out of date: run crates/sensor/bpf/build.sh and commit it" >&2
    exit 1
  fi
  echo "sensor.bpf.o is up to date"
fi
