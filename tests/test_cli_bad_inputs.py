"""Hidden-input suite of the `predfail` command line: every bad input exits 2 with one line naming the problem and
leaves no output file; outputs are written whole (a full disk, Ctrl-C, a closed pipe); `score --out - | forecast -`."""
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from predfail.cli import main

ROOT = Path(__file__).resolve().parents[1]

DATA = Path(__file__).parent/"data"
P = [float(x) for x in np.random.default_rng(0).beta(0.5, 20, 200)]
GOOD = "p\n" + "".join(f"{x!r}\n" for x in P)


class _CurrentStderr:
    "Writes to whatever sys.stderr is at the time (each test's own capture)."
    def write(self, text): return sys.stderr.write(text)
    def flush(self): sys.stderr.flush()


@pytest.fixture(autouse=True)
def _library_log_handlers_follow_stderr():
    "In-process runs only: a library logger created under an earlier test's captured stderr keeps that (closed) stream."
    import logging
    for name in ("transformers", "accelerate", "peft"):
        for h in logging.getLogger(name).handlers:
            if type(h) is logging.StreamHandler: h.stream = _CurrentStderr()
    yield


def _exe():
    exe = Path(sys.executable).parent/"predfail"
    assert exe.exists(), "the predfail console script is not installed"
    return str(exe)


def _check_error(status, out, err, message):
    lines = err.splitlines()
    assert status == 2, (status, err)
    assert out == "", out
    assert len(lines) == 1 and lines[0].startswith("predfail: error:"), err
    assert message in lines[0], (message, lines[0])
    assert "Traceback" not in err and "Warning" not in err and "np.float64" not in err


