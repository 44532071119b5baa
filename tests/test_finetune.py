"Tests of predfail.finetune: cache correctness, gradient routing, exact resumption and clear errors."
import numpy as np
import pandas as pd
import pytest
import torch

from predfail.finetune import (FailureModel, FinetuneConfig, NonFiniteScoresError, ScoreCache, finetune, forecast_term,
                               sample_partition_indices, score_pool)
from predfail.forecast import forecast_batch


class Toy(FailureModel):
    "ψ = w·(u, rare) + c over a fixed pool; task: stay near the base scores."
    def __init__(self, size=4_000, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        u = -torch.log(-torch.log(torch.rand(size, generator=g, dtype=torch.float64)))
        self.x = torch.stack([u, (torch.rand(size, generator=g, dtype=torch.float64) < 0.005).double()], 1)
        self.base = torch.tensor([1.0, 5.0], dtype=torch.float64)
        self.w = torch.nn.Parameter(self.base.clone()); self.c = torch.nn.Parameter(torch.tensor(-3.0, dtype=torch.float64))
    def pool_size(self, split="train"): return len(self.x)
    def failure_logp(self, idx, split="train"): return -torch.exp(-(self.x[idx] @ self.w + self.c))
    def task_loss(self, generator):
        x = self.x[torch.randint(len(self.x), (64,), generator=generator)]
        return ((x @ (self.w - self.base) + self.c + 3.0)**2).mean()


class PerInput(FailureModel):
    "ψ_i = θ_i."
    def __init__(self, size=3_000):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.randn(size, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    def pool_size(self, split="train"): return len(self.theta)
    def failure_logp(self, idx, split="train"): return -torch.exp(-self.theta[idx])
    def task_loss(self, generator): return self.theta.sum()*0


CFG = dict(steps=12, lr=0.05, m=100, n=2_000, k=10, partitions_per_step=3, cache_refresh_every=4, checkpoint_every=3)


def params(model): return torch.cat([p.detach().ravel() for p in model.parameters()])


def test_fresh_cache_selects_like_full_scoring_and_gives_same_loss_and_gradient():
    model, cfg = Toy(), FinetuneConfig(**CFG)
    cache = ScoreCache(); cache.refresh(model)
    ev, dp = sample_partition_indices(model.pool_size(), cfg.m, cfg.n, 3, torch.Generator().manual_seed(5))
    fresh = score_pool(model)
    sel_e, sel_d = cache.select(ev, dp, cfg.k, cfg.deploy_top)
    assert torch.equal(sel_e, ev.gather(-1, fresh[ev].topk(cfg.k).indices))
    grads, losses = [], []
    for c in (cache, None):
        model.zero_grad(); loss, info = forecast_term(model, cfg, ev, dp, c); loss.backward()
        grads.append(torch.cat([model.w.grad, model.c.grad[None]]).clone()); losses.append(float(loss.detach()))
        assert info["staleness"] == {"mean": 0.0, "max": 0.0}
    assert losses[0] == pytest.approx(losses[1], abs=1e-10)
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), atol=1e-10)
    np.testing.assert_allclose(info["forecast"].numpy(), forecast_batch(fresh[ev].numpy(), cfg.n, k=cfg.k).score[:, 0], atol=1e-10)


def test_gradient_reaches_only_recomputed_items():
    model, cfg = PerInput(), FinetuneConfig(m=100, n=1_000, k=10, deploy_top=3)
    cache = ScoreCache(); cache.refresh(model)
    ev, dp = sample_partition_indices(3_000, 100, 1_000, 2, torch.Generator().manual_seed(0))
    loss, _ = forecast_term(model, cfg, ev, dp, cache); loss.backward()
    touched = set(torch.nonzero(model.theta.grad).ravel().tolist())
    sel_e, sel_d = cache.select(ev, dp, 10, 3)
    assert touched <= set(sel_e.ravel().tolist()) | set(sel_d.ravel().tolist())
    assert set(sel_e.ravel().tolist()) | set(sel_d[:, 0].tolist()) <= touched


