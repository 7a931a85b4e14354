#!/usr/bin/env bash
# Install the npm clients the event tests use (socket.io-client, ws,
# puppeteer-core; and Debian's chromium and firefox-esr when missing) into a
# folder the tests own: DEST/node_modules, from the committed lock file.
# Skipped when DEST already holds exactly this lock's install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: setup.sh DEST}
mkdir -p "$dest"
# puppeteer-core never downloads a browser of its own: the tests use Debian's.
export PUPPETEER_SKIP_DOWNLOAD=1
# The dashboard's browser tests drive Debian's chromium and firefox-esr.
missing=()
for b in chromium firefox-esr; do command -v "$b" >/dev/null || missing+=("$b"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo=""
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then sudo="sudo"; fi
  if { [[ $(id -u) -eq 0 ]] || [[ -n $sudo ]]; } && command -v apt-get >/dev/null; then
    echo "tests/js/setup.sh: installing ${missing[*]} (the dashboard's browser tests)"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
      { $sudo apt-get update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
  else
    echo "tests/js/setup.sh: ${missing[*]} not installed; the dashboard's browser tests need them (apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
if [[ -f "$dest/node_modules/.weir-lock" ]] && cmp -s "$here/package-lock.json" "$dest/node_modules/.weir-lock"; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "tests/js/setup.sh: npm is not installed; the event tests need Node.js and npm (apt-get install -y nodejs npm)" >&2
  exit 1
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
cd "$dest"
if ! npm ci --no-audit --no-fund --loglevel=error; then
  echo "tests/js/setup.sh: npm ci failed in $dest: the event tests need the npm registry (or a warm npm cache)" >&2
  exit 1
fi
cp package-lock.json node_modules/.weir-lock
