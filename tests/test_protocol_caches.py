"Damaged run caches and regime tables: each is named in one warning (or one error) and measured again, never used."
import numpy as np
import pandas as pd
import pytest
import torch

from predfail.core import CacheWarning
from predfail.protocol import Arm, Evaluation, RunCache, load_heldout_logp, regime_draws, run_arms


class _Table(torch.nn.Module):
    def __init__(self, tables): super().__init__(); self.tables = {k: torch.as_tensor(v) for k, v in tables.items()}
    def pool_size(self, split="train"): return len(self.tables[split])
    def failure_logp(self, idx, split="train"): return self.tables[split][idx]


def _make(seed):
    return _Table({"heldout": -np.exp(-(-3 + np.random.default_rng(seed).gumbel(size=2000)))})


def test_truncated_saved_logp_is_recomputed_and_named(tmp_path):
    evaluation, cache = Evaluation(m=50, n=500, R=20, floor=False), RunCache("t", root=tmp_path)
    first = run_arms(_make, [Arm("base")], [0], evaluation, cache, progress=False)
    saved = cache.folder("base", 0)/"heldout_logp.npy"
    saved.write_bytes(saved.read_bytes()[:200])   # cut mid-array
    with pytest.raises(ValueError, match="unreadable saved scores"): load_heldout_logp("t", "base", 0, tmp_path)
    with pytest.warns(CacheWarning, match="heldout_logp.npy"):
        again = run_arms(_make, [Arm("base")], [0], evaluation, cache, progress=False)
    pd.testing.assert_frame_equal(first.drop(columns="value"), again.drop(columns="value"))
    np.testing.assert_array_equal(load_heldout_logp("t", "base", 0, tmp_path), _make(0).tables["heldout"].numpy())


def test_regime_table_damaged_or_partial_is_measured_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PREDFAIL_OUTPUT", str(tmp_path))
    calls = []
    summarise = lambda s: calls.append(s) or dict(stat=float(s))
    table = regime_draws("toy", summarise, [0, 1, 2], key="k", workers=1)
    assert (tmp_path/"results"/"toy_regime_draws.csv").exists() and calls == [0, 1, 2]
    regime_draws("toy", summarise, [0, 1, 2], key="k", workers=1)
    assert calls == [0, 1, 2]   # read back
    path = tmp_path/"results"/"toy_regime_draws.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n" + path.read_text().splitlines()[1] + "\n")   # one row left
    with pytest.warns(CacheWarning, match="holds seeds \\[0\\], not \\[0, 1, 2\\]"):
        again = regime_draws("toy", summarise, [0, 1, 2], key="k", workers=1)
    pd.testing.assert_frame_equal(again, table)
    path.write_text("")
    with pytest.warns(CacheWarning, match="unreadable regime table"):
        regime_draws("toy", summarise, [0, 1, 2], key="k", workers=1)


def test_run_folder_of_another_layout_is_computed_again(tmp_path):
    evaluation, cache, calls = Evaluation(m=50, n=500, R=20, floor=False), RunCache("t", root=tmp_path), []
    make = lambda seed: calls.append(seed) or _make(seed)
    first = run_arms(make, [Arm("base")], [0], evaluation, cache, progress=False)
    run_arms(make, [Arm("base")], [0], evaluation, cache, progress=False)
    assert calls == [0]   # read back
    saved = cache.folder("base", 0)/"metrics_heldout.json"
    # an entry written under an older layout
    saved.write_text(saved.read_text().replace(f'"format": {RunCache.FORMAT}', '"format": 1'))
    again = run_arms(make, [Arm("base")], [0], evaluation, cache, progress=False)
    assert calls == [0, 0]
    timed = lambda t: t[t.metric == "train_seconds"].index
    pd.testing.assert_frame_equal(first.drop(timed(first)), again.drop(timed(again)))
