"""Write examples/scores.csv, the sample evaluation set of the README's "Bring your own scores".

500 evaluation inputs of an imaginary model: failure scores ψ = −log(−log p) drawn from a Gumbel distribution
(location −3, scale 0.25, seed 0), so a typical input fails with p ≈ 2e-9 and the worst of the 500 with p ≈ 0.01.
One row per input, `prompt_id,logp`, logp the natural log of the failure probability (log p = −exp(−ψ)), written
with full float64 precision. The true worst p among n deployment queries is the 1 − 1/n quantile of this Gumbel.

Usage: python examples/make_scores.py [OUT]   (default examples/scores.csv; tests/test_docs_examples.py checks it)
"""
import csv, os, sys, tempfile
from pathlib import Path

import numpy as np

M, LOC, SCALE, SEED = 500, -3.0, 0.25, 0


def sample_logp(m=M, seed=SEED):
    "The natural-log failure probabilities of the sample: log p = −exp(−ψ), ψ ~ Gumbel(LOC, SCALE)."
    psi = LOC + SCALE*np.random.default_rng(seed).gumbel(size=m)
    return -np.exp(-psi)


def write(path):
    "Write the sample CSV atomically (a temporary file in the same folder, then a rename)."
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["prompt_id", "logp"])
            w.writerows((f"q{i:03d}", repr(float(lp))) for i, lp in enumerate(sample_logp()))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent/"scores.csv")
