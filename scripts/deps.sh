#!/usr/bin/env bash
# Install the Debian packages weir needs to build and test, skipping those
# already present.  Used by `make run`, `make test` and CI.  help2man makes
# the man pages (man-db and groff-base check them).  --clang adds clang, the
# second compiler `make test` builds with; --fuzz, clang and libFuzzer.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libjansson-dev libuv1-dev libcurl4-openssl-dev libyaml-dev libhttp-parser-dev libssl-dev libwslay-dev libsqlite3-dev
  libcriterion-dev
  curl
  help2man man-db groff-base
  tzdata  # /usr/share/zoneinfo: symbia.core.cron's time zones
)
# The event tests drive the server with socket.io-client and ws from npm;
# user components run in Node.js (20 or newer: checked below).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
if [[ "${1:-}" == "--clang" ]]; then packages+=(clang); fi
if [[ "${1:-}" == "--fuzz" ]]; then packages+=(clang libclang-rt-14-dev); fi
if [[ "${1:-}" == "--bench" ]]; then packages+=(wrk iproute2); fi
# examples/wasm-square/build.sh: clang's wasm32 target and lld's wasm-ld.
if [[ "${1:-}" == "--wasm" ]]; then packages+=(clang lld); fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "weir: installing missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The component host needs Node.js 20 or newer (its permission model);
# Debian 12's nodejs is 18: then Node.js 20 comes from npm's `node` package
# (into npm's global prefix, /usr/local/bin, ahead of /usr/bin on PATH).
node_major=$(node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0)
if [[ $node_major -lt 20 ]]; then
  echo "weir: Node.js $(node --version 2>/dev/null || echo '(none)') is older than 20: installing node@20 with npm"
  $sudo npm install -g --no-audit --no-fund node@20
  hash -r
  node --version
fi

# TypeScript components: Node.js 22.13 and later strip types themselves;
# before that the component host uses the typescript package, looked for in
# npm's global folder (or WEIR_TYPESCRIPT).
if ! node -e 'process.exit(typeof require("module").stripTypeScriptTypes === "function" ? 0 : 1)' 2>/dev/null &&
   [[ ! -f "$(npm root -g 2>/dev/null)/typescript/lib/typescript.js" ]]; then
  echo "weir: installing the typescript npm package (TypeScript components on Node.js $(node --version))"
  $sudo npm install -g --no-audit --no-fund typescript@5
fi
