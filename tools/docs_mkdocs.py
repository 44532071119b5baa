"""Build the docs site into `_docs/` without Quarto: nbdev's processed notebooks rendered by mkdocs-material.

Usage: python tools/docs_mkdocs.py   (tools/build_docs.sh calls it when `quarto` is missing)

Glue only; nbdev and mkdocs do the work:
1. `nbdev-proc-nbs` writes the processed notebooks to `_proc/` (directives removed, API docs inserted as markdown,
   the `# Title` / `> summary` cell turned into Quarto front matter).
2. Each processed notebook is copied to `build/docs/src/<page>.ipynb`, where `<page>` is the `output-file` nbdev
   chose (`core.html` for `00_core.ipynb`, as in the Quarto site, so nbdev's doc links resolve). On the way the
   Quarto-only parts are translated: front matter -> a `# Title` + `> summary` markdown cell; the cell options
   `#| echo/output/include: false` -> cell tags that mkdocs-jupyter's `remove_tag_config` understands, then every
   remaining `#|` line is dropped; Pandoc link attributes `[x](url){...}` -> HTML links; keys that fail nbformat
   validation (execnb's `execution` metadata, `has_sd`, ...) are stripped.
3. `build/docs/mkdocs.yml` INHERITs the root `mkdocs.yml` and adds the nav: every notebook nbdev processed, in
   notebook order, index first, titled by its `# Title`. New notebooks appear without editing anything.
4. `mkdocs build` into `_docs/`, then the needed part of a local MathJax 2 (Debian's libjs-mathjax, installed with
   chromium by tools/ensure_chromium.sh) is copied into `_docs/assets/mathjax/` so formulas render offline; without
   it the pages load MathJax from a CDN (with a warning).
"""
import argparse, contextlib, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

# jsonschema (via nbformat) imports the optional rfc3987_syntax, which compiles 38 grammars at import (seconds on
# 2 busy cores) for an IRI format check that notebook validation never uses: skip it in this process.
sys.modules.setdefault("rfc3987_syntax", None)
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOOLS_DOCS = Path(__file__).resolve().parent/"docs"
QUARTO_FILES = {"_quarto.yml", "nbdev.yml", "sidebar.yml", "_brand.yml", "_metadata.yml", "styles.css"}
OPTION_RE = re.compile(r"^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")
DIRECTIVE_RE = re.compile(r"^\s*#\|")
PANDOC_LINK_RE = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)\{([^}\n]*)\}")
CELL_KEYS = {"code": {"id", "cell_type", "metadata", "source", "outputs", "execution_count"},
             "markdown": {"id", "cell_type", "metadata", "source", "attachments"},
             "raw": {"id", "cell_type", "metadata", "source", "attachments"}}
FENCED_DIV_RE = re.compile(r"^:::+.*$", re.M)


def bin_path(name):
    "The console script `name` next to this interpreter (the venv's), else the one on PATH."
    here = Path(sys.executable).parent/name
    return str(here) if here.exists() else (shutil.which(name) or name)


def front_matter(nb):
    "The Quarto front matter of a processed notebook (a raw cell between `---` lines) and its cell index."
    for i, cell in enumerate(nb.cells[:3]):
        src = cell.source.strip()
        if cell.cell_type == "raw" and src.startswith("---"):
            return (yaml.safe_load(src.strip("-\n")) or {}), i
    return {}, None


def cell_options(source):
    "Quarto cell options (`#| key: value` lines) of a code cell, as a dict of lower-case strings."
    return {m[1].lower(): m[2].strip("'\"").lower() for line in source.splitlines() if (m := OPTION_RE.match(line))}


def pandoc_to_html(text):
    "Pandoc-only markdown (link attributes, fenced divs) that nbconvert's markdown renderer would show verbatim."
    text = PANDOC_LINK_RE.sub(lambda m: f'<a href="{m[2]}" {m[3].strip()}>{m[1]}</a>', text)
    return FENCED_DIV_RE.sub("", text)


