"""Fail when `nbdev-clean` or `nbdev-export` would change committed files, or a notebook cell mixes imports with code.

Runs both tools and compares file hashes before and after, so it works on a dirty work tree too
(unlike `git diff`). The tools have already fixed the files when this fails: review and commit them.
`nbdev-proc-nbs` (the docs build) executes every cell that imports, so such a cell must hold imports only.
"""
import ast, hashlib, subprocess, sys
from pathlib import Path

from fastcore.nbio import read_nb  # the notebook reader nbdev itself uses: its cells parse their own directives

def snapshot(*dirs):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for d in dirs for p in sorted(Path(d).rglob("*")) if p.is_file() and "__pycache__" not in p.parts}

def check(cmd, *dirs):
    before = snapshot(*dirs)
    subprocess.run([cmd], check=True)
    after = snapshot(*dirs)
    changed = sorted(str(p) for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        print(f"ERROR: `{cmd}` changed {len(changed)} file(s); they were not clean/in sync:", *changed, sep="\n  ")
    return not changed

IMPORTS = (ast.Import, ast.ImportFrom)

def code_beside_imports(source: str) -> list:
    "First lines of a cell's top-level statements other than imports, if the docs build runs the cell for its imports."
    # nbdev's rule: a cell that parses and holds an import anywhere runs whole (its nbdev_export() cell excepted)
    if "nbdev_export()" in source: return []
    try: tree = ast.parse(source)
    except SyntaxError: return []  # magics or shell lines: nbdev does not run the cell either
    if not any(isinstance(node, IMPORTS) for node in ast.walk(tree)): return []
    return [ast.get_source_segment(source, node).splitlines()[0] for node in tree.body if not isinstance(node, IMPORTS)]

def check_imports_alone(folder):
    bad = []
    for nb in sorted(Path(folder).glob("*.ipynb")):
        for i, cell in enumerate(read_nb(nb).cells):
            # exported cells (export, exporti, exports) hold module code, not examples (nbdev's parser says which)
            if cell.cell_type != "code" or any(d.startswith("export") for d in cell.directives): continue
            if other := code_beside_imports(cell.source): bad.append(f"{nb.name} cell {i}: {other[0][:80]}")
    if bad: print("ERROR: cells that import and run other code (the docs build would run them; move the imports to "
                  "their own cell):", *bad, sep="\n  ")
    return not bad

if __name__ == "__main__":
    ok = check("nbdev-clean", "nbs") & check("nbdev-export", "predfail") & check_imports_alone("nbs")
    sys.exit(0 if ok else 1)
