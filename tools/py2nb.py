"""Build a notebook from a percent-format draft (`# %%` code cells, `# %% [markdown]` prose cells).

Usage: python tools/py2nb.py DRAFT.py nbs/NN_name.ipynb

Authoring aid only: the notebook is the source of truth once written. Markdown cells are written
with each line's leading `# ` removed.
"""
import sys, re
from pathlib import Path
import nbformat
from nbformat.v4 import new_notebook, new_code_cell, new_markdown_cell

def convert(src: str):
    cells, kind, buf = [], None, []
    def flush():
        if kind is None: return
        text = "\n".join(buf).strip("\n")
        if kind == "md":
            text = "\n".join(re.sub(r"^# ?", "", l) for l in text.splitlines())
            cells.append(new_markdown_cell(text))
        elif text.strip(): cells.append(new_code_cell(text))
    for line in src.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, buf = ("md" if "[markdown]" in line else "code"), []
        else: buf.append(line)
    flush()
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}}
    return nb

if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    nbformat.write(convert(Path(src).read_text()), dst)
    print(f"wrote {dst}")
