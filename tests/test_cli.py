"""Tests of the `predfail` command line that need a real process (the in-process checks live in nbs/04_cli.ipynb):
the installed console script, `python -m predfail.cli`, every new option end to end, and a closed pipe."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent/"data"


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
