"""Tests of predfail.backtest beyond the notebook's: the conditional law of the deployment maximum given the evaluation
set, and a two-sample comparison of the fast and the naive sampler on five statistics at once."""
import numpy as np
import pytest

from predfail.backtest import _chi_square_pvalue, _rank_pmf_jth, naive_partitions, sample_partitions

N_SMALL, M_SMALL, N_DEP, K_SMALL, R_SMALL = 50, 6, 15, 3, 20_000


@pytest.fixture(scope="module")
def small():
    pool = np.arange(N_SMALL, 0, -1.0)                 # score = N - rank, all distinct
    return pool, sample_partitions(pool, M_SMALL, N_DEP, K_SMALL, R_SMALL, seed=7), naive_partitions(pool, M_SMALL, N_DEP, K_SMALL, R_SMALL, seed=8)


def _ranks(scores): return (N_SMALL - np.asarray(scores)).astype(int)


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
