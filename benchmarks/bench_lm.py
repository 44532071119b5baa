"""Benchmark predfail.lm (not a test): prints ratios measured in one run and writes results/bench_lm.csv.

1. Scoring throughput: `failure_logp` (length-sorted batches, a shared-prefix key/value cache, logits at the
   completion's positions only, float64 sums) and its plain path (`fast=False`: every position through the whole model)
   in real tokens/s, against a plain Hugging Face forward over the same prompt + completion rows in their original
   order and padding (logits only, nothing else), as ratios; and the share of the measured float32 matmul peak that
   the FLOPs each path needs would take (`peak_share`: time of the needed FLOPs at the peak / measured time).
   Models: the password game's GPT-2 layout, tiny random Llama and GPT-2 on chat-formatted game prompts, and with
   --smollm SmolLM2-135M-Instruct on 200 chat-formatted game prompts (needs `make smollm`).
2. A fine-tuning step of the engine with the score cache (objective "forecast": task batch + the rescored top-k items
   of each partition, forward and backward) against a plain LM-loss step (forward, backward, Adam) on a batch of the
   same number of rows, as a ratio.

The fine-tuning step uses the password game's GPT-2 layout (2 layers, width 128, freshly initialised) on game prompts.

Usage: .venv/bin/python benchmarks/bench_lm.py [--pool 2000] [--threads 1] [--smollm] [--no-step]
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
from predfail.lm import (CausalLMFailureModel, encode_pairs, failure_logp, masked_nll, smollm_path, load_causal_lm,
                         length_sorted_logp, shared_prefix_length)
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
from transformers.pytorch_utils import Conv1D


def matmul_peak_gflops(n=1536, reps=6):
    "Measured float32 matmul peak (GFLOP/s): best of `reps` n x n products on this process's threads."
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    t0 = time.perf_counter(); fn(); return time.perf_counter() - t0


def body_and_head(model):
    "(parameters in the body's matmuls, vocabulary x width of the LM head)."
    head = model.get_output_embeddings().weight
    mats = [m.weight for m in model.modules() if isinstance(m, (torch.nn.Linear, Conv1D)) and m.weight is not head]
    return sum(w.numel() for w in mats), head.numel()


def needed_flops(model, enc, batch_size, fast):
    "Matmul FLOPs the path needs (body 2N per fed token, head 2Vd per kept position, attention 4·layers·width·context)."
    body, head = body_and_head(model)
    cfg = model.config
    layers, width = cfg.num_hidden_layers, cfg.hidden_size
    n = enc["attention_mask"].sum(1); r = enc["target_mask"].sum(1)
    order = torch.argsort(n, stable=True)
    total = 0.0
    for i in range(0, len(order), batch_size):
        rows = order[i:i + batch_size]
        nb, rb = n[rows].double(), r[rows].double()
        if not fast:
            total += float((2 * (body + head) * nb + 4 * layers * width * nb * (nb + 1) / 2).sum())
            continue
        P = shared_prefix_length(enc["input_ids"][rows], int((nb - rb).min()) - 1)
        fed = nb - 1 - P
        ctx = (P + fed + 1) * (P + fed) / 2 - P * (P + 1) / 2       # sum of context lengths of the fed suffix tokens
        total += 2 * (body * P + head) + float((2 * body * fed + 2 * head * rb + 4 * layers * width * ctx).sum())
    return total


def plain_forward_tokens_per_s(model, enc, batch_size):
    "Real tokens/s of a plain forward over `enc` in its original order and padding."
    t0 = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(enc["input_ids"]), batch_size):
            model(input_ids=enc["input_ids"][i:i + batch_size], attention_mask=enc["attention_mask"][i:i + batch_size])
    return int(enc["attention_mask"].sum()) / (time.perf_counter() - t0)


def scoring_rows(name, model, tok, prompts, completions, batch_size, peak, rounds=3):
    "Rows (fast path, plain path) of tokens/s on pre-tokenized rows, ratio to the plain forward (median of interleaved rounds), peak share."
    enc = encode_pairs(tok, prompts, completions, use_chat_template=False if not tok.chat_template else None)
    n_tokens = int(enc["attention_mask"].sum())
    t = {"fast": [], "plain path": [], "forward": []}
    rows = torch.arange(len(prompts))
    def score(fast, rows=rows):   # what failure_logp does after tokenizing (the plain forward gets the same ids)
        with torch.no_grad(): length_sorted_logp(model, enc, rows, batch_size, fast=fast)
    score(True, rows[:batch_size]); score(False, rows[:batch_size])   # warm-up
    for _ in range(rounds):
        for key, fast in (("fast", True), ("plain path", False)): t[key].append(_timed(lambda: score(fast)))
        t["forward"].append(n_tokens / plain_forward_tokens_per_s(model, enc, batch_size))
    sec = {k: float(np.median(v)) for k, v in t.items()}
    rows = []
    peak.append(matmul_peak_gflops())   # the peak again, beside this model's runs: the best measurement counts
    for key, fast in (("fast", True), ("plain path", False)):
        share = needed_flops(model, enc, batch_size, fast) / 1e9 / sec[key]   # GFLOP/s; divided by the best peak at the end
        rows.append(dict(what=f"scoring, {name}, failure_logp {key}", ours=n_tokens / sec[key], plain=n_tokens / sec["forward"],
                         unit="tokens/s", ratio=sec["forward"] / sec[key], peak_share=share, rows=len(prompts), tokens=n_tokens))
    return rows


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


def tiny_models(tok):
    "Tiny random Llama and GPT-2 over the game tokenizer (as on the LM page)."
    ids = dict(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, max_position_embeddings=256, initializer_range=0.2, **ids)).eval()
    gpt2 = GPT2LMHeadModel(GPT2Config(n_positions=256, n_embd=32, n_layer=2, n_head=2, initializer_range=0.2, **ids)).eval()
    return {"tiny Llama": llama, "tiny GPT-2": gpt2}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--smollm", action="store_true")
    ap.add_argument("--smollm-prompts", type=int, default=200)
    ap.add_argument("--no-step", action="store_true", help="skip the fine-tuning step ratio")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    peak = [matmul_peak_gflops()]
    tok = build_tokenizer()
    model = init_model(tok, PasswordModelConfig())
    pool = make_pool(args.pool, seed=0)
    rows = scoring_rows("game GPT-2", model, tok, [d.prompt for d in pool], [d.password_text for d in pool], args.batch_size, peak)
    chat_tok = build_tokenizer()
    chat_tok.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
                              "{% if add_generation_prompt %}assistant :{% endif %}")
    chat = make_pool(min(args.pool, 1000), seed=1)
    for name, m in tiny_models(chat_tok).items():
        rows += scoring_rows(name, m, chat_tok, [d.messages for d in chat], [d.password_text for d in chat], 64, peak)
    if not args.no_step:
        cached_ms, plain_ms, n_rows = step_ratio(model, tok, pool)
        rows.append(dict(what=f"fine-tuning step (cached forecast vs plain LM loss, {n_rows} rows)", ours=cached_ms, plain=plain_ms,
                         unit="ms/step", ratio=cached_ms / plain_ms))
    if args.smollm:
        d, f = smollm_path()
        sm, sm_tok = load_causal_lm(d, gguf_file=f)
        sp = make_pool(args.smollm_prompts, seed=500)
        rows += scoring_rows("SmolLM2-135M", sm, sm_tok, [x.messages for x in sp], [x.password_text for x in sp], 16, peak, rounds=1)
    df = pd.DataFrame(rows)
    df["peak_share"] = df["peak_share"] / max(peak)   # needed GFLOP/s over the best measured matmul peak of the run
    df["threads"], df["matmul_peak_gflops"] = args.threads, max(peak)
    print(f"float32 matmul peak on {args.threads} thread(s): {max(peak):.1f} GFLOP/s (best of {len(peak)} measurements, "
          f"lowest {min(peak):.1f}: the CPU is shared)")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print("\nscoring ratio = tokens/s relative to the plain forward in the same run (> 1 is faster); fine-tuning step ratio = time of ours / time of the plain step")
    save_table(df, "bench_lm")


if __name__ == "__main__":
    main()
