#!/usr/bin/env bash
# The admin page's browser test (crates/connector/tests/admin_browser.rs) drives Debian's
# headless Chromium through chromedriver. Install both when missing and we may (root with
# apt-get, as in CI); otherwise say so: the test then skips, or fails when CI or
# GC_REQUIRE_BROWSER is set.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium and chromium-driver for the admin page's browser test"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
else
  echo "chromium/chromedriver missing and cannot be installed here: the browser test will be skipped (it fails when CI or GC_REQUIRE_BROWSER is set)" >&2
fi