def clean_notebook(nb, fallback_title):
    "Translate one processed notebook for mkdocs-jupyter; returns (notebook, title)."
    meta, fm_idx = front_matter(nb)
    title = str(meta.get("title") or fallback_title)
    cells = []
    if fm_idx is not None:
        head = f"# {title}"
        if meta.get("description"): head += f"\n\n> {' '.join(str(meta['description']).split())}"
        cells.append(nbformat.v4.new_markdown_cell(head))
    for i, cell in enumerate(nb.cells):
        if i == fm_idx: continue
        if cell.cell_type == "markdown": cell.source = pandoc_to_html(cell.source)
        if cell.cell_type == "code":
            opts = cell_options(cell.source)
            tags = cell.metadata.setdefault("tags", [])
            if opts.get("include") == "false": tags.append("quarto-include-false")
            if opts.get("echo") == "false": tags.append("quarto-echo-false")
            if opts.get("output") == "false": tags.append("quarto-output-false")
            cell.source = "\n".join(l for l in cell.source.splitlines() if not DIRECTIVE_RE.match(l)).strip("\n")
            if not cell.metadata["tags"]: del cell.metadata["tags"]
            for out in cell.get("outputs", []):
                md = out.get("data", {}).get("text/markdown")
                if md is not None:
                    out["data"]["text/markdown"] = pandoc_to_html(md if isinstance(md, str) else "".join(md))
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # else nbconvert loads the widget manager from a CDN (no widgets live here)
    nb.metadata["predfail_docs"] = {"toc_version": TOC_VERSION}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells): cell["id"] = f"cell-{i}"  # deterministic: mkdocs-jupyter caches by content
    # execnb/nbdev leave keys nbformat's schema rejects (`has_sd`, execnb's `execution` metadata): strip them
    for cell in nb.cells:
        for key in set(cell) - CELL_KEYS[cell.cell_type]: del cell[key]
        cell.metadata.pop("execution", None)
    _, nb = nbformat.validator.normalize(nb, strip_invalid_metadata=True)
    nb = nbformat.from_dict(nb)
    nbformat.validate(nb)
    return nb, title


def notebook_order(proc):
    "Processed notebooks in nbdev's (file name) order, index first; skips `_`/`.` files and folders like nbdev."
    nbs = [p for p in sorted(proc.rglob("*.ipynb"))
           if not any(part.startswith(("_", ".")) for part in p.relative_to(proc).parts)]
    return sorted(nbs, key=lambda p: (p.relative_to(proc).parts != ("index.ipynb",), str(p.relative_to(proc))))


def link_notebooks_to_pages(nb, pages):
    "Links to notebooks (`03_backtest.ipynb#x`) point to their pages (`backtest.html#x`), as Quarto rewrites them."
    pattern = re.compile(r"\]\((?:\./)?(" + "|".join(map(re.escape, pages)) + r")(#[^)]*)?\)")
    for cell in nb.cells:
        if cell.cell_type == "markdown" and pages: cell.source = pattern.sub(lambda m: f"]({pages[m[1]]}{m[2] or ''})", cell.source)


def prepare(proc, src):
    "Write the translated notebooks and static files to `src`; return the nav as [(title, page file)]."
    if src.exists(): shutil.rmtree(src)
    src.mkdir(parents=True)
    nav, nbs = [], {}
    for nb_path in notebook_order(proc):
        nb = nbformat.read(nb_path, as_version=4)
        meta, _ = front_matter(nb)
        out_file = meta.get("output-file") or nb_path.with_suffix(".html").name
        nbs[nb_path] = (nb, nb_path.parent.relative_to(proc)/Path(out_file).with_suffix(".ipynb"))
    pages = {p.relative_to(proc).as_posix(): rel.with_suffix(".html").as_posix() for p, (_, rel) in nbs.items()}
    for nb_path, (nb, rel) in nbs.items():
        link_notebooks_to_pages(nb, pages)
        nb, title = clean_notebook(nb, fallback_title=nb_path.stem)
        (src/rel).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, src/rel)
        nav.append((title, rel.as_posix()))
    for f in proc.rglob("*"):  # images and other files the notebooks reference
        rel = f.relative_to(proc)
        if f.is_file() and f.suffix != ".ipynb" and f.name not in QUARTO_FILES \
                and not any(p.startswith(("_", ".")) for p in rel.parts):
            (src/rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, src/rel)
    (src/"assets").mkdir(exist_ok=True)
    shutil.copy2(TOOLS_DOCS/"predfail.css", src/"assets"/"predfail.css")
    return nav


