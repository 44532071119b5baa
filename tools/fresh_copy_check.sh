#!/usr/bin/env bash
# `make test`'s notebook step: the reproduce driver at the quick profile, on a fresh copy of this repository (its
# tracked files and untracked, not ignored ones: no .cache, no trained models), running only the cells nbdev-test runs,
# two notebooks at a time. No check can then depend on what this machine cached or on which machine wrote a cache.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PY=${PYTHON:-$root/.venv/bin/python}
copy=$(mktemp -d "${TMPDIR:-/tmp}/predfail-fresh.XXXXXX")
trap 'rm -rf "$copy"' EXIT
git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$copy"
cd "$copy"
PATH="$(dirname "$PY"):$PATH" PYTHONPATH="$copy" "$PY" -m predfail.reproduce --profile quick --skip-slow --workers "${WORKERS:-2}"
# the fresh quick results must lie within the committed quick results' intervals (not bit for bit: another CPU trains
# slightly different float32 models)
PYTHONPATH="$copy" "$PY" tools/check_quick_reference.py "$copy/.cache/quick/results"
