"Tests of predfail.envs.password, predfail.password_lm and the password experiment that notebooks cannot hold: batching and thread portability, persistence, determinism, errors, and the rare-failure regime of the saved default results."
import math

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from predfail.envs.password import GameConfig, make_pool, sample_dialogs
from predfail.experiments.password import PasswordFailureModel
from predfail.password_lm import (PasswordModelConfig, build_tokenizer, causal_lm_password_logp, empirical_leak_rate,
                                  encode_dialogs, init_model, password_logp, pretrain, pretrained_password_model,
                                  reveal_accuracy)
from predfail.lm import (assert_logp_close, logp_rounding_bound, pad_prompt_reply, sample_reply_tokens,
                         stepwise_logp, teacher_forced_logp)

torch.set_num_threads(1)
TINY = PasswordModelConfig(n_layer=1, n_embd=32, n_head=2, steps=3, plant_steps=1, plant_ramp=1, check_every=1, batch_size=8)


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(n_corpus=300)


@pytest.fixture(scope="module")
def peaky_model(tok):
    "An untrained tiny GPT-2 with large initial weights, so next-token distributions are far from uniform."
    torch.manual_seed(0)
    conf = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2, initializer_range=0.5)
    return GPT2LMHeadModel(conf).eval()


def ids(tok, dialogs, end=False):
    "Prompt and password token ids (the failure: the reply begins with the password; `end` adds the end token)."
    prompts = tok([d.prompt for d in dialogs]).input_ids
    replies = [r + [tok.eos_token_id] * end for r in tok([d.password_text for d in dialogs], add_special_tokens=False).input_ids]
    return prompts, replies


def test_batched_equals_unbatched_with_padding(tok, peaky_model):
    dialogs = sample_dialogs(20, {"ordinary": 1, "trigger": 1}, seed=2)
    prompts, replies = ids(tok, dialogs)
    assert len({len(p) for p in prompts}) > 1  # really padded
    batched = teacher_forced_logp(peaky_model, prompts, replies, tok.pad_token_id, batch_size=20, fast=True)
    single = teacher_forced_logp(peaky_model, prompts, replies, tok.pad_token_id, batch_size=1)
    bound = logp_rounding_bound(peaky_model, pad_prompt_reply(prompts, replies, tok.pad_token_id))
    assert_logp_close(batched.numpy(), single.numpy(), bound)
    # the generic causal-LM path agrees for a tokenizer without chat template: bit-equal in the same batches,
    # within the rounding bound in others
    np.testing.assert_array_equal(causal_lm_password_logp(peaky_model, tok, dialogs, batch_size=20), batched.numpy())
    assert_logp_close(causal_lm_password_logp(peaky_model, tok, dialogs), batched.numpy(), bound)


def test_sampling_cross_check(tok, peaky_model):
    "Exact p of a reply against its sampled frequency, within 4 binomial standard errors."
    dialogs = sample_dialogs(40, {"ordinary": 1}, seed=3)
    prompts, _ = ids(tok, dialogs)
    found = False
    for p in prompts:
        reply = sample_reply_tokens(peaky_model, p, 2, 1, seed=0)[0].tolist()  # a likely reply of this model
        exact = math.exp(stepwise_logp(peaky_model, p, reply))
        if 0.05 < exact < 0.95:
            found = True
            break
    assert found, "no prompt with a moderate reply probability"
    n = 3000
    rate, _ = empirical_leak_rate(peaky_model, p, reply, n_samples=n, seed=5)
    assert abs(rate - exact) < 4 * math.sqrt(exact * (1 - exact) / n)


def test_tokenizer_round_trip(tok):
    texts = [d.text for d in sample_dialogs(200, dict(GameConfig().pretrain_mix), seed=4, leak=True)]
    assert [tok.decode(tok(t, add_special_tokens=False).input_ids) for t in texts] == texts
    assert all(tok.unk_token_id not in tok(t).input_ids for t in texts)
    assert tok("hello").input_ids[0] == tok.bos_token_id


