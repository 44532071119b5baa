"Property tests for failure scores: exact round trips in log space, and clear errors."
import numpy as np
import pytest
from hypothesis import given, strategies as st

from predfail.scores import (scores_from_p, scores_from_logp, scores_from_counts, logp_from_scores,
                             p_from_scores, log10p_from_scores, check_scores)

@given(st.floats(min_value=-700.0, max_value=-1e-300, allow_nan=False))
def test_logp_round_trip_is_relatively_exact(logp):
    back = logp_from_scores(scores_from_logp(logp))
    assert abs(back - logp) <= 1e-13*abs(logp)

@given(st.floats(min_value=1e-300, max_value=1.0, exclude_max=True))
def test_p_round_trip(p):
    assert abs(p_from_scores(scores_from_p(p)) - p) <= 1e-12*p

@given(st.integers(min_value=1, max_value=10**6))
def test_near_one_keeps_digits(ulps):
    # p = 1 - ulps * 2^-53 is exact in double and so is p - 1; log1p(p - 1) is then an independent, exact reference
    p = 1.0 - ulps*2.0**-53
    ref = -np.log(-np.log1p(p - 1.0))
    assert abs(scores_from_p(p) - ref) <= 1e-12*abs(ref)

def test_scores_are_monotone_in_p():
    p = np.sort(np.random.default_rng(0).uniform(size=1000))
    assert np.all(np.diff(scores_from_p(p)) >= 0)

def test_log10p_matches_numpy():
    p = np.array([1e-200, 1e-9, 0.3])
    np.testing.assert_allclose(log10p_from_scores(scores_from_p(p)), np.log10(p), rtol=1e-12)

def test_p_zero_is_minus_inf_and_p_one_plus_inf():
    assert scores_from_p(0.0) == -np.inf and scores_from_p(1.0) == np.inf

@pytest.mark.parametrize("bad, match", [([0.2, np.nan], "NaN"), ([1.2], r"\[0, 1\]"), ([-1e-9], r"\[0, 1\]")])
def test_bad_probabilities(bad, match):
    with pytest.raises(ValueError, match=match): scores_from_p(bad)

def test_bad_logp_and_scores():
    with pytest.raises(ValueError, match="<= 0"): scores_from_logp([0.5])
    with pytest.raises(ValueError, match=r"\+inf"): check_scores([0.0, np.inf])

def test_counts():
    np.testing.assert_allclose(scores_from_counts([3, 10], [10, 10]), scores_from_p([0.3, 1.0]))
    with pytest.raises(ValueError, match="positive"): scores_from_counts([0], [0])
    with pytest.raises(ValueError, match="shape"): scores_from_counts([0, 1], [3])
