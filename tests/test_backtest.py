"""Tests of predfail.backtest: the fast partition sampler against exact laws and the naive sampler, backtest rows,
summaries and figures."""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from predfail.backtest import (METHODS, Partitions, _chi_square_pvalue, _rank_pmf_jth, backtest, naive_partitions,
                               plot_error_vs_horizon, plot_tail, sample_partitions, summarize_errors)
from predfail.forecast import fit_gumbel_tail, fit_lognormal, forecast_batch
from predfail.scores import log10p_from_scores

N_SMALL, M_SMALL, N_DEP, K_SMALL, R_SMALL = 50, 6, 15, 3, 20_000


@pytest.fixture(scope="module")
def small():
    pool = np.arange(N_SMALL, 0, -1.0)                 # score = N - rank, all distinct
    return pool, sample_partitions(pool, M_SMALL, N_DEP, K_SMALL, R_SMALL, seed=7), naive_partitions(pool, M_SMALL, N_DEP, K_SMALL, R_SMALL, seed=8)


def _ranks(scores): return (N_SMALL - np.asarray(scores)).astype(int)


@pytest.mark.parametrize("which", ["fast", "naive"])
def test_marginals_match_exact_laws(small, which):
    pool, fast, naive = small
    P = fast if which == "fast" else naive
    for j, col in [(1, 0), (K_SMALL, K_SMALL - 1)]:
        assert _chi_square_pvalue(np.bincount(_ranks(P.eval_top[:, col]), minlength=N_SMALL), _rank_pmf_jth(N_SMALL, M_SMALL, j)) > 1e-4
    assert _chi_square_pvalue(np.bincount(_ranks(P.deploy_max), minlength=N_SMALL), _rank_pmf_jth(N_SMALL, N_DEP, 1)) > 1e-4


def test_joint_law_best_of_union(small):
    "The best of E and D together lies in E with probability m/(m+n); a sampler ignoring disjointness fails this."
    _, fast, _ = small
    p_in_eval = M_SMALL/(M_SMALL + N_DEP)
    counts = np.bincount((fast.eval_top[:, 0] > fast.deploy_max).astype(int), minlength=2)
    assert _chi_square_pvalue(counts, [1 - p_in_eval, p_in_eval]) > 1e-4
    # the conditional law of the deployment max given the eval top-1 rank, e.g. when the eval holds rank 0
    holds_best = _ranks(fast.eval_top[:, 0]) == 0
    # given rank 0 in E, D is a uniform n-subset of the other N-1 ranks: its best has the law of the best of n from N-1, shifted by 1
    cond = np.bincount(_ranks(fast.deploy_max[holds_best]) - 1, minlength=N_SMALL - 1)
    assert _chi_square_pvalue(cond, _rank_pmf_jth(N_SMALL - 1, N_DEP, 1)) > 1e-4


def test_fast_vs_naive_two_sample(small):
    "Two-sample KS statistic between the fast and the naive sampler, below the 0.1% critical value."
    _, fast, naive = small
    for a, b in [(fast.deploy_max, naive.deploy_max), (fast.eval_top[:, 0], naive.eval_top[:, 0]),
                 (fast.eval_top[:, -1], naive.eval_top[:, -1]), (fast.eval_mean, naive.eval_mean), (fast.eval_sd, naive.eval_sd)]:
        grid = np.union1d(a, b)
        ks = np.max(np.abs(np.searchsorted(np.sort(a), grid, side="right")/a.size - np.searchsorted(np.sort(b), grid, side="right")/b.size))
        assert ks < 1.95*np.sqrt(2/R_SMALL), ks


def test_wrong_sampler_is_caught(small):
    "A sampler that draws the deployment maximum from the whole pool, ignoring the evaluation set, fails the joint test."
    pool, fast, _ = small
    rng = np.random.default_rng(0)
    wrong = np.array([pool[rng.choice(N_SMALL, N_DEP, replace=False)].max() for _ in range(R_SMALL)])
    counts = np.bincount((fast.eval_top[:, 0] > wrong).astype(int), minlength=2)
    assert _chi_square_pvalue(counts, [N_DEP/(M_SMALL + N_DEP), M_SMALL/(M_SMALL + N_DEP)]) < 1e-6


