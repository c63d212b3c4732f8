#!/usr/bin/env bash
# The console's browser tests drive Debian's chromium (test/console.browser.test.ts): install it where it is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "chromium is not installed: installing Debian's package"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
