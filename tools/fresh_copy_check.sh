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
draw=${PREDFAIL_DRAW:-0}
PATH="$(dirname "$PY"):$PATH" PYTHONPATH="$copy" "$PY" tools/reproduce.py --profile quick --skip-slow --workers "${WORKERS:-2}" --draw "$draw"
# the experiments again at the next draw on this machine: its results must lie within this draw's intervals about as
# often as the intervals promise (tools/compare_draws.py), a check judged on any machine. The three standard
# experiments and the synthetic designs are rerun; the password and gridworld designs notebooks (11a, 11b, 14a) are
# not, to keep `make test` within its budget (their quick tables would add about 95 s on 2 cores)
other=$((draw + 1))
PATH="$(dirname "$PY"):$PATH" PYTHONPATH="$copy" "$PY" tools/reproduce.py --profile quick --skip-slow --workers "${WORKERS:-2}" \
    --draw "$other" --only 09_synthetic 09a_synthetic_designs 11_password_experiment 14_gridworld_experiment
here=.cache/quick; [ "$draw" = 0 ] || here=.cache/quick/draws/draw$draw
PYTHONPATH="$copy" "$PY" tools/compare_draws.py "$here/results" ".cache/quick/draws/draw$other/results"
# the fresh quick results must lie within the committed quick results' intervals, judged on a machine with the same
# numerics fingerprint as the one that wrote them (a CPU with other float32 kernels trains a different draw of each model)
[ "$draw" != 0 ] || PYTHONPATH="$copy" "$PY" tools/check_quick_reference.py "$copy/.cache/quick/results"