def write_config(build, nav, site_dir):
    "The generated mkdocs config: the root mkdocs.yml plus docs_dir, site_dir and the nav."
    cfg = {"INHERIT": os.path.relpath(ROOT/"mkdocs.yml", build), "docs_dir": "src",
           "site_dir": os.path.relpath(site_dir, build), "nav": [{title: page} for title, page in nav]}
    path = build/"mkdocs.yml"
    path.write_text("# generated by tools/docs_mkdocs.py; edit the root mkdocs.yml instead\n" + yaml.safe_dump(cfg, sort_keys=False))
    return path


MATHJAX_DIRS = ["/usr/share/javascript/mathjax"]  # Debian's libjs-mathjax + fonts-mathjax (tools/ensure_chromium.sh)
# The parts of MathJax 2 that `?config=TeX-AMS_CHTML-full,Safe` (mkdocs.yml) loads: about 1.5 MB of 54.
MATHJAX_PARTS = ["MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions", "jax/input/TeX",
                 "jax/output/CommonHTML", "jax/element", "fonts/HTML-CSS/TeX/woff", "fonts/HTML-CSS/TeX/otf",
                 "localization/en"]
MATHJAX_CDN = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.9/MathJax.js"


def local_mathjax():
    "The folder of an installed MathJax 2 with its TeX fonts, or None."
    return next((Path(d) for d in MATHJAX_DIRS if (Path(d)/"MathJax.js").exists()
                 and (Path(d)/"fonts/HTML-CSS/TeX/woff").is_dir()), None)


def copy_mathjax(site_dir):
    "Copy MathJax into the site so formulas render offline; without a local MathJax, pages load it from a CDN."
    src = local_mathjax()
    if src is None:
        print("WARNING: MathJax is not installed here (Debian: apt-get install libjs-mathjax fonts-mathjax, or "
              "`make chromium`); the pages load it from a CDN, so formulas need a network", file=sys.stderr)
        for page in site_dir.rglob("*.html"):
            text = page.read_text()
            if "assets/mathjax/MathJax.js" in text:
                page.write_text(re.sub(r'src="[./]*assets/mathjax/MathJax\.js', f'src="{MATHJAX_CDN}', text))
        return
    dest = site_dir/"assets"/"mathjax"
    for part in MATHJAX_PARTS:
        (dest/part).parent.mkdir(parents=True, exist_ok=True)
        if (src/part).is_dir(): shutil.copytree(src/part, dest/part, dirs_exist_ok=True)
        else: shutil.copy2(src/part, dest/part)


FENCE_RE = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.M | re.S)
TOC_VERSION = "1"  # in every page's metadata: a change of the anchor rules below invalidates mkdocs-jupyter's cache


