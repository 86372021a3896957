#!/usr/bin/env bash
# The project's test command (README): unit, property, crash and end-to-end tests of every crate,
# then the compatibility suite (real RocketMQ clients from ../shared/compat against
# `saturn standalone`, tests/compat/run.sh), with async and then sync flush. SATURN_SKIP_COMPAT=1
# skips the latter for a quick local run; CI always runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
if [ "${SATURN_SKIP_COMPAT:-0}" != 1 ]; then
  bash tests/compat/run.sh
  # Again against a sync-flush broker, whose sends are answered from the store's flusher thread.
  COMPAT_FLUSH=sync bash tests/compat/run.sh
fi
