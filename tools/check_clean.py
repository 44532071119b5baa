"""Fail when `nbdev-clean` or `nbdev-export` would change committed files, or a notebook cell mixes imports with code.

Runs both tools and compares file hashes before and after, so it works on a dirty work tree too
(unlike `git diff`). The tools have already fixed the files when this fails: review and commit them.
`nbdev-proc-nbs` (the docs build) executes every cell that imports, so such a cell must hold imports only.
"""
import hashlib, json, re, subprocess, sys
from pathlib import Path

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

IMPORT = re.compile(r"^\s*(import\s|from\s+\S+\s+import\s)")

def code_beside_imports(source: str) -> list:
    "The lines of a cell's source that are neither imports (with their continuations), comments nor blank, if it imports."
    lines = source.splitlines()
    if not any(IMPORT.match(l) for l in lines): return []
    other, open_paren = [], False
    for line in lines:
        s = line.strip()
        if open_paren: open_paren = not s.endswith(")"); continue
        if not s or s.startswith("#"): continue
        if IMPORT.match(line): open_paren = "(" in s and not s.endswith(")"); continue
        other.append(s)
    return other

def check_imports_alone(folder):
    bad = []
    for nb in sorted(Path(folder).glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            src = "".join(cell["source"])
            if cell["cell_type"] != "code" or re.search(r"^#\|\s*export", src, re.M): continue
            if other := code_beside_imports(src): bad.append(f"{nb.name} cell {i}: {other[0][:80]}")
    if bad: print("ERROR: cells that import and run other code (the docs build would run them; move the imports to their own cell):",
                  *bad, sep="\n  ")
    return not bad

if __name__ == "__main__":
    ok = check("nbdev-clean", "nbs") & check("nbdev-export", "predfail") & check_imports_alone("nbs")
    sys.exit(0 if ok else 1)
