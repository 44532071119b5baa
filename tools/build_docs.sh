#!/usr/bin/env bash
# Build the documentation site into _docs/ from nbdev's processed notebooks (`make docs` calls this).
# With Quarto installed: nbdev's own `nbdev-docs`. Without it (Quarto cannot be installed on every machine):
# the same processed notebooks rendered offline by mkdocs-material + mkdocs-jupyter (tools/docs_mkdocs.py).
# Set PREDFAIL_DOCS=mkdocs to force the offline renderer even where Quarto exists.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY=${PYTHON:-.venv/bin/python}; export PATH="$PWD/.venv/bin:$PATH"; else PY=${PYTHON:-python3}; fi
if command -v quarto >/dev/null 2>&1 && [ "${PREDFAIL_DOCS:-}" != "mkdocs" ]; then
  echo "docs: Quarto found, building with nbdev-docs"
  nbdev-docs
else
  "$PY" tools/docs_mkdocs.py "$@"
fi
