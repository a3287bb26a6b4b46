#!/bin/sh
# Rebuilds the rxdp-object test objects from their C sources.
# Needs clang-19 and libbpf-dev (bpf/bpf_helpers.h).
set -eu
cd "$(dirname "$0")"
for src in *.c; do
	clang-19 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o"
done