def test_refresh_every_step_equals_no_cache_and_staleness_zero_after_refresh():
    a, b = Toy(), Toy()
    ha = finetune(a, FinetuneConfig(**{**CFG, "cache_refresh_every": 1}), progress=False)
    finetune(b, FinetuneConfig(**{**CFG, "use_cache": False}), progress=False)
    np.testing.assert_allclose(params(a).numpy(), params(b).numpy(), atol=1e-8)
    assert (ha.staleness_max == 0).all()
    h = finetune(Toy(), FinetuneConfig(**CFG), progress=False)
    assert (h.loc[h.cache_refreshed, "staleness_max"] == 0).all() and h.cache_refreshed.sum() == 3
    assert (h.loc[~h.cache_refreshed, "staleness_max"] > 0).any()


class Crashing(Toy):
    def __init__(self, crash_at): super().__init__(); self.calls, self.crash_at = 0, crash_at
    def task_loss(self, generator):
        self.calls += 1
        if self.calls == self.crash_at: raise KeyboardInterrupt("simulated kill")
        return super().task_loss(generator)


def test_interrupted_then_resumed_run_is_bit_identical(tmp_path):
    cfg = FinetuneConfig(**CFG)
    ref = Toy(); h_ref = finetune(ref, cfg, progress=False)
    with pytest.raises(KeyboardInterrupt): finetune(Crashing(crash_at=9), cfg, checkpoint_dir=tmp_path, progress=False)
    assert torch.load(tmp_path/"checkpoint.pt", weights_only=False)["step"] == 6
    resumed = Toy(); h = finetune(resumed, cfg, checkpoint_dir=tmp_path, progress=False)
    assert torch.equal(params(resumed), params(ref))
    pd.testing.assert_frame_equal(h.drop(columns="time_s"), h_ref.drop(columns="time_s"))
    # extending a finished run is allowed (steps is not part of the configuration hash)
    longer = Toy(); finetune(longer, FinetuneConfig(**{**CFG, "steps": 14}), checkpoint_dir=tmp_path, progress=False)
    ref2 = Toy(); finetune(ref2, FinetuneConfig(**{**CFG, "steps": 14}), progress=False)
    assert torch.equal(params(longer), params(ref2))


def test_resume_with_other_configuration_is_refused(tmp_path):
    finetune(Toy(), FinetuneConfig(**{**CFG, "steps": 3}), checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="different configuration"):
        finetune(Toy(), FinetuneConfig(**{**CFG, "steps": 3, "lam": 3.0}), checkpoint_dir=tmp_path, progress=False)


class NaNAfter(Toy):
    def __init__(self, at): super().__init__(); self.calls, self.at = 0, at
    def task_loss(self, generator): self.calls += 1; return super().task_loss(generator)
    def failure_logp(self, idx, split="train"):
        out = super().failure_logp(idx, split)
        return out*np.nan if self.calls >= self.at else out


def test_nan_scores_stop_with_step_and_keep_checkpoint(tmp_path):
    cfg = FinetuneConfig(**CFG)
    with pytest.raises(NonFiniteScoresError, match="step 4: the adapter returned .* NaN"):
        finetune(NaNAfter(at=5), cfg, checkpoint_dir=tmp_path, progress=False)
    assert torch.load(tmp_path/"checkpoint.pt", weights_only=False)["step"] == 4
    fixed = Toy(); finetune(fixed, cfg, checkpoint_dir=tmp_path, progress=False)
    ref = Toy(); finetune(ref, cfg, progress=False)
    assert torch.equal(params(fixed), params(ref))


@pytest.mark.parametrize("kw,msg", [(dict(m=100, n=5_000), "exceeds the training pool"), (dict(k=200, m=100), "k = 200 exceeds"),
                                    (dict(lam=-1.0), "lam"), (dict(objective="rl"), "unknown objective"),
                                    (dict(stop_grad="both"), "unknown stop_grad")])
def test_bad_configuration(kw, msg):
    with pytest.raises(ValueError, match=msg): finetune(Toy(), FinetuneConfig(**{**CFG, **kw}), progress=False)


def test_supervised_and_task_objectives_run():
    h = finetune(Toy(), FinetuneConfig(**{**CFG, "objective": "supervised", "supervised_batch": 128}), progress=False)
    assert h.supervised_loss.notna().all() and h.forecast_loss.isna().all()
    t = Toy(); finetune(t, FinetuneConfig(**{**CFG, "objective": "task"}), progress=False)
    assert torch.allclose(t.w.detach(), t.base)
