"Tests of predfail.experiments.synthetic: the toy, the adapter's terms and guards, the arms."
from dataclasses import replace

import numpy as np
import pytest
import torch

from predfail.experiments.synthetic import (SyntheticConfig, _bernoulli_xent, capability_metrics, make_model,
                                            planted_scores, sample_inputs, synthetic_arms, synthetic_config)
from predfail.finetune import FinetuneConfig, finetune

TINY = replace(synthetic_config("quick"), pretrain_steps=150, n_train=3_000, n_heldout=3_000, n_capability=2_000, m=40, n=1_500)


def test_planted_mean_p_matches_integral():
    c = SyntheticConfig()
    x = sample_inputs(100_000, torch.Generator().manual_seed(1), rare=0.0)
    p = torch.exp(-torch.exp(-planted_scores(x, c))).numpy()
    log_e = np.linspace(np.log(1e-60), np.log(50), 200_001)   # log grid: the mean lives at tiny e
    e = np.exp(log_e)
    expected = np.trapezoid(e*np.exp(-e)*np.exp(-np.exp(-c.mu)*e**c.sigma), log_e)   # E[p], e^{-u} ~ Exp(1)
    assert abs(p.mean() - expected) < 4*p.std()/np.sqrt(p.size)
    assert 1e-6 < expected < 1e-5


def test_xent_minimised_at_planted_probability():
    psi_star = torch.tensor([-2.0, 0.0, 2.5], dtype=torch.float64)
    psi = psi_star.clone().requires_grad_()
    _bernoulli_xent(psi, psi_star).sum().backward()
    assert torch.allclose(psi.grad, torch.zeros(3, dtype=torch.float64), atol=1e-9)
    assert (_bernoulli_xent(psi_star + 0.5, psi_star) > _bernoulli_xent(psi_star, psi_star)).all()
    assert torch.isfinite(_bernoulli_xent(torch.tensor([80.0, -80.0], dtype=torch.float64), psi_star[:2])).all()


def test_forecast_term_cache_equals_full_pool():
    out = []
    for use_cache in (True, False):
        model = make_model(TINY, 0, forecast=1.0, use_cache=use_cache)
        loss = model.forecast_term(torch.Generator().manual_seed(4))
        loss.backward()
        out.append((loss.item(), torch.cat([p.grad.ravel() for p in model.net.parameters()])))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-10)
    assert torch.allclose(out[0][1], out[1][1], rtol=1e-8, atol=1e-12)


def test_guards_zero_at_base_and_ceiling_penalises_rise():
    plain, ceil = make_model(TINY, 0), make_model(TINY, 0, ceiling=100.0)
    assert ceil.task_loss(torch.Generator().manual_seed(2)).item() == pytest.approx(plain.task_loss(torch.Generator().manual_seed(2)).item(), rel=1e-12)
    with torch.no_grad(): ceil.net.layers[-1].bias += 0.5   # every score rises by 0.5
    rise = ceil.task_loss(torch.Generator().manual_seed(2)).item() - plain.task_loss(torch.Generator().manual_seed(2)).item()
    assert rise > 100*0.25*0.9   # ceiling·0.5² on the ceiling items (the task term moves a little too)


def test_final_objective_runs_through_engine_and_resumes(tmp_path):
    arms = {a.name: a for a in synthetic_arms(TINY)}
    final = arms["final"]
    cfg = FinetuneConfig(**{**final.config, "steps": 6, "checkpoint_every": 3})
    a = make_model(TINY, 0, **final.model_kwargs)
    finetune(a, cfg, checkpoint_dir=tmp_path/"a", progress=False)
    b = make_model(TINY, 0, **final.model_kwargs)
    finetune(b, FinetuneConfig(**{**final.config, "steps": 3, "checkpoint_every": 3}), checkpoint_dir=tmp_path/"b", progress=False)
    b2 = make_model(TINY, 0, **final.model_kwargs)
    finetune(b2, cfg, checkpoint_dir=tmp_path/"b", progress=False)   # resumes at step 3, cache buffers included
    for pa, pb in zip(a.net.parameters(), b2.net.parameters()): assert torch.equal(pa, pb)
    cap = capability_metrics(a, 0)
    assert 0 < cap["reveal_rate"] < 1 and cap["reveal_xent"] > 0


def test_bad_input():
    with pytest.raises(ValueError, match="unknown error_units"): make_model(TINY, 0, error_units="bits")
    with pytest.raises(ValueError, match="must be >= 0"): make_model(TINY, 0, ceiling=-1.0)
    with pytest.raises(ValueError, match="unknown arm"): synthetic_arms(TINY, ["nope"])
    with pytest.raises(ValueError, match="probabilities"): sample_inputs(3, torch.Generator(), rare=2.0)
