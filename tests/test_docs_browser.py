"""The built docs site (`_docs/`, from `make docs`), opened page by page in headless Chromium.

For every page: it loads without console errors, has its title, shows no raw nbdev directives, every image has
loaded, and every figure is shown at least 250 px tall (else its labels cannot be read). A screenshot of each page is
kept in `artifacts/screenshots/`. Chromium is driven over the Chrome DevTools Protocol (websocket-client). Without
chromium the browser tests skip with a message, except under CI=true, where they fail; the tests install nothing
(.ci/run installs Chromium and MathJax with tools/ensure_chromium.sh). A missing or stale `_docs/` is rebuilt with
tools/build_docs.sh first.
"""
import base64, contextlib, functools, http.server, json, os, re, shutil, subprocess, tempfile, threading, time, urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS, NBS = ROOT/"_docs", ROOT/"nbs"
SHOTS = ROOT/"artifacts"/"screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars"]
VIEWPORT = (1280, 900)
MAX_SHOT_HEIGHT = 6000  # px; long pages are cut here in the screenshot (the checks still see the whole page)
SHOT_QUALITY = 75  # JPEG: a tall full-page PNG takes seconds to encode on 2 cores
pytestmark = pytest.mark.browser


def notebooks():
    "The notebooks nbdev renders (its default skip rule: names starting with `_` or `.`)."
    return sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith(("_", ".")))


@functools.cache
def build_site():
    "Build `_docs/` when it is missing or older than a notebook; return None, or the build error as text."
    import fcntl
    lock = ROOT/"build"/".docs-build.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # pytest-xdist workers: one builds, the others then find the site fresh
        return _build_site_if_stale()


def _build_site_if_stale():
    index = DOCS/"index.html"
    newest_nb = max((p.stat().st_mtime for p in notebooks()), default=0)
    # an offline (mkdocs) build made before MathJax was installed loads it from a CDN: rebuild it with MathJax
    cdn_mathjax = (Path("/usr/share/javascript/mathjax/MathJax.js").exists() and not (DOCS/"site_libs").exists()
                   and not (DOCS/"assets"/"mathjax"/"MathJax.js").exists())
    if index.exists() and index.stat().st_mtime >= newest_nb and not cdn_mathjax: return None
    res = subprocess.run(["bash", str(ROOT/"tools"/"build_docs.sh")], cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0 or not index.exists():
        return f"`bash tools/build_docs.sh` failed (exit {res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"


def site_pages():
    "Relative paths of the site's pages (404.html and asset folders excluded); builds the site first if needed."
    if build_site() is not None: return ["<site build failed>"]
    skip = {"assets", "search", "site_libs"}
    return sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.html")
                  if p.name != "404.html" and not skip & set(p.relative_to(DOCS).parts))


@pytest.fixture(scope="session")
def site():
    err = build_site()
    if err: pytest.fail(f"the docs site could not be built: {err}")
    return DOCS


@contextlib.contextmanager
def serve(directory):
    "Serve `directory` on 127.0.0.1 at a free port, in a thread; yields the base URL."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try: yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def server(site):
    with serve(site) as url: yield url


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name): return path
    return None


@pytest.fixture(scope="session")
def chromium():
    "Path to chromium; skip (fail under CI=true) without it. Tests install nothing: .ci/run installs Chromium."
    path = find_chromium()
    if path is None:
        msg = ("Chromium is not installed, so the docs browser test did not run; install it with "
               "`bash tools/ensure_chromium.sh` (root and apt-get; .ci/run does this)")
        if os.environ.get("CI", "").lower() == "true": pytest.fail(msg)
        pytest.skip(msg)
    return path


