#!/usr/bin/env bash
# The one command that builds Sluice and runs it with its embedded defaults.
#
#   ./scripts/run.sh
#
# Today it runs the hello example workflow in-process (`sluice workflow run
# --local`). Once `sluice serve` exists, switch MODE's default to "serve".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"

MODE="${SLUICE_RUN_MODE:-local}" # local | serve
SLUICE="$CARGO_TARGET_DIR/release/sluice"

build() {
    if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    echo "==== building sluice (release) ===="
    cargo build --release --bin sluice
}

run_local() {
    local input='{"name": "Ada Lovelace", "excited": true}'
    echo "==== sluice workflow run --local examples/hello.asl.json ===="
    echo "input: $input"
    "$SLUICE" workflow run --local examples/hello.asl.json --input "$input"
    cat <<'NEXT'

Next:
  sluice workflow validate examples/order-pipeline.asl.json
  sluice workflow run --local examples/order-pipeline.asl.json --functions examples/functions \
    --input '{"orderId": "o-1", "card": "4242", "items": [{"sku": "tea", "quantity": 2, "unitPriceCents": 450}]}'
  sluice workflow run --local examples/order-pipeline.asl.json --mocks examples/order-pipeline.mocks.json \
    --test-case PaymentRetriesThenFails --input '{"orderId": "o-1", "card": "4242", "items": [{"sku": "tea"}]}'
NEXT
    echo "(sluice is $SLUICE; README.md has the tour and the CLI reference)"
}

run_serve() {
    local data="${SLUICE_DATA:-./sluice-data}" listen="${SLUICE_LISTEN:-127.0.0.1:8080}"
    echo "==== sluice serve --data $data --listen $listen ===="
    exec "$SLUICE" serve --data "$data" --listen "$listen"
}

build
case "$MODE" in
    local) run_local ;;
    serve) run_serve ;;
    *)
        echo "unknown SLUICE_RUN_MODE '$MODE' (local or serve)" >&2
        exit 2
        ;;
esac
