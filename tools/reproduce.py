"""`make reproduce`: rerun every experiment notebook at a profile, keep the outputs in the notebooks, rebuild the site.

`python tools/reproduce.py --profile default [--draw D] [--force] [--only NB ...] [--no-save] [--skip-slow]`.
Each notebook runs in a fresh Python process as nbdev-test runs it (the cells it runs, plus those flagged `slow`),
with PREDFAIL_PROFILE, PREDFAIL_DRAW and the pinned CPU kernels in its environment; its outputs are saved back into
the notebook and nbdev-cleaned. A finished run is recorded in `.cache/reproduce/` with its inputs (the notebook's
cells, the profile, the draw, the predfail package and constraints.txt) and reused while they are unchanged, so a
rerun after a failure resumes where it stopped. A failure names the notebook and the cell. Afterwards README.md and
the docs site are rebuilt. The driver is a build tool of this repository, not part of the predfail package; its
tests are tests/test_reproduce.py.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from tqdm import tqdm

from predfail.core import get_profile, pin_cpu_kernels, repo_root

def experiment_notebooks(nbs_path: Path | str, # the notebooks folder
                         names: list[str] | None = None, # run only these (file names, with or without .ipynb)
                         with_index: bool = True, # run index.ipynb after the experiments
                        ) -> list[Path]:
    "The notebooks `make reproduce` runs, in order: the numbered notebooks, then index.ipynb."
    nbs_path = Path(nbs_path)
    found = sorted(nbs_path.glob("[0-9]*.ipynb"))
    if with_index and (nbs_path/"index.ipynb").exists(): found.append(nbs_path/"index.ipynb")
    if names is None: return found
    wanted = [n if n.endswith(".ipynb") else n + ".ipynb" for n in names]
    unknown = [n for n in wanted if n not in {p.name for p in found}]
    if unknown: raise ValueError(f"no such experiment notebook(s) in {nbs_path}: {unknown}")
    return [p for p in found if p.name in wanted]

def notebook_source_hash(nb_path: Path | str, # a notebook file
                        ) -> str:
    "SHA-256 of a notebook's cells (type and source only: outputs and metadata stripped)."
    nb = json.loads(Path(nb_path).read_text())
    cells = [[c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]]
             for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()

def tree_hash(root: Path | str, # folder to hash
              pattern: str = "*.py", # files to include (glob, recursive)
              exclude: tuple[str, ...] = (), # file names to leave out
             ) -> str:
    "SHA-256 over the relative paths and contents of the files under `root` matching `pattern`."
    root, h = Path(root), hashlib.sha256()
    for p in sorted(root.rglob(pattern)):
        if p.is_file() and p.name not in exclude and "__pycache__" not in p.parts:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()

def check_draw(draw) -> int:
    "The draw as a non-negative int (PREDFAIL_DRAW: 0 is the committed draw); a one-line error otherwise."
    try: d = int(str(draw).strip())
    except ValueError: d = -1
    if d < 0: raise ValueError(f"draw (PREDFAIL_DRAW) must be a whole number >= 0, got {draw!r}")
    return d

def cache_key(nb_path: Path | str, # the notebook
              profile: str, # "quick", "default" or "full"
              root: Path | str, # repository root (holds predfail/ and constraints.txt)
              draw: int = 0, # PREDFAIL_DRAW: another draw is another result
             ) -> dict:
    "The inputs of a notebook's result, and `key`, their combined SHA-256."
    root = Path(root)
    constraints = root/"constraints.txt"
    parts = {"notebook_source": notebook_source_hash(nb_path), "profile": get_profile(profile), "draw": check_draw(draw),
             "package": tree_hash(root/"predfail"),
             "constraints": hashlib.sha256(constraints.read_bytes()).hexdigest() if constraints.exists() else "none"}
    return {**parts, "key": hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()}

class ResultCache:
    "Finished notebook runs under `path` (one JSON per notebook), reused while their inputs are unchanged."
    def __init__(self, path: Path | str): # cache folder, e.g. .cache/reproduce
        self.path = Path(path)

    def _file(self, nb_path): return self.path/(Path(nb_path).stem + ".json")

    def get(self, nb_path: Path | str) -> dict | None: # the notebook
        "The stored record for `nb_path`, or None."
        f = self._file(nb_path)
        return json.loads(f.read_text()) if f.exists() else None

    def is_fresh(self, nb_path: Path | str, # the notebook
                 key: str, # its current `cache_key(...)["key"]`
                 root: Path | str, # repository root (products are stored relative to it)
                ) -> bool:
        "Whether the stored run of `nb_path` can be reused."
        rec = self.get(nb_path)
        return (rec is not None and rec["key"] == key
                and rec["saved_notebook"] == hashlib.sha256(Path(nb_path).read_bytes()).hexdigest()
                and all((Path(root)/p).exists() for p in rec["products"]))

    def record(self, nb_path: Path | str, # the notebook, as saved after its run
               key: dict, # `cache_key(...)`
               seconds: float, # how long the run took
               products: list[str], # files it wrote, relative to the repository root
              ):
        "Store a successful run."
        self.path.mkdir(parents=True, exist_ok=True)
        rec = {**key, "notebook": Path(nb_path).name, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
               "seconds": round(seconds, 2), "products": sorted(products),
               "saved_notebook": hashlib.sha256(Path(nb_path).read_bytes()).hexdigest()}
        self._file(nb_path).write_text(json.dumps(rec, indent=1))

    def forget(self, nb_path: Path | str): # the notebook
        "Drop the stored run of `nb_path` (before it reruns)."
        self._file(nb_path).unlink(missing_ok=True)

def execute_notebook(nb_path: Path | str, # the notebook to run
                     flags: tuple = ("slow",), # nbdev test flags whose cells run too
                     save: bool = True, # write the outputs back into the notebook on success
                    ) -> dict:
    "Run a notebook's cells in this process as nbdev-test would; report ok, seconds and, on failure, the failing cell."
    from execnb.shell import CaptureShell
    from fastcore.nbio import write_nb
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.test import nb_test_cells
    nb_path = Path(nb_path).resolve()
    skip = tuple(f for f in (get_config(nb_path.parent).tst_flags or "").split() if f not in flags)
    runs = {c.idx_ for c in nb_test_cells(nb_path, skip_flags=skip)}
    nb = NBProcessor(nb_path, rm_directives=False, process=True).nb
    started = []
    def not_run(cell):
        if cell.idx_ not in runs: return True
        started.append(cell.idx_); return False
    shell, t0, old = CaptureShell(nb_path), time.monotonic(), os.getcwd()
    os.environ["IN_TEST"] = "1"   # as under nbdev-test: notebooks read it to stay quiet
    os.chdir(nb_path.parent)
    try:
        shell.run_all(nb, exc_stop=True, preproc=not_run, cell_timeout=None)
        if save: write_nb(nb, nb_path)
        return {"ok": True, "seconds": time.monotonic() - t0}
    except BaseException as e:
        i = started[-1] if started else None
        return {"ok": False, "seconds": time.monotonic() - t0, "cell": None if i is None else i + 1,
                "source": None if i is None else nb.cells[i].source, "error": f"{type(e).__name__}: {e}".rstrip(": "),
                "traceback": shell.prettytb(fname=nb_path) or traceback.format_exc()}
    finally: os.chdir(old)

def notebook_runner(nb_path: Path, # the notebook to run
                    profile: str, # run profile, passed as PREDFAIL_PROFILE
                    root: Path, # repository root (unused: the process runs in the notebook's folder, as nbdev-test does)
                    progress=None, # a tqdm bar whose postfix shows the elapsed time, or None
                    save: bool = True, # write outputs back into the notebook on success
                    flags: tuple = ("slow",), # nbdev test flags whose cells run too
                    draw: int = 0, # passed as PREDFAIL_DRAW
                   ) -> dict:
    "Run `nb_path` with `execute_notebook` in a fresh Python process; return its report."
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp)/"report.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--execute", str(nb_path), "--report", str(report)]
        if not save: cmd.append("--no-save")
        cmd += ["--flags", *flags] if flags else ["--flags"]
        env = {**os.environ, "PREDFAIL_PROFILE": profile, "PREDFAIL_DRAW": str(check_draw(draw))}
        pin_cpu_kernels(env)  # torch's AVX2 kernels unless the caller chose others
        start = time.monotonic()
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, cwd=nb_path.parent, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err, text=True)
            while proc.poll() is None:
                if progress is not None: progress.set_postfix_str(f"{nb_path.name} {time.monotonic() - start:.0f}s")
                time.sleep(0.5)
            err.seek(0); stderr = err.read()
        if report.exists(): return json.loads(report.read_text())
    return {"ok": False, "seconds": time.monotonic() - start, "cell": None, "source": None,  # the process itself died
            "error": (stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1], "traceback": stderr}

def failure_message(nb_path: Path | str, # the notebook that failed
                    report: dict, # its runner report (`execute_notebook`)
                   ) -> str:
    "A message naming the failed notebook, its failing cell (number and first lines) and the error."
    msg = f"{Path(nb_path).name} failed"
    if report.get("cell") is not None:
        lines = (report.get("source") or "").splitlines()
        shown = "\n".join("    " + l for l in lines[:8]) + ("\n    ..." if len(lines) > 8 else "")
        msg += f" in cell #{report['cell']} (counting all cells from 1):\n{shown}\n"
    return msg + f"\n{report.get('error') or '(no error message)'}"

class NotebookFailed(RuntimeError):
    "An experiment notebook failed; the message names the notebook and the cell."

def _venv_bin(name):
    "The console script `name` of this interpreter's environment, else `name` (found on PATH)."
    path = Path(sys.executable).parent/name
    return str(path) if path.exists() else name

def _snapshot(dirs):
    "{path: (mtime, size)} of the files under `dirs`."
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for d in dirs if d.exists() for p in d.rglob("*") if p.is_file()}

def run_notebook_step(nb: Path, # the notebook
                      profile: str, # run profile
                      root: Path, # repository root
                      cache: ResultCache, # finished runs
                      out_dirs: list, # where the notebooks write figures and tables
                      runner=notebook_runner, # (nb, profile, root, progress, save, flags, draw) -> report
                      force: bool = False, # rerun even a fresh result
                      save: bool = True, # keep the outputs in the notebook (and nbdev-clean it)
                      progress=None, # the run's tqdm bar
                      flags: tuple = ("slow",), # nbdev test flags whose cells run too (() : the quick checks only)
                      draw: int = 0, # PREDFAIL_DRAW for the notebook
                     ) -> dict:
    "Run one notebook unless its cached result is fresh; return its step record, or raise NotebookFailed."
    key = cache_key(nb, profile, root, draw)
    save = save and "slow" in flags  # a run without the slow cells never replaces a full one
    if not force and save and cache.is_fresh(nb, key["key"], root): return {"step": nb.name, "status": "cached", "seconds": 0.0}
    if save: cache.forget(nb)
    before = _snapshot(out_dirs)
    report = runner(nb, profile, root, progress, save, flags, draw)
    if not report["ok"]:
        raise NotebookFailed(failure_message(nb, report) + f"\n(full traceback: rerun `nbdev-test {nb.relative_to(root)} "
                             f"--flags slow` with PREDFAIL_PROFILE={profile} PREDFAIL_DRAW={draw}; earlier results are kept)")
    if save:
        res = subprocess.run([_venv_bin("nbdev-clean"), "--fname", str(nb)], cwd=root, capture_output=True, text=True)
        if res.returncode: raise NotebookFailed(f"nbdev-clean failed on {nb.name} (its run succeeded):\n{res.stderr[-2000:]}")
    products = [os.path.relpath(p, root) for p, s in _snapshot(out_dirs).items() if before.get(p) != s]
    if save: cache.record(nb, key, report["seconds"], products)
    return {"step": nb.name, "status": "ran", "seconds": report["seconds"], "products": len(products)}

def rebuild_docs(root: Path, # repository root
                 quiet: bool = False, # no progress lines
                ) -> list[dict]:
    "Regenerate README.md and the docs site; return their step records, or raise NotebookFailed."
    steps = []
    for name, cmd in [("README.md", [sys.executable, "tools/make_readme.py"]), ("docs site", ["bash", "tools/build_docs.sh"])]:
        if not (root/cmd[-1]).exists(): continue
        if not quiet: print(f"rebuilding {name} ...", flush=True)
        start = time.monotonic()
        res = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        steps.append({"step": name, "status": "ok" if res.returncode == 0 else "FAILED", "seconds": time.monotonic() - start})
        if res.returncode: raise NotebookFailed(f"rebuilding {name} failed ({' '.join(cmd)}):\n{(res.stdout + res.stderr)[-2000:]}")
    return steps

def reproduce(profile: str = "default", # run profile: "quick", "default" or "full"
              force: bool = False, # rerun every notebook, ignoring the cache
              notebooks: list[str] | None = None, # run only these notebooks (names); default: all experiments
              root: Path | str | None = None, # repository root; default: found from the working directory
              runner=notebook_runner, # runs one notebook: (nb_path, profile, root, progress, save, flags, draw) -> report
              post: bool = True, # afterwards rebuild README.md and the docs site
              save: bool = True, # keep outputs in the notebooks; False: only check that every notebook passes
              slow: bool = True, # run the cells flagged slow too (False: only the quick checks nbdev-test runs; saves nothing)
              workers: int = 1, # notebooks run at once (each in its own process); results are the same
              quiet: bool = False, # no progress bar and no report
              draw: int | str | None = None, # PREDFAIL_DRAW for every notebook; default: the environment's, else 0
             ) -> list[dict]:
    "Rerun the experiment notebooks at `profile` (reusing unchanged results), then README.md and the site."
    from concurrent.futures import ThreadPoolExecutor
    from unittest.mock import patch
    if workers < 1: raise ValueError(f"workers must be >= 1, got {workers}")
    draw = check_draw(os.environ.get("PREDFAIL_DRAW", "0") if draw is None else draw)
    profile, root = get_profile(profile), Path(root or repo_root())
    nbs = experiment_notebooks(root/"nbs", notebooks)
    cache = ResultCache(root/".cache"/"reproduce")
    # where the notebooks' save_figure/save_table write (the rule of predfail.core.output_dir)
    out_root = Path(os.environ.get("PREDFAIL_OUTPUT") or (root/".cache"/"quick" if profile == "quick" else root))
    if draw and not os.environ.get("PREDFAIL_OUTPUT"): out_root = out_root/"draws"/f"draw{draw}"   # predfail.core.output_dir's rule
    steps, t0 = {}, time.monotonic()
    live = not quiet and sys.stdout.isatty()  # a live bar on a terminal; one line per notebook in logs
    bar = tqdm(total=len(nbs), unit="nb", disable=not live, desc=f"reproduce ({profile}, draw {draw})", file=sys.stdout)
    def step(i, nb):
        if not live and not quiet: print(f"[{i}/{len(nbs)}] {nb.name} (profile {profile}, draw {draw}) ...", flush=True)
        try: s = run_notebook_step(nb, profile, root, cache, [out_root/"figures", out_root/"results"], runner, force, save,
                                   bar if workers == 1 else None, ("slow",) if slow else (), draw)
        except NotebookFailed as e:  # say so at once: the notebooks already running finish before the run stops
            if not quiet and workers > 1: bar.write(f"[{i}/{len(nbs)}] {nb.name} FAILED (the run stops once the running notebooks finish):\n{e}", file=sys.stderr)
            raise
        if not quiet and s["status"] == "ran": bar.write(f"[{i}/{len(nbs)}] {nb.name}: ran in {s['seconds']:.0f}s, wrote {s['products']} file(s)", file=sys.stdout)
        bar.update()
        return s
    # notebooks that time themselves record how many ran beside them (their wall time includes the shared cores)
    # the draw too, so the notebooks and anything they start see it (the runner also passes it explicitly)
    with patch.dict(os.environ, {"PREDFAIL_NOTEBOOKS_AT_ONCE": str(max(1, min(workers, len(nbs)))), "PREDFAIL_DRAW": str(draw)}), \
         ThreadPoolExecutor(workers) as pool:  # in notebook order; with one worker, strictly one after another
        futures = {nb: pool.submit(step, i, nb) for i, nb in enumerate(nbs, 1)}
        for nb, fut in futures.items():
            try: steps[nb] = fut.result()
            except NotebookFailed:
                for f in futures.values(): f.cancel()  # notebooks not yet started do not start
                bar.close()
                if not quiet: print_report(list(steps.values()) + [{"step": nb.name, "status": "FAILED", "seconds": 0.0}], root, time.monotonic() - t0, out_root)
                raise
    bar.close()
    steps = list(steps.values()) + (rebuild_docs(root, quiet) if post else [])
    if not quiet: print_report(steps, root, time.monotonic() - t0, out_root)
    return steps

def print_report(steps: list[dict], # what `reproduce` did, step by step
                 root: Path, # repository root
                 total: float, # seconds for the whole run
                 out_root: Path | None = None, # where figures/ and results/ are; default: `root`
                ):
    "Print how long each step took and where the results are."
    out_root = Path(out_root or root)
    print(f"\n{'step':<34}{'status':>8}{'seconds':>10}")
    for s in steps: print(f"{s['step']:<34}{s['status']:>8}{s['seconds']:>10.1f}")
    print(f"{'total':<34}{'':>8}{total:>10.1f}\n")
    for label, p in [("figures", out_root/"figures"), ("tables", out_root/"results"),
                     ("notebooks (with outputs)", root/"nbs"), ("docs site (open index.html)", root/"_docs"),
                     ("README", root/"README.md")]:
        if p.exists():
            n = f" ({sum(1 for f in p.iterdir() if f.is_file())} files)" if p.is_dir() else ""
            print(f"{label:<30}{p}{n}")

def main(argv: list[str] | None = None, # command-line arguments; default: sys.argv[1:]
        ):
    "Command-line entry point: `python tools/reproduce.py`."
    ap = argparse.ArgumentParser(prog="python tools/reproduce.py", description=reproduce.__doc__)
    ap.add_argument("--profile", default="default", choices=["quick", "default", "full"], help="run profile")
    ap.add_argument("--force", action="store_true", help="rerun every notebook, ignoring cached results")
    ap.add_argument("--only", nargs="+", metavar="NB", help="run only these notebooks (e.g. 03_backtest)")
    ap.add_argument("--no-post", action="store_true", help="skip the README and docs rebuild")
    ap.add_argument("--no-save", action="store_true", help="check that every notebook passes; write no outputs or cache records")
    ap.add_argument("--skip-slow", action="store_true", help="run only the quick checks (the cells nbdev-test runs); implies --no-save")
    ap.add_argument("--draw", default=None, help="PREDFAIL_DRAW for every notebook (0: the committed draw; default: "
                    "the environment's PREDFAIL_DRAW, else 0)")
    ap.add_argument("--workers", type=int, default=1, help="notebooks run at once (each in its own process)")
    ap.add_argument("--execute", metavar="NB", help=argparse.SUPPRESS)  # the fresh process of notebook_runner
    ap.add_argument("--report", metavar="FILE", help=argparse.SUPPRESS)
    ap.add_argument("--flags", nargs="*", default=["slow"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.execute:
        report = execute_notebook(args.execute, flags=tuple(args.flags), save=not args.no_save)
        if args.report: Path(args.report).write_text(json.dumps(report))
        if not report["ok"]: print(report.get("traceback", ""), file=sys.stderr)
        sys.exit(0 if report["ok"] else 1)
    check = args.no_save or args.skip_slow
    try: reproduce(args.profile, force=args.force, notebooks=args.only, post=not (args.no_post or check),
                   save=not check, slow=not args.skip_slow, workers=args.workers, draw=args.draw)
    except (NotebookFailed, ValueError) as e:
        print(f"\nERROR: {e}", file=sys.stderr)
        sys.exit(1)

if __name__ == "__main__": main()
