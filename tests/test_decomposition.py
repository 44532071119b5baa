"Fast checks of predfail.decomposition: the exact identity, predicted term means, miss probability, the paper's two claims."
import numpy as np
import pytest

from predfail.decomposition import (TAILS, decompose_error, expected_scale_ratio, forecast_tail_batch, rare_mode_quantile,
                                    sample_exponential_top_k, sample_rare_mode, sample_tail, simulate_terms, fit_exponential_tail)
from predfail.forecast import forecast_batch, harmonic


def _brute_samples(rng, R=2000, m=500):
    U = rng.uniform(size=(R, m))
    return {"exponential": -np.log1p(-U), "gumbel": -np.log(-np.log(U)), "normal": rng.normal(size=(R, m)),
            "lognormal": np.exp(rng.normal(size=(R, m))),
            "mixture": rng.exponential(size=(R, m)) + 5*(rng.uniform(size=(R, m)) < 5e-3)}


@pytest.mark.parametrize("method,positions", [("jones", "rank"), ("jones", "hazen"), ("jones", "expected"),
                                              ("reverse", "expected"), ("mle", "rank")])
def test_identity_exact(method, positions):
    rng = np.random.default_rng(1)
    for name, s in _brute_samples(rng).items():
        mx = s.max(1) + rng.exponential(size=len(s))            # any realised maxima: the identity is algebra
        d = decompose_error(s, 5e4, k=10, mu=0.2, sigma=1.3, realised_max=mx, q_true=9.0, method=method, positions=positions)
        assert np.abs(d.residual()).max() < 1e-9, name
        assert np.abs(d.error - (forecast_tail_batch(s, 5e4, 10, method, positions).score[:, 0] - mx)).max() < 1e-12


def test_jones_is_forecast_batch():
    s = np.random.default_rng(2).exponential(size=(50, 300))
    np.testing.assert_allclose(forecast_tail_batch(s, 1e4).score, forecast_batch(s, 1e4).score, atol=1e-12)


@pytest.mark.parametrize("m,ratio,k", [(100, 10, 5), (1000, 100, 10), (1000, 1000, 20), (10_000, 100, 50)])
def test_term_means_within_3se(m, ratio, k):
    row = simulate_terms(m, m*ratio, k, 4000, np.random.default_rng(m + ratio + k))
    for term in ("level", "horizon_scale", "realisation", "error_quantile", "error"):
        assert abs(row[f"{term}_z"]) < 3, (term, row[f"{term}_mc"], row[f"{term}_pred"], row[f"{term}_se"])


def test_scale_ratio_closed_forms():
    assert abs(expected_scale_ratio(2) - 1/np.log(2)) < 1e-9
    assert abs(expected_scale_ratio(10, "reverse", "expected") - 1) < 1e-12
    assert expected_scale_ratio(10) > expected_scale_ratio(10, approx="delta") - 0.05 > 1


def test_renyi_top_k_mean():
    t = sample_exponential_top_k(20_000, 400, 6, np.random.default_rng(3))
    se = t.std(0)/np.sqrt(len(t))
    assert (np.abs(t.mean(0) - (harmonic(400) - harmonic(np.arange(6)))) < 3*se).all()


@pytest.mark.parametrize("eps", [5e-5, 1e-3])
def test_miss_probability(eps):
    R = 20_000
    hits = sample_rare_mode(R, 1000, 100_000, 10, eps, 12.0, np.random.default_rng(4)).eval_hits
    p = (1 - eps)**1000
    assert abs((hits == 0).mean() - p) < 3*np.sqrt(p*(1 - p)/R)


def test_rare_mode_quantile_solves_survival():
    for eps, s in [(5e-5, 12.0), (1e-6, 3.0), (1e-3, 2.0)]:
        q = rare_mode_quantile(1e5, eps, s)
        assert abs((1 - eps)*np.exp(-q) + eps*np.exp(-max(q - s, 0)) - 1e-5) < 1e-12


def test_paper_claim_typical_over_prediction():
    top, _ = sample_tail("exponential", 5000, 1000, 100_000, 10, np.random.default_rng(5))
    q = forecast_batch(top, 1e5, k=10, m=1000).score[:, 0]
    assert (q > np.log(1e5)).mean() > 0.6


def test_paper_claim_rare_mode_under_prediction():
    d = sample_rare_mode(20_000, 1000, 100_000, 10, 5e-5, 12.0, np.random.default_rng(6))
    err = forecast_batch(d.top, 1e5, k=10, m=1000).score[:, 0] - d.deploy_max
    missed = d.eval_hits == 0
    assert missed.mean() > 0.9 and (err[missed] < 0).mean() > 0.5


def test_mle_unbiased_and_fit():
    top = sample_exponential_top_k(20_000, 1000, 10, np.random.default_rng(7))
    q = forecast_tail_batch(top, 1e5, 10, "mle", m=1000).score[:, 0]
    assert abs(q.mean() - np.log(1e5)) < 3*q.std()/np.sqrt(len(q))
    fit = fit_exponential_tail(np.random.default_rng(8).exponential(size=1000), k=10)
    assert abs(fit.scale - (fit.top_scores[:-1] - fit.top_scores[-1]).mean()) < 1e-12


def test_bad_input():
    s = np.random.default_rng(9).exponential(size=(3, 100))
    with pytest.raises(ValueError, match="unknown method"): forecast_tail_batch(s, 1e4, method="hill")
    with pytest.raises(ValueError, match="sigma must be positive"): decompose_error(s, 1e4, sigma=-1.0)
    with pytest.raises(ValueError, match="unknown tail"): sample_tail("pareto", 2, 10, 100, 3, np.random.default_rng(0))
