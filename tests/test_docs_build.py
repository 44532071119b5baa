"""The offline docs build (tools/docs_mkdocs.py) never lets nbdev install Quarto."""
import importlib.util, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_docs_builder():
    spec = importlib.util.spec_from_file_location("docs_mkdocs", ROOT/"tools"/"docs_mkdocs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quarto_check_calls(env, tmp_path):
    "Run nbdev's Quarto check under `env` with a fake `curl` and `sudo` on PATH; return the commands it ran."
    fakes, log = tmp_path/"fakes", tmp_path/"calls.log"
    fakes.mkdir(parents=True)
    for name in ("curl", "sudo"):
        (fakes/name).write_text(f"#!/bin/sh\necho {name} \"$@\" >> '{log}'\nexit 1\n")
        (fakes/name).chmod(0o755)
    env = {**env, "PATH": os.pathsep.join([str(fakes), env["PATH"]])}  # fakes holds no quarto
    subprocess.run([sys.executable, "-c", "import nbdev.quarto as q; q._ensure_quarto()"], env=env, cwd=tmp_path,
                   capture_output=True, text=True, timeout=120)
    return log.read_text().splitlines() if log.exists() else []


def test_offline_build_hides_quarto_install(tmp_path):
    builder = load_docs_builder()
    # without the stand-in, nbdev's check reaches for curl and sudo (this is what the stand-in prevents)
    plain = {**os.environ, "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                                    if not (Path(p)/"quarto").exists())}
    assert any(call.startswith(("curl", "sudo")) for call in quarto_check_calls(plain, tmp_path/"a"))
    with builder.without_quarto_install() as env:
        assert quarto_check_calls(env, tmp_path/"b") == []
        shim = subprocess.run(["quarto", "--version"], env=env, capture_output=True, text=True)
        assert shim.returncode == 1 and "offline docs build" in shim.stderr
