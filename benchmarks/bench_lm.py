"""Benchmark predfail.lm (not a test): prints ratios measured in one run and writes results/bench_lm.csv.

1. Scoring throughput: `failure_logp` (length-sorted batches, log-softmax of the completion tokens, float64 sums) in
   real tokens/s, against a plain Hugging Face forward over the same prompt + completion rows in their original order
   and padding (logits only, nothing else), as a ratio.
2. A fine-tuning step of the engine with the score cache (objective "forecast": task batch + the rescored top-k items
   of each partition, forward and backward) against a plain LM-loss step (forward, backward, Adam) on a batch of the
   same number of rows, as a ratio.

The model is the password game's GPT-2 layout (2 layers, width 128, freshly initialised) on game prompts; add
--smollm to also time SmolLM2-135M-Instruct scoring (needs `make smollm`).

Usage: .venv/bin/python benchmarks/bench_lm.py [--pool 2000] [--threads 1] [--smollm]
"""
import argparse
import time

import numpy as np
import pandas as pd
import torch

from predfail.core import save_table
from predfail.envs.password import make_pool, sample_dialogs
from predfail.password_lm import PasswordModelConfig, build_tokenizer, init_model
from predfail.finetune import FinetuneConfig, finetune
from predfail.lm import CausalLMFailureModel, encode_pairs, failure_logp, masked_nll, smollm_path, load_causal_lm


def plain_forward_tokens_per_s(model, enc, batch_size):
    "Real tokens/s of a plain forward over `enc` in its original order and padding."
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(enc["input_ids"]), batch_size):
            model(input_ids=enc["input_ids"][i:i + batch_size], attention_mask=enc["attention_mask"][i:i + batch_size])
    return int(enc["attention_mask"].sum()) / (time.perf_counter() - t0)


def scoring_ratio(model, tok, prompts, completions, batch_size, rounds=3):
    "Median (ours tokens/s, plain tokens/s) over interleaved rounds."
    enc = encode_pairs(tok, prompts, completions, use_chat_template=False if not tok.chat_template else None)
    n_tokens = int(enc["attention_mask"].sum())
    ours, plain = [], []
    for _ in range(rounds):
        t0 = time.perf_counter(); failure_logp(model, tok, prompts, completions, batch_size=batch_size, progress=False)
        ours.append(n_tokens / (time.perf_counter() - t0))
        plain.append(plain_forward_tokens_per_s(model, enc, batch_size))
    return float(np.median(ours)), float(np.median(plain))


def step_ratio(model, tok, pool, steps=12, rounds=3):
    "Median ms of a cached forecast step and of a plain LM-loss step on as many rows."
    train, held = pool[: len(pool) // 2], pool[len(pool) // 2:]
    auth = sample_dialogs(256, {"authorised": 1}, seed=3)
    fm = CausalLMFailureModel(model, tok, {"train": ([d.prompt for d in train], [d.password_text for d in train]),
                                           "heldout": ([d.prompt for d in held], [d.password_text for d in held])},
                              [(d.prompt, d.password_text) for d in auth], batch_size=64, score_batch=512)
    cfg = FinetuneConfig(objective="forecast", steps=steps, lr=1e-4, m=100, n=800, k=10, partitions_per_step=4, deploy_top=2,
                         cache_refresh_every=10**6, checkpoint_every=10**6)
    rows = fm.batch_size + cfg.partitions_per_step * (cfg.k + cfg.deploy_top)  # rows per cached step (an upper bound: duplicates merge)
    enc = encode_pairs(tok, [d.prompt for d in auth], [d.password_text for d in auth], end=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    cached, plain = [], []
    for r in range(rounds):
        hist = finetune(fm, cfg, progress=False)
        cached += hist.time_s.iloc[2:].tolist()  # step 0 fills the cache
        for s in range(steps):
            idx = torch.randint(len(auth), (rows,), generator=torch.Generator().manual_seed(s))
            t0 = time.perf_counter()
            opt.zero_grad(); masked_nll(model, {k: v[idx] for k, v in enc.items()}).backward(); opt.step()
            plain.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(cached)), 1e3 * float(np.median(plain)), rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--smollm", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = build_tokenizer()
    model = init_model(tok, PasswordModelConfig())
    pool = make_pool(args.pool, seed=0)
    ours, plain = scoring_ratio(model, tok, [d.prompt for d in pool], [d.password_text for d in pool], args.batch_size)
    rows = [dict(what="scoring, game GPT-2", ours=ours, plain=plain, unit="tokens/s", ratio=ours / plain)]
    cached_ms, plain_ms, n_rows = step_ratio(model, tok, pool)
    rows.append(dict(what=f"fine-tuning step (cached forecast vs plain LM loss, {n_rows} rows)", ours=cached_ms, plain=plain_ms,
                     unit="ms/step", ratio=cached_ms / plain_ms))
    if args.smollm:
        d, f = smollm_path()
        sm, sm_tok = load_causal_lm(d, gguf_file=f)
        sp = make_pool(64, seed=500)
        o, p = scoring_ratio(sm, sm_tok, [x.messages for x in sp], [x.password_text for x in sp], 16, rounds=1)
        rows.append(dict(what="scoring, SmolLM2-135M", ours=o, plain=p, unit="tokens/s", ratio=o / p))
    df = pd.DataFrame(rows)
    df["threads"] = args.threads
    print(df.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"\nscoring: {df.ratio[0]:.2f}x the plain forward's tokens/s; cached fine-tuning step: {df.ratio[1]:.2f}x a plain LM-loss step's time")
    save_table(df, "bench_lm")


if __name__ == "__main__":
    main()
