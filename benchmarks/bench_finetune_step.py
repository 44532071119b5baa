"""Benchmark: one forecastability fine-tuning step with the partition-invariant cache vs without it (fresh no-grad
scores of the whole pool every step, the selected items rescored with gradient), and both against a plain task step
(issue 4). Not a test: prints a summary and writes results/bench_finetune_step.csv.

The adapter is a small MLP over input features (a realistic-cost stand-in: every input costs one MLP forward), with a
failure head (log p = log sigmoid) and a task head trained by regression on fresh batches.

Usage: .venv/bin/python benchmarks/bench_finetune_step.py [--pool 100000] [--threads 1] [--task-batch 256]
"""
import argparse
import time

import numpy as np
import pandas as pd
import torch

from predfail.core import save_table
from predfail.finetune import FailureModel, FinetuneConfig, finetune, score_pool


class MLPAdapter(FailureModel):
    "Two-layer MLP over fixed input features: a failure logit head and a task regression head."
    def __init__(self, pool=100_000, d_in=32, hidden=256, task_batch=256, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.features = torch.randn(pool, d_in, generator=g)
        self.task_w = torch.randn(d_in, generator=g)
        self.trunk = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden), torch.nn.GELU())
        self.fail_head, self.task_head = torch.nn.Linear(hidden, 1), torch.nn.Linear(hidden, 1)
        with torch.no_grad(): self.fail_head.bias.fill_(-6.0) # rare failures
        self.task_batch = task_batch
    def pool_size(self, split="train"): return len(self.features)
    def failure_logp(self, idx, split="train"):
        return torch.nn.functional.logsigmoid(self.fail_head(self.trunk(self.features[idx]))[..., 0])
    def task_loss(self, generator):
        x = torch.randn(self.task_batch, self.features.shape[1], generator=generator)
        return ((self.task_head(self.trunk(x))[..., 0] - torch.sin(x @ self.task_w))**2).mean()


def step_times(config, steps, **kw):
    "Run `finetune` for `steps` steps of `config` on a fresh adapter; return its history and the trained adapter."
    model = MLPAdapter(**kw)
    return finetune(model, FinetuneConfig(**{**config, "steps": steps}), progress=False), model


def measure(pool, task_batch, steps, nocache_steps, rounds=3):
    "Median step times (s) of a task step, a cached forecast step, an uncached one, and one cache refresh."
    kw = dict(pool=pool, task_batch=task_batch)
    base = dict(lr=1e-4, lam=1.0, m=200, n=10_000, k=10, partitions_per_step=4, deploy_top=2, checkpoint_every=10**6)
    task_t, cached_t = [], []
    for _ in range(rounds): # interleaved rounds, so drifts in machine speed hit both alike
        h_task, _ = step_times({**base, "objective": "task"}, steps, **kw)
        # refresh only at step 0, so the later steps measure the per-step cost of the cached path
        h_cache, model = step_times({**base, "cache_refresh_every": 10**6}, steps, **kw)
        task_t += h_task.time_s.iloc[2:].tolist(); cached_t += h_cache.time_s.iloc[2:].tolist()
    h_full, _ = step_times({**base, "use_cache": False}, nocache_steps, **kw)
    refresh = []
    for _ in range(3):
        t0 = time.perf_counter(); score_pool(model, chunk_size=16_384); refresh.append(time.perf_counter() - t0)
    stale = h_cache.iloc[1:]
    return dict(task_batch=task_batch, task_ms=1e3*np.median(task_t),
                cached_ms=1e3*np.median(cached_t), nocache_ms=1e3*h_full.time_s.iloc[1:].median(),
                refresh_ms=1e3*float(np.median(refresh)), staleness_mean=stale.staleness_mean.mean(),
                staleness_max=stale.staleness_max.max(), steps_since_refresh=len(stale))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--task-batch", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--nocache-steps", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    df = pd.DataFrame([measure(args.pool, b, args.steps, args.nocache_steps, args.rounds) for b in args.task_batch])
    df["cached_x_task"] = df.cached_ms/df.task_ms
    df["overhead_ms"] = df.cached_ms - df.task_ms
    df["nocache_over_cached"] = df.nocache_ms/df.cached_ms
    for every in (50, 200, 1000): df[f"cached_refresh{every}_x_task"] = (df.cached_ms + df.refresh_ms/every)/df.task_ms
    # refresh interval at which the amortised cached step reaches 1.5 task steps (inf if never)
    slack = 1.5*df.task_ms - df.cached_ms
    df["refresh_every_for_1.5x"] = np.where(slack > 0, np.ceil(df.refresh_ms/slack.clip(lower=1e-12)), np.inf)
    df["pool"], df["threads"] = args.pool, args.threads
    save_table(df, "bench_finetune_step")
    print(f"pool {args.pool:,} inputs; MLP 32-256-256 adapter; {args.threads} thread(s); m=200, n=10,000, k=10, 4 partitions/step, "
          f"deploy_top=2 (<= 48 inputs rescored with gradient per step)\n")
    cols = ["task_batch", "task_ms", "cached_ms", "overhead_ms", "nocache_ms", "refresh_ms", "cached_x_task", "nocache_over_cached",
            "cached_refresh50_x_task", "cached_refresh200_x_task", "cached_refresh1000_x_task", "refresh_every_for_1.5x"]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print("\ncached_x_task: cached forecast step (no refresh that step) / plain task step; nocache_over_cached: fresh scores of"
          " the whole pool every step / cached step; cached_refreshR_x_task: amortised with a full no-grad refresh every R steps.")
    print(f"staleness of the selected items over {int(df.steps_since_refresh[0])} steps without refresh (lr 1e-4): "
          + "; ".join(f"batch {b}: mean {m:.1e}, max {x:.1e}" for b, m, x in zip(df.task_batch, df.staleness_mean, df.staleness_max)))


if __name__ == "__main__": main()
