"The scoring path that computes only what the completion needs (shared prefix cache, reply-only logits) against the plain path."
import numpy as np
import pytest
import torch

from predfail.lm import (add_lora, assert_logp_close, completion_logp, encode_completions, encode_pairs, encode_prompts,
                         failure_logp, length_sorted_logp, logp_from_batch, logp_rounding_bound, pad_prompt_reply,
                         shared_prefix_length, stepwise_logp)
from test_lm import PROMPTS, PWS, REQS, chat, gpt2, llama, tok  # noqa: F401 (tok is a fixture)

torch.set_num_threads(1)


def pool(n, seed=0):
    "Chat prompts that share a system prompt in part (the template and 'password is'), with completions of 1 to 3 words."
    r = np.random.default_rng(seed)
    words = ["amber", "oak", "cedar", "river", "lotus", "maple", "quartz", "raven", "iris", "jade"]
    prompts = [chat(" ".join(r.choice(words, 2)), REQS[r.integers(len(REQS))]) for _ in range(n)]
    return prompts, [" ".join(r.choice(words, r.integers(1, 4))) for _ in range(n)]


@pytest.mark.parametrize("make", [llama, gpt2])
@pytest.mark.parametrize("end", [False, True])
def test_fast_path_equals_plain_path_and_stepwise(tok, make, end):
    m = make(tok)
    prompts, comps = pool(40)
    fast = failure_logp(m, tok, prompts, comps, end=end, batch_size=7)
    plain = failure_logp(m, tok, prompts, comps, end=end, batch_size=7, fast=False)
    pids, rids = encode_prompts(tok, prompts), encode_completions(tok, comps, end=end)
    bound = logp_rounding_bound(m, pad_prompt_reply(pids, rids, tok.pad_token_id))
    assert_logp_close(fast, plain, bound)
    assert_logp_close(fast[:8], [stepwise_logp(m, p, r) for p, r in zip(pids[:8], rids[:8])], bound[:8])
    assert not np.array_equal(fast, fast + 1e-3)   # a real error (order 1e-3 and more) would not pass the bound
    assert bound.max() < 1e-2


@pytest.mark.parametrize("make", [llama, gpt2])
def test_every_variant_and_a_shifted_target_fails(tok, make):
    m = make(tok)
    prompts, comps = pool(12, seed=3)
    enc = encode_pairs(tok, prompts, comps)
    bound = logp_rounding_bound(m, enc)
    with torch.no_grad():
        ref = logp_from_batch(m, enc)
        for share in (True, False):
            for head in ("keep", "slice"):
                assert_logp_close(completion_logp(m, enc, share_prefix=share, head=head), ref, bound)
        # the check has power: the same rows with the completion shifted by one token give other numbers
        shifted = {**enc, "target_mask": torch.roll(enc["target_mask"], 1, 1)}
        with pytest.raises(AssertionError): assert_logp_close(logp_from_batch(m, shifted), ref, bound)


def test_shared_prefix_is_used_and_capped(tok):
    prompts, comps = pool(10)
    enc = encode_pairs(tok, prompts, comps)
    n, r = enc["attention_mask"].sum(1), enc["target_mask"].sum(1)
    P = shared_prefix_length(enc["input_ids"], int((n - r).min()) - 1)
    ids = enc["input_ids"]
    assert P >= 3 and (ids[:, :P] == ids[:1, :P]).all() and not (ids[:, P] == ids[0, P]).all()
    same = encode_pairs(tok, [prompts[0]] * 3, comps[:3])   # identical prompts: the prefix stops one token short
    n3, r3 = same["attention_mask"].sum(1), same["target_mask"].sum(1)
    assert shared_prefix_length(same["input_ids"], int((n3 - r3).min()) - 1) == int((n3 - r3).min()) - 1
    with torch.no_grad():
        m = llama(tok)
        assert_logp_close(completion_logp(m, same), logp_from_batch(m, same), logp_rounding_bound(m, same))


def test_gradients_through_the_fast_path_equal_the_plain_path(tok):
    # a LoRA adapter moved off zero, so the gradient flows through the shared prefix's keys and values too
    prompts, comps = pool(9, seed=5)
    enc = encode_pairs(tok, prompts, comps)
    lm = add_lora(llama(tok))
    with torch.no_grad():
        for n_, p in lm.named_parameters():
            if "lora_B" in n_: p.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
    grads = []
    for fast in (True, False):
        lm.zero_grad()
        length_sorted_logp(lm, enc, torch.arange(9), 4, fast=fast).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in lm.parameters() if p.requires_grad]))
    assert grads[0].abs().max() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


def test_not_prompt_reply_rows_use_the_plain_path(tok):
    # rows whose targets are not one block at the end (any other layout) are scored by the plain pass, not refused
    m = llama(tok)
    enc = encode_pairs(tok, PROMPTS, PWS)
    tm = enc["target_mask"].clone()
    tm[torch.arange(len(tm)), enc["attention_mask"].sum(1) - 2] = False   # the reply's last target left out
    odd = {**enc, "target_mask": tm}
    with torch.no_grad():
        assert torch.equal(length_sorted_logp(m, odd, torch.arange(len(PWS)), 3), length_sorted_logp(m, odd, torch.arange(len(PWS)), 3, fast=False))
    with pytest.raises(ValueError, match="right-padded prompt"): completion_logp(m, odd)
