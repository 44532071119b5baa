"""Property tests (hypothesis) of Jones et al.'s Gumbel-tail forecaster: closed form, shift and scale equivariance,
permutation invariance, monotonicity in n, and agreement of the batched and single fits."""
import mpmath
import numpy as np
from hypothesis import assume, given, settings, strategies as st

from predfail.forecast import exp_tail_mean_p, fit_gpd_tail, fit_gumbel_tail, forecast_batch

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def evaluation_sets(draw, min_m=10, max_m=200):
    "Finite, well-separated evaluation scores: integers on a grid times a spacing, plus a location, in random order."
    m = draw(st.integers(min_m, max_m))
    k = draw(st.integers(2, min(12, m)))
    grid = draw(st.lists(st.integers(-10_000, 10_000), min_size=m, max_size=m, unique=True))
    spacing = draw(st.floats(0.01, 10.0))
    loc = draw(st.floats(-50.0, 50.0))
    return loc + spacing*np.array(grid, dtype=np.float64)/100, k


def _spread(s, k):
    top = np.sort(s)[::-1][:k]
    return top[0] - top[-1]


ns = st.lists(st.floats(1.0, 1e9), min_size=1, max_size=4)   # multipliers: n = m * (1 + x)


@SETTINGS
@given(evaluation_sets(), ns)
def test_closed_form_rank_positions(sk, mult):
    "With positions j/m: Q(n) = mean(top k) + (log(n/m) + mean_j log j)/|a|."
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    fit = fit_gumbel_tail(s, k=k, positions="rank")
    n = s.size*(1 + np.array(mult))
    expected = np.sort(s)[::-1][:k].mean() + (np.log(n/s.size) + np.mean(np.log(np.arange(1, k + 1))))/abs(fit.a)
    np.testing.assert_allclose(fit.forecast_score(n), expected, rtol=1e-12, atol=1e-12*np.abs(expected).max())


@SETTINGS
@given(evaluation_sets(), st.floats(-100.0, 100.0), st.sampled_from(["rank", "hazen", "expected"]))
def test_shift_equivariance(sk, c, positions):
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    n = 50.0*s.size
    q0 = fit_gumbel_tail(s, k=k, positions=positions).forecast_score(n)
    q1 = fit_gumbel_tail(s + c, k=k, positions=positions).forecast_score(n)
    np.testing.assert_allclose(q1, q0 + c, rtol=1e-9, atol=1e-9*(1 + abs(q0) + abs(c)))


@SETTINGS
@given(evaluation_sets(), st.sampled_from([0.25, 0.5, 2.0, 4.0, 8.0]), st.sampled_from(["rank", "hazen", "expected"]))
def test_scale_equivariance(sk, scale, positions):
    "Scaling the scores by s > 0 (a power of two, so the scaled scores are exact) scales the forecast by s."
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    n = 1e4*s.size
    q0 = fit_gumbel_tail(s, k=k, positions=positions).forecast_score(n)
    q1 = fit_gumbel_tail(scale*s, k=k, positions=positions).forecast_score(n)
    np.testing.assert_allclose(q1, scale*q0, rtol=1e-9, atol=1e-9*scale*(1 + abs(q0)))


@SETTINGS
@given(evaluation_sets(), st.randoms(use_true_random=False))
def test_permutation_invariance(sk, rnd):
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    perm = s.copy()
    rnd.shuffle(perm)
    f0, f1 = fit_gumbel_tail(s, k=k), fit_gumbel_tail(perm, k=k)
    assert (f0.a, f0.b, f0.r2) == (f1.a, f1.b, f1.r2)
    np.testing.assert_array_equal(f0.forecast_score([2*s.size, 1e6*s.size]), f1.forecast_score([2*s.size, 1e6*s.size]))


@SETTINGS
@given(evaluation_sets(), st.lists(st.floats(1e-3, 1e12), min_size=2, max_size=8), st.sampled_from(["rank", "hazen", "expected"]))
def test_monotone_in_n(sk, mult, positions):
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    n = np.sort(s.size*(1 + np.array(mult)))
    q = fit_gumbel_tail(s, k=k, positions=positions).forecast_score(n)
    assert np.all(np.diff(q) >= 0)


@SETTINGS
@given(st.integers(1, 6), st.integers(10, 120), st.integers(2, 10), st.integers(0, 2**32 - 1),
       st.sampled_from(["rank", "hazen", "expected"]))
