"""Compare the quick-profile results of two draws run on this machine, within the first draw's intervals.

    python tools/compare_draws.py RESULTS_DIR_A RESULTS_DIR_B

`make test` runs the experiment notebooks at the quick profile at draws 0 and 1 on one machine, so this comparison
is judged on any machine (the committed quick reference is judged only where the numerics fingerprint matches).
Draw B reruns a chosen set of experiments (the test budget does not allow all of them twice): every results table
draw B wrote is compared, each must exist in draw A, and the tables of draw A that draw B did not rerun are named.
Each arm's mean of each metric in draw B is checked against draw A's interval over seeds (`compare_with_reference`).
Under exchangeable normal seeds a t interval over s seeds holds another draw's mean with probability
p_in = P(|T_{s-1}| <= t_{s-1, 0.975} / sqrt 2) (the difference of the two means is sqrt 2 times the first's standard
error); the check fails when the share inside falls below the 0.1% quantile of Binomial(N, p_in) over the N values,
which a correct pipeline misses once in a thousand machines, while a draw that changes what is evaluated (a seed that
leaks between draws, an arm evaluated on another pool) moves most values at once.
"""
import sys
from pathlib import Path

import pandas as pd
from scipy import stats

from predfail.protocol import compare_with_reference


def inside_probability(seeds: int) -> float:
    "P(another draw's mean lies in a 95% t interval over `seeds` seeds), for normal seeds."
    t = stats.t.ppf(0.975, seeds - 1)
    return float(1 - 2*stats.t.sf(t/2**0.5, seeds - 1))


def compare(dir_a: Path, dir_b: Path) -> int:
    tables = sorted(Path(dir_b).glob("*_results*.csv"))
    if not tables: print(f"no results tables in {dir_b}"); return 1
    not_rerun = sorted({p.name for p in Path(dir_a).glob("*_results*.csv")} - {p.name for p in tables})
    if not_rerun: print(f"not rerun at draw B, so not compared: {', '.join(not_rerun)}")
    rows = []
    for other in tables:
        path = Path(dir_a)/other.name
        if not path.exists(): print(f"{other.name}: draw A wrote no such table in {dir_a}"); return 1
        a, b = pd.read_csv(path), pd.read_csv(other)
        metrics = [c[:-3] for c in a.columns if c.endswith("_lo") and "seconds" not in c]
        out = compare_with_reference(b, a, metrics).assign(table=path.name, seeds=int(a["n_seeds"].min()))
        one_sided = out.fresh.isna() ^ out.reference.isna()   # a conditional rate with no partition of its kind
        if one_sided.any(): print(f"{path.name}: {int(one_sided.sum())} value(s) defined in one draw only, left out")
        out = out[~one_sided]
        print(f"{path.name}: {int(out.inside.sum())} of {len(out)} values of draw B within draw A's intervals")
        rows.append(out)
    out = pd.concat(rows)
    p_in = inside_probability(int(out.seeds.min()))
    bar = stats.binom.ppf(0.001, len(out), p_in) / len(out)
    share = out.inside.mean()
    print(f"in all: {share:.0%} inside (expected about {p_in:.0%} for normal seeds; "
          f"the check needs at least {bar:.0%})")
    if share < bar:
        print(out[~out.inside].to_string(index=False)); return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3: sys.exit(__doc__)
    sys.exit(compare(Path(sys.argv[1]), Path(sys.argv[2])))
