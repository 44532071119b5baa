"""tools/compare_draws.py: the inside probability against simulation, and the check on equal and moved tables."""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/"tools"))
from compare_draws import compare, inside_probability  # noqa: E402


def test_inside_probability_matches_simulation():
    rng = np.random.default_rng(0)
    for s in (2, 3, 5):
        x, y = rng.normal(size=(100_000, s)), rng.normal(size=(100_000, s)).mean(1)
        half = stats.t.ppf(0.975, s - 1) * x.std(1, ddof=1) / np.sqrt(s)
        simulated = np.mean(np.abs(y - x.mean(1)) <= half)
        assert abs(simulated - inside_probability(s)) < 4 * np.sqrt(0.25 / 100_000)   # 4 binomial standard errors


def _table(shift=0.0):
    arms = [f"arm{i}" for i in range(20)]
    mean = np.arange(20.0) + shift
    return pd.DataFrame(dict(arm=arms, n_seeds=2, metric_a=mean, metric_a_lo=mean - 1, metric_a_hi=mean + 1))


def test_compare_passes_equal_and_fails_moved_draws(tmp_path):
    a, b, c = (tmp_path/x for x in "abc")
    for d in (a, b, c): d.mkdir()
    _table().to_csv(a/"demo_results_quick.csv", index=False)
    _table().to_csv(b/"demo_results_quick.csv", index=False)
    _table(shift=10.0).to_csv(c/"demo_results_quick.csv", index=False)
    assert compare(a, b) == 0
    assert compare(a, c) == 1
    assert compare(a, tmp_path/"missing") == 1
    _table().to_csv(b/"other_results_quick.csv", index=False)   # a table draw B wrote and draw A did not
    assert compare(a, b) == 1
    _table().to_csv(a/"third_results_quick.csv", index=False)   # a draw-A table not rerun at draw B: named, not judged
    (b/"other_results_quick.csv").unlink()
    assert compare(a, b) == 0
