"Tests of predfail.experiments.synthetic that need temporary folders: the chosen objective through the engine, killed and resumed."
from dataclasses import replace

import pytest
import torch

from predfail.experiments.synthetic import (SyntheticModel, capability_metrics, experiment_config, make_model, make_pools,
                                            sample_inputs, sweeps)
from predfail.finetune import FinetuneConfig, finetune
from predfail.protocol import addon_arms, sweep_arms

TINY = replace(experiment_config("quick"), pretrain_steps=150, n_train=3_000, n_validation=3_000, n_heldout=3_000,
               n_capability=2_000, m=40, n=1_500)


def test_supervised_forecast_runs_through_engine_and_resumes(tmp_path):
    "Every term and both guards on; a run stopped at step 3 and resumed equals an uninterrupted one bit for bit."
    families = sweep_arms(TINY, sweeps)
    arm = addon_arms(families["supervised_forecast"][:1], families["supervised"][0])[0]   # the term on a safety configuration
    cfg = FinetuneConfig(**{**arm.config, "steps": 6, "checkpoint_every": 3})
    a = make_model(TINY, 0)
    h = finetune(a, cfg, checkpoint_dir=tmp_path/"a", progress=False)
    assert h[["safety_loss", "forecast_loss", "ceiling_loss", "anchor_loss"]].notna().all().all()
    b = make_model(TINY, 0)
    finetune(b, FinetuneConfig(**{**arm.config, "steps": 3, "checkpoint_every": 3}), checkpoint_dir=tmp_path/"b", progress=False)
    b2 = make_model(TINY, 0)
    finetune(b2, cfg, checkpoint_dir=tmp_path/"b", progress=False)   # resumes at step 3: cache, base scores and RNG restored
    for pa, pb in zip(a.net.parameters(), b2.net.parameters()): assert torch.equal(pa, pb)
    cap = capability_metrics(a, 0, "validation")
    assert 0 < cap["reveal_rate"] < 1 and cap["reveal_xent"] > 0


def test_bad_input():
    model = make_model(TINY, 0)
    with pytest.raises(ValueError, match="pools lack"): SyntheticModel(model.net, {"train": make_pools(TINY, 0)["train"]}, TINY)
    with pytest.raises(ValueError, match="no capability set"): capability_metrics(model, 0, "train")
    with pytest.raises(ValueError, match="probabilities"): sample_inputs(3, torch.Generator(), rare=2.0)
    with pytest.raises(ValueError, match="unknown profile"): experiment_config("huge")