def test_ranks_are_consistent():
    rng = np.random.default_rng(3)
    pool = rng.normal(size=5_000)
    P = sample_partitions(pool, 200, 3_000, k=7, R=300, seed=1, keep_ranks=True)
    desc = np.sort(pool)[::-1]
    assert isinstance(P, Partitions) and P.eval_top.shape == (300, 7)
    for e, d, top, mu, sd in zip(P.eval_ranks, P.deploy_rank, P.eval_top, P.eval_mean, P.eval_sd):
        assert np.unique(e).size == 200 and np.all(np.diff(e) > 0) and d not in e
        np.testing.assert_array_equal(top, desc[e[:7]])
        np.testing.assert_allclose([mu, sd], [desc[e].mean(), desc[e].std(ddof=1)], rtol=1e-12)
    np.testing.assert_array_equal(P.deploy_max, desc[P.deploy_rank])


def test_neg_inf_pool_and_errors():
    pool = np.r_[np.arange(40.0), np.full(60, -np.inf)]
    P = sample_partitions(pool, 30, 40, k=3, R=200, seed=2, keep_ranks=True)
    np.testing.assert_array_equal(P.eval_n_excluded, (P.eval_ranks >= 40).sum(1))
    with pytest.raises(ValueError, match="fewer than k = 3 finite"):
        sample_partitions(np.r_[np.arange(4.0), np.full(96, -np.inf)], 10, 20, k=3, R=100)
    for kwargs, msg in [(dict(m=10, n=95), "exceeds the pool size"), (dict(m=10, n=20, k=11), "exceeds the evaluation size"),
                        (dict(m=10, n=10), "must exceed the evaluation size"), (dict(m=10, n=20, k=1), "at least 2")]:
        with pytest.raises(ValueError, match=msg): sample_partitions(np.arange(100.0), **kwargs)
    with pytest.raises(ValueError, match="NaN"): sample_partitions(np.r_[np.arange(99.0), np.nan], 10, 20)


def test_backtest_rows_match_direct_forecasts():
    rng = np.random.default_rng(5)
    pool = rng.gumbel(size=20_000)
    df = backtest(pool, m=200, n=5_000, k=10, R=100, seed=3, positions="hazen")
    P = sample_partitions(pool, 200, 5_000, 10, 100, seed=3, keep_ranks=True)
    desc = np.sort(pool)[::-1]
    assert set(df.method) == set(METHODS) and len(df) == 300
    g = df[df.method == "gumbel"].reset_index(drop=True)
    ref = [fit_gumbel_tail(desc[e], k=10, positions="hazen").forecast_score(5_000) for e in P.eval_ranks[:10]]
    np.testing.assert_allclose(g.forecast_score[:10], ref, rtol=1e-10)
    ln = df[df.method == "lognormal"].reset_index(drop=True)
    np.testing.assert_allclose(ln.forecast_score[:10], [fit_lognormal(desc[e]).forecast_score(5_000) for e in P.eval_ranks[:10]], rtol=1e-9)
    em = df[df.method == "empirical_max"].reset_index(drop=True)
    np.testing.assert_array_equal(em.forecast_score, desc[P.eval_ranks[:, 0]])
    np.testing.assert_allclose(g.error_log10p, log10p_from_scores(g.forecast_score) - log10p_from_scores(g.realised_score), rtol=1e-12)


def test_summary_metrics_and_ci():
    rng = np.random.default_rng(6)
    df = pd.DataFrame({"method": "x", "error_score": rng.normal(0.3, 1, 4_000), "error_log10p": rng.normal(0, 1, 4_000)})
    s = summarize_errors(df, n_boot=400, seed=1).iloc[0]
    assert s.n_partitions == 4_000
    np.testing.assert_allclose(s.median_error_score, np.median(df.error_score))
    np.testing.assert_allclose(s.under_rate, np.mean(df.error_score < 0))
    np.testing.assert_allclose(s.within_1_oom, np.mean(np.abs(df.error_log10p) <= 1))
    # the bootstrap CI of the mean |error| matches normal theory within 20%
    half = (s.mean_abs_error_score_hi - s.mean_abs_error_score_lo)/2
    np.testing.assert_allclose(half, 1.96*np.abs(df.error_score).std()/np.sqrt(4_000), rtol=0.2)
    for metric in ["median_abs_error_score", "under_rate", "within_1_oom", "median_error_log10p"]:
        assert s[f"{metric}_lo"] <= s[metric] <= s[f"{metric}_hi"]


def test_figures():
    rng = np.random.default_rng(7)
    pool = rng.gumbel(size=20_000)
    ax = plot_tail(pool[:500], [5_000, 50_000], k=10, realised_max=[pool[500:5500].max(), pool[500:].max()])
    assert "ψ" in ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    df = pd.concat([backtest(pool, 200, n, R=50, seed=i) for i, n in enumerate([1_000, 10_000])])
    ax = plot_error_vs_horizon(df)
    assert ax.get_xlabel() == "horizon log(n/m) (nats)"
    plt.close("all")
