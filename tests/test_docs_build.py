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


def test_echo_false_hides_source_keeps_output(tmp_path):
    "`#| echo: false` (the directive for generated closing notes): nbdev keeps it for Quarto, and the offline build"
    " shows the cell's output without its source, as Quarto does."
    import nbformat, yaml
    from fastcore.nbio import write_nb
    from nbdev.process import NBProcessor
    from nbdev.processors import FilterDefaults
    from mkdocs_jupyter.convert import nb2html
    builder = load_docs_builder()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Toy\n\n> A page."),
        nbformat.v4.new_code_cell("#| echo: false\nmake_closing_note()", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/markdown": "**Closing note** from the results."})]),
        nbformat.v4.new_code_cell("visible_code()", outputs=[nbformat.v4.new_output("stream", name="stdout", text="shown\n")]),
    ])
    src = tmp_path/"src.ipynb"
    nbformat.write(nb, src)
    proc = NBProcessor(src, FilterDefaults().procs(), rm_directives="quarto")   # what nbdev-proc-nbs runs
    proc.process()
    write_nb(proc.nb, tmp_path/"proc.ipynb")
    proc_nb = nbformat.read(tmp_path/"proc.ipynb", as_version=4)
    assert "#| echo: false" in proc_nb.cells[-2].source   # nbdev-proc-nbs leaves the option to Quarto
    page, _ = builder.clean_notebook(proc_nb, fallback_title="toy")
    path = tmp_path/"toy.ipynb"
    nbformat.write(page, path)
    plugin = next(p["mkdocs-jupyter"] for p in yaml.safe_load((ROOT/"mkdocs.yml").read_text())["plugins"]
                  if isinstance(p, dict) and "mkdocs-jupyter" in p)
    html = nb2html(str(path), remove_tag_config=plugin["remove_tag_config"], no_prompt=True)
    assert "Closing note" in html and "make_closing_note" not in html
    assert "visible_code" in html and "shown" in html
