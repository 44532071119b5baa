"""Every internal link of the built docs site (`_docs/`) resolves: to a file of the site and, where the link has a
#fragment, to an element with that id (or name) in it. Static: reads the HTML, no browser. A missing or stale
site is rebuilt first (tests/test_docs_browser.py's build_site)."""
import functools, html.parser, posixpath, urllib.parse
from pathlib import Path

import pytest

from test_docs_browser import DOCS, build_site

EXTERNAL = ("http:", "https:", "mailto:", "javascript:", "data:", "tel:", "//")


class _Collector(html.parser.HTMLParser):
    "The hrefs/srcs of a page and the ids (and anchor names) it defines."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"): self.ids.add(a["id"])
        if tag == "a" and a.get("name"): self.ids.add(a["name"])
        for key in ("href", "src"):
            if tag in ("a", "link", "img", "script", "area") and a.get(key) is not None: self.links.append(a[key])


@functools.cache
def parse(path: Path):
    "(links, ids) of an HTML file."
    c = _Collector()
    c.feed(path.read_text(errors="replace"))
    return c.links, c.ids


def broken_links(site: Path):
    "['page: link (why)'] for every internal link of `site` that does not resolve."
    bad = []
    for page in sorted(site.rglob("*.html")):
        rel_page = page.relative_to(site).as_posix()
        for link in parse(page)[0]:
            if not link or link.lower().startswith(EXTERNAL): continue
            parts = urllib.parse.urlsplit(link)
            path, frag = urllib.parse.unquote(parts.path), urllib.parse.unquote(parts.fragment)
            if path.startswith("/"):
                bad.append(f"{rel_page}: {link} (absolute path: breaks when the site is not served at the domain root)")
                continue
            target_rel = posixpath.normpath(posixpath.join(posixpath.dirname(rel_page), path)) if path else rel_page
            target = site/target_rel
            if target.is_dir(): target = target/"index.html"
            if target_rel.startswith("..") or not target.is_file():
                bad.append(f"{rel_page}: {link} (no such file)")
            elif frag and target.suffix == ".html" and frag not in parse(target)[1]:
                bad.append(f"{rel_page}: {link} (no id {frag!r} in {target.relative_to(site).as_posix()})")
    return bad


def test_internal_links_resolve():
    err = build_site()
    if err: pytest.fail(f"the docs site could not be built: {err}")
    pages = list(DOCS.rglob("*.html"))
    n_links = sum(1 for p in pages for l in parse(p)[0] if l and not l.lower().startswith(EXTERNAL))
    assert n_links > 500, f"only {n_links} internal links in {len(pages)} pages: is the site complete?"
    bad = broken_links(DOCS)
    assert not bad, f"{len(bad)} of {n_links} internal links are broken:\n" + "\n".join(bad)


def test_checker_catches_broken_links(tmp_path):
    "The checker can fail: a missing page, a missing id, an absolute link; good links pass."
    (tmp_path/"sub").mkdir()
    (tmp_path/"a.html").write_text('<h2 id="x">X</h2><a href="sub/b.html#y">ok</a><a href="#x">ok</a><a href="sub/">ok</a>'
                                   '<a href="missing.html">1</a><a href="sub/b.html#nope">2</a><a href="/a.html">3</a>'
                                   '<a href="https://example.org/x.html">external</a><img src="sub/i.png">')
    (tmp_path/"sub"/"b.html").write_text('<p id="y">y</p><a href="../a.html#x">ok</a>')
    (tmp_path/"sub"/"index.html").write_text("<p>i</p>")
    (tmp_path/"sub"/"i.png").write_bytes(b"png")
    bad = broken_links(tmp_path)
    assert [b.split(" (")[0] for b in bad] == ["a.html: missing.html", "a.html: sub/b.html#nope", "a.html: /a.html"], bad
