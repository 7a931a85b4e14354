#!/usr/bin/env bash
# Rebuild square.wasm from square.c with Debian's clang and lld (wasm-ld),
# and component.json (the module inline, in base64):
#   scripts/deps.sh --wasm   (or: apt-get install clang lld)
# Both are committed: running the example needs none of this.
set -euo pipefail
cd "$(dirname "$0")"
for tool in clang wasm-ld base64; do
  command -v "$tool" >/dev/null ||
    { echo "build.sh: $tool is missing: scripts/deps.sh --wasm (or apt-get install clang lld) installs it" >&2; exit 1; }
done
# freestanding: no libc, no entry point; the exports are the ones square.c
# marks with export_name; the memory may grow to 1 MiB (16 pages).
clang --target=wasm32 -O2 -nostdlib -ffreestanding -fno-builtin \
  -Wl,--no-entry -Wl,--export-dynamic -Wl,--strip-all -Wl,--max-memory=1048576 \
  -o square.wasm square.c
cat > component.json <<JSON
{
  "id": "acme.wasm.square",
  "name": "Square (WebAssembly)",
  "version": "1.0.0",
  "description": "Squares an integer; counts its calls in the node's state (examples/wasm-square/square.c)",
  "ports": {"inputs": [{"name": "in", "schema": {"type": "integer"}}], "outputs": [{"name": "out"}]},
  "execution": {"type": "wasm", "source": "$(base64 -w0 square.wasm)"}
}
JSON
echo "square.wasm: $(wc -c < square.wasm) bytes; component.json written"
