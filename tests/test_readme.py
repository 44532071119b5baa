"README.md is generated from nbs/index.ipynb by tools/make_readme.py (`make readme`) and must be current."
import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_readme", ROOT/"tools"/"make_readme.py")
make_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_readme)


def test_readme_is_up_to_date():
    index = ROOT/"nbs"/"index.ipynb"
    if not index.exists(): pytest.fail("nbs/index.ipynb is missing: it is the home page and the README's source")
    text, images = make_readme.render(index)
    readme = ROOT/"README.md"
    assert readme.exists(), "README.md is missing: run `make readme`"
    assert readme.read_text() == text, "README.md is out of date with nbs/index.ipynb: run `make readme`"
    for path, data in images.items():
        assert (ROOT/path).exists() and (ROOT/path).read_bytes() == data, f"{path} is out of date: run `make readme`"


@pytest.fixture
def toy_notebook(tmp_path):
    "A throwaway index notebook exercising each conversion rule."
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    nb = new_notebook(cells=[
        new_markdown_cell("# toy\n\n> One line."),
        new_code_cell("#| hide\nfrom nbdev.showdoc import *"),
        new_markdown_cell("See [the scores page](scores.html#p_from_scores) and [elsewhere](https://x.org/a.html)."),
        new_code_cell("#| export\nx = 1\nprint(x)", outputs=[new_output("stream", name="stdout", text="1\n")]),
        new_code_cell("#| echo: false\nshown_output_only()", outputs=[
            new_output("execute_result", data={"text/plain": "'hidden input'"}, execution_count=1)]),
        new_code_cell("#| include: false\ndropped()", outputs=[new_output("stream", name="stdout", text="no\n")]),
        new_code_cell("df", outputs=[new_output("execute_result", execution_count=2, data={
            "text/html": "<style scoped>.x{}</style><table><tr><td>1</td></tr></table>", "text/plain": "   a\n0  1"})]),
        new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": png})]),
    ])
    (tmp_path/"pyproject.toml").write_text('[project.urls]\nDocumentation = "https://docs.example.org/toy"\n')
    path = tmp_path/"index.ipynb"
    nbformat.write(nb, path)
    return path


def test_conversion_rules(toy_notebook):
    text, images = make_readme.render(toy_notebook, root=toy_notebook.parent)
    assert text.startswith("# toy\n\n> One line.\n\n<!-- WARNING"), text[:80]
    assert "#|" not in text and "nbdev.showdoc" not in text and "dropped()" not in text and "no\n" not in text
    assert "```python\nx = 1\nprint(x)\n```\n\n```\n1\n```" in text
    assert "shown_output_only" not in text and "'hidden input'" in text
    assert "<table><tr><td>1</td></tr></table>" in text and "<style" not in text
    assert "(https://docs.example.org/toy/scores.html#p_from_scores)" in text and "(https://x.org/a.html)" in text
    assert list(images) == ["README_files/index-1.png"] and images["README_files/index-1.png"].startswith(b"\x89PNG")
    assert "![](README_files/index-1.png)" in text
