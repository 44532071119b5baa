#!/usr/bin/env bash
# `make test`'s notebook step: the reproduce driver at the quick profile, on a fresh copy of this repository (its
# tracked files and untracked, not ignored ones: no .cache, no trained models), running only the cells nbdev-test runs,
# two notebooks at a time. No check can then depend on what this machine cached or on which machine wrote a cache.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-avx2}   # as `make` sets it (predfail.core.pin_cpu_kernels)
PY=${PYTHON:-$root/.venv/bin/python}
copy=$(mktemp -d "${TMPDIR:-/tmp}/predfail-fresh.XXXXXX")
trap 'rm -rf "$copy"' EXIT
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$copy"
cd "$copy"
PATH="$(dirname "$PY"):$PATH" PYTHONPATH="$copy" "$PY" tools/reproduce.py --profile quick --skip-slow --workers "${WORKERS:-2}"
# the fresh quick results must lie within the committed quick results' intervals, judged on a machine with the same
# numerics fingerprint as the one that wrote them (a CPU with other float32 kernels trains a different draw of each model)
PYTHONPATH="$copy" "$PY" tools/check_quick_reference.py "$copy/.cache/quick/results"
