#!/usr/bin/env bash
# Rebuild square.wasm from square.c with Debian's clang and lld (wasm-ld):
#   scripts/deps.sh --wasm   (or apt-get install clang lld)
# The compiled module is committed: running the example needs none of this.
set -euo pipefail
cd "$(dirname "$0")"
for tool in clang wasm-ld; do
  command -v "$tool" >/dev/null ||
    { echo "build.sh: $tool is missing: scripts/deps.sh --wasm (or apt-get install clang lld) installs it" >&2; exit 1; }
done
clang --target=wasm32 -O2 -nostdlib -ffreestanding -fno-builtin \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all -Wl,--max-memory=1048576 \
  -o square.wasm square.c
echo "square.wasm: $(wc -c < square.wasm) bytes"
