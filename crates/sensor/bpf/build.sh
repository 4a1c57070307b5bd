#!/usr/bin/env bash
# Rebuilds the sensor's BPF objects (sensor.bpf.o from sensor.bpf.c, netblock.bpf.o from
# netblock.bpf.c, lsm.bpf.o from lsm.bpf.c) with Debian's clang (CO-RE against the committed vmlinux.h, so the objects are
# the same whatever kernel builds them).
# sensor.bpf.c and lsm.bpf.c include common.bpf.h (shared kernel reads); --check compiles the
# sources afresh, so a change to the header is caught like a change to a .c file.
#   build.sh            rebuild every object in place
#   build.sh --check    rebuild into temp files and fail if any differs from the committed object
#   build.sh --vmlinux  regenerate vmlinux.h from the running kernel's BTF first (needs bpftool)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if [[ "${1:-}" == "--vmlinux" ]]; then
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
  shift
fi
check=0
if [[ "${1:-}" == "--check" ]]; then
  check=1
fi
tmpdir="$(mktemp -d)"
trap 'rm -rf "$tmpdir"' EXIT
stale=0
for name in sensor netblock lsm; do
  out="$name.bpf.o"
  if [[ $check == 1 ]]; then
    out="$tmpdir/$name.bpf.o"
  fi
  clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$here" -Wall -Werror \
    -fdebug-prefix-map="$here"=. -c "$name.bpf.c" -o "$out"
  # Strip DWARF (keeps .BTF and .BTF.ext, which CO-RE needs) so the object is small and
  # reproducible.
  llvm-strip -g "$out"
  if [[ $check == 1 ]]; then
    if ! cmp -s "$out" "$name.bpf.o"; then
      echo "crates/sensor/bpf/$name.bpf.o is out of date: run crates/sensor/bpf/build.sh and commit it" >&2
      stale=1
    else
      echo "$name.bpf.o is up to date"
    fi
  fi
done
exit $stale
