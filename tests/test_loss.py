"Tests of predfail.loss: the torch Gumbel-tail forecaster against numpy, its gradients, and the loss's sign behaviour."
import numpy as np
import pytest
import torch

from predfail.forecast import forecast_batch
from predfail.loss import (deployment_target, forecastability_loss, gumbel_tail_forecast_torch, scores_from_logp_torch,
                           top_k_torch)
from predfail.scores import scores_from_logp


@pytest.fixture
def eval_scores(): return np.random.default_rng(1).gumbel(size=(200, 300))


def test_scores_match_numpy_and_stay_finite():
    lp = np.array([-1e-300, -1e-5, -0.3, -20.0])
    np.testing.assert_allclose(scores_from_logp_torch(torch.tensor(lp)).numpy(), scores_from_logp(lp), rtol=0, atol=1e-12)
    for dtype in (torch.float32, torch.float64):
        assert torch.isfinite(scores_from_logp_torch(torch.tensor([0.0, -1e-40], dtype=dtype))).all()
    assert scores_from_logp_torch(torch.tensor([-np.inf]))[0] == -np.inf


@pytest.mark.parametrize("positions", ["rank", "hazen", "expected"])
def test_forecast_equals_numpy_float64(eval_scores, positions):
    top = top_k_torch(torch.from_numpy(eval_scores), 10)[0]
    ours = gumbel_tail_forecast_torch(top, m=300, n=[1_000, 50_000], positions=positions).numpy()
    ref = forecast_batch(eval_scores, n=[1_000, 50_000], k=10, positions=positions).score
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_forecast_float32_close_to_float64(eval_scores):
    top = top_k_torch(torch.from_numpy(eval_scores), 10)[0]
    f32 = gumbel_tail_forecast_torch(top.float(), 300, 10_000)
    assert f32.dtype == torch.float32
    np.testing.assert_allclose(f32.double().numpy(), gumbel_tail_forecast_torch(top, 300, 10_000).numpy(), atol=1e-3)


def test_gradcheck_through_selection_and_fit():
    x = torch.from_numpy(np.random.default_rng(2).exponential(size=(3, 40))).requires_grad_()
    f = lambda s: gumbel_tail_forecast_torch(top_k_torch(s, 8)[0], m=40, n=[500, 5_000])
    assert torch.autograd.gradcheck(f, (x,))
    t = torch.from_numpy(np.random.default_rng(3).standard_normal(size=(4, 6))).requires_grad_()
    assert torch.autograd.gradcheck(lambda d: deployment_target(d, "smoothmax", 0.3), (t,))


def test_gradient_reaches_only_selected_items_and_level_shift_is_one():
    x = torch.from_numpy(np.random.default_rng(4).gumbel(size=60)).requires_grad_()
    gumbel_tail_forecast_torch(top_k_torch(x, 10)[0], 60, 1_000).backward()
    selected = torch.topk(x.detach(), 10).indices
    mask = torch.zeros(60, dtype=torch.bool); mask[selected] = True
    assert (x.grad[~mask] == 0).all() and (x.grad[mask] != 0).all()
    # shifting all top-k scores by δ shifts the forecast by δ: the gradients sum to 1
    assert abs(float(x.grad.sum()) - 1.0) < 1e-10


def test_asymmetric_loss_penalises_under_prediction_more():
    target = torch.zeros(1, dtype=torch.float64)
    under = forecastability_loss(torch.tensor([-1.0], dtype=torch.float64), target, "asymmetric", under_weight=3.0)
    over = forecastability_loss(torch.tensor([1.0], dtype=torch.float64), target, "asymmetric", under_weight=3.0)
    assert float(under) == pytest.approx(3.0) and float(over) == pytest.approx(1.0)
    sym_u = forecastability_loss(torch.tensor([-1.0], dtype=torch.float64), target)
    assert float(sym_u) == pytest.approx(1.0)


def test_stop_gradient_sides():
    f = torch.tensor([1.0, -2.0], requires_grad=True); t = torch.tensor([0.5, 0.5], requires_grad=True)
    forecastability_loss(f, t, stop_grad="target").backward()
    assert t.grad is None and f.grad is not None
    f.grad = None
    forecastability_loss(f, t, stop_grad="forecast").backward()
    assert f.grad is None and t.grad is not None


def test_bad_inputs():
    top = torch.randn(2, 10).sort(-1, descending=True).values
    with pytest.raises(ValueError, match="must exceed"): gumbel_tail_forecast_torch(top, 200, 150)
    with pytest.raises(ValueError, match="k = 10"): gumbel_tail_forecast_torch(top, 5, 150)
    with pytest.raises(ValueError, match="tied"): gumbel_tail_forecast_torch(torch.zeros(1, 10), 50, 150)
    with pytest.raises(ValueError, match="NaN"): scores_from_logp_torch(torch.tensor([np.nan]))
    with pytest.raises(ValueError, match="positive"): scores_from_logp_torch(torch.tensor([0.1]))
    with pytest.raises(ValueError, match="unknown loss kind"): forecastability_loss(top[:, 0], top[:, 1], "l1")


def test_error_units_log10p_and_both_match_hand_computation():
    import math
    import torch
    from predfail.loss import forecastability_loss
    fc = torch.tensor([-2.0, 0.5], dtype=torch.float64)
    tg = torch.tensor([-1.0, 0.0], dtype=torch.float64)
    l10 = lambda x: -torch.exp(-x)/math.log(10)          # log10 p of a score
    e_log = l10(fc) - l10(tg)
    assert torch.allclose(forecastability_loss(fc, tg, units="log10p"), (e_log**2).mean())
    assert torch.allclose(forecastability_loss(fc, tg, units="both"), ((fc - tg)**2 + e_log**2).mean())
    # asymmetric weighting applies per unit: the first partition under-predicts in both units
    w = 3.0
    expect = (torch.where(fc - tg < 0, w, 1.0)*(fc - tg)**2 + torch.where(e_log < 0, w, 1.0)*e_log**2).mean()
    assert torch.allclose(forecastability_loss(fc, tg, "asymmetric", w, units="both"), expect)
    with pytest.raises(ValueError, match="error units"): forecastability_loss(fc, tg, units="nats")
