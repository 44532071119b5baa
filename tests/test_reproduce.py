"""tools/reproduce.py, the `make reproduce` driver: which notebooks it runs, its cache, running a notebook in a fresh
process, failure messages, the draw it passes on, and the whole loop with a stand-in runner."""

import importlib.util, json, os, tempfile
from pathlib import Path

import pytest
from fastcore.test import test_eq as eq, test_fail as fails, test_ne as ne

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reproduce_tool", ROOT / "tools" / "reproduce.py")
R = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(R)
SLOW_FLAG = "#" + "| slow"


def toy_project():
    "A throwaway project: pyproject.toml, constraints.txt, predfail/ with one file, nbs/01_toy.ipynb."
    root = Path(tempfile.mkdtemp())
    (root / "pyproject.toml").write_text(
        '[project]\nname = "toy"\n\n[tool.nbdev]\nlib_path = "predfail"\ntst_flags = "notest slow"\n'
    )
    (root / "constraints.txt").write_text("numpy==2.4.0\n")
    (root / "predfail").mkdir()
    (root / "predfail" / "core.py").write_text("x = 1\n")
    (root / "nbs").mkdir()
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Toy\n", "\n", "> t"]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": "from pathlib import Path\nprint('ran')",
            },
        ],
        "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "nbs" / "01_toy.ipynb").write_text(json.dumps(nb))
    return root


def edit(path, change):
    "Apply `change` to the JSON of the notebook at `path`."
    nb = json.loads(path.read_text())
    change(nb)
    path.write_text(json.dumps(nb))


def test_experiment_notebooks():
    toy = Path(tempfile.mkdtemp())
    for name in ["index.ipynb", "00_core.ipynb", "02_b.ipynb", "01_a.ipynb", "_draft.ipynb"]:
        (toy / name).write_text("{}")
    eq([p.name for p in R.experiment_notebooks(toy)], ["00_core.ipynb", "01_a.ipynb", "02_b.ipynb", "index.ipynb"])
    eq([p.name for p in R.experiment_notebooks(toy, ["02_b", "01_a.ipynb"])], ["01_a.ipynb", "02_b.ipynb"])
    eq([p.name for p in R.experiment_notebooks(toy, with_index=False)][-1], "02_b.ipynb")
    fails(lambda: R.experiment_notebooks(toy, ["03_missing"]), contains="03_missing.ipynb")


def test_cache_key_inputs():
    proj = toy_project()
    nb_file = proj / "nbs" / "01_toy.ipynb"
    key = R.cache_key(nb_file, "quick", proj)
    # outputs, counts and metadata do not change the key
    edit(
        nb_file,
        lambda nb: nb["cells"][1].update(
            outputs=[{"output_type": "stream", "name": "stdout", "text": "ran\n"}],
            execution_count=3,
            metadata={"execution": {"total": 1.0}},
        ),
    )
    eq(R.cache_key(nb_file, "quick", proj)["key"], key["key"])
    # each input does: profile, draw, constraints, package, cells
    ne(R.cache_key(nb_file, "default", proj)["key"], key["key"])
    ne(R.cache_key(nb_file, "quick", proj, draw=1)["key"], key["key"])
    eq(R.cache_key(nb_file, "quick", proj, draw="0")["key"], key["key"])
    (proj / "constraints.txt").write_text("numpy==2.4.1\n")
    ne(R.cache_key(nb_file, "quick", proj)["key"], key["key"])
    (proj / "constraints.txt").write_text("numpy==2.4.0\n")
    (proj / "predfail" / "core.py").write_text("x = 2\n")
    ne(R.cache_key(nb_file, "quick", proj)["key"], key["key"])
    (proj / "predfail" / "core.py").write_text("x = 1\n")
    eq(R.cache_key(nb_file, "quick", proj)["key"], key["key"])
    edit(nb_file, lambda nb: nb["cells"][1].update(source="print('ran again')"))
    ne(R.cache_key(nb_file, "quick", proj)["key"], key["key"])
    fails(lambda: R.cache_key(nb_file, "huge", proj), contains="unknown profile")
    fails(lambda: R.cache_key(nb_file, "quick", proj, draw="x"), contains="must be a whole number >= 0, got 'x'")
    fails(lambda: R.check_draw(-1), contains="got -1")


