"Data-parallel scoring and fine-tuning with 2 CPU processes (gloo, torchrun) equal a single process."
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).with_name("lm_distributed_script.py")
ROOT = SCRIPT.parent.parent


def run(out, processes):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else [sys.executable]
    r = subprocess.run(launcher + [str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(out, weights_only=False)


@pytest.mark.filterwarnings("ignore")
def test_two_processes_match_one(tmp_path):
    single, dist = run(tmp_path / "single.pt", 1), run(tmp_path / "dist.pt", 2)
    assert (single["world"], dist["world"]) == (1, 2)
    # each process scores whole batches of the single-process run, so the gathered scores are those scores
    np.testing.assert_allclose(dist["scores"].numpy(), single["scores"].numpy(), rtol=0, atol=1e-6)
    # one engine step (forecastability + task + safety): DDP-averaged gradients of the sharded task batch give the same
    # Adam step as the whole batch in one process, up to float32 rounding of the sums
    assert single["lora"].keys() == dist["lora"].keys() and len(single["lora"]) > 0
    moved = [n for n in single["lora"] if "lora_B" in n and single["lora"][n].abs().max() > 0]
    assert moved, "the step did not move the adapter"
    for name, p in single["lora"].items():
        np.testing.assert_allclose(dist["lora"][name].numpy(), p.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    assert abs(dist["forecast_loss"] - single["forecast_loss"]) <= 1e-5 * abs(single["forecast_loss"])  # same items in every process
