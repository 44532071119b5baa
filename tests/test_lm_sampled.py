"`predfail score --judge`: sampled replies counted by a judge, written as counts that `predfail forecast` reads."
import json

import numpy as np
import pandas as pd
import pytest

from predfail.cli import main


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    from predfail.password_lm import build_tokenizer
    path = tmp_path_factory.mktemp("tiny-lm")
    tok = build_tokenizer(n_corpus=200)
    torch.manual_seed(0)   # the default initialisation is close to uniform: replies start with many different words
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture
def prompts(tmp_path):
    from predfail.envs.password import make_pool
    path = tmp_path/"p.jsonl"
    path.write_text("".join(json.dumps({"prompt": d.prompt}) + "\n" for d in make_pool(25, seed=3)))
    return path


def test_judge_writes_counts_that_forecast_reads(capsys, tmp_path, tiny_lm_dir, prompts):
    from predfail.lm import load_causal_lm
    from predfail.sampled import sampled_failure_rate
    out = tmp_path/"rates.csv"
    status, stdout, err = run(capsys, "score", "--model", tiny_lm_dir, "--prompts", prompts, "--judge", "regex:^[a-m]",
                              "--samples", "24", "--max-new-tokens", "2", "--seed", "5", "--out", out)
    assert status == 0 and stdout == "" and "sampled 24 replies for each of 25 prompts" in err, err   # the summary goes to stderr
    got = pd.read_csv(out)
    assert list(got.columns) == ["row", "failures", "trials", "rate", "lo", "hi"] and got.row.tolist() == list(range(1, 26))
    model, tok = load_causal_lm(tiny_lm_dir)   # the same computation in-process: the same counts
    ref = sampled_failure_rate(model, tok, [json.loads(l)["prompt"] for l in prompts.read_text().splitlines()], "regex:^[a-m]",
                               24, max_new_tokens=2, seed=5, batch_size=16)
    assert got.failures.tolist() == ref.failures.tolist() and (got.trials == 24).all()
    np.testing.assert_allclose(got[["rate", "lo", "hi"]].to_numpy(), ref[["rate", "lo", "hi"]].to_numpy(), rtol=1e-15)
    assert 0 < got.rate.mean() < 1 and (got.lo <= got.rate).all() and (got.rate <= got.hi).all()
    status, stdout, err = run(capsys, "forecast", out, "--n", "1e4", "--k", "5", "--json")
    report = json.loads(stdout)
    assert status == 0 and report["kind"] == "counts" and report["m"] == 25, err
    assert report["n_excluded"] == int((got.failures == 0).sum())   # zero counts: in m, out of the fit


@pytest.mark.parametrize("extra, message", [
    (["--judge", "regex:x"], "--judge needs --samples N"),
    (["--judge", "word:x", "--samples", "3"], "--judge: judge 'word:x' must read keyword:WORD or regex:PATTERN"),
    (["--judge", "regex:(", "--samples", "3"], "not a valid regular expression"),
    (["--judge", "keyword:x", "--samples", "3", "--completion", "x"], "drop --completion"),
    ([], "give --completion or --completion-column"),
])
def test_judge_bad_input(capsys, tmp_path, tiny_lm_dir, prompts, extra, message):
    status, out, err = run(capsys, "score", "--model", tiny_lm_dir, "--prompts", prompts, "--out", tmp_path/"r.csv", *extra)
    assert status == 2 and out == "" and message in err and err.count("\n") == 1, err
    assert not (tmp_path/"r.csv").exists()