def test_result_cache():
    proj = toy_project()
    nb_file = proj / "nbs" / "01_toy.ipynb"
    cache = R.ResultCache(proj / ".cache" / "reproduce")
    (proj / "figures").mkdir()
    (proj / "figures" / "toy.png").write_bytes(b"png")
    cache.record(nb_file, R.cache_key(nb_file, "quick", proj), 1.5, ["figures/toy.png"])
    k = R.cache_key(nb_file, "quick", proj)["key"]
    eq(cache.is_fresh(nb_file, k, proj), True)
    eq(cache.get(nb_file)["draw"], 0)
    eq(cache.is_fresh(nb_file, R.cache_key(nb_file, "default", proj)["key"], proj), False)  # other profile
    eq(cache.is_fresh(nb_file, R.cache_key(nb_file, "quick", proj, draw=2)["key"], proj), False)  # other draw
    (proj / "figures" / "toy.png").unlink()
    eq(cache.is_fresh(nb_file, k, proj), False)  # a product is gone
    (proj / "figures" / "toy.png").write_bytes(b"png")
    edit(
        nb_file, lambda nb: nb["cells"][1].update(outputs=[{"output_type": "stream", "name": "stdout", "text": "x\n"}])
    )
    eq(cache.is_fresh(nb_file, k, proj), False)  # outputs changed since that run saved them
    cache.forget(nb_file)
    eq(cache.get(nb_file), None)


def test_execute_notebook():
    proj = toy_project()
    nb_file = proj / "nbs" / "01_toy.ipynb"
    report = R.execute_notebook(nb_file)
    eq(report["ok"], True)
    eq(json.loads(nb_file.read_text())["cells"][1]["outputs"][0]["text"], ["ran\n"])  # outputs saved
    edit(nb_file, lambda nb: nb["cells"].append({**nb["cells"][1], "source": SLOW_FLAG + "\nraise ValueError('boom')"}))
    failed = R.execute_notebook(nb_file)
    eq((failed["ok"], failed["cell"], failed["error"]), (False, 3, "ValueError: boom"))
    eq(failed["source"], SLOW_FLAG + "\nraise ValueError('boom')")
    eq(R.execute_notebook(nb_file, flags=())["ok"], True)  # without the slow flag the failing cell does not run


def test_notebook_runner_fresh_process():
    proj = toy_project()
    nb_file = proj / "nbs" / "01_toy.ipynb"
    eq(R.notebook_runner(nb_file, "quick", proj)["ok"], True)
    edit(nb_file, lambda nb: nb["cells"][1].update(source="1/0"))
    report = R.notebook_runner(nb_file, "quick", proj, save=False)
    eq(report["ok"], False)
    msg = R.failure_message(nb_file, report)
    assert msg.startswith("01_toy.ipynb failed in cell #2") and msg.endswith("ZeroDivisionError: division by zero"), msg
    eq(
        R.failure_message(nb_file, {"ok": False, "error": "KeyboardInterrupt"}),
        "01_toy.ipynb failed\nKeyboardInterrupt",
    )
    # the process keeps this environment and gets the profile, the draw and the pinned kernels
    edit(
        nb_file,
        lambda nb: nb["cells"][1].update(
            source="import os\nprint(os.environ.get('PREDFAIL_PROFILE'), "
            "os.environ.get('PREDFAIL_DRAW'), os.environ.get('ATEN_CPU_CAPABILITY'), 'PATH' in os.environ)"
        ),
    )
    eq(R.notebook_runner(nb_file, "full", proj, draw=3)["ok"], True)
    eq(
        json.loads(nb_file.read_text())["cells"][1]["outputs"][0]["text"],
        [f"full 3 {os.environ.get('ATEN_CPU_CAPABILITY', 'avx2')} True\n"],
    )


def _fake_runner(calls):
    def run(nb, profile, root, progress=None, save=True, flags=("slow",), draw=0):
        "Stand-in for nbdev-test: records the call, writes a figure, fails on a cell containing FAIL."
        calls.append(nb.name)
        figures = (root / ".cache" / "quick" if profile == "quick" else root) / "figures"  # as predfail.core.output_dir
        figures.mkdir(parents=True, exist_ok=True)
        (figures / f"{nb.stem}.png").write_bytes(profile.encode())
        failing = [i for i, c in enumerate(json.loads(nb.read_text())["cells"]) if "FAIL" in "".join(c["source"])]
        if failing:
            return {
                "ok": False,
                "seconds": 0.1,
                "cell": failing[0] + 1,
                "source": "raise",
                "error": "RuntimeError: FAIL",
            }
        return {"ok": True, "seconds": 0.1}

    return run


