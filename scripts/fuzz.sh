#!/usr/bin/env bash
# cargo-fuzz targets (fuzz/fuzz_targets/) on their committed seeds
# (fuzz/seeds/TARGET), each for a bounded time:
#
#   ./scripts/fuzz.sh                       # every target, 20 s each (CI)
#   ./scripts/fuzz.sh --seconds 3600 asl    # a long run of one target
#   ./scripts/fuzz.sh --runs 10000000 rest  # 10^7 executions (docs/reliability.md)
#
# A crash stops the script; libFuzzer writes the input to
# fuzz/artifacts/TARGET/ (make it a regression test). The corpus grows in
# a temporary folder, so the committed seeds stay as they are. Needs the
# nightly toolchain and cargo-fuzz; installs them when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bound=(-max_total_time=20)
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) bound=(-max_total_time="$2"); shift 2 ;;
        --runs) bound=(-runs="$2"); shift 2 ;;
        -*) echo "usage: $0 [--seconds N | --runs N] [TARGET...]" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    targets=(asl jsonpath jsonata pattern cloudevent http_events rest)
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
target_dir="${SLUICE_FUZZ_TARGET_DIR:-$HOME/.cache/sluice-fuzz-target}"
for t in "${targets[@]}"; do
    corpus="$(mktemp -d)"
    # The rest target keeps a store in TMPDIR: one of its own per run, in
    # memory where the machine has a tmpfs (the disk is not what it tests).
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        scratch="$(mktemp -d -p /dev/shm)"
    else
        scratch="$(mktemp -d)"
    fi
    echo "fuzz $t: ${bound[*]} from $(ls fuzz/seeds/"$t" | wc -l) seeds"
    set +e
    TMPDIR="$scratch" cargo +nightly fuzz run --fuzz-dir fuzz --target-dir "$target_dir" "$t" "$corpus" "fuzz/seeds/$t" -- \
        "${bound[@]}" -print_final_stats=1 2>&1 |
        grep -E '^stat::number_of_executed_units|^stat::peak_rss|ERROR|panicked|SUMMARY'
    status=${PIPESTATUS[0]}
    set -e
    rm -rf "$corpus" "$scratch"
    if [ "$status" -ne 0 ]; then
        echo "fuzz $t failed (exit $status); the input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
