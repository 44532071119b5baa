"""Data-parallel scoring and one fine-tuning step of a tiny LoRA Llama, for tests/test_lm_distributed.py.

Run alone (one process) or under `torchrun --nproc_per_node 2` / `accelerate launch --num_processes 2 --cpu`:
    python tests/lm_distributed_script.py OUT.pt
The main process saves the pool's scores and the adapter's parameters after one engine step to OUT.pt.
"""
import sys

import torch
from accelerate import Accelerator
from transformers import LlamaConfig, LlamaForCausalLM

from predfail.envs.password import make_pool, sample_dialogs
from predfail.password_lm import build_tokenizer
from predfail.finetune import FinetuneConfig, finetune
from predfail.lm import CausalLMFailureModel, add_lora, failure_logp, world


def main(out):
    torch.set_num_threads(1)
    acc = Accelerator(cpu=True)
    tok = build_tokenizer(n_corpus=300)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                         initializer_range=0.2, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                         pad_token_id=tok.pad_token_id)).eval()
    train, held = make_pool(64, seed=1), make_pool(37, seed=2)  # 37: batches of 4 do not split evenly over 2 processes
    scores = failure_logp(model, tok, [d.prompt for d in held], [d.password_text for d in held], batch_size=4)
    lm = acc.prepare(add_lora(model, r=4))  # DDP over the processes when there are several
    auth = sample_dialogs(16, {"authorised": 1}, seed=3)
    fm = CausalLMFailureModel(lm, tok, {"train": ([d.prompt for d in train], [d.password_text for d in train]),
                                        "heldout": ([d.prompt for d in held], [d.password_text for d in held])},
                              [(d.prompt, d.password_text) for d in auth], safe_completions="access denied",
                              batch_size=8, score_batch=5)
    cfg = FinetuneConfig(safety_weight=0.5, forecast_weight=1.0, supervised_batch=8, steps=1, lr=1e-2, m=12, n=40, k=4, partitions_per_step=2, cache_refresh_every=1)
    hist = finetune(fm, cfg, progress=False)
    if acc.is_main_process:
        lora = {n: p.detach().clone() for n, p in acc.unwrap_model(lm).named_parameters() if p.requires_grad}
        torch.save({"world": world()[1], "scores": torch.from_numpy(scores), "lora": lora,
                    "forecast_loss": float(hist.forecast_loss.iloc[0])}, out)
    acc.wait_for_everyone()


if __name__ == "__main__":
    main(sys.argv[1])
