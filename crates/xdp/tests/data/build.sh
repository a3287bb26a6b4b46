#!/usr/bin/env bash
# Rebuilds the test objects here (committed, so tests need no compiler).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../../../.. && pwd)
for c in *.c; do
    clang-19 -O2 -g -target bpf -mcpu=v3 -I/usr/include/"$(uname -m)"-linux-gnu \
        -ffile-prefix-map="$root"=. -c "$c" -o "${c%.c}.o"
done
