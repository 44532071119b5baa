"Property tests for failure scores (hypothesis): exact round trips in log space and monotonicity. The notebook holds the examples and error checks."
import numpy as np
from hypothesis import given, strategies as st

from predfail.scores import (scores_from_p, scores_from_logp, logp_from_scores,
                             p_from_scores)

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
