#!/usr/bin/env bash
# The alert rules test (test/alerts.test.ts) checks deploy/prometheus/*.rules.yml with promtool, from Debian's
# prometheus package: install it where it is missing.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
echo "promtool is not installed: installing Debian's prometheus package"
apt-get update -qq
# Only promtool is needed: the server the package would start is stopped at once where services run.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
promtool --version
