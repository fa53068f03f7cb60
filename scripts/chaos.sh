#!/usr/bin/env bash
# The chaos harness (tests/chaos/main.rs) in its long form:
#
#   ./scripts/chaos.sh --kills 100
#
# kill -9 of `sluice serve --durability power` under a mixed load, N times,
# then the books (lost, duplicated, stuck, wrong outputs, idempotency keys);
# the last line it prints holds the figures for docs/reliability.md.
# Loopback only; bounded by N; stops by itself. CI runs the short form
# (3 kills) as part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
kills=3
while [ $# -gt 0 ]; do
    case "$1" in
        --kills) kills="$2"; shift 2 ;;
        *) echo "usage: $0 [--kills N]" >&2; exit 2 ;;
    esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
SLUICE_CHAOS_KILLS="$kills" cargo test --test chaos -- --nocapture 2>&1 | grep -E -A12 '^chaos:|^test |panicked|wrong:'
