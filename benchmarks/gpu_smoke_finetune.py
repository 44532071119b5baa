"""GPU smoke check of the fine-tuning engine: an adapter whose scores live on CUDA, with and without the cache.

Not part of the CPU test suite (it needs a GPU); run it where one is lent: `python benchmarks/gpu_smoke_finetune.py`.
Prints one line per configuration and exits non-zero on any failure.
"""
import sys
import torch
from predfail.finetune import FailureModel, FinetuneConfig, finetune

class CudaToy(FailureModel):
    "Learnable per-input log-odds on the GPU; task loss keeps them near their start."
    def __init__(self, n=5000, device="cuda"):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.start = (torch.randn(n, generator=g) - 6).to(device)
        self.logit = torch.nn.Parameter(self.start.clone())
    def pool_size(self, split="train"): return self.logit.numel()
    def failure_logp(self, idx, split="train"): return torch.nn.functional.logsigmoid(self.logit[idx.to(self.logit.device)])
    def task_loss(self, generator): return ((self.logit - self.start)**2).mean()

if not torch.cuda.is_available(): sys.exit("no CUDA device: nothing to check")
ok = True
for use_cache in (True, False):
    for target in ("max", "smoothmax"):
        model = CudaToy()
        cfg = FinetuneConfig(objective="forecast", steps=20, lr=0.05, m=100, n=2000, k=10, use_cache=use_cache,
                             target=target, cache_refresh_every=5, checkpoint_every=10)
        try:
            hist = finetune(model, cfg, progress=False)
            print(f"cache={use_cache} target={target}: ok, final forecast |error| {hist.forecast_abs_error_mean.iloc[-1]:.3f}")
        except Exception as e:
            ok = False
            print(f"cache={use_cache} target={target}: FAILED {type(e).__name__}: {e}")
sys.exit(0 if ok else 1)
