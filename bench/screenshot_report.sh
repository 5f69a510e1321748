#!/usr/bin/env bash
# Open a run's report.html in headless Chromium (offline, no network) and save a full-page screenshot.
#   bash bench/screenshot_report.sh RUN_DIR [OUT.png]
# Needs Debian's chromium: apt-get install -y chromium
set -euo pipefail
run_dir=${1:?usage: screenshot_report.sh RUN_DIR [OUT.png]}
out=${2:-$run_dir/report-screenshot.png}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --window-size=1200,3400 --screenshot="$out" "file://$(cd "$run_dir" && pwd)/report.html" 2>/dev/null
echo "$out"
