"""`pip install predfail` installs what it declares: the wheel, built from this checkout, in a fresh virtual
environment with constraints.txt and no extras imports every base module, runs `predfail --help` and
`predfail forecast` on a small file, and every other module fails with a one-line ImportError naming its extra.
Then each extra in turn is installed from the same wheel and its modules import.

The extras part reuses the packages of this checkout's `.venv` (torch alone is a 200 MB install): its environment
sees them through a `.pth` file, so pip checks that each extra's requirements resolve under the constraints and
installs only the wheel. Marked slow (about a minute with a warm pip cache); `pytest -m slow tests/test_install.py`.
"""

import json, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE_MODULES = [
    "predfail",
    "predfail._modidx",
    "predfail.core",
    "predfail.scores",
    "predfail.forecast",
    "predfail.backtest",
    "predfail.decomposition",
    "predfail.extras",
    "predfail.cli",
    "predfail.envs",
    "predfail.envs.password",
    "predfail.inspect_logs",   # imports inspect-ai only when a log is read
    "predfail.experiments",
    "predfail.seed_intervals",
    "predfail.assurance",
    "predfail.replication",
]
pytestmark = pytest.mark.slow

PROBE = r"""
import importlib, json, pkgutil, sys, predfail
out, only = {}, set(sys.argv[1:])
names = {"predfail"} | {i.name for i in pkgutil.walk_packages(predfail.__path__, "predfail.")}
for m in sorted(names | {o for o in only if not o.startswith("predfail")}):   # other names: packages an extra promises
    if only and m not in only: out[m] = "not imported"; continue
    try: importlib.import_module(m); out[m] = "ok"
    except ImportError as e: out[m] = str(e)
print(json.dumps({"file": predfail.__file__, "modules": out}))
"""


def run(*cmd, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    "The wheel built from a copy of this checkout's tracked and new files (the checkout itself is not written)."
    tmp = tmp_path_factory.mktemp("wheel")
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    src = tmp / "src"
    src.mkdir()
    for f in filter(None, files):
        p = ROOT / f.decode()
        if p.is_file():
            (src / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            (src / f.decode()).write_bytes(p.read_bytes())
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src)
    return next((tmp / "dist").glob("predfail-*.whl"))


def make_venv(path, reuse=None):
    "A fresh virtual environment; with `reuse`, it also sees the packages of that site-packages folder (a .pth line)."
    run(sys.executable, "-m", "venv", path)
    py = path / "bin" / "python"
    if reuse:
        site = run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
        Path(site, "reuse_main_venv.pth").write_text(f"{reuse}\n")
    return py


def pip_install(py, req, tmp):
    run(
        py,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-compile",
        "--disable-pip-version-check",
        req,
        "-c",
        ROOT / "constraints.txt",
        cwd=tmp,
    )


def probe(py, tmp, *only):
    "{module: 'ok' or the ImportError's message} for every predfail module (or only these)."
    return json.loads(run(py, "-c", PROBE, *only, cwd=tmp))


def test_install_without_extras(wheel, tmp_path):
    py = make_venv(tmp_path / "base")
    pip_install(py, wheel, tmp_path)
    res = probe(py, tmp_path)
    assert str(tmp_path / "base") in res["file"], res["file"]  # the installed wheel, not this checkout
    mods = res["modules"]
    assert {m: mods.get(m) for m in BASE_MODULES} == {m: "ok" for m in BASE_MODULES}
    installed = run(py, "-m", "pip", "list", "--format=json", cwd=tmp_path)
    names = {d["name"].lower() for d in json.loads(installed)}
    assert not names & {"torch", "transformers", "tokenizers", "peft", "accelerate", "gymnasium", "tqdm"}, names
    for m, msg in mods.items():  # every other module: one line naming the extra that installs what it needs
        if m in BASE_MODULES:
            continue
        assert 'pip install "predfail[' in msg and "\n" not in msg, (m, msg)
    bin_ = py.parent
    assert "forecast" in run(bin_ / "predfail", "--help", cwd=tmp_path)
    scores = tmp_path / "scores.csv"
    scores.write_text("logp\n" + "".join(f"{-x / 97.0 - 3:.6f}\n" for x in range(200)))
    out = run(bin_ / "predfail", "forecast", scores, "--n", "10000", cwd=tmp_path)
    assert "10,000" in out or "10000" in out, out


def test_install_each_extra(wheel, tmp_path):
    "Install the extras one after another into one environment; after each, the modules it promises import."
    main_site = Path(
        run(
            ROOT / ".venv" / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).strip()
    )
    if not (main_site / "torch").exists():
        pytest.skip(f"no torch in {main_site}: run `make install` first")
    sys.path.insert(0, str(ROOT))
    from predfail.extras import EXTRAS, MODULE_EXTRAS

    py = make_venv(tmp_path / "extras", reuse=main_site)
    for extra in [*EXTRAS, "all"]:
        pip_install(py, f"predfail[{extra}] @ {wheel.as_uri()}", tmp_path)
        names = probe(py, tmp_path, "predfail")["modules"]  # every module's name, nothing imported
        if extra == "all":
            continue  # its requirements resolve; its modules are the union of those checked before
        need = [m for m in names if m not in BASE_MODULES and MODULE_EXTRAS.get(m, "train") == extra]
        mods = probe(py, tmp_path, *need, *EXTRAS[extra])["modules"]   # its modules, and the packages it promises
        assert all(mods[m] == "ok" for m in [*need, *EXTRAS[extra]]), (extra, mods)