def test_reproduce_loop(monkeypatch):
    monkeypatch.delenv("PREDFAIL_DRAW", raising=False)
    proj = toy_project()
    nbs_dir = proj / "nbs"
    (nbs_dir / "02_toy.ipynb").write_text((nbs_dir / "01_toy.ipynb").read_text())
    calls = []
    fake = _fake_runner(calls)
    steps = R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True)
    eq(calls, ["01_toy.ipynb", "02_toy.ipynb"])
    eq([s["status"] for s in steps], ["ran", "ran"])
    eq(
        R.ResultCache(proj / ".cache" / "reproduce").get(nbs_dir / "01_toy.ipynb")["products"],
        [".cache/quick/figures/01_toy.png"],
    )
    calls.clear()
    steps = R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True)
    eq((calls, [s["status"] for s in steps]), ([], ["cached", "cached"]))
    calls.clear()
    R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True, draw=1)
    eq(calls, ["01_toy.ipynb", "02_toy.ipynb"])  # another draw is not the cached result
    calls.clear()
    R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True)
    eq(calls, ["01_toy.ipynb", "02_toy.ipynb"])  # one record per notebook: the latest draw's
    edit(nbs_dir / "02_toy.ipynb", lambda nb: nb["cells"][1].update(source="print('changed')"))
    calls.clear()
    R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True)
    eq(calls, ["02_toy.ipynb"])
    calls.clear()
    R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True, force=True)
    eq(calls, ["01_toy.ipynb", "02_toy.ipynb"])
    calls.clear()
    R.reproduce("default", root=proj, runner=fake, post=False, quiet=True, notebooks=["02_toy"])
    eq(calls, ["02_toy.ipynb"])
    calls.clear()
    R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True, force=True, workers=2)
    eq(sorted(calls), ["01_toy.ipynb", "02_toy.ipynb"])  # two at once: both run
    calls.clear()
    eq(
        [s["status"] for s in R.reproduce("quick", root=proj, runner=fake, post=False, quiet=True, save=False)],
        ["ran", "ran"],
    )
    eq(len(calls), 2)  # a check run (save=False) ignores and keeps the cache
    fails(lambda: R.reproduce("quick", root=proj, runner=fake, workers=0), contains="workers must be >= 1")


def test_reproduce_environment(monkeypatch):
    "What notebooks are told: how many run at once, and the draw (argument, else PREDFAIL_DRAW, else 0)."
    monkeypatch.delenv("PREDFAIL_NOTEBOOKS_AT_ONCE", raising=False)
    proj = toy_project()
    (proj / "nbs" / "02_toy.ipynb").write_text((proj / "nbs" / "01_toy.ipynb").read_text())
    seen = []

    def env_runner(nb, profile, root, progress=None, save=True, flags=("slow",), draw=0):
        seen.append((os.environ["PREDFAIL_NOTEBOOKS_AT_ONCE"], os.environ["PREDFAIL_DRAW"], draw, save, flags))
        return {"ok": True, "seconds": 0.0}

    for w in (1, 5):
        R.reproduce("quick", root=proj, runner=env_runner, post=False, quiet=True, force=True, workers=w)
    eq([s[0] for s in seen], ["1", "1", "2", "2"])  # workers, at most the notebook count
    eq({s[1:3] for s in seen}, {("0", 0)})
    assert "PREDFAIL_NOTEBOOKS_AT_ONCE" not in os.environ  # restored afterwards
    seen.clear()
    monkeypatch.setenv("PREDFAIL_DRAW", "2")
    R.reproduce("quick", root=proj, runner=env_runner, post=False, quiet=True, force=True)
    eq({s[1:3] for s in seen}, {("2", 2)})
    seen.clear()
    R.reproduce("quick", root=proj, runner=env_runner, post=False, quiet=True, force=True, draw=1)
    eq({s[1:3] for s in seen}, {("1", 1)})
    eq(os.environ["PREDFAIL_DRAW"], "2")
    seen.clear()
    R.reproduce("quick", root=proj, runner=env_runner, post=False, quiet=True, slow=False)
    eq([s[3:] for s in seen], [(False, ()), (False, ())])  # quick checks only: nothing saved, nothing recorded
    fails(
        lambda: R.reproduce("quick", root=proj, runner=env_runner, post=False, quiet=True, draw="one"),
        contains="got 'one'",
    )


def test_reproduce_stops_at_failure():
    proj = toy_project()
    nbs_dir = proj / "nbs"
    (nbs_dir / "02_toy.ipynb").write_text((nbs_dir / "01_toy.ipynb").read_text())
    R.reproduce("quick", root=proj, runner=_fake_runner([]), post=False, quiet=True)
    edit(nbs_dir / "01_toy.ipynb", lambda nb: nb["cells"][1].update(source="raise RuntimeError('FAIL')"))
    calls = []
    with pytest.raises(R.NotebookFailed) as e:
        R.reproduce("quick", root=proj, runner=_fake_runner(calls), post=False, quiet=True)
    eq(calls, ["01_toy.ipynb"])  # stopped at the failure: 02 did not run
    assert str(e.value).startswith("01_toy.ipynb failed in cell #2") and "RuntimeError: FAIL" in str(e.value)
    eq(R.ResultCache(proj / ".cache" / "reproduce").get(nbs_dir / "01_toy.ipynb"), None)
    ne(R.ResultCache(proj / ".cache" / "reproduce").get(nbs_dir / "02_toy.ipynb"), None)  # earlier results kept


def test_main_refuses_unknown_profile():
    with pytest.raises(SystemExit) as e:
        R.main(["--profile", "huge"])
    eq(e.value.code, 2)