class CDP:
    "A minimal synchronous Chrome DevTools Protocol session on one websocket; events are kept in `events`."
    def __init__(self, url, timeout=20):
        import websocket  # websocket-client, installed with jupyter
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.next_id, self.events = 0, []

    def send(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg: raise RuntimeError(f"CDP {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg: self.events.append(msg)

    def wait_for(self, event, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e["method"] == event for e in self.events): return
            self.ws.settimeout(max(0.05, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if "method" in msg: self.events.append(msg)
        raise TimeoutError(f"no {event} within {timeout}s")

    def close(self): self.ws.close()


@pytest.fixture(scope="session")
def browser(chromium):
    "One headless Chromium (fresh profile) with remote debugging on a free port; yields the DevTools port."
    profile = tempfile.mkdtemp(prefix="predfail-chromium-")
    proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = Path(profile)/"DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"chromium ({chromium}) did not start (exit code {proc.poll()})")
        time.sleep(0.05)
    shutil.rmtree(SHOTS, ignore_errors=True)  # the artifacts show this run only
    port = int(port_file.read_text().split()[0])
    browser_cdp = CDP(f"ws://127.0.0.1:{port}{port_file.read_text().split()[1]}")
    try: yield port, browser_cdp
    finally:
        browser_cdp.close()
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


# Runs in the page once it has loaded: waits for MathJax and the images, then reports what a reader sees.
INSPECT_JS = """
(async () => {
  const waitMathJax = new Promise(r => (window.MathJax && MathJax.Hub) ? MathJax.Hub.Queue(r) : r());
  for (const img of document.images) img.loading = "eager";
  const waitImages = Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  await Promise.race([Promise.all([waitMathJax, waitImages]), new Promise(r => setTimeout(r, 8000))]);
  return {
    title: document.title,
    h1: [...document.querySelectorAll("h1")].map(h => h.innerText.trim()),
    text: document.body.innerText,
    code: [...document.querySelectorAll("pre")].map(p => p.innerText),
    images: [...document.images].map(i => ({src: i.src.slice(0, 80), complete: i.complete, width: i.naturalWidth})),
    figures: (() => { let section = ""; const out = [];   // content images: displayed size and the heading above
      for (const el of document.querySelectorAll("article h1, article h2, article h3, article img")) {
        if (el.tagName !== "IMG") { section = el.innerText.replace("¶", "").trim(); continue; }
        const r = el.getBoundingClientRect();
        out.push({section, n: out.length + 1, height: Math.round(r.height), width: Math.round(r.width),
                  natural: [el.naturalWidth, el.naturalHeight], src: el.currentSrc.startsWith("data:") ? "inline" : el.currentSrc.split("/").pop()});
      } return out; })(),
    links: [...document.links].map(a => a.href).filter(h => h.startsWith(location.origin)),
    height: Math.ceil(document.documentElement.scrollHeight),
  };
})()
"""


def open_page(port, browser_cdp, url):
    "Load `url` in a new tab; return (what INSPECT_JS saw, console/log errors, screenshot JPEG bytes)."
    target = browser_cdp.send("Target.createTarget", url="about:blank")["targetId"]
    page = CDP(f"ws://127.0.0.1:{port}/devtools/page/{target}")
    try:
        for domain in ("Page", "Runtime", "Log"): page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", width=VIEWPORT[0], height=VIEWPORT[1], deviceScaleFactor=1, mobile=False)
        page.send("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        seen = page.send("Runtime.evaluate", expression=INSPECT_JS, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in seen: raise RuntimeError(f"inspection script failed: {seen['exceptionDetails']}")
        seen = seen["result"]["value"]
        height = min(seen["height"], MAX_SHOT_HEIGHT)
        page.send("Emulation.setDeviceMetricsOverride", width=VIEWPORT[0], height=height, deviceScaleFactor=1, mobile=False)
        shot = base64.b64decode(page.send("Page.captureScreenshot", format="jpeg", quality=SHOT_QUALITY,
                                           optimizeForSpeed=True)["data"])
        errors = []
        for e in page.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                errors.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}".strip())
        return seen, errors, shot
    finally:
        page.close()
        browser_cdp.send("Target.closeTarget", targetId=target)


DIRECTIVE = re.compile(r"#\|\s*[A-Za-z_]")  # `#| export`, `#|hide`; not a progress bar's `|###| 42/42`

def raw_directives(seen):
    "Leaked nbdev/Quarto directives: any visible line starting with one, or one anywhere in a code block."
    lines = [l.strip() for l in seen["text"].splitlines() if DIRECTIVE.match(l.strip())]
    lines += [l.strip() for block in seen["code"] for l in block.splitlines() if DIRECTIVE.search(l)]
    return sorted(set(lines))


@pytest.mark.parametrize("page", site_pages())
def test_page_in_browser(page, server, browser):
    port, browser_cdp = browser
    seen, errors, shot = open_page(port, browser_cdp, f"{server}/{page}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS/(page.replace("/", "__").removesuffix(".html") + ".jpg")).write_bytes(shot)
    assert not errors, f"{page}: console errors:\n" + "\n".join(errors)
    assert seen["title"].strip(), f"{page}: the page has no <title>"
    assert seen["h1"] and seen["h1"][0], f"{page}: the page has no heading (the notebook's `# Title`)"
    assert seen["h1"][0] in seen["title"], f"{page}: title {seen['title']!r} does not name the page {seen['h1'][0]!r}"
    assert not raw_directives(seen), f"{page}: raw directives visible: {raw_directives(seen)}"
    broken = [i["src"] for i in seen["images"] if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"{page}: {len(broken)} image(s) did not load: {broken}"
    dead = sorted({h for h in seen["links"] if not local_target_exists(h.removeprefix(server))})
    assert not dead, f"{page}: links to pages or files that are not in the site: {dead}"
    small = illegible_figures(seen)
    assert not small, f"{page}: {len(small)} figure(s) shown under {MIN_FIGURE_HEIGHT} px tall:\n" + "\n".join(small)


MIN_FIGURE_HEIGHT = 250  # px at the 1280 px viewport: below this a multi-panel figure's labels cannot be read


def illegible_figures(seen):
    "One line per content image displayed less than MIN_FIGURE_HEIGHT px tall: which, where, how large."
    return [f"  image {f['n']} ({f['src']}) under {f['section']!r}: shown {f['width']}x{f['height']} px, "
            f"drawn {f['natural'][0]}x{f['natural'][1]} px: lay its panels out in a grid"
            for f in seen["figures"] if 0 < f["height"] < MIN_FIGURE_HEIGHT]


def local_target_exists(path):
    "Whether a site-local link (`/core.html#x`, `/`, `/search/?q=`) names a file of the site."
    path = urllib.parse.unquote(path.split("#")[0].split("?")[0]).lstrip("/")
    target = DOCS/path
    return target.is_file() or (target/"index.html").is_file()


def test_every_notebook_has_a_page(site):
    "Each notebook in nbs/ is a page of the site (new notebooks appear in the site without configuration)."
    assert notebooks(), "no notebooks in nbs/"
    assert len(site_pages()) >= len(notebooks()), f"{len(notebooks())} notebooks but pages {site_pages()}"
    assert (site/"index.html").exists(), "no home page (nbs/index.ipynb -> index.html)"


def test_api_docs_for_every_export(site):
    "Every public function and class exported to predfail/ has its API docs (a heading anchor) on its module's page."
    try: from predfail._modidx import d
    except ImportError: pytest.skip("predfail/_modidx.py not generated yet (run nbdev-export)")
    missing, ids = [], {}
    for syms in d["syms"].values():
        for name, (url, _) in syms.items():
            short = name.split(".")[-1]
            page, anchor = url.split("#")
            if short.startswith("_") or anchor.count(".") or not (site/page).exists(): continue  # methods, private
            if page not in ids: ids[page] = {i.lower() for i in re.findall(r'id="([^"]+)"', (site/page).read_text())}
            if anchor.lower() not in ids[page]: missing.append(f"{page}#{anchor}")
    assert not missing, f"exported names without API docs on their page: {missing}"


BROKEN_PAGE = """<!doctype html><html><head><title>Broken - predfail</title></head><body><h1>Broken</h1>
<pre><code>#| export
def f(): pass</code></pre>
<img src="missing.png"><script>console.error("boom")</script>
<article><h2>Wide figure</h2><img src="wide.png" style="width: 700px"></article></body></html>"""


def test_checks_catch_a_broken_page(browser, tmp_path):
    "The page checks can fail: a page with a leaked directive, a missing image and a console error."
    (tmp_path/"broken.html").write_text(BROKEN_PAGE)
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, _ = plt.subplots(1, 5, figsize=(25, 3.8))   # a row of five panels, shown 700 px wide: about 106 px tall
    fig.savefig(tmp_path/"wide.png", dpi=100); plt.close(fig)
    port, browser_cdp = browser
    with serve(tmp_path) as url: seen, errors, _ = open_page(port, browser_cdp, f"{url}/broken.html")
    assert any("boom" in e for e in errors) and any("missing.png" in e for e in errors), errors
    assert raw_directives(seen) == ["#| export"]
    assert [i["width"] for i in seen["images"]] == [0, 2500]
    small = illegible_figures(seen)
    assert len(small) == 1 and "image 1 (wide.png) under 'Wide figure': shown 700x106 px" in small[0], small
    assert seen["h1"] == ["Broken"] and seen["title"] == "Broken - predfail"
