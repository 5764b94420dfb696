#!/usr/bin/env bash
# Conformance suite: Microsoft's Python Graph SDK (msgraph-sdk) against the sandbox over TLS.
# Creates (or reuses) a virtualenv, starts the sandbox with --tls, runs pytest, stops it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${GC_VENV:-/var/tmp/gc-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/gc-target}

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"

cargo build -q -p gc-sandbox --example serve
WORK=$(mktemp -d)
"$CARGO_TARGET_DIR/debug/examples/serve" --listen 127.0.0.1:0 --tls --users 6 --seed 7 \
    --write-config "$WORK/sandbox.toml" >"$WORK/out.txt" 2>"$WORK/err.txt" &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 1 120); do
    if grep -q '^listening on ' "$WORK/out.txt" 2>/dev/null; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then cat "$WORK/err.txt" >&2; exit 1; fi
    sleep 0.5
done
URL=$(sed -n 's/^listening on //p' "$WORK/out.txt")
[ -n "$URL" ] || { echo "sandbox did not start" >&2; cat "$WORK/err.txt" >&2; exit 1; }

export GC_SANDBOX_URL="$URL"
export GC_SANDBOX_CONFIG="$WORK/sandbox.toml"
export SSL_CERT_FILE="$WORK/sandbox-ca.pem"
export REQUESTS_CA_BUNDLE="$WORK/sandbox-ca.pem"
cd "$HERE"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