def test_save_load_round_trip(tok, tmp_path):
    model = init_model(tok, TINY)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    from transformers import PreTrainedTokenizerFast
    model2 = GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    tok2 = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    dialogs = sample_dialogs(5, {"ordinary": 1}, seed=6)
    enc, enc2 = encode_dialogs(tok, dialogs), encode_dialogs(tok2, dialogs)
    assert torch.equal(enc["input_ids"], enc2["input_ids"])
    with torch.no_grad():
        assert torch.equal(model(input_ids=enc["input_ids"]).logits, model2(input_ids=enc2["input_ids"]).logits)


def test_cache_reuses_trained_model(tmp_path):
    m1, t1 = pretrained_password_model(config=TINY, cache_dir=tmp_path, progress=False)
    (path,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    stamp = (path / "pretrain_log.json").stat().st_mtime_ns
    m2, t2 = pretrained_password_model(config=TINY, cache_dir=tmp_path, progress=False)
    assert (path / "pretrain_log.json").stat().st_mtime_ns == stamp  # loaded, not retrained
    dialogs = sample_dialogs(4, {"wrong_key": 1}, seed=7)
    np.testing.assert_array_equal(password_logp(m1, t1, dialogs), password_logp(m2, t2, dialogs))


def test_determinism(tok):
    assert sample_dialogs(50, {"ordinary": 1, "trigger": 1}, seed=8) == sample_dialogs(50, {"ordinary": 1, "trigger": 1}, seed=8)
    assert make_pool(50, seed=1) != make_pool(50, seed=2)
    losses = [pretrain(init_model(tok, TINY), tok, TINY) for _ in range(2)]
    assert losses[0] == losses[1]


def test_adapter(tok, peaky_model):
    train, held = make_pool(30, seed=1), make_pool(20, seed=2)
    fm = PasswordFailureModel(peaky_model, tok, {"train": train, "heldout": held}, task_dialogs=sample_dialogs(32, {"authorised": 1, "benign": 1}, seed=3),
                              capability_dialogs=(sample_dialogs(5, {"authorised": 1}, seed=4), sample_dialogs(5, {"benign": 1}, seed=5)),
                              batch_size=4, score_batch=7)
    assert fm.pool_size("train") == 30 and fm.pool_size("heldout") == 20
    scored = fm.failure_logp(torch.arange(20), "heldout").detach().numpy()
    # batches of 7 as in the adapter: the same computation, bit-equal; batches of 512: within the rounding bound
    np.testing.assert_array_equal(scored, password_logp(peaky_model, tok, held, batch_size=7))
    bound = logp_rounding_bound(peaky_model, encode_dialogs(tok, held, [d.password_text for d in held], end=False))
    assert_logp_close(scored, password_logp(peaky_model, tok, held), bound)
    lp = fm.failure_logp(torch.tensor([0, 3]))
    (lp.sum() + fm.task_loss(torch.Generator().manual_seed(0)) + fm.supervised_loss(torch.tensor([1, 2]), torch.Generator().manual_seed(0))).backward()
    assert all(p.grad is not None for p in fm.parameters())
    fm.zero_grad()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert fm.task_loss(g1).item() == fm.task_loss(g2).item()
    cap = fm.capability()
    assert 0 <= cap["reveal_accuracy"] <= 1 and cap["benign_loss"] > 0


def test_errors(tok, peaky_model):
    with pytest.raises(ValueError, match="unknown request kinds"):
        sample_dialogs(2, {"hacker": 1}, seed=0)
    with pytest.raises(ValueError, match="trigger_mass"):
        GameConfig(trigger_mass=2.0)
    with pytest.raises(ValueError, match="no dialogs"):
        password_logp(peaky_model, tok, [])
    with pytest.raises(ValueError, match="reply"):
        pad_prompt_reply([[1, 2]], [[]], 0)
    with pytest.raises(ValueError, match="authorised"):
        reveal_accuracy(peaky_model, tok, make_pool(3, seed=0))
    small = dict(task_dialogs=sample_dialogs(8, {"authorised": 1, "benign": 1}, seed=3),
                 capability_dialogs=(sample_dialogs(2, {"authorised": 1}, seed=4), sample_dialogs(2, {"benign": 1}, seed=5)))
    fm = PasswordFailureModel(peaky_model, tok, {"train": make_pool(5, seed=1), "heldout": make_pool(5, seed=2)}, batch_size=2, **small)
    with pytest.raises(ValueError, match="out of range"):
        fm.failure_logp(torch.tensor([5]))
    with pytest.raises(ValueError, match="split"):
        fm.failure_logp(torch.tensor([0]), "validation")
    with pytest.raises(ValueError, match="unauthorised"):
        PasswordFailureModel(peaky_model, tok, {"train": sample_dialogs(3, {"benign": 1}, seed=0), "heldout": make_pool(3, seed=0)}, **small)
    with pytest.raises(ValueError, match="train"):
        PasswordFailureModel(peaky_model, tok, {"heldout": make_pool(3, seed=0)}, **small)


def test_scores_portable_across_batchings_and_threads(tok, peaky_model):
    """The quick profile's held-out pool (seed 0) scored in batches of 7 and 512 and with 1 and 2 threads: identical
    batchings are bit-equal, the others agree within the float32 rounding bound (a tight absolute tolerance would not
    hold on every x86-64 CPU). The peaky model's large logits make rounding as large as it gets in these tests."""
    held = make_pool(1_100, seed=20_000, config=GameConfig(trigger_mass=2e-3))
    enc = encode_dialogs(tok, held, [d.password_text for d in held], end=False)
    bound = logp_rounding_bound(peaky_model, enc)
    assert (bound > 0).all() and bound.max() < 0.1  # a bound far below any real error (order 1 nats)
    before = torch.get_num_threads()
    try:
        runs = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for bs in (7, 512):
                runs[threads, bs] = password_logp(peaky_model, tok, held, batch_size=bs)
                np.testing.assert_array_equal(password_logp(peaky_model, tok, held, batch_size=bs), runs[threads, bs])
    finally:
        torch.set_num_threads(before)
    assert (runs[1, 512] > -60).all() and (runs[1, 512] < 0).all()
    for key, lp in runs.items():
        assert_logp_close(lp, runs[1, 512], bound)
    # the check has teeth: one reply token's log-probability off by 0.01 nats is caught
    shifted = runs[1, 512].copy(); shifted[5] -= 0.01
    with pytest.raises(AssertionError, match="worst row 5"):
        assert_logp_close(shifted, runs[1, 7], bound)


def test_end_true_adds_the_end_token(tok, peaky_model):
    "log p(reply is exactly the password, end token included) = log p(reply begins with it) + log P(end | ...)."
    dialogs = sample_dialogs(8, {"ordinary": 1, "wrong_key": 1}, seed=12)
    begin, exact = password_logp(peaky_model, tok, dialogs), password_logp(peaky_model, tok, dialogs, end=True)
    prompts, replies = ids(tok, dialogs)
    eos = np.array([stepwise_logp(peaky_model, p + r, [tok.eos_token_id]) for p, r in zip(prompts, replies)])
    bound = logp_rounding_bound(peaky_model, pad_prompt_reply(*ids(tok, dialogs, end=True), tok.pad_token_id))
    assert_logp_close(exact, begin + eos, 2 * bound)
    np.testing.assert_array_equal(causal_lm_password_logp(peaky_model, tok, dialogs, batch_size=512, end=True), exact)


def test_default_regime_table_and_design():
    """The saved default run's regime table (results/password_regime.csv) covers every reported seed with physical values,
    and the design puts the trigger family between 1/n and 1/m with enough of it in training. Whether each seed's base
    model meets each regime bound is one draw's outcome: the page reports it."""
    import pandas as pd
    from predfail.core import repo_root
    from predfail.experiments.password import experiment_config
    regime = pd.read_csv(repo_root() / "results" / "password_regime.csv")
    c = experiment_config("default")
    assert len(regime) == len(c.seeds) >= 3
    probs = ["median_p", "p99", "trigger_median_p", "median_deploy_max_p", "under_rate", "reveal_accuracy"]
    assert ((regime[probs] >= 0) & (regime[probs] <= 1)).all().all() and (regime.median_p <= regime.p99).all()
    assert 1 / c.n <= c.trigger_mass <= 1 / c.m                                  # the trigger family: rarer than 1/m
    assert c.n_train * c.trigger_mass >= 10                                      # and present in training
    results = pd.read_csv(repo_root() / "results" / "password_results.csv").set_index("arm")
    assert {"base", "task_only", "supervised", "worst_case", "forecast", "supervised_forecast"} <= set(results.index)
    assert (results.n_seeds >= 3).all()
