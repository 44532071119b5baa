"""Tests of the `predfail` command line: in-process through `main(argv)`, plus the installed console script and
`python -m predfail.cli` once each."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from predfail.cli import main
from predfail.forecast import fit_gumbel_tail, fit_lognormal

DATA = Path(__file__).parent/"data"


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _scores_of_example():
    p = np.array([float(line.split(",")[1]) for line in (DATA/"eval_p.csv").read_text().splitlines()[1:]])
    with np.errstate(divide="ignore"): return -np.log(-np.log(p))


def test_table_output(capsys):
    status, out, err = run(capsys, "forecast", DATA/"eval_p.csv", "--n", "1e4", "100000")
    assert status == 0 and err == ""
    fit = fit_gumbel_tail(_scores_of_example())
    for text in ["m = 1000", "4 with p = 0", "k = 10", f"a = {fit.a:.4g}", f"R² = {fit.r2:.4f}", "100,000", "log10 p"]:
        assert text in out, text
    assert f"{fit.forecast_score(1e5):.4f}" in out


def test_json_output_matches_library(capsys):
    status, out, err = run(capsys, "forecast", DATA/"eval_p.csv", "--n", "1e4", "1e6", "--json", "--k", "12", "--positions", "hazen")
    assert status == 0
    doc = json.loads(out)
    s = _scores_of_example()
    fit = fit_gumbel_tail(s, k=12, positions="hazen")
    assert (doc["k"], doc["m"], doc["n_excluded"], doc["positions"], doc["method"]) == (12, 1000, 4, "hazen", "jones")
    np.testing.assert_allclose([doc["a"], doc["b"], doc["r2"]], [fit.a, fit.b, fit.r2], rtol=1e-12)
    np.testing.assert_allclose([f["score"] for f in doc["forecasts"]], fit.forecast_score([1e4, 1e6]), rtol=1e-12)
    np.testing.assert_allclose([f["log10p"] for f in doc["forecasts"]], fit.forecast_log10p([1e4, 1e6]), rtol=1e-12)
    np.testing.assert_allclose([f["p"] for f in doc["forecasts"]], fit.forecast_p([1e4, 1e6]), rtol=1e-12)
    np.testing.assert_allclose([f["lognormal_score"] for f in doc["forecasts"]], fit_lognormal(s).forecast_score([1e4, 1e6]), rtol=1e-12)
    assert doc["empirical_max"]["score"] == s.max()
    assert [f["n"] for f in doc["forecasts"]] == [10_000, 1_000_000]


def test_counts_jsonl_and_plot(capsys, tmp_path):
    plot = tmp_path/"tail.png"
    status, out, _ = run(capsys, "forecast", DATA/"eval_counts.jsonl", "--n", "1e5", "--json", "--plot", plot)
    doc = json.loads(out)
    assert status == 0 and doc["kind"] == "counts" and doc["m"] == 500 and doc["plot"] == str(plot)
    recs = [json.loads(line) for line in (DATA/"eval_counts.jsonl").read_text().splitlines()]
    assert doc["n_excluded"] == sum(r["failures"] == 0 for r in recs)
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_column_and_kind_options(capsys, tmp_path):
    s = _scores_of_example()[4:]
    f = tmp_path/"two.csv"
    f.write_text("id,x,y\n" + "".join(f"{i},{float(-np.exp(-v))!r},{float(v)!r}\n" for i, v in enumerate(s.tolist())))
    _, out_x, _ = run(capsys, "forecast", f, "--n", "1e5", "--json", "--column", "x", "--kind", "logp")
    _, out_y, _ = run(capsys, "forecast", f, "--n", "1e5", "--json", "--column", "y", "--kind", "score")
    np.testing.assert_allclose(json.loads(out_x)["forecasts"][0]["score"], json.loads(out_y)["forecasts"][0]["score"], rtol=1e-9)


BAD = [
    ("missing", None, "file not found"),
    ("empty.csv", "", "is empty"),
    ("blank.csv", "\n\n  \n", "is empty"),
    ("header.csv", "p\n", "no data rows"),
    ("ragged.csv", "p\n0.1\n0.2,0.3\n", "line 3: 2 field(s) but the header has 1"),
    ("quote.csv", 'p\n"0.1\n', "line 2: malformed CSV (unexpected end of data)"),
    ("quote2.csv", 'p\n0.1\n"0.2"x\n', "line 3: malformed CSV"),
    ("bad.jsonl", '{"p": 0.1}\n{"p": 0.2\n', "line 2: not valid JSON"),
    ("list.jsonl", '{"p": 0.1}\n3\n', "line 2: expected a JSON object"),
    ("null.jsonl", '{"p": 0.1}\n{"p": null}\n', "line 2: column 'p' holds null"),
    ("word.csv", "p\n0.1\nhigh\n", "line 3: column 'p' holds 'high', not a number"),
    ("nan.csv", "p\n0.1\nNaN\n", "line 3: column 'p' is NaN"),
    ("range.csv", "p\n0.1\n1.2\n", "line 3: probabilities must lie in [0, 1]"),
    ("posinf.csv", "score\n0.1\ninf\n", "line 3: scores contain 1 value(s) of +inf"),
    ("certain.csv", "p\n0.1\n1.0\n0.3\n", "line 3: failure probability 1 (ψ = +inf) in 1 row(s)"),
    ("few.csv", "p\n0.1\n0.2\n0.3\n", "need at least k = 10 usable scores, got 3"),
    ("zeros.csv", "p\n" + "0\n"*30 + "0.2\n"*5, "need at least k = 10 usable scores, got 5 (30 of 35 are -inf"),
    ("tied.csv", "p\n" + "0.5\n"*12 + "0.1\n"*100, "all tied"),
    ("counts.csv", "failures,trials\n1,10\n11,10\n", "line 3: failures must lie between 0 and trials"),
    ("nocounts.csv", "failures,n\n1,10\n", "several numeric columns (failures, n)"),
    ("which.csv", "id,prob\na,0.1\n", "cannot tell whether column 'prob' holds p, logp or scores; pass --kind"),
    ("several.csv", "x,y\n0.1,0.2\n", "several numeric columns (x, y)"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[0] for b in BAD])
def test_bad_files(capsys, tmp_path, name, text, message):
    path = tmp_path/name
    if text is not None: path.write_text(text)
    status, out, err = run(capsys, "forecast", path, "--n", "1e5")
    assert status == 2 and out == ""
    assert err.startswith("predfail: error:") and message in err and "Traceback" not in err, err


GOOD = "p\n" + "".join(f"{x}\n" for x in np.linspace(0.001, 0.9, 300))


@pytest.mark.parametrize("extra,message", [
    (["--column", "prob"], "no column 'prob'; available columns: p"),
    (["--k", "1"], "--k must be at least 2"),
    (["--n", "300"], "every --n must exceed the evaluation size m = 300; got 300"),
    (["--n", "nan"], "--n must be finite"),
    (["--method", "oracle"], "unknown method 'oracle'"),
    (["--kind", "counts"], "no column 'failures' for --kind counts; available columns: p"),
])
def test_bad_options(capsys, tmp_path, extra, message):
    path = tmp_path/"good.csv"
    path.write_text(GOOD)
    argv = ["forecast", path, *(["--n", "1e5"] if "--n" not in extra else []), *extra]
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == "" and message in err, err


def test_usage_errors_exit_2(capsys):
    assert run(capsys, "forecast", DATA/"eval_p.csv")[0] == 2         # --n missing
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "forecast", DATA/"eval_p.csv", "--n", "1e5", "--kind", "odds")[0] == 2


def test_console_script_and_module():
    exe = Path(sys.executable).parent/"predfail"
    exe = str(exe) if exe.exists() else shutil.which("predfail")
    assert exe, "the predfail console script is not installed (pip install -e .)"
    r = subprocess.run([exe, "forecast", str(DATA/"eval_p.csv"), "--n", "1e5", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["m"] == 1000
    r = subprocess.run([sys.executable, "-m", "predfail.cli", "forecast", str(DATA/"nope.csv"), "--n", "1e5"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == "" and "file not found" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("method, positions", [("jones", "rank"), ("reverse", "expected"), ("mle", "rank")])
def test_every_method_gives_valid_json_matching_the_library(method, positions, capsys):
    import json as _json
    from predfail.cli import main as _main
    from predfail.forecast import fit_gumbel_tail
    from predfail.scores import scores_from_p
    import pandas as _pd
    path = Path(__file__).parent/"data"/"eval_p.csv"
    assert _main(["forecast", str(path), "--kind", "p", "--n", "1e4", "1e5", "--method", method,
                  "--positions", positions, "--json"]) == 0
    out = _json.loads(capsys.readouterr().out)
    fit = fit_gumbel_tail(scores_from_p(_pd.read_csv(path)["p"].to_numpy()), k=10, positions=positions, method=method)
    assert out["method"] == method and abs(out["a"] - fit.a) < 1e-12
    assert abs(out["forecasts"][1]["score"] - fit.forecast_score(1e5)) < 1e-9
    assert (out["r2"] is None) == (method == "mle")


# ---- predfail score (a tiny GPT-2 saved to a folder; nothing downloaded) ----

@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    from predfail.envs.password import build_tokenizer
    path = tmp_path_factory.mktemp("tiny-lm")
    tok = build_tokenizer(n_corpus=200)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=1, n_head=2)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_score_writes_logp_that_forecast_reads(capsys, tmp_path, tiny_lm_dir):
    from predfail.envs.password import failure_pool
    from predfail.lm import failure_logp, load_causal_lm
    dialogs = failure_pool(30, seed=3)
    prompts = tmp_path/"p.jsonl"
    prompts.write_text("".join(json.dumps({"text": d.prompt, "pw": d.password_text}) + "\n" for d in dialogs))
    out = tmp_path/"scores.csv"
    status, stdout, err = run(capsys, "score", "--model", tiny_lm_dir, "--prompts", prompts, "--prompt-column", "text",
                              "--completion-column", "pw", "--out", out, "--batch-size", "8")
    assert status == 0 and "scored 30 prompts" in stdout, err
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
    ('{"text": "hi"}\n', ["--completion", "x"], "no column 'prompt'; available columns: text"),
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
    status, out, err = run(capsys, "score", "--model", tmp_path, "--gguf-file", "m.gguf", "--prompts", path, "--completion", "x", "--out", tmp_path/"s.csv")
    assert status == 2 and "GGUF file 'm.gguf' not found" in err
