#!/usr/bin/env bash
# Install the Debian packages weir needs to build and test, skipping those
# already present.  Used by `make run`, `make test` and CI.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libjansson-dev libuv1-dev libcurl4-openssl-dev libyaml-dev libhttp-parser-dev libssl-dev libwslay-dev libsqlite3-dev
  libcriterion-dev
  curl
)
# The event tests drive the server with socket.io-client and ws from npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
if [[ "${1:-}" == "--fuzz" ]]; then packages+=(clang libclang-rt-14-dev); fi
if [[ "${1:-}" == "--bench" ]]; then packages+=(wrk iproute2); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "weir: installing missing packages: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
