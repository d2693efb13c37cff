#!/usr/bin/env bash
# Runs every test: typecheck, the formatter's check, unit tests (vitest), then end-to-end tests in
# real Chromium against the real server (Playwright). Ends with one line
# "N passed, N failed" over both suites.
set -uo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Chromium not found at $CHROMIUM: installing Debian's chromium package…"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || exit 1
  else
    echo "Chromium not found at $CHROMIUM. Install Debian's package (sudo apt-get install chromium)," >&2
    echo "or point CHROMIUM_PATH at a Chromium 120+ binary, then run npm test again." >&2
    exit 1
  fi
fi
[ -d node_modules ] || npm ci --no-fund --no-audit || exit 1

# Reports live outside test-results/, which Playwright empties when it starts.
mkdir -p reports
rm -f reports/unit.json reports/e2e.json

npm run --silent typecheck
typecheck=$?

# The formatter's check: a file that is not formatted fails the run (npm run format fixes it).
npm run --silent format:check
format=$?

npx vitest run --reporter=default --reporter=json --outputFile=reports/unit.json
unit=$?

E2E_REPORT=reports/e2e.json npx playwright test
e2e=$?

node scripts/summarize-tests.mjs reports/unit.json reports/e2e.json
summary=$?

[ $typecheck -eq 0 ] || echo "typecheck failed"
[ $format -eq 0 ] || echo "format check failed: run npm run format"
exit $(( typecheck || format || unit || e2e || summary ))
