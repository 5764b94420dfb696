#!/usr/bin/env bash
# The whole test suite: every crate's unit and end-to-end tests (SQLite and PostgreSQL backends),
# then the conformance suite that drives the sandbox with Microsoft's own Python Graph SDK.
#
#   scripts/test.sh            # everything
#   SKIP_SDK_CONFORMANCE=1 scripts/test.sh   # only the Rust tests
#
# Needs PostgreSQL at DATABASE_URL (default: postgres://postgres@127.0.0.1:5432/test); the script
# starts the local cluster if it is installed but stopped. The admin page's browser test needs
# Debian's chromium and chromium-driver; the script installs them when missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/gc-target}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

scripts/ensure-postgres.sh
scripts/ensure-browser.sh

cargo test --workspace --no-fail-fast

if [ -z "${SKIP_SDK_CONFORMANCE:-}" ] && [ -x crates/sandbox/conformance/run.sh ]; then
  crates/sandbox/conformance/run.sh
fi