# (case, file name, file content (str or bytes), extra arguments, expected part of the message)
FORECAST_CASES = [
    ("missing file", None, None, [], "file not found"),
    ("folder as file", "dir", "DIR", [], "is a directory, not a file"),
    ("empty file", "e.csv", "", [], "is empty"),
    ("blank lines only", "b.csv", "\n \n", [], "is empty"),
    ("header only", "h.csv", "p\n", [], "has a header (p) but no data rows"),
    ("ragged row", "r.csv", "p\n0.1\n0.2,0.3\n", [], "line 3: 2 field(s) but the header has 1"),
    ("JSON array", "a.json", "[" + ",".join(json.dumps({"p": x}) for x in P * 50) + "]", [], "holds a JSON array"),
    ("JSON array, .jsonl", "a.jsonl", '[{"p": 0.1}]\n', [], "holds a JSON array"),
    ("bad JSON line", "j.jsonl", '{"p": 0.1}\n{"p": \n', [], "line 2: not valid JSON"),
    ("JSON line not an object", "o.jsonl", '{"p": 0.1}\n[1]\n', [], "line 2: expected a JSON object, got list"),
    ("not UTF-8", "l.csv", b"p\n0.1\n0.2\xe9\n", [], "line 3: not UTF-8 text (byte 0xe9)"),
    ("UTF-16", "u.csv", "p\n0.1\n".encode("utf-16"), [], "is UTF-16 text"),
    ("binary file", "bin.csv", b"\x00\x01\x02p", [], "is not a text file"),
    ("word among numbers", "w.csv", "p\n0.1\nhigh\n", [], "line 3: column 'p' holds 'high', not a number"),
    ("long word is cut", "lw.csv", "p\n0.1\n" + "x" * 100_000 + "\n", [], "... (100,000 characters)', not a number"),
    ("NaN", "nan.csv", "p\n0.1\nnan\n", [], "line 3: column 'p' is NaN"),
    ("JSON null", "null.jsonl", '{"p": 0.1}\n{"p": null}\n', [], "line 2: column 'p' holds null"),
    ("p above 1", "p1.csv", "p\n0.1\n1.5\n", [], "line 3: probabilities must lie in [0, 1]"),
    ("negative p", "pn.csv", "p\n0.1\n-0.2\n", [], "line 3: probabilities must lie in [0, 1]"),
    ("positive logp", "lp.csv", "logp\n-1\n0.5\n", [], "log-probabilities must be <= 0"),
    ("certain failure", "c.csv", "p\n0.1\n0.2\n1\n", [], "line 4: failure probability 1"),
    ("scores near 1e200", "big.csv", "score\n" + "".join(f"{x * 1e200!r}\n" for x in P), [], "line 2: score 1.888e+198 is outside ±1000"),
    ("score +inf", "inf.csv", "score\n0.1\ninf\n", [], "line 3: scores contain 1 value(s) of +inf"),
    ("header mixes names and numbers", "mix.csv", "id,0.5\na,0.1\n", [], "line 1: the first row mixes names and numbers"),
    ("header-less without --kind", "nh.csv", "".join(f"{x!r}\n" for x in P), [], "no header: line 1 is read as a value"),
    ("header-less after blank lines", "nhb.csv", "\n\n" + "".join(f"{x!r}\n" for x in P), [], "no header: line 3 is read as a value"),
    ("header-less ragged after blank lines", "nhr.csv", "\n0.1\n0.2,0.3\n", ["--kind", "p"], "line 3: 2 field(s) but line 2 has 1"),
    ("header-less, --column by name", "nh2.csv", "".join(f"{x!r}\n" for x in P), ["--column", "p"], "no column 'p'; available columns: 1 (the file has no header"),
    ("repeated header", "rep.csv", "p,p\n0.1,0.2\n", [], "repeated column names"),
    ("unknown column", "g.csv", GOOD, ["--column", "prob"], "no column 'prob'; available columns: p"),
    ("ambiguous kind", "k.csv", "id,prob\na,0.1\n", [], "cannot tell whether column 'prob'"),
    ("several numeric columns", "s.csv", "x,y\n0.1,0.2\n", [], "several numeric columns (x, y)"),
    ("counts failures > trials", "ct.csv", "failures,trials\n1,10\n12,10\n", [], "failures must lie between 0 and trials"),
    ("too few scores", "few.csv", "p\n0.1\n0.2\n0.3\n", [], "{file}: --k 10 needs at least 10 usable scores, got 3"),
    ("k above m", "g.csv", GOOD, ["--k", "1e6"], "{file}: --k 1,000,000 needs at least 1,000,000 usable scores, got 200 (0 of 200"),
    ("every p is 0", "z.csv", "p\n" + "0\n" * 100, [], "{file}: --k 10 needs at least 10 usable scores, got 0 (100 of 100 are -inf"),
    ("top k tied", "t.csv", "p\n" + "0.5\n" * 20 + "0.1\n" * 200, [], "{file}: the top --k 10 scores are all tied at"),
    ("n not above m", "g.csv", GOOD, ["--n", "100"], "must exceed the evaluation size m = 200; got 100"),
    ("n infinite", "g.csv", GOOD, ["--n", "inf"], "--n must be finite and at least 1, got inf"),
    ("n not a number", "g.csv", GOOD, ["--n", "lots"], "argument --n: invalid float value: 'lots'"),
    ("k = 1", "g.csv", GOOD, ["--k", "1"], "argument --k: must be at least 2, got 1"),
    ("k fractional", "g.csv", GOOD, ["--k", "2.5"], "argument --k: must be a whole number, got 2.5"),
    ("interval 1.5", "g.csv", GOOD, ["--interval", "1.5"], "--interval must lie in (0, 1), e.g. 0.9; got 1.5"),
    ("bootstrap 1e8", "g.csv", GOOD, ["--interval", "0.9", "--bootstrap-samples", "1e8"],
     "argument --bootstrap-samples: must be between 1 and 100,000, got 100,000,000"),
    ("bootstrap too few", "g.csv", GOOD, ["--interval", "0.9", "--bootstrap-samples", "20"],
     "--bootstrap-samples 20 is too few for a 0.9 interval: it needs at least 100 simulations"),
    ("bootstrap 1, bootstrap method", "g.csv", GOOD, ["--interval", "0.95", "--interval-method", "bootstrap", "--bootstrap-samples", "1"],
     "--bootstrap-samples 1 is too few for a 0.95 interval: it needs at least 200 resamples"),
    ("interval out of reach", "g.csv", GOOD, ["--interval", "0.99999"],
     "--interval 0.99999 cannot be reached within the --bootstrap-samples maximum of 100,000: it needs 1,000,000 simulations "
     "(100, and 5 beyond each end); the highest reachable level is 0.9999"),
    ("seed -1", "g.csv", GOOD, ["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    ("tau 1", "g.csv", GOOD, ["--tau", "1"], "--tau must lie in (0, 1); got 1"),
    ("unknown kind", "g.csv", GOOD, ["--kind", "odds"], "argument --kind: invalid choice: 'odds'"),
    ("unknown method", "g.csv", GOOD, ["--method", "oracle"], "unknown method 'oracle'"),
    ("plot over the input", "g.csv", GOOD, ["--plot", "{file}"], "is the input file: writing it would destroy the input"),
    ("plot in a missing folder", "g.csv", GOOD, ["--plot", "{tmp}/nowhere/t.png"], "the folder {tmp}/nowhere does not exist"),
    ("plot is a folder", "g.csv", GOOD, ["--plot", "{tmp}"], "is a folder; give a file name"),
    ("plot of unknown type", "g.csv", GOOD, ["--plot", "{tmp}/t.xyz"], "unknown image type 'xyz'"),
    ("diagnostics over the plot", "g.csv", GOOD, ["--plot", "{tmp}/same.png", "--diagnostics", "{tmp}/same.png"], "is the --plot file"),
]


@pytest.mark.parametrize("case, name, content, extra, message", FORECAST_CASES, ids=[c[0] for c in FORECAST_CASES])
def test_forecast_bad_input(capsys, tmp_path, case, name, content, extra, message):
    path = tmp_path/(name or "missing.csv")
    if content == "DIR": path.mkdir()
    elif isinstance(content, bytes): path.write_bytes(content)
    elif content is not None: path.write_text(content)
    before = sorted(tmp_path.rglob("*"))
    fill = lambda s: s.format(tmp=tmp_path, file=path)
    argv = ["forecast", str(path), "--n", "1e5"] + [fill(a) for a in extra]
    if "--plot" not in extra: argv += ["--plot", str(tmp_path/"out.png")]
    status = main(argv)
    out, err = capsys.readouterr()
    _check_error(status, out, err, fill(message))
    assert sorted(tmp_path.rglob("*")) == before            # nothing written, nothing overwritten
    if content is not None and content != "DIR":
        assert (path.read_bytes() if isinstance(content, bytes) else path.read_text()) == content


def test_header_detection_keeps_every_value(capsys, tmp_path):
    "A header-less file keeps its first value (m = 200, not 199) and the report says there was no header."
    nh = tmp_path/"nh.csv"; nh.write_text("".join(f"{x!r}\n" for x in P))
    status = main(["forecast", str(nh), "--n", "1e5", "--kind", "p", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert status == 0 and doc["m"] == 200 and doc["header"] == "none"
    assert main(["forecast", str(nh), "--n", "1e5", "--kind", "p"]) == 0
    assert "no header: line 1 is a value" in capsys.readouterr().out
    hd = tmp_path/"hd.csv"; hd.write_text(GOOD)
    main(["forecast", str(hd), "--n", "1e5", "--json"])
    doc2 = json.loads(capsys.readouterr().out)
    assert doc2["m"] == 200 and doc2["header"] == "line 1" and doc2["a"] == doc["a"]
    blank = tmp_path/"blank.csv"; blank.write_text("\n \n" + "".join(f"{x!r}\n" for x in P))   # the first value is on line 3
    assert main(["forecast", str(blank), "--n", "1e5", "--kind", "p"]) == 0
    assert "no header: line 3 is a value" in capsys.readouterr().out


def test_large_n_prints_as_people_write_it(capsys, tmp_path):
    g = tmp_path/"g.csv"; g.write_text(GOOD)
    assert main(["forecast", str(g), "--n", "1e9", "1e23", "1000000000.0000001"]) == 0
    rows = [l.split()[0] for l in capsys.readouterr().out.splitlines() if l.strip() and l.split()[0][0].isdigit()]
    assert rows == ["1,000,000,000", "1e+23", "1e+09"], rows


def test_logp_near_minus_1e200_fits_without_warnings(tmp_path):
    path = tmp_path/"lp.csv"; path.write_text("logp\n" + "".join(f"{-x * 1e200!r}\n" for x in P))
    r = subprocess.run([_exe(), "forecast", str(path), "--n", "1e5"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr


# ---- predfail score: a tiny random GPT-2 and Llama saved to folders; nothing downloaded ----

@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    from predfail.password_lm import build_tokenizer
    tok = build_tokenizer(n_corpus=200)
    out = {}
    for name, make in [("gpt2", lambda: GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=48, n_embd=32, n_layer=1, n_head=2,
                                                                  bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id))),
                       ("llama", lambda: LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                                                      max_position_embeddings=48)))]:
        torch.manual_seed(0)
        path = tmp_path_factory.mktemp(name)
        make().save_pretrained(path); tok.save_pretrained(path)
        out[name] = path
    return out


PROMPTS = "".join(json.dumps({"prompt": f"the password is {w}", "pw": "amber"}) + "\n" for w in ["oak", "elm", "ash"])
LONG = PROMPTS + json.dumps({"prompt": " ".join(["oak"] * 200), "pw": "amber"}) + "\n"

SCORE_CASES = [
    ("prompts empty", "", ["--completion", "x"], "is empty"),
    ("prompts JSON array", "[" + ",".join(['{"prompt": "hi"}'] * 10_000) + "]", ["--completion", "x"], "holds a JSON array"),
    ("prompts not UTF-8", b'{"prompt": "caf\xe9"}\n', ["--completion", "x"], "line 1: not UTF-8 text"),
    ("prompts bad JSON", '{"prompt": "hi"}\n{"prompt": \n', ["--completion", "x"], "line 2: not valid JSON"),
    ("no prompt column", '{"text": "hi"}\n', ["--completion", "x"], "no column 'prompt' (--prompt-column); available columns: text"),
    ("no completion column", '{"prompt": "hi"}\n', ["--completion-column", "c"], "no column 'c' (--completion-column)"),
    ("empty completion", '{"prompt": "hi"}\n', ["--completion", ""], "--completion is empty"),
    ("blank completion in a row", '{"prompt": "hi", "c": " "}\n', ["--completion-column", "c"], "line 1: the completion is empty"),
    ("prompt not text", '{"prompt": 3}\n', ["--completion", "x"], "line 1: the prompt must be non-empty"),
    ("out over the prompts", PROMPTS, ["--completion", "x", "--out", "{prompts}"], "--out {prompts} is the --prompts file"),
    ("out in a missing folder", PROMPTS, ["--completion", "x", "--out", "{tmp}/nowhere/s.csv"], "the folder {tmp}/nowhere does not exist"),
    ("out is a folder", PROMPTS, ["--completion", "x", "--out", "{tmp}"], "is a folder; give a file name"),
    ("batch size 0", PROMPTS, ["--completion", "x", "--batch-size", "0"], "argument --batch-size: must be between 1 and 4,096, got 0"),
    ("batch size 1e9", PROMPTS, ["--completion", "x", "--batch-size", "1e9"], "must be between 1 and 4,096, got 1,000,000,000"),
    ("model missing", PROMPTS, ["--completion", "x", "--model", "{tmp}/no-model"], "model not found"),
    ("prompt past GPT-2's context", LONG, ["--completion-column", "pw"], "line 4: prompt and completion take"),
    ("prompt past Llama's context", LONG, ["--completion-column", "pw", "--model", "{llama}"], "more than the model's context of 48"),
    ("judge: prompt past the context", LONG, ["--judge", "keyword:amber", "--samples", "2", "--max-new-tokens", "4"],
     "{prompts}, line 4: prompt and reply take 205 tokens (201 in the prompt, up to 4 generated), more than the model's context of 48"),
    ("judge: reply past the context", PROMPTS, ["--judge", "keyword:amber", "--samples", "2", "--max-new-tokens", "100"],
     "{prompts}, line 1: prompt and reply take 1"),
    ("chat prompt, no chat template", '{"prompt": [{"role": "user", "content": "hi"}]}\n', ["--completion", "x"],
     "{prompts}, line 1: the prompt is a list of chat messages but the tokenizer has no chat template"),
    ("model folder without a model", PROMPTS, ["--completion", "x", "--model", str(DATA)],
     f"{DATA} holds no transformers model or tokenizer (no config.json)"),
    ("out inside the model folder", PROMPTS, ["--completion", "x", "--out", "{gpt2}/config.json"],
     "--out {gpt2}/config.json is inside the --model folder {gpt2}: writing it could destroy the input"),
    ("out is the model folder", PROMPTS, ["--completion", "x", "--out", "{gpt2}"], "--out {gpt2} is the --model folder"),
    ("out a closed /dev/fd", PROMPTS, ["--completion", "x", "--out", "/dev/fd/999"],
     "--out /dev/fd/999 is not an open pipe or file, and no file can be created in /dev/fd"),
]


@pytest.mark.parametrize("case, content, extra, message", SCORE_CASES, ids=[c[0] for c in SCORE_CASES])
def test_score_bad_input(capsys, tmp_path, lms, case, content, extra, message):
    prompts = tmp_path/"p.jsonl"
    prompts.write_bytes(content) if isinstance(content, bytes) else prompts.write_text(content)
    fill = lambda s: s.format(tmp=tmp_path, prompts=prompts, llama=lms["llama"], gpt2=lms["gpt2"])
    extra = [fill(a) for a in extra]
    argv = ["score", "--model", str(lms["gpt2"]), "--prompts", str(prompts)]
    if "--out" not in extra: argv += ["--out", str(tmp_path/"s.csv")]
    before = sorted(tmp_path.rglob("*"))
    model_before = {p: p.read_bytes() for p in lms["gpt2"].iterdir()}
    status = main(argv + extra)
    out, err = capsys.readouterr()
    _check_error(status, out, err, fill(message))
    assert sorted(tmp_path.rglob("*")) == before
    assert {p: p.read_bytes() for p in lms["gpt2"].iterdir()} == model_before     # the model folder is an input too
    assert (prompts.read_bytes() if isinstance(content, bytes) else prompts.read_text()) == content


def test_score_pipes_into_forecast(tmp_path, lms):
    "`predfail score ... --out - | predfail forecast - ...`: scores on stdout, the summary on stderr."
    prompts = tmp_path/"p.jsonl"
    from predfail.envs.password import make_pool
    prompts.write_text("".join(json.dumps({"prompt": d.prompt, "pw": d.password_text}) + "\n" for d in make_pool(40, seed=0)))
    score = subprocess.Popen([_exe(), "score", "--model", str(lms["gpt2"]), "--prompts", str(prompts), "--completion-column", "pw",
                              "--out", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fc = subprocess.run([_exe(), "forecast", "-", "--n", "1e4", "--kind", "logp", "--json"], stdin=score.stdout,
                        capture_output=True, text=True, timeout=300)
    score.stdout.close()
    assert score.wait(timeout=300) == 0
    assert "scored 40 prompts" in score.stderr.read().decode()
    assert fc.returncode == 0, fc.stderr
    doc = json.loads(fc.stdout)
    assert doc["m"] == 40 and doc["file"] == "standard input" and doc["header"] == "line 1"


def test_score_out_closed_pipe_is_quiet(tmp_path, lms):
    prompts = tmp_path/"p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"say {i}"}) + "\n" for i in range(3000)))
    p = subprocess.Popen([_exe(), "score", "--model", str(lms["gpt2"]), "--prompts", str(prompts), "--completion", "amber",
                          "--batch-size", "256", "--out", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))   # a disk that fills after 4 KB


def test_full_disk_leaves_no_partial_output(tmp_path, lms):
    "The scores of 300 prompts (~8 KB) on a 4 KB 'disk': an error naming the output, and no output file at all."
    prompts = tmp_path/"p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"say {i}"}) + "\n" for i in range(300)))
    out = tmp_path/"scores.csv"
    r = subprocess.run([_exe(), "score", "--model", str(lms["gpt2"]), "--prompts", str(prompts), "--completion", "amber",
                        "--out", str(out)], capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [f"predfail: error: cannot write {out}: File too large"], r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]     # no scores.csv, no temporary
    # the forecast's plot likewise
    plot = tmp_path/"t.png"
    r = subprocess.run([_exe(), "forecast", str(DATA/"eval_p.csv"), "--n", "1e5", "--plot", str(plot)],
                       capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert r.returncode == 2 and f"cannot write {plot}" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]


def _wait_until_reading_stdin(pid: int, timeout: float = 180.0):
    "Block until process `pid` waits in read(0, ...) (Linux x86-64: /proc/<pid>/syscall starts '0 0x0'); else sleep 6 s."
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try: fields = Path(f"/proc/{pid}/syscall").read_text().split()
        except OSError: time.sleep(6); return   # no /proc here: assume the imports are done by then
        if fields[:2] == ["0", "0x0"]: return
        time.sleep(0.05)
    raise AssertionError(f"predfail never waited on standard input within {timeout:.0f} s")


def test_ctrl_c_exits_130_without_traceback():
    # started as a terminal starts a foreground command: with Ctrl-C at its default. A test run launched in the background
    # (`... &` in a script) inherits SIGINT ignored, which the child would keep, as every Unix program does
    p = subprocess.Popen([_exe(), "forecast", "-", "--n", "1e5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_until_reading_stdin(p.pid)               # imports done (however loaded the machine); waiting on standard input
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)   # standard input stays open: closing it at once could race the signal with end of input
    err = p.stderr.read(); p.stdin.close(); p.stdout.close(); p.stderr.close()
    assert p.returncode == 130, err
    assert err.decode().strip() == "predfail: interrupted"


# ---- standard streams, pipes and links as outputs ----

def _closed(fd):
    "A preexec_fn: start the command with file descriptor `fd` closed, as the shell's `<&-` (0) or `>&-` (1) do."
    return lambda: os.close(fd)


@pytest.mark.parametrize("fd, argv, message", [
    (1, ["forecast", str(DATA/"eval_p.csv"), "--n", "1e5"], "standard output is closed"),
    (0, ["forecast", "-", "--n", "1e5"], "standard input is closed"),
    # before any work: the prompts and the model do not exist, and the closed stream is still what is reported
    (1, ["score", "--model", "no-model/x", "--prompts", "missing.jsonl", "--completion", "x", "--out", "-"], "standard output is closed"),
    (0, ["score", "--model", "no-model/x", "--prompts", "-", "--completion", "x", "--out", "s.csv"], "standard input is closed"),
], ids=["forecast >&-", "forecast - <&-", "score --out - >&-", "score --prompts - <&-"])
def test_closed_standard_stream(tmp_path, fd, argv, message):
    r = subprocess.run([_exe(), *argv], cwd=tmp_path, stdout=subprocess.PIPE if fd else None, stderr=subprocess.PIPE,
                       text=True, timeout=300, preexec_fn=_closed(fd))
    assert (r.returncode, r.stderr) == (2, f"predfail: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_on_standard_output_names_it(tmp_path, lms):
    "`> /dev/full`: the error names standard output, not the input file."
    prompts = tmp_path/"p.jsonl"; prompts.write_text(PROMPTS)
    for argv in (["forecast", str(DATA/"eval_p.csv"), "--n", "1e5"],
                 ["score", "--model", str(lms["gpt2"]), "--prompts", str(prompts), "--completion", "amber", "--out", "-"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([_exe(), *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
        assert (r.returncode, r.stderr) == (2, "predfail: error: cannot write standard output: No space left on device\n"), r.stderr


def test_out_into_a_pipe(capsys, tmp_path, lms):
    "A process substitution (/dev/fd/N) and a named pipe are written straight into; neither is replaced by a file."
    import threading
    prompts = tmp_path/"p.jsonl"; prompts.write_text(PROMPTS)
    argv = ["score", "--model", str(lms["gpt2"]), "--prompts", str(prompts), "--completion", "amber", "--out"]
    r, w = os.pipe()
    try:
        assert main(argv + [f"/dev/fd/{w}"]) == 0, capsys.readouterr().err
    finally: os.close(w)
    with os.fdopen(r) as f: assert f.read().splitlines()[0] == "row,logp"
    fifo = tmp_path/"fifo"; os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    assert main(argv + [str(fifo)]) == 0, capsys.readouterr().err
    reader.join(timeout=60)
    assert got and got[0].count("\n") == 4 and fifo.is_fifo()


def test_out_through_a_symlink(capsys, tmp_path, lms):
    "A symbolic link stays a link; the file it points at is replaced (atomically) by the scores."
    prompts = tmp_path/"p.jsonl"; prompts.write_text(PROMPTS)
    (tmp_path/"target.csv").write_text("old\n")
    link = tmp_path/"link.csv"; link.symlink_to("target.csv")
    assert main(["score", "--model", str(lms["gpt2"]), "--prompts", str(prompts), "--completion", "amber", "--out", str(link)]) == 0
    assert link.is_symlink() and (tmp_path/"target.csv").read_text().startswith("row,logp\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "p.jsonl", "target.csv"]
    capsys.readouterr()


def test_missing_pad_token_is_a_one_line_warning(tmp_path, lms):
    from transformers import AutoTokenizer
    import shutil
    model = tmp_path/"no-pad"; shutil.copytree(lms["gpt2"], model)
    tok = AutoTokenizer.from_pretrained(model); tok.pad_token = None; tok.save_pretrained(model)
    prompts = tmp_path/"p.jsonl"; prompts.write_text(PROMPTS)
    r = subprocess.run([_exe(), "score", "--model", str(model), "--prompts", str(prompts), "--completion", "amber", "--out", "-"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("predfail: warning: the tokenizer has no pad token: padding with its end token"), r.stderr
    assert lines[1].startswith("scored 3 prompts")


CTRL_C_IN_IMPORTS = """
import sys, tomllib
class CtrlC:
    "Ctrl-C while NumPy is imported (the first heavy import of the command line)."
    def find_spec(self, name, path=None, target=None):
        if name == "numpy": raise KeyboardInterrupt
sys.meta_path.insert(0, CtrlC())
module, _, func = tomllib.load(open(sys.argv[1], "rb"))["project"]["scripts"]["predfail"].partition(":")
entry = getattr(__import__(module, fromlist=[func]), func)   # what the installed console script runs
sys.argv = ["predfail", "forecast", "-", "--n", "1e5"]
sys.exit(entry())
"""


def test_ctrl_c_during_imports_exits_130_without_traceback():
    "The console script's entry point catches Ctrl-C before the second of imports that `main` needs."
    r = subprocess.run([sys.executable, "-c", CTRL_C_IN_IMPORTS, str(ROOT/"pyproject.toml")], capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stderr) == (130, "predfail: interrupted\n"), r.stderr


# ---- numbers as people write them ----

def test_report_widens_n_and_separates_thousands(capsys, tmp_path):
    rng = np.random.default_rng(1)
    big = tmp_path/"big.csv"; big.write_text("p\n" + "".join(f"{x!r}\n" for x in rng.beta(0.5, 20, 1500).tolist()))
    assert main(["forecast", str(big), "--n", "1e4", "1e12", "1e20", "--tau", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "evaluation set m = 1,500;" in lines[1]
    table = lines[lines.index(next(l for l in lines if l.lstrip().startswith("n "))):]
    rows = table[2:5]
    assert [r.split()[0] for r in rows] == ["10,000", "1,000,000,000,000", "1e+20"]
    assert len({len(r) for r in table[:5]}) == 1 and len({r.index(r.split()[1]) + len(r.split()[1]) for r in rows}) == 1  # aligned
    n_at = lines[-1].split()[-1]
    assert "e+" not in n_at and n_at.replace(",", "").isdigit() and float(n_at.replace(",", "")) >= 1000, lines[-1]
