"""Compare fresh quick-profile results tables with the committed quick reference, within the committed intervals.

    python tools/check_quick_reference.py FRESH_RESULTS_DIR      # check (exit 1 on any value outside its interval)
    python tools/check_quick_reference.py --update [RESULTS_DIR]  # refresh the reference from RESULTS_DIR (.cache/quick/results)

The reference lives in tests/data/quick_reference/ (one `<experiment>_results_quick.csv` per experiment, and
numerics.json with the numerics fingerprint of the machine that wrote them). Timing columns are not compared. Trained
models differ between machines whose float32 kernels differ, so the comparison is judged only when this machine's
`predfail.core.numerics_fingerprint()` equals the reference's; otherwise it is printed and not judged.
"""
import shutil
import sys
from pathlib import Path

import json
import platform

from predfail.core import numerics_fingerprint, pin_cpu_kernels

KERNELS = pin_cpu_kernels()   # before torch runs anything, as in `make` and the reproduce driver

import pandas as pd

from predfail.protocol import compare_with_reference

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT/"tests"/"data"/"quick_reference"
NUMERICS = REFERENCE/"numerics.json"


def cpu_name() -> str:
    try: return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def numerics() -> dict: return {"fingerprint": numerics_fingerprint(), "kernels": KERNELS, "cpu": cpu_name()}


def check(fresh_dir: Path) -> int:
    refs = sorted(REFERENCE.glob("*_results_quick.csv"))
    if not refs: print(f"no reference tables in {REFERENCE}"); return 1
    if not NUMERICS.exists(): print(f"{NUMERICS} is missing: run with --update"); return 1
    ref_numerics, here = json.loads(NUMERICS.read_text()), numerics()
    judged = ref_numerics["fingerprint"] == here["fingerprint"]
    print(f"numerics fingerprint here {here['fingerprint']} ({here['cpu']}, {here['kernels']}); reference "
          f"{ref_numerics['fingerprint']} ({ref_numerics['cpu']}): " + ("equal, so the comparison is judged" if judged else
          "different float32 kernels train different models, so the comparison below is shown, not judged"))
    bad = missing = 0
    for ref_path in refs:
        fresh_path = fresh_dir/ref_path.name
        if not fresh_path.exists():
            print(f"{ref_path.name}: the fresh run wrote no such table in {fresh_dir}"); missing += 1; continue
        ref, fresh = pd.read_csv(ref_path), pd.read_csv(fresh_path)
        metrics = [c[:-3] for c in ref.columns if c.endswith("_lo") and "seconds" not in c]
        out = compare_with_reference(fresh, ref, metrics)
        outside = out[~out["inside"]]
        print(f"{ref_path.name}: {len(out) - len(outside)} of {len(out)} values within the committed intervals")
        if len(outside): print(outside.to_string(index=False)); bad += len(outside)
    if bad and not judged: print(f"{bad} value(s) outside the committed intervals on a machine with other numerics: not a failure")
    return 1 if missing or (bad and judged) else 0


def update(results_dir: Path) -> int:
    REFERENCE.mkdir(parents=True, exist_ok=True)
    for path in sorted(results_dir.glob("*_results_quick.csv")):
        shutil.copy(path, REFERENCE/path.name); print(f"reference <- {path}")
    NUMERICS.write_text(json.dumps(numerics(), indent=1) + "\n"); print(f"{NUMERICS} <- this machine's numerics")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--update"]: sys.exit(update(Path(args[1]) if len(args) > 1 else ROOT/".cache"/"quick"/"results"))
    if len(args) != 1: sys.exit(__doc__)
    sys.exit(check(Path(args[0])))
