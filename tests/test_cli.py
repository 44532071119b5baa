"""Tests of the `predfail` command line that notebooks cannot hold (the in-process forecast checks live in
nbs/04_cli.ipynb): the installed console script, `python -m predfail.cli`, every new option end to end, a closed
pipe, and `predfail score` on a tiny language model saved to a folder."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from predfail.cli import main

DATA = Path(__file__).parent/"data"


def run(capsys, *argv):
    "Run the CLI in this process; (exit status, stdout, stderr)."
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _exe():
    exe = Path(sys.executable).parent/"predfail"
    exe = str(exe) if exe.exists() else shutil.which("predfail")
    assert exe, "the predfail console script is not installed (pip install -e .)"
    return exe


def test_console_script_and_module():
    r = subprocess.run([_exe(), "forecast", str(DATA/"eval_p.csv"), "--n", "1e5", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["m"] == 1000
    r = subprocess.run([sys.executable, "-m", "predfail.cli", "forecast", str(DATA/"nope.csv"), "--n", "1e5"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == "" and "file not found" in r.stderr and "Traceback" not in r.stderr


def test_interval_tau_and_diagnostics_end_to_end(tmp_path):
    diag = tmp_path/"diag.png"
    r = subprocess.run([_exe(), "forecast", str(DATA/"eval_p.csv"), "--n", "1e4", "1e5", "--interval", "0.9", "--tau", "0.5", "0.99",
                        "--diagnostics", str(diag), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    for row in doc["forecasts"]:
        assert row["interval_lower_score"] < row["interval_upper_score"]
        assert row["interval_lower_log10p"] <= row["interval_upper_log10p"] <= 0
        assert 0 <= row["aggregate_risk"] <= 1
    freq = [t["frequency"] for t in doc["thresholds"]]
    assert freq[0] >= freq[1] >= 0                                  # fewer queries exceed the higher threshold
    assert doc["diagnostics"] == str(diag) and diag.read_bytes()[:4] == b"\x89PNG"
    r = subprocess.run([_exe(), "forecast", str(DATA/"eval_p.csv"), "--n", "1e5", "--interval", "1.5"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--interval must lie in (0, 1)" in r.stderr and "Traceback" not in r.stderr


def test_closed_pipe_exits_quietly():
    "`predfail forecast ... --json | head`: the reader goes away before the output is written; no traceback."
    for extra in (["--json"], []):
        p = subprocess.Popen([_exe(), "forecast", str(DATA/"eval_p.csv"), "--n", *[f"{x:g}" for x in np.logspace(4, 9, 400)], *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.close()                                           # like `head` exiting before the tool writes
        err = p.stderr.read().decode()
        assert p.wait(timeout=120) == 0
        assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


# ---- predfail score (a tiny GPT-2 saved to a folder; nothing downloaded) ----

@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    from predfail.password_lm import build_tokenizer
    path = tmp_path_factory.mktemp("tiny-lm")
    tok = build_tokenizer(n_corpus=200)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_score_writes_logp_that_forecast_reads(capsys, tmp_path, tiny_lm_dir):
    from predfail.envs.password import make_pool
    from predfail.lm import failure_logp, load_causal_lm
    dialogs = make_pool(30, seed=3)
    prompts = tmp_path/"p.jsonl"
    prompts.write_text("".join(json.dumps({"text": d.prompt, "pw": d.password_text}) + "\n" for d in dialogs))
    out = tmp_path/"scores.csv"
    status, stdout, err = run(capsys, "score", "--model", tiny_lm_dir, "--prompts", prompts, "--prompt-column", "text",
                              "--completion-column", "pw", "--out", out, "--batch-size", "8")
    assert status == 0 and "scored 30 prompts" in err and stdout == "", err
    lines = out.read_text().splitlines()
    assert lines[0] == "row,logp" and len(lines) == 31
    model, tok = load_causal_lm(tiny_lm_dir)
    expected = failure_logp(model, tok, [d.prompt for d in dialogs], [d.password_text for d in dialogs], batch_size=8)
    np.testing.assert_array_equal([float(l.split(",")[1]) for l in lines[1:]], expected)  # the same computation
    status, stdout, err = run(capsys, "forecast", out, "--n", "1e4", "--kind", "logp", "--json")
    assert status == 0 and json.loads(stdout)["m"] == 30, err
    # one completion for all prompts, exact-reply mode
    status, _, err = run(capsys, "score", "--model", tiny_lm_dir, "--prompts", prompts, "--prompt-column", "text",
                         "--completion", "amber oak", "--end", "--out", tmp_path/"s2.csv")
    assert status == 0, err


@pytest.mark.parametrize("text, extra, message", [
    ("", ["--completion", "x"], "is empty"),
    ('{"prompt": "hi"}\n{"prompt": \n', ["--completion", "x"], "line 2: not valid JSON"),
    ('{"text": "hi"}\n', ["--completion", "x"], "no column 'prompt' (--prompt-column); available columns: text"),
    ('{"prompt": "hi"}\n', ["--completion", ""], "--completion is empty"),
    ('{"prompt": "hi", "c": " "}\n', ["--completion-column", "c"], "line 1: the completion is empty"),
    ('{"prompt": "hi"}\n', ["--completion-column", "c"], "no column 'c'"),
    ('{"prompt": 3}\n', ["--completion", "x"], "line 1: the prompt must be non-empty"),
])
def test_score_bad_input(capsys, tmp_path, tiny_lm_dir, text, extra, message):
    path = tmp_path/"p.jsonl"
    path.write_text(text)
    status, out, err = run(capsys, "score", "--model", tiny_lm_dir, "--prompts", path, "--out", tmp_path/"s.csv", *extra)
    assert status == 2 and out == "" and message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_score_model_cannot_be_loaded(capsys, tmp_path):
    path = tmp_path/"p.jsonl"
    path.write_text('{"prompt": "hi"}\n')
    status, out, err = run(capsys, "score", "--model", tmp_path/"no-model", "--prompts", path, "--completion", "x", "--out", tmp_path/"s.csv")
    assert status == 2 and "model not found" in err and err.count("\n") == 1
    (tmp_path/"model").mkdir()   # a folder without the GGUF file (the output may not lie inside the model folder)
    status, out, err = run(capsys, "score", "--model", tmp_path/"model", "--gguf-file", "m.gguf", "--prompts", path, "--completion", "x",
                           "--out", tmp_path/"s.csv")
    assert status == 2 and "GGUF file 'm.gguf' not found" in err
