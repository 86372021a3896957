#!/usr/bin/env bash
# Compatibility run: real RocketMQ remoting clients (C++ and rocketmq-client-rust, from the compat
# kit in ../shared/compat) against `saturn standalone`; every flow checked on the clients' JSON lines.
#
#   bash tests/compat/run.sh [--only "FLOW ..."] [--clients "cpp rs-remoting"] [--results FILE]
#
# Steps: build saturn (cargo build -p saturn-cli, debug), install the clients (the kit's install.sh,
# idempotent; cache $COMPAT_CACHE, default ~/.cache/saturn-compat), then tests/compat/flows.py starts
# saturn standalone on free ports with a temp data dir, runs the flows and prints PASS/FAIL per
# flow × client and a summary. Exit code non-zero on any failure.
#
# Environment: COMPAT_KIT (kit folder, default ../shared/compat next to the repo), COMPAT_CACHE,
# COMPAT_KEEP=1 (keep the scratch folder: data dir and every program's stdout/stderr; it is kept
# anyway when a flow fails), COMPAT_SATURN_LOG (RUST_LOG of the server, default info), COMPAT_FLUSH
# (`sync`: run the flows against a sync-flush broker; default: the broker's default, async).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
KIT="${COMPAT_KIT:-$REPO/../shared/compat}"
[ -x "$KIT/client" ] && [ -x "$KIT/install.sh" ] || {
  echo "run.sh: compat kit not found at $KIT (set COMPAT_KIT)" >&2; exit 2; }
KIT="$(cd "$KIT" && pwd)"

echo "== build saturn (cargo build -p saturn-cli)"
# Ask cargo where the binary is, so CARGO_TARGET_DIR (or its absence) is honoured.
SATURN="$(cd "$REPO" && cargo build -p saturn-cli --message-format=json-render-diagnostics \
  | python3 -c '
import json, sys
exe = None
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "saturn":
        exe = m["executable"]
print(exe or "")')" || { echo "run.sh: cargo build -p saturn-cli failed" >&2; exit 2; }
[ -n "$SATURN" ] && [ -x "$SATURN" ] || { echo "run.sh: saturn binary not built" >&2; exit 2; }

echo "== install clients (cpp rs-remoting)"
"$KIT/install.sh" --only "cpp rs-remoting"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/saturn-compat.XXXXXX")"
FLOWS_PID=""
status=1
cleanup() {
  if [ -n "$FLOWS_PID" ] && kill -0 "$FLOWS_PID" 2>/dev/null; then
    kill -TERM "$FLOWS_PID" 2>/dev/null || true   # flows.py stops its server on SIGTERM
    wait "$FLOWS_PID" 2>/dev/null || true
  fi
  if [ "$status" -eq 0 ] && [ "${COMPAT_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  else
    echo "logs and data kept in $WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== flows"
python3 "$HERE/flows.py" --saturn "$SATURN" --kit "$KIT" --work "$WORK" "$@" &
FLOWS_PID=$!
set +e
wait "$FLOWS_PID"
status=$?
set -e
FLOWS_PID=""
exit "$status"
