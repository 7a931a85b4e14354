#!/usr/bin/env bash
# Install the npm clients the event tests use (socket.io-client, ws,
# puppeteer-core; and Debian's chromium when missing) into a
# folder the tests own: DEST/node_modules, from the committed lock file.
# Skipped when DEST already holds exactly this lock's install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: setup.sh DEST}
mkdir -p "$dest"
# The dashboard's browser test drives Debian's chromium with puppeteer-core,
# which never downloads a browser of its own.
export PUPPETEER_SKIP_DOWNLOAD=1
if ! command -v chromium >/dev/null; then
  sudo=""
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then sudo="sudo"; fi
  if { [[ $(id -u) -eq 0 ]] || [[ -n $sudo ]]; } && command -v apt-get >/dev/null; then
    echo "tests/js/setup.sh: installing chromium (the dashboard's browser test)"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ||
      { $sudo apt-get update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }
  else
    echo "tests/js/setup.sh: chromium is not installed; the dashboard's browser test needs it (apt-get install chromium)" >&2
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