def test_batch_matches_single(R, m, k, seed, positions):
    assume(k <= m)
    s = np.random.default_rng(seed).gumbel(size=(R, m))
    n = [2.0*m, 1e3*m, 1e8]
    batch = forecast_batch(s, n, k=k, positions=positions)
    for row, q in zip(s, batch.score):
        fit = fit_gumbel_tail(row, k=k, positions=positions)
        np.testing.assert_allclose(q, fit.forecast_score(n), rtol=1e-10)
    top = -np.sort(-s, axis=1)[:, :k]
    np.testing.assert_allclose(forecast_batch(top, n, k=k, positions=positions, m=m).score, batch.score, rtol=1e-10)


# ---- intervals, behaviour frequency, the exact tail mean and the GPD forecaster

SMALL = settings(max_examples=25, deadline=None)


@SMALL
@given(evaluation_sets(min_m=40), st.sampled_from([0.25, 0.5, 2.0, 4.0]), st.floats(-20.0, 20.0),
       st.sampled_from(["jones", "mle"]))
def test_parametric_interval_is_equivariant(sk, scale, shift, method):
    "The pivot interval moves with the scores: scale s and shift c map [lo, hi] to s·[lo, hi] + c."
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    n = [5.0*s.size, 1e4*s.size]
    lo0, hi0 = fit_gumbel_tail(s, k=k, method=method).interval(n, B=500)
    lo1, hi1 = fit_gumbel_tail(scale*s + shift, k=k, method=method).interval(n, B=500)
    tol = 1e-8*scale*(1 + np.abs(lo0).max() + np.abs(hi0).max() + abs(shift))
    np.testing.assert_allclose(lo1, scale*lo0 + shift, rtol=0, atol=tol)
    np.testing.assert_allclose(hi1, scale*hi0 + shift, rtol=0, atol=tol)
    assert np.all(lo0 < hi0)


@SMALL
@given(evaluation_sets(min_m=40), st.sampled_from(["parametric", "bootstrap"]), st.integers(0, 1000))
def test_interval_ordered_and_reproducible(sk, method, seed):
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    fit = fit_gumbel_tail(s, k=k)
    a = fit.interval([2.0*s.size, 1e6*s.size], method=method, B=300, seed=seed)
    b = fit.interval([2.0*s.size, 1e6*s.size], method=method, B=300, seed=seed)
    np.testing.assert_array_equal(a.upper, b.upper)
    assert np.all(a.lower <= a.upper) and np.all(np.diff(a.upper) >= 0)


@SMALL
@given(evaluation_sets(), st.lists(st.floats(1e-6, 1 - 1e-6), min_size=2, max_size=8))
def test_frequency_falls_and_n_at_rises_with_tau(sk, taus):
    s, k = sk
    assume(_spread(s, k) > 1e-6)
    fit = fit_gumbel_tail(s, k=k)
    t = np.sort(taus)
    assert np.all(np.diff(fit.frequency(t)) <= 1e-15)
    assert np.all(np.diff(fit.n_at(t)) >= 0)
    assert np.all((fit.frequency(t) >= 0) & (fit.frequency(t) <= 1))


@settings(max_examples=40, deadline=None)
@given(st.floats(-40.0, 60.0), st.floats(0.01, 200.0))
def test_exp_tail_mean_p_matches_mpmath(t0, rate):
    "The closed form against 30-digit 1F1(r; r+1; −e^{−t0}) anywhere in the plane."
    mpmath.mp.dps = 30
    exact = mpmath.hyp1f1(rate, rate + 1, -mpmath.exp(-mpmath.mpf(t0)))
    ours = float(exp_tail_mean_p(t0, rate))
    if exact < 1e-280: assert ours < 1e-270
    else: assert abs(ours/float(exact) - 1) < 1e-10, (t0, rate, ours, float(exact))


@SMALL
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.5, 2.0, 8.0]), st.floats(-10.0, 10.0))
def test_gpd_forecast_equivariant_and_monotone(seed, scale, shift):
    x = np.random.default_rng(seed).gumbel(size=400)
    n = np.array([1e3, 1e5, 1e7])
    q0 = fit_gpd_tail(x, k=20).forecast_score(n)
    q1 = fit_gpd_tail(scale*x + shift, k=20).forecast_score(n)
    assert np.all(np.diff(q0) >= 0)
    np.testing.assert_allclose(q1, scale*q0 + shift, rtol=1e-6, atol=1e-6*scale*(1 + np.abs(q0).max()))
