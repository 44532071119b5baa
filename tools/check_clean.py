"""Fail when `nbdev-clean` or `nbdev-export` would change committed files.

Runs both tools and compares file hashes before and after, so it works on a dirty work tree too
(unlike `git diff`). The tools have already fixed the files when this fails: review and commit them.
"""
import hashlib, subprocess, sys
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

if __name__ == "__main__":
    ok = check("nbdev-clean", "nbs") & check("nbdev-export", "predfail")
    sys.exit(0 if ok else 1)
