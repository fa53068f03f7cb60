#!/usr/bin/env bash
# Run an existing open-source Step Functions test suite against Sluice:
# moto's own tests/test_stepfunctions (from moto's source distribution on
# PyPI, the version installed here, unmodified), through moto's server mode,
# with every Step Functions call going to a fresh `sluice serve` per test and
# every other AWS service (IAM, STS, Lambda, …) to one moto_server. Prints
# pytest's summary and the pass rate; docs/asl-compatibility.md records the
# figures and sorts the failures.
#
#   scripts/sfn-suite.sh [path/to/sluice] [pytest args…]
#
# Loopback only; the suite is downloaded (pip download) into a temporary
# folder and deleted afterwards, never kept in the project.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
sluice="${1:-$target/debug/sluice}"
[ $# -gt 0 ] && shift
[ -x "$sluice" ] || { echo "no sluice binary at $sluice (cargo build --bin sluice)" >&2; exit 2; }
python3 -m pip install -q "moto[server]" pytest boto3 >/dev/null
version="$(python3 -c 'import moto; print(moto.__version__)')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download -q --no-deps --no-binary :all: "moto==$version" -d "$work" >/dev/null
tar xzf "$work/moto-$version.tar.gz" -C "$work"
cd "$work/moto-$version"
echo "moto $version's tests/test_stepfunctions against $sluice"
set +e
SLUICE_BIN="$sluice" PYTHONPATH="$root/tests/suites:." python3 -m pytest -p moto_sfn_plugin \
    -p no:cacheprovider -q --color=no --tb=line -rfE tests/test_stepfunctions "$@" | tee "$work/out.txt"
set -e
python3 - "$work/out.txt" <<'EOF'
import re, sys
last = open(sys.argv[1]).read().strip().splitlines()[-1]
n = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|error)", last)}
ran = n.get("passed", 0) + n.get("failed", 0) + n.get("error", 0)
print(f"pass rate: {n.get('passed', 0)}/{ran} = {100 * n.get('passed', 0) / max(ran, 1):.1f}% "
      f"of the tests that ran ({n.get('skipped', 0)} skipped by moto in server mode)")
EOF