def nb_toc_tokens(nb_path, toc_depth):
    "Table-of-contents tokens of a page from its markdown cells' headings, code spans kept (as in the page's ids)."
    # mkdocs-jupyter deletes every `code` span before computing the TOC, so a heading holding code got an anchor
    # that no element of the page has (`#the-command` for "The `predfail` command", id the-predfail-command)
    from mkdocs_jupyter.plugin import _get_markdown_toc
    nb = nbformat.read(nb_path, as_version=4)
    body = FENCE_RE.sub("", "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    tokens = _get_markdown_toc(body, toc_depth)
    return tokens, next((t["name"] for t in tokens if t["level"] == 1), None)


@contextlib.contextmanager
def consistent_anchors():
    "Patch mkdocs-jupyter for the build: TOC anchors from `nb_toc_tokens`; repeated heading ids made unique."
    # nbconvert gives two headings with the same text the same id; the TOC (python-markdown) numbers the second
    # `x_1`, so its link went nowhere. Number the page's ids the same way, page by page.
    import mkdocs_jupyter.convert as convert, mkdocs_jupyter.plugin as plugin
    from markdown.extensions.toc import unique
    from nbconvert.filters.markdown_mistune import IPythonRenderer
    seen = {"ids": None}
    heading, nb2html, toc = IPythonRenderer.heading, convert.nb2html, plugin._get_nb_toc_tokens

    def unique_heading(self, text, level, **attrs):
        html = heading(self, text, level, **attrs)
        m = re.search(r'\bid="([^"]*)"', html)
        if seen["ids"] is None or not m: return html
        new = unique(m[1], seen["ids"])
        return html if new == m[1] else html.replace(f'id="{m[1]}"', f'id="{new}"').replace(f'href="#{m[1]}"', f'href="#{new}"')

    def page_html(*args, **kwargs):
        seen["ids"] = set()
        try: return nb2html(*args, **kwargs)
        finally: seen["ids"] = None

    IPythonRenderer.heading, convert.nb2html, plugin._get_nb_toc_tokens = unique_heading, page_html, nb_toc_tokens
    try: yield
    finally: IPythonRenderer.heading, convert.nb2html, plugin._get_nb_toc_tokens = heading, nb2html, toc


def build_site(config):
    "`mkdocs build -q -f config`, in this process (its imports are already paid for)."
    import logging
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    cwd = os.getcwd()
    os.chdir(ROOT)  # mkdocs-jupyter's cache_dir is relative to the working directory
    try:
        with consistent_anchors(): build(load_config(config_file=str(config)))
    finally: os.chdir(cwd)


def relative_404(site_dir):
    "Make the 404 page's links relative like every other page's (mkdocs writes them from the domain root)."
    # Without a site_url, mkdocs roots 404.html's links at `/`: a site opened from disk or served under a path
    # (https://x.github.io/predfail/) showed an unstyled 404 page whose links went nowhere. 404.html is at the top.
    page = site_dir/"404.html"
    if page.exists():
        page.write_text(re.sub(r'\b(href|src)="/(?!/)', r'\1="./', page.read_text()))


@contextlib.contextmanager
def without_quarto_install():
    "An environment for `nbdev-proc-nbs` in which it finds a `quarto` and so does not try to install one."
    # nbdev-proc-nbs never runs Quarto, but where `quarto` is not on PATH it first tries to download Quarto and
    # install it with sudo. An offline build must not do that: a stand-in `quarto` that refuses to run satisfies
    # the check and fails loudly should nbdev ever call it.
    with tempfile.TemporaryDirectory() as shim_dir:
        shim = Path(shim_dir)/"quarto"
        shim.write_text("#!/bin/sh\necho 'quarto: not available in the offline docs build (tools/docs_mkdocs.py)' >&2\nexit 1\n")
        shim.chmod(0o755)
        yield {**os.environ, "PATH": os.pathsep.join([shim_dir, os.environ.get("PATH", "")])}


def process_notebooks():
    "Run `nbdev-proc-nbs`, which writes the processed notebooks to `_proc/`."
    with without_quarto_install() as env: subprocess.run([bin_path("nbdev-proc-nbs")], cwd=ROOT, check=True, env=env)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site-dir", default=str(ROOT/"_docs"), help="output folder (default: _docs/)")
    ap.add_argument("--skip-proc", action="store_true", help="reuse _proc/ as it is (no nbdev-proc-nbs)")
    args = ap.parse_args(argv)
    site_dir, build, proc = Path(args.site_dir).resolve(), ROOT/"build"/"docs", ROOT/"_proc"
    t0 = time.perf_counter()
    if not args.skip_proc: process_notebooks()
    t1 = time.perf_counter()
    nav = prepare(proc, build/"src")
    if not nav: sys.exit("ERROR: no processed notebooks in _proc/ (is nbs/ empty?)")
    config = write_config(build, nav, site_dir)
    t2 = time.perf_counter()
    build_site(config)
    relative_404(site_dir)
    copy_mathjax(site_dir)
    t3 = time.perf_counter()
    print(f"docs: {len(nav)} pages -> {site_dir.relative_to(ROOT) if site_dir.is_relative_to(ROOT) else site_dir}/ "
          f"(nbdev-proc-nbs {t1-t0:.1f}s, translate {t2-t1:.1f}s, mkdocs {t3-t2:.1f}s)")


if __name__ == "__main__":
    main()
