"Tests of predfail.finetune: cache correctness, gradient routing, exact resumption and clear errors."
import numpy as np
import pandas as pd
import pytest
import torch

from predfail.finetune import FailureModel, FinetuneConfig, NonFiniteScoresError, finetune


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


CFG = dict(forecast_weight=1.0, steps=12, lr=0.05, m=100, n=2_000, k=10, partitions_per_step=3, cache_refresh_every=4, checkpoint_every=3)


def params(model): return torch.cat([p.detach().ravel() for p in model.parameters()])


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
        finetune(Toy(), FinetuneConfig(**{**CFG, "steps": 3, "forecast_weight": 3.0}), checkpoint_dir=tmp_path, progress=False)


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
                                    (dict(forecast_weight=-1.0), "forecast_weight must be >= 0"), (dict(positions="x"), "unknown positions"),
                                    (dict(stop_grad="both"), "unknown stop_grad"),
                                    (dict(anchor_weight=-1.0), "anchor_weight must be >= 0"),
                                    (dict(safety_weight=1.0, supervised_batch=5_000), "supervised_batch = 5000 exceeds")])
def test_bad_configuration(kw, msg):
    with pytest.raises(ValueError, match=msg): finetune(Toy(), FinetuneConfig(**{**CFG, **kw}), progress=False)


def test_supervised_and_task_objectives_run():
    h = finetune(Toy(), FinetuneConfig(**{**CFG, "forecast_weight": 0.0, "safety_weight": 1.0, "supervised_batch": 128}), progress=False)
    assert h.safety_loss.notna().all() and h.forecast_loss.isna().all()
    t = Toy(); finetune(t, FinetuneConfig(**{**CFG, "forecast_weight": 0.0}), progress=False)
    assert torch.allclose(t.w.detach(), t.base)


COMPOSED = dict(CFG, safety_weight=2.0, worst_case_weight=1.0, forecast_weight=0.5, ceiling_weight=5.0,
                anchor_weight=1.0, supervised_batch=128)


def test_composed_objective_resumes_bit_identically(tmp_path):
    "A run with every term and both guards, killed and resumed from its checkpoint (base scores, cache and RNG restored)."
    cfg = FinetuneConfig(**COMPOSED)
    ref = Toy(); h_ref = finetune(ref, cfg, progress=False)
    assert h_ref[["safety_loss", "worst_case_loss", "forecast_loss", "ceiling_loss", "anchor_loss"]].notna().all().all()
    with pytest.raises(KeyboardInterrupt): finetune(Crashing(crash_at=8), cfg, checkpoint_dir=tmp_path, progress=False)
    resumed = Toy(); h = finetune(resumed, cfg, checkpoint_dir=tmp_path, progress=False)
    assert torch.equal(params(resumed), params(ref))
    pd.testing.assert_frame_equal(h.drop(columns="time_s"), h_ref.drop(columns="time_s"))
    with pytest.raises(ValueError, match="different configuration"):
        finetune(Toy(), FinetuneConfig(**{**COMPOSED, "anchor_weight": 2.0}), checkpoint_dir=tmp_path, progress=False)
