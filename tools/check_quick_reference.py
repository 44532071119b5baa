"""Compare fresh quick-profile results tables with the committed quick reference, within the committed intervals.

    python tools/check_quick_reference.py FRESH_RESULTS_DIR      # check (exit 1 on any value outside its interval)
    python tools/check_quick_reference.py --update [RESULTS_DIR]  # refresh the reference from RESULTS_DIR (.cache/quick/results)

The reference lives in tests/data/quick_reference/ (one `<experiment>_results_quick.csv` per experiment). Timing
columns are not compared.
"""
import shutil
import sys
from pathlib import Path

import pandas as pd

from predfail.protocol import compare_with_reference

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT/"tests"/"data"/"quick_reference"


def check(fresh_dir: Path) -> int:
    refs = sorted(REFERENCE.glob("*_results_quick.csv"))
    if not refs: print(f"no reference tables in {REFERENCE}"); return 1
    bad = 0
    for ref_path in refs:
        fresh_path = fresh_dir/ref_path.name
        if not fresh_path.exists():
            print(f"{ref_path.name}: the fresh run wrote no such table in {fresh_dir}"); bad += 1; continue
        ref, fresh = pd.read_csv(ref_path), pd.read_csv(fresh_path)
        metrics = [c[:-3] for c in ref.columns if c.endswith("_lo") and "seconds" not in c]
        out = compare_with_reference(fresh, ref, metrics)
        outside = out[~out["inside"]]
        print(f"{ref_path.name}: {len(out) - len(outside)} of {len(out)} values within the committed intervals")
        if len(outside): print(outside.to_string(index=False)); bad += len(outside)
    return 1 if bad else 0


def update(results_dir: Path) -> int:
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for path in sorted(results_dir.glob("*_results_quick.csv")):
        shutil.copy(path, REFERENCE/path.name); print(f"reference <- {path}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--update"]: sys.exit(update(Path(args[1]) if len(args) > 1 else ROOT/".cache"/"quick"/"results"))
    if len(args) != 1: sys.exit(__doc__)
    sys.exit(check(Path(args[0])))
