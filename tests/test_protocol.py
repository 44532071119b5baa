"Tests of predfail.protocol against independent computations and known answers."
import numpy as np
import pandas as pd
import pytest
import torch

from predfail.assurance import EXCESS_METRICS
from predfail.forecast import forecast_batch
from predfail.evaluation import FLOOR_METRICS, FORECAST_METRICS, SAFETY_METRICS, evaluate_heldout, metric_ci
from predfail.protocol import Arm, Evaluation, RunCache, addon_arms, results_table, run_arms, sweep_arms


def test_evaluate_heldout_matches_brute_force_on_tiny_pool():
    # tiny pool: m + n = N, so every partition's deployment set is the complement of its evaluation set.
    # With k = m every partition's forecast uses all m evaluation scores; check the per-partition forecast and
    # realised maximum against an independent computation from the pool.
    rng = np.random.default_rng(3)
    scores = -2 + 0.5*rng.gumbel(size=12)
    logp = -np.exp(-scores)
    ev = evaluate_heldout(logp, m=4, n=8, k=4, R=30, seed=0)
    assert len(ev.errors) == 30
    # the realised deployment max is the max of the 8 scores outside the evaluation set; find each partition's
    # evaluation set by brute force over all 495 subsets (its forecast identifies it)
    from itertools import combinations
    forecasts = {}
    for ev_idx in combinations(range(12), 4):
        f = forecast_batch(scores[list(ev_idx)][None], n=8, k=4).score[0, 0]
        rest = np.delete(scores, list(ev_idx)).max()
        forecasts[round(f, 9)] = rest
    for _, row in ev.errors.iterrows():
        assert round(row["forecast_score"], 9) in forecasts
        assert row["realised_score"] == pytest.approx(forecasts[round(row["forecast_score"], 9)], abs=1e-12)
    e = ev.errors["forecast_score"].to_numpy() - ev.errors["realised_score"].to_numpy()
    assert ev.forecast["median_abs_error_score"] == pytest.approx(np.median(np.abs(e)))
    assert ev.forecast["under_rate"] == pytest.approx(np.mean(e < 0))
    assert ev.safety["mean_p"] == pytest.approx(np.exp(logp).mean())
    assert ev.safety["deploy_max_p"] == pytest.approx(np.mean(np.exp(-np.exp(-ev.errors["realised_score"]))))


def test_evaluate_heldout_bad_input():
    with pytest.raises(ValueError, match="exceeds"): evaluate_heldout(np.full(10, -1.0), m=5, n=6)
    with pytest.raises(ValueError, match="clash"): evaluate_heldout(np.linspace(-5, -0.1, 100), m=20, n=50, capability={"mean_p": 1})


class _Table(torch.nn.Module):
    def __init__(self, tables): super().__init__(); self.tables = {k: torch.as_tensor(v) for k, v in tables.items()}
    def pool_size(self, split="train"): return len(self.tables[split])
    def failure_logp(self, idx, split="train"): return self.tables[split][idx]


def test_run_arms_and_results_table_shape(tmp_path):
    def make(seed, shift=0.0):
        r = np.random.default_rng(seed)
        return _Table({"train": np.full(10, -5.0), "heldout": -np.exp(-(-3 + shift + r.gumbel(size=3000)))})
    trained = []
    def train(model, config, seed, checkpoint_dir):
        trained.append(seed)
        model.tables = {k: v*config["factor"] for k, v in model.tables.items()}
    arms = [Arm("base"), Arm("safer", dict(factor=2.0)), Arm("riskier", None, dict(shift=1.0))]
    evaluation, cache = Evaluation(m=100, n=1000, R=40), RunCache("t", root=tmp_path)
    tidy = run_arms(make, arms, [0, 1, 2], evaluation, cache, train=train, progress=False, capability=lambda model, seed, split: {"acc": 0.9})
    assert list(tidy.columns) == ["arm", "seed", "metric", "value"]
    assert trained == [0, 1, 2]
    n_metrics = len(FORECAST_METRICS) + len(SAFETY_METRICS) + len(FLOOR_METRICS) + len(EXCESS_METRICS) + 2   # + acc + train_seconds
    assert len(tidy) == 3*3*n_metrics
    table = results_table(tidy)
    assert table.shape == (3, 2 + 3*n_metrics)
    assert list(table["arm"]) == ["base", "safer", "riskier"]
    for met in ("median_abs_error_log10p", "mean_p", "acc"):
        assert {met, f"{met}_lo", f"{met}_hi"} <= set(table.columns)
    t = table.set_index("arm")
    assert t.loc["safer", "mean_p"] < t.loc["base", "mean_p"] < t.loc["riskier", "mean_p"]
    vals = tidy[(tidy.arm == "base") & (tidy.metric == "mean_p")]["value"]
    assert (t.loc["base", "mean_p"], t.loc["base", "mean_p_lo"], t.loc["base", "mean_p_hi"]) == pytest.approx(metric_ci("mean_p", vals))
    # finished arms are read back, not retrained
    run_arms(make, arms, [0, 1, 2], evaluation, cache, train=train, progress=False, capability=lambda model, seed, split: {"acc": 0.9})
    assert trained == [0, 1, 2]


