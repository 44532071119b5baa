"""Remove progress bars (tqdm lines) from the committed notebooks' stderr outputs; keep every other output line.

A progress bar drawn into a notebook is hundreds of carriage-return-separated frames, shown on the docs pages as a
tall pink stderr block. predfail draws bars only on a terminal (`predfail.core.show_progress`), but libraries
(transformers' "Loading weights") and older outputs still leave them: this strips them. A stderr output that held
only bars is removed; warnings and other real stderr lines stay. tests/test_docs_outputs.py checks none are left.

Usage: python tools/strip_progress.py [NOTEBOOK ...]   (default: every nbs/*.ipynb; --check: list, change nothing)
"""
import argparse, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# one tqdm frame: "desc:  42%|####2     | 42/100 [00:01<00:02, 3.1it/s]", possibly after/before a cursor-up escape
BAR_RE = re.compile(r"^(?:\x1b\[A)*[^\n\r]*?\d+%\|[^|\n\r]*\|\s*\d+/\d+\s*\[[^\]\n\r]*\]\s*(?:\x1b\[A)*\s*$")


def strip_bars(text):
    "`text` (a stream's output) without its progress-bar frames; lines that held only frames are dropped."
    kept = []
    for line in text.split("\n"):
        segments = line.split("\r")
        if any(BAR_RE.match(s) for s in segments):
            line = "\r".join(s for s in segments if s.strip() and not BAR_RE.match(s))
            if not line: continue
        kept.append(line)
    return "\n".join(kept)


def strip_notebook(nb):
    "Strip progress bars from the stderr outputs of a notebook (a dict from json); returns how many frames went."
    removed = 0
    for cell in nb.get("cells", []):
        outs = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
                new = strip_bars(text)
                if new != text:
                    removed += sum(bool(BAR_RE.match(s)) for l in text.split("\n") for s in l.split("\r"))
                    if not new.strip(): continue
                    out["text"] = new.splitlines(keepends=True)
            outs.append(out)
        if "outputs" in cell: cell["outputs"] = outs
    return removed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="notebooks to clean (default: nbs/*.ipynb)")
    ap.add_argument("--check", action="store_true", help="only list notebooks that hold progress bars (exit 1 if any)")
    args = ap.parse_args(argv)
    found = []
    for path in args.notebooks or sorted((ROOT/"nbs").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        if not (n := strip_notebook(nb)): continue
        found.append(f"{path.name}: {n} progress-bar frames")
        if not args.check:
            tmp = path.with_name(f".{path.name}.tmp")  # same folder, then an atomic rename
            tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            tmp.replace(path)
    print("\n".join(found) or "no progress bars in the notebooks' outputs")
    if args.check and found: sys.exit(1)


if __name__ == "__main__":
    main()
