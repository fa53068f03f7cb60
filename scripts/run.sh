#!/usr/bin/env bash
# The one command that builds Sluice and runs it with its embedded defaults.
#
#   ./scripts/run.sh
#
# By default it starts `sluice serve` (store in ./sluice-data, API on
# 127.0.0.1:8080, the example functions loaded), deploys the hello example
# workflow over the REST API, runs it once and keeps serving until Ctrl-C.
# SLUICE_RUN_MODE=local runs the example in-process instead
# (`sluice workflow run --local`); SLUICE_DATA and SLUICE_LISTEN move the
# store and the address.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"

MODE="${SLUICE_RUN_MODE:-serve}" # serve | local
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
    echo "==== sluice serve --data $data --listen $listen --functions examples/functions ===="
    "$SLUICE" serve --data "$data" --listen "$listen" --functions examples/functions &
    local pid=$!
    # Ctrl-C or SIGTERM stops the server gracefully.
    trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
    if command -v curl >/dev/null 2>&1; then
        demo "http://$listen" || true
    else
        echo "(install curl to see the example run over the REST API)"
    fi
    local status=0
    wait "$pid" || status=$?
    # `wait` returns early when a trapped signal arrives: wait for the real exit.
    if kill -0 "$pid" 2>/dev/null; then
        wait "$pid" || status=$?
    fi
    return "$status"
}

# Deploy and run the hello example over the API once the server answers.
demo() {
    local api="$1" i
    for i in $(seq 100); do
        curl -fsS "$api/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    local json='Content-Type: application/json'
    echo "==== PUT $api/api/v1/workflows/hello ===="
    curl -sS -X PUT "$api/api/v1/workflows/hello" -H "$json" --data-binary @examples/hello.asl.json
    echo
    echo "==== POST $api/api/v1/workflows/hello/executions?wait=10 ===="
    curl -sS -X POST "$api/api/v1/workflows/hello/executions?wait=10" -H "$json" \
        -d '{"input": {"name": "Ada Lovelace", "excited": true}}'
    echo
    cat <<NEXT

Serving on $api (Ctrl-C to stop). Next:
  curl -s $api/api/v1/executions
  curl -s $api/api/v1/executions/EXECUTION_ID/history
  curl -s $api/metrics
(README.md has the tour and the API reference)
NEXT
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