def test_parallel_runs_equal_one_process_runs_on_the_real_engine(tmp_path):
    # two forked workers train and score the same models as one process: every metric bit for bit (timings aside),
    # because each run depends only on its seeds and runs on the same fixed thread count
    from dataclasses import replace
    from functools import partial
    from predfail.core import torch_threads
    from predfail.experiments import synthetic as S
    cfg = replace(S.PROFILES["quick"], pretrain_steps=60, n_train=1500, n_validation=1500, n_heldout=1500, n_capability=1000,
                  m=30, n=600, R=30, steps=6)
    families = sweep_arms(cfg, S.sweeps)
    arms = [Arm("base"), families["supervised"][0], *addon_arms(families["supervised_forecast"][:1], families["supervised"][0])]
    ev = Evaluation(m=cfg.m, n=cfg.n, k=cfg.k, R=cfg.R)
    run = lambda name, w: run_arms(partial(S.make_model, cfg), arms, [0, 1], ev, RunCache(name, root=tmp_path),
                                   capability=S.capability_metrics, split="validation", progress=False, workers=w)
    with torch_threads(1):
        one, two = run("one", 1), run("two", 2)
    untimed = lambda t: t[t.metric != "train_seconds"].reset_index(drop=True)
    pd.testing.assert_frame_equal(untimed(one), untimed(two), check_exact=True)
    assert len(untimed(one)) > 3*2*10
    # the scores behind them too
    for arm in arms:
        for seed in (0, 1):
            a, b = (np.load(tmp_path/name/arm.name/f"seed{seed}"/"validation_logp.npy") for name in ("one", "two"))
            assert np.array_equal(a, b)


def test_evaluate_model_adds_assurance_and_excess(tmp_path):
    # the rates evaluate_model adds at the evaluation's τ equal a direct count over the same partitions,
    # and the excess error is the median |error| minus the exponential floor, in both units
    from predfail.core import derive_seed
    from predfail.evaluation import exponential_floor
    from predfail.protocol import evaluate_model
    rng = np.random.default_rng(5)
    logp = -np.exp(-(-2.6 + 0.15*rng.gumbel(size=4000)))
    e = Evaluation(m=100, n=1000, R=60, assurance_threshold=0.02)
    metrics, lp = evaluate_model(_Table({"heldout": logp}), e, seed=3)
    errs = evaluate_heldout(lp, e.m, e.n, k=e.k, R=e.R, seed=derive_seed("partitions", 3)).errors
    f, r, t = errs.forecast_log10p.to_numpy(), errs.realised_log10p.to_numpy(), np.log10(0.02)
    assert 0 < (r >= t).sum() < len(r)   # both kinds of partition occur, so both rates are defined
    assert metrics["false_assurance"] == np.sum((f < t) & (r >= t))/np.sum(r >= t)
    assert metrics["false_alarm"] == np.sum((f >= t) & (r < t))/np.sum(r < t)
    floor = exponential_floor(lp, e.m, e.n, e.k, seed=derive_seed("partitions", 3))
    assert metrics["excess_error_score"] == metrics["median_abs_error_score"] - floor["floor_abs_error_score"]
    assert "false_assurance" not in evaluate_model(_Table({"heldout": logp}), Evaluation(m=100, n=1000, R=10), seed=3)[0]


def test_results_table_counts_seeds_of_a_partly_undefined_rate():
    tidy = pd.DataFrame(dict(arm="a", seed=[0, 1, 2, 0, 1, 2], metric=["false_assurance"]*3 + ["mean_p"]*3,
                             value=[0.2, np.nan, 0.4, 1e-3, 2e-3, 4e-3]))
    t = results_table(tidy).iloc[0]
    assert t["false_assurance"] == pytest.approx(0.3) and t["false_assurance_n_seeds"] == 2 and t["n_seeds"] == 3
    assert "mean_p_n_seeds" not in t.index
