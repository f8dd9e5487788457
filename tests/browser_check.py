"""Open every page of the rendered book in headless Chromium and fail on what a reader would see broken.

Run after the book is built::

    python -m tests.browser_check                   # checks _build/html
    python -m tests.browser_check _build/paper/_build/html --screenshots /tmp/shots

It serves the HTML folder on ``127.0.0.1``, starts Chromium (``/usr/bin/chromium`` or whichever
of ``chromium``, ``chromium-browser``, ``google-chrome`` is on the ``PATH``; ``--chromium`` or
``$CHROMIUM`` to choose) in headless mode, and drives it over the Chrome DevTools Protocol (a
websocket, ``websocket-client``). Each page is loaded, its images are loaded (lazy ones too) and
MathJax is waited for; then the page fails on

- a JavaScript error: an uncaught exception, ``console.error``, or a browser error log entry;
- a failed request: a missing file (HTTP status >= 400), a request that could not complete, or a
  request to another host (the book must work offline: MathJax too is served from the book,
  ``_ext/mathjax_local.py``);
- a broken image (loaded with no pixels, or its file missing);
- a broken internal link: to a page or file that does not exist, or to a ``#anchor`` that no element
  of the target page has (checked against the target's rendered DOM);
- unrendered math: a math element that MathJax did not turn into an ``mjx-container``, a MathJax
  error (``mjx-merror``), or raw TeX (``$...$``, ``\\begin{``, ``\\(``) or an unprocessed MyST role
  (``{term}`...``` and the like) left in the text outside code;
- a stray value in a code cell's output area: the bare ``str``/number repr that a cell ending in an
  expression shows (``'0.349'``), see :func:`check_stray_outputs`;
- no raw repr in an output (a numpy array, a tensor, a dict of numbers, a float32 with all its digits), see
  :func:`check_raw_dumps`;
- a content image without a real alt text (none, empty, or its file name), see :func:`check_alt_text`;
- on a chapter page (one whose ``.ipynb`` is in the repository), a missing or wrong "Open in Colab"
  link: it must be ``https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/<path>.ipynb``
  for the repository in ``_config.yml``, and that ``.ipynb`` must exist.

Source listings (the ``_modules/`` pages of Sphinx's viewcode, one per module of the package) are
checked from their HTML, and only a few of them in the browser (:func:`listings_to_open`). Opening the 53
of them took 136 of the check's 380 browser-seconds, and what the browser adds on such a page is
already seen elsewhere: a listing is a title, the module's code (Pygments' spans, in a ``<pre>``) and
links, with no math, image, notebook output or Colab link; every one runs and loads the same theme
bundle (scripts, inline scripts, stylesheets; compared by :func:`machinery`, the page's own name left
out) as the listings that are opened, so a JavaScript error or a failed load of that bundle shows
there; and their layout cannot differ but in length: code wraps inside the column (``_static/lsl.css``:
``pre-wrap`` and ``overflow-wrap: anywhere``), and the listings opened are those with the longest code
line, the longest unbroken run of code, the longest title and the most content, where anything that
stuck out would stick out first. A listing with anything else (an image, math, an output), or with
other machinery, is opened like any page. From its HTML every listing is checked for its links and
anchors (with the other pages', :func:`check_links`), the files it loads (present, none from another
host) and raw TeX or MyST roles in its prose (:func:`check_listing`).

The book serves MathJax itself, so a request for MathJax's CDN is a failure like any other request to
another host. (:class:`Browser` can still answer such requests from a local copy of MathJax 3, for the
small fake pages of ``tests/test_browser_check.py``; ``--mathjax-dir`` turns that on for a book built
without ``_ext/mathjax_local.py``.) Screenshots of every chapter and a few other pages, the whole page at its
real width, are written to ``--screenshots`` (default: ``screenshots/`` beside the HTML folder, e.g.
``_build/screenshots``) as PNGs (the team's file viewer opens PNG only; a JPEG would take half the time to
encode on a 20000-pixel page, about 15 s of the whole check).

The checks on a page's HTML are plain functions (:func:`check_links`, :func:`check_math`,
:func:`check_images`, :func:`check_colab`, :func:`check_stray_outputs`, :func:`check_alt_text`,
:func:`check_listing`, :func:`listings_to_open`), tested on small fake pages in
``tests/test_browser_check.py``; each page is parsed once and the tree handed to all of them. Exit status: 0 when every page passes, 1 when one fails, 2 when
the check cannot run (no HTML, no Chromium).
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import importlib.util
import json
import mimetypes
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MATHJAX_CDN = re.compile(r"^https://cdn\.jsdelivr\.net/npm/mathjax@3[^/]*/(?P<path>[^?#]+)")
# Screenshots: these pages and every chapter (page built from a notebook), full length.
SCREENSHOT_PAGES = ("book/intro.html", "book/glossary.html", "book/scorecard.html")
INSTALL_HINT = (
    "no Chromium found. Install it, e.g. on Debian/Ubuntu: `apt-get update && apt-get install -y chromium` "
    "(as root; run this check with --install-browser to do that), or pass --chromium PATH or set $CHROMIUM."
)
# Elements whose text is code or machinery, where $ and backslashes are not math.
_NOT_PROSE = {"script", "style", "pre", "code", "kbd", "samp", "tt", "textarea", "noscript", "mjx-container", "svg",
              "template", "title"}
_RAW_TEX = re.compile(r"\$\$.+?\$\$|(?<![\w\\$])\$(?=[^$\s])[^$\n]{0,300}?[\\^_{}][^$\n]{0,300}?(?<=\S)\$(?!\w)"
                      r"|\\begin\{|\\\(|\\\)|\\\[|\\\]", re.S)
_RAW_ROLE = re.compile(r"\{(?:term|ref|numref|cite|cite:p|cite:t|doc|eq|math|glue|glue:text|glue:md|glue:figure)\}`")


# ---------------------------------------------------------------------------
# Checks on one page's HTML (pure functions)


def _soup(html):
    """``html`` parsed (``html.parser``), or ``html`` itself when it is a parsed page already.

    Every check below takes a page's HTML as a string or as the page parsed once by this function:
    :func:`check_site` parses each page once and hands the same tree to every check (parsing a
    source listing of 200 kB takes about half a second, as long as the browser takes to show it).
    The checks only read the tree.
    """
    from bs4 import BeautifulSoup

    return html if isinstance(html, BeautifulSoup) else BeautifulSoup(html, "html.parser")


def page_ids(html) -> set[str]:
    """Every anchor a link can point to on a page: ``id`` attributes and ``<a name=...>``."""
    soup = _soup(html)
    ids = {el["id"] for el in soup.find_all(attrs={"id": True})}
    ids |= {el["name"] for el in soup.find_all("a", attrs={"name": True})}
    return ids


def _local_target(page: str, href: str) -> tuple[str, str] | None:
    """``(target path relative to the site root, fragment)`` for a link on ``page``, or ``None`` if external."""
    href = href.strip()
    if not href or href.startswith(("mailto:", "javascript:", "data:", "tel:")):
        return None
    parts = urllib.parse.urlsplit(href)
    if parts.scheme or parts.netloc:
        return None
    fragment = urllib.parse.unquote(parts.fragment)
    if not parts.path:
        return page, fragment
    base = PurePosixPath(page).parent
    joined = PurePosixPath(os.path.normpath(str(base / urllib.parse.unquote(parts.path)))).as_posix()
    if parts.path.endswith("/"):
        joined = f"{joined}/index.html"
    return joined.lstrip("./") if joined.startswith("./") else joined, fragment


def page_links(page: str, html) -> list[tuple[str, str, str]]:
    """The internal links on ``page``: ``(href, target path relative to the site root, fragment)``, one per target.

    External links (another host, ``mailto:`` and the like) are left out; see :func:`check_links`.
    """
    return _links_of(page, [a["href"] for a in _soup(html).find_all("a", href=True)])


def _links_of(page: str, hrefs) -> list[tuple[str, str, str]]:
    links, seen = [], set()
    for href in hrefs:
        target = _local_target(page, href)
        if target is None or target in seen:
            continue
        seen.add(target)
        links.append((href, *target))
    return links


def broken_links(links, exists, ids_of) -> list[str]:
    """Which of ``links`` (from :func:`page_links`) are broken; ``exists`` and ``ids_of`` as in :func:`check_links`."""
    problems = []
    for href, path, fragment in links:
        if path.startswith("..") or not exists(path):
            problems.append(f"broken link: {href!r} -> missing {path}")
        elif fragment and path.endswith(".html") and fragment not in ids_of(path):
            problems.append(f"broken link: {href!r} -> {path} has no #{fragment}")
    return problems


def check_links(page: str, html, exists, ids_of) -> list[str]:
    """Broken internal links on ``page`` (a path relative to the site root, e.g. ``book/intro.html``).

    Args:
        page: the page's path.
        html: its (rendered) HTML.
        exists: ``exists(path) -> bool`` for paths relative to the site root.
        ids_of: ``ids_of(path) -> set`` of anchors of an HTML page (see :func:`page_ids`).
    """
    return broken_links(page_links(page, html), exists, ids_of)


def check_images(page: str, html, exists) -> list[str]:
    """Images on ``page`` whose file is missing from the site (the browser reports the rest)."""
    problems = []
    for img in _soup(html).find_all("img", src=True):
        target = _local_target(page, img["src"])
        if target is not None and not target[1] and not exists(target[0]):
            problems.append(f"missing image: {img['src']!r}")
    return problems


def cell_outputs(html: str):
    """Only the code cells' output areas (``.cell_output``) of a page, parsed: all that
    :func:`check_stray_outputs` and :func:`check_raw_dumps` look at, in a third of the time of the whole page."""
    from bs4 import BeautifulSoup, SoupStrainer

    # A pattern: while parsing, the strainer sees the class attribute as one string ("cell_output docutils ...").
    return BeautifulSoup(html, "html.parser", parse_only=SoupStrainer(class_=re.compile(r"(?:^|\s)cell_output(?:\s|$)")))


_STRAY = re.compile(r"""^(?:'[^'\n]*'|"[^"\n]*"|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|True|False|None)$""")


def check_stray_outputs(html) -> list[str]:
    """Stray values in code cells' output areas: a bare ``str``, number or bool repr (``'0.349'``, ``60.6``).

    Such an output is the value of a cell's last expression that nobody meant to show (a cell ending in
    a call that returns its argument). Printed text (``output stream``) and rich outputs are fine.
    """
    problems = []
    for area in _soup(html).select(".cell_output"):
        for out in area.select(".output.text_plain"):
            if "stream" in _classes(out):
                continue
            text = out.get_text().strip()
            if _STRAY.match(text):
                problems.append(f"stray output value in a code cell: {text[:60]!r}")
    return problems


#: Reprs a reader should never meet in an output: a float printed with more digits than it means
#: (``0.9509999752044678``), a numpy array's bare layout (``[1.   0.89`` or ``[[56 37``), a tensor or
#: array repr, a dict of numbers (``{0: 1, 30: 1``, ``{'a': 0.5``).
_RAW = [
    (re.compile(r"(?<![\w.])-?\d+\.\d{9,}(?!\d)"), "a float printed with all its binary digits"),
    (re.compile(r"\[\s*\[?-?\d+\.?\d*(?: {2,}|\. +)-?\d"), "a numpy array's repr"),
    (re.compile(r"\b(?:tensor|array)\(\["), "a tensor or array repr"),
    (re.compile(r"\{(?:-?\d+(?:\.\d+)?|'[^']*'): -?\d+(?:\.\d+)?(?:e-?\d+)?, (?:-?\d+(?:\.\d+)?|'[^']*'): "),
     "a dict of numbers"),
]


def check_raw_dumps(html) -> list[str]:
    """Raw reprs in code cells' outputs: arrays, tensors, dicts of numbers, floats with all their digits.

    A chapter prints numbers for a reader (``report.numbers``, ``report.fmt``, a table), never Python's
    or numpy's repr of them. Checked on printed text and plain-text outputs alike.
    """
    problems = []
    for area in _soup(html).select(".cell_output"):
        text = area.get_text()
        for pattern, what in _RAW:
            for m in pattern.finditer(text):
                start = max(0, m.start() - 40)
                problems.append(f"{what} in an output: {text[start:m.end() + 30].strip()!r}")
                break
    return problems


_IMAGE_FILE = re.compile(r"\.(png|jpe?g|svg|gif|webp)$", re.IGNORECASE)


def check_alt_text(html) -> list[str]:
    """Content images (in the article) without a real alt text: none, empty, or a file name/path."""
    soup = _soup(html)
    article = soup.select_one(".bd-article, article, main") or soup
    problems = []
    for img in article.find_all("img", src=True):
        alt = (img.get("alt") or "").strip()
        name = PurePosixPath(urllib.parse.urlparse(img["src"]).path).name
        if not alt or _IMAGE_FILE.search(alt) or (name and name in alt):
            problems.append(f"image without alt text (alt={alt[:60]!r}): {img['src'][:80]}")
    return problems


#: Measures, in the page as laid out, what sticks out of the article's column (see :func:`check_overflow`).
#: An element whose right edge passes the column's is reported once (its descendants are not), with the
#: scroll container it sits in if any, and whether that container shows the book's cue (the class
#: ``lsl-overflows`` that ``_static/lsl.js`` gives a container wider than the column, with a visible hint).
OVERFLOW_JS = """() => {
  const col = document.querySelector('article.bd-article') || document.querySelector('article, main');
  if (!col) return [];
  const right = col.getBoundingClientRect().right;
  const describe = el => {
    const cls = (el.getAttribute('class') || '').trim().split(/\\s+/).slice(0, 2).join('.');
    const text = (el.innerText || el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 60);
    return el.tagName.toLowerCase() + (cls ? '.' + cls : '') + (text ? ' "' + text + '"' : '');
  };
  const scroller = el => {
    for (let a = el.parentElement; a && a !== col; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if ((ox === 'auto' || ox === 'scroll') && a.scrollWidth > a.clientWidth + 1) return a;
    }
    return null;
  };
  const found = [], seen = new Set();
  for (const el of col.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= right + 1) continue;
    if (getComputedStyle(el).position === 'fixed') continue;
    if (el.closest('mjx-assistive-mml, .visually-hidden, .sr-only')) continue;   // for screen readers only
    const box = scroller(el);
    const key = box || el;
    let inside = false;
    for (const s of seen) { if (s.contains(key) && s !== key) { inside = true; break; } }
    if (inside || seen.has(key)) continue;
    seen.add(key);
    found.push({what: describe(key), by: Math.round((box ? box.scrollWidth - box.clientWidth : r.right - right)),
                scrolls: !!box, cue: !!box && box.classList.contains('lsl-overflows')});
  }
  return found;
}"""


def check_overflow(found: list[dict]) -> list[str]:
    """Problems from :data:`OVERFLOW_JS`'s measurements: content wider than the article's column.

    Content that sticks out of the column is cut off (or runs under the sidebar); a table or equation
    may be wider only inside a container that scrolls sideways and shows the reader a cue that it does.
    """
    problems = []
    for f in found:
        if not f.get("scrolls"):
            problems.append(f"wider than the column by {f['by']} px (cut off at the right): {f['what']}")
        elif not f.get("cue"):
            problems.append(f"scrolls sideways by {f['by']} px with no cue to the reader: {f['what']}")
    return problems


def _classes(el) -> list[str]:
    cls = el.get("class") or []
    return cls.split() if isinstance(cls, str) else list(cls)


def check_math(html) -> list[str]:
    """Math that did not render: math elements without MathJax output, MathJax errors, raw TeX or MyST roles in prose."""
    from bs4 import NavigableString
    from bs4.element import Comment

    soup = _soup(html)
    problems = []
    maths = [el for el in soup.find_all(["span", "div"]) if "math" in _classes(el)]
    bad = [el for el in maths if el.find("mjx-container") is None]
    if bad:
        sample = bad[0].get_text(" ", strip=True)[:80]
        problems.append(f"unrendered math: {len(bad)} of {len(maths)} math elements have no mjx-container, "
                        f"e.g. {sample!r}")
    errors = soup.find_all("mjx-merror")
    if errors:
        problems.append(f"MathJax errors: {len(errors)}, e.g. {errors[0].get_text(' ', strip=True)[:80]!r}")
    raw, roles = [], []
    for text in soup.find_all(string=True):
        if isinstance(text, Comment) or not isinstance(text, NavigableString):
            continue
        if any(p.name in _NOT_PROSE for p in text.parents) or any("math" in _classes(p) for p in text.parents
                                                                     if p.name in ("span", "div")):
            continue
        raw += _RAW_TEX.findall(str(text))
        roles += _RAW_ROLE.findall(str(text))
    if raw:
        problems.append(f"raw TeX in the text: {raw[:3]}")
    if roles:
        problems.append(f"unprocessed MyST roles in the text: {roles[:3]}")
    return problems


@dataclass(frozen=True)
class Repository:
    """The repository the book's launch buttons point to (from ``_config.yml``)."""

    owner: str
    name: str
    branch: str
    path_to_book: str
    colab_url: str
    root: Path

    @classmethod
    def from_config(cls, config_path: Path, root: Path | None = None) -> "Repository":
        import yaml

        config = yaml.safe_load(Path(config_path).read_text())
        repo = config.get("repository") or {}
        url = urllib.parse.urlsplit(repo.get("url", ""))
        owner, name = (url.path.strip("/").removesuffix(".git").split("/") + ["", ""])[:2]
        colab = ((config.get("launch_buttons") or {}).get("colab_url") or "").rstrip("/")
        return cls(owner, name, repo.get("branch") or "main", (repo.get("path_to_book") or "").strip("/"), colab,
                   Path(root) if root else Path(config_path).resolve().parent)

    def notebook(self, page: str) -> str:
        """The repository path of the notebook a page was built from (``book/x.html`` -> ``book/x.ipynb``)."""
        stem = PurePosixPath(page).with_suffix(".ipynb").as_posix()
        return f"{self.path_to_book}/{stem}" if self.path_to_book else stem

    def colab_link(self, page: str) -> str:
        """The "Open in Colab" address a chapter page must have."""
        return f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/{self.branch}/{self.notebook(page)}"

    def is_chapter(self, page: str) -> bool:
        """Whether ``page`` was built from a notebook in the repository."""
        return (self.root / self.notebook(page)).is_file()


def check_colab(page: str, html, repo: Repository, from_notebook: bool | None = None) -> list[str]:
    """On a chapter page: an "Open in Colab" link to this chapter's notebook in the book's repository.

    Args:
        page, html: the page.
        repo: the repository the links must point to.
        from_notebook: whether the page was built from a notebook (the site has
            ``_sources/<page>.ipynb``); default: whether the repository has the page's notebook.
    """
    if from_notebook is None:
        from_notebook = repo.is_chapter(page)
    if not from_notebook:
        return []
    problems = []
    if not repo.is_chapter(page):
        problems.append(f"built from a notebook, but {repo.notebook(page)} is not in the repository")
    if not repo.colab_url:
        return problems + ["no colab_url under launch_buttons in _config.yml: chapters have no Colab button"]
    links = {a["href"] for a in _soup(html).find_all("a", href=True) if "colab.research.google.com" in a["href"]}
    expected = repo.colab_link(page)
    if not links:
        return problems + [f"no Open-in-Colab link (expected {expected})"]
    wrong = sorted(links - {expected})
    return problems + [f"Colab link {w} should be {expected}" for w in wrong]


def redirect_target(html: str) -> str | None:
    """The target of a ``<meta http-equiv="refresh">`` redirect page (Jupyter Book's root ``index.html``)."""
    for meta in _soup(html).find_all("meta"):
        if (meta.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url=(.+)$", meta.get("content", ""), flags=re.I)
            if m:
                return m.group(1).strip().strip("'\"")
    return None


# ---------------------------------------------------------------------------
# Source listings (Sphinx viewcode's _modules/ pages): checked from their HTML, a few in the browser

SOURCE_LISTINGS = "_modules/"
#: What makes a page more than a listing of code and links: then it goes to the browser like any page.
_NOT_A_LISTING = {"img", "svg", "iframe", "video", "audio", "object", "embed", "canvas", "math", "mjx-container"}
_NOT_A_LISTING_CLASSES = {"math", "cell_output", "output"}
_PAGENAME = re.compile(r"(DOCUMENTATION_OPTIONS\.pagename\s*=\s*)(['\"]).*?\2")


@dataclass
class Outline:
    """What the checks need of a source listing, from one pass of :class:`html.parser.HTMLParser` over it.

    A source listing of 200 kB is mostly Pygments' ``<span>`` per token: building a BeautifulSoup tree of
    it takes half a second, this pass a tenth of that.
    """

    ids: set[str] = field(default_factory=set)
    hrefs: list[str] = field(default_factory=list)          # of <a> elements
    resources: list[tuple[str, str]] = field(default_factory=list)   # (tag, src or href) of script/link/img...
    scripts: list[str] = field(default_factory=list)        # inline scripts' text
    prose: list[str] = field(default_factory=list)          # text outside code, scripts and styles
    code: list[str] = field(default_factory=list)           # text inside <pre>
    title: str = ""                                         # the article's <h1>
    rich: set[str] = field(default_factory=set)             # what makes it more than a listing (see _NOT_A_LISTING)


def outline(html: str) -> Outline:
    """One pass over a page's HTML: its anchors, links, resources, inline scripts, prose, code and title."""
    from html.parser import HTMLParser

    out = Outline()
    stack: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if a.get("id"):
                out.ids.add(a["id"])
            if tag == "a" and a.get("name"):
                out.ids.add(a["name"])
            if tag == "a" and a.get("href") is not None:
                out.hrefs.append(a["href"])
            if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") and a.get("src"):
                out.resources.append((tag, a["src"]))
            elif tag == "link" and a.get("href"):
                out.resources.append((f"link {a.get('rel', '')}", a["href"]))
            if tag in _NOT_A_LISTING:
                out.rich.add(tag)
            out.rich.update(_NOT_A_LISTING_CLASSES & set((a.get("class") or "").split()))
            if tag not in _VOID:
                stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            self.handle_starttag(tag, attrs)
            if tag not in _VOID and stack and stack[-1] == tag:
                stack.pop()

        def handle_endtag(self, tag):
            if tag in stack:                    # lenient, as browsers are: close what is open up to it
                while stack and stack.pop() != tag:
                    pass

        def handle_data(self, data):
            if stack and stack[-1] == "script":
                out.scripts.append(data)
            elif "pre" in stack:
                out.code.append(data)
            elif "h1" in stack:
                out.title += data
                out.prose.append(data)
            elif not _NOT_PROSE.intersection(stack):
                out.prose.append(data)

    parser = Parser(convert_charrefs=True)
    parser.feed(html)
    parser.close()
    return out


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def machinery(page: str, out: Outline) -> tuple:
    """What a page runs and loads, the same for two pages that differ only in their content.

    Its scripts, stylesheets and other resources as paths in the site (so that ``../../x.js`` on one
    page and ``../../../x.js`` on a page one folder deeper are the same), and its inline scripts with the
    page's own name (``DOCUMENTATION_OPTIONS.pagename``) left out.
    """
    resources = tuple((tag, _local_target(page, url) or url) for tag, url in out.resources)
    scripts = tuple(_PAGENAME.sub(r"\1\2\2", s).strip() for s in out.scripts)
    return resources, scripts


#: ``<link rel=...>`` that the browser fetches (the others, ``index``, ``search``, ``next``..., are links).
_FETCHED_LINKS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "manifest", "prefetch",
                  "apple-touch-icon"}


def check_listing(page: str, out: Outline, exists) -> list[str]:
    """Problems a source listing shows without a browser: a missing resource, one from another host,
    raw TeX or a MyST role in its prose. (Its links are checked with every page's, see :func:`check_site`.)"""
    problems = []
    for tag, url in out.resources:
        if tag.startswith("link") and not _FETCHED_LINKS.intersection(tag.split()[1:]):
            continue
        target = _local_target(page, url)
        if target is None:
            parts = urllib.parse.urlsplit(url.strip())
            if parts.scheme in ("http", "https") or parts.netloc:
                problems.append(f"request to another host (the book must not need the network): {url}")
        elif target[0].startswith("..") or not exists(target[0]):
            problems.append(f"missing file {target[0]} ({tag.split()[0]} {url!r})")
    text = " ".join(out.prose)
    raw, roles = _RAW_TEX.findall(text), _RAW_ROLE.findall(text)
    if raw:
        problems.append(f"raw TeX in the text: {raw[:3]}")
    if roles:
        problems.append(f"unprocessed MyST roles in the text: {roles[:3]}")
    return problems


def listings_to_open(outlines: dict[str, Outline]) -> set[str]:
    """The source listings to open in the browser; the others are checked from their HTML alone.

    A listing is opened when it is more than code and links (an image, math, an output), when it runs or
    loads anything other than what most listings do (see :func:`machinery`), and for each way a listing's
    layout could fail, the one most likely to show it: the longest code line, the longest run of code
    with no space, the longest title, the largest page (the most for the scripts to walk).
    """
    pages = sorted(outlines)
    if not pages:
        return set()
    plain = [p for p in pages if not outlines[p].rich]
    kinds = {p: machinery(p, outlines[p]) for p in plain}
    reference = Counter(kinds.values()).most_common(1)[0][0] if plain else None
    same = [p for p in plain if kinds[p] == reference]
    opened = set(pages) - set(same)
    if same:
        def lines(p):
            return "".join(outlines[p].code).splitlines() or [""]
        opened.add(max(same, key=lambda p: max(map(len, lines(p)))))
        opened.add(max(same, key=lambda p: max((len(w) for w in "".join(outlines[p].code).split()), default=0)))
        opened.add(max(same, key=lambda p: len(outlines[p].title.strip())))
        opened.add(max(same, key=lambda p: sum(map(len, outlines[p].code)) + len(outlines[p].hrefs)))
    return opened


# ---------------------------------------------------------------------------
# The site, the server and the browser


class Site:
    """The built HTML folder: which files exist, and the anchors of each page (rendered ones preferred)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.links: dict[str, list[tuple[str, str, str]]] = {}   # of each page opened, see :meth:`add_rendered`
        self._ids: dict[str, set[str]] = {}

    def pages(self) -> list[str]:
        skip = ("_static/", "_sources/", "_images/", "_downloads/")
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*.html")
                      if not p.relative_to(self.root).as_posix().startswith(skip))

    def exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    def add_rendered(self, page: str, html) -> None:
        """Keep what the links need of ``page`` as the browser rendered it: its anchors and its internal links."""
        self._ids[page] = page_ids(html)
        self.links[page] = page_links(page, html)

    def add_outline(self, page: str, out: Outline) -> None:
        """Keep what the links need of a page checked from its HTML alone (see :func:`outline`)."""
        self._ids[page] = set(out.ids)
        self.links[page] = _links_of(page, out.hrefs)

    def ids_of(self, path: str) -> set[str]:
        """The anchors of ``path``: of the rendered page if it was opened, else of the file as built."""
        if path not in self._ids:
            self._ids[path] = page_ids((self.root / path).read_text(errors="replace"))
        return self._ids[path]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``root`` on 127.0.0.1 (a free port) in a daemon thread; returns the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium executable: ``explicit``, ``$CHROMIUM``, ``/usr/bin/chromium`` or one on the PATH."""
    for candidate in (explicit, os.environ.get("CHROMIUM"), "/usr/bin/chromium"):
        if candidate and (Path(candidate).is_file() or shutil.which(candidate)):
            return shutil.which(candidate) or candidate
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    return None


def install_chromium() -> None:
    """``apt-get install -y chromium`` (needs root and apt)."""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        raise SystemExit(f"cannot install Chromium here (needs root and apt-get): {INSTALL_HINT}")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True)


def local_mathjax(explicit: str | None = None) -> Path | None:
    """A local copy of MathJax 3 (the folder that holds ``es5/``): ``explicit``, else the ``mathjax`` package's."""
    if explicit:
        path = Path(explicit)
        return path if (path / "es5" / "tex-mml-chtml.js").is_file() else None
    spec = importlib.util.find_spec("mathjax")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = Path(loc) / "static" / "mathjax"
        if (path / "es5" / "tex-mml-chtml.js").is_file():
            return path
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    """Headless Chromium driven over the DevTools protocol: one tab, events collected per page."""

    def __init__(self, executable: str, *, mathjax: Path | None = None, timeout: float = 30.0,
                 width: int = 1280, height: int = 900):
        import websocket

        self.timeout = timeout
        self.mathjax = mathjax
        self.size = (width, height)
        self.profile = tempfile.mkdtemp(prefix="lsl-chromium-")
        args = [executable, "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--mute-audio", "--hide-scrollbars", f"--window-size={width},{height}",
                "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={self.profile}",
                "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")        # Chromium refuses to run as root with its sandbox
        # Its own process group: Chromium's helpers (renderer, crash handler) go down with it in close().
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"Chromium ({executable}) did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self._id = 0
        self.events: list[dict] = []
        self.urls: dict[str, str] = {}
        self.blocked: list[str] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "https://*"}, {"urlPattern": "http://*"}]})
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    # -- protocol ---------------------------------------------------------------

    def _send(self, method: str, params: dict | None = None) -> int:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        return self._id

    def _recv(self, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.ws.settimeout(remaining)
        return json.loads(self.ws.recv())

    def call(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        """Send a command and return its result, handling the events that arrive meanwhile."""
        msg_id = self._send(method, params)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                msg = self._recv(deadline)
            except TimeoutError:
                raise TimeoutError(f"{method} did not answer in {timeout or self.timeout:.0f} s") from None
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self._event(msg)

    def wait_for(self, method: str, timeout: float | None = None) -> dict | None:
        """Handle events until one named ``method`` arrives (``None`` on timeout)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                msg = self._recv(deadline)
            except TimeoutError:
                return None
            if "method" in msg:
                self._event(msg)
                if msg["method"] == method:
                    return msg

    def _event(self, msg: dict) -> None:
        method, params = msg["method"], msg.get("params", {})
        if method == "Fetch.requestPaused":
            self._intercept(params)
            return
        if method == "Network.requestWillBeSent":
            self.urls[params["requestId"]] = params["request"]["url"]
        self.events.append(msg)

    def _intercept(self, params: dict) -> None:
        url, rid = params["request"]["url"], params["requestId"]
        if url.startswith(("http://127.0.0.1", "http://localhost")):
            self._send("Fetch.continueRequest", {"requestId": rid})
            return
        m = MATHJAX_CDN.match(url)
        if m and self.mathjax is not None:
            path = (self.mathjax / m["path"]).resolve()
            if path.is_file() and self.mathjax.resolve() in path.parents:
                body = base64.b64encode(path.read_bytes()).decode("ascii")
                ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self._send("Fetch.fulfillRequest", {"requestId": rid, "responseCode": 200, "body": body,
                                                    "responseHeaders": [{"name": "Content-Type", "value": ctype},
                                                                        {"name": "Access-Control-Allow-Origin",
                                                                         "value": "*"}]})
                return
        self.blocked.append(url)                       # the book must render offline: MathJax's CDN included
        self._send("Fetch.failRequest", {"requestId": rid, "errorReason": "BlockedByClient"})

    def evaluate(self, expression: str, timeout: float | None = None):
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise CDPError(f"page script failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    # -- pages ------------------------------------------------------------------

    _SETTLE = """(async () => {
      const sleep = ms => new Promise(r => setTimeout(r, ms));
      const t0 = Date.now();
      for (const img of document.images) { if (img.loading === 'lazy') img.loading = 'eager'; }
      await Promise.all(Array.from(document.images).map(img => img.complete ? null :
        new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); setTimeout(r, 15000); })));
      const wantsMathJax = !!document.querySelector('script[src*="mathjax"]');
      if (wantsMathJax) {
        while (!(window.MathJax && MathJax.startup && MathJax.startup.promise) && Date.now() - t0 < 20000) await sleep(50);
        if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
      }
      const broken = Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0 &&
        !(i.currentSrc || i.src).endsWith('.svg')).map(i => i.getAttribute('src'));
      const overflow = (""" + OVERFLOW_JS + """)();
      return {broken, overflow, mathjax: !!(window.MathJax && MathJax.version), html: document.documentElement.outerHTML};
    })()"""

    def open(self, url: str) -> dict:
        """Load ``url``; return the rendered HTML, broken images and the problems the browser reported."""
        self.events, self.urls, self.blocked = [], {}, []
        self.call("Page.navigate", {"url": url})
        if self.wait_for("Page.loadEventFired") is None:
            return {"html": "", "broken": [], "problems": [f"page did not finish loading in {self.timeout:.0f} s"]}
        state = self.evaluate(self._SETTLE, timeout=self.timeout + 20)
        self.call("Runtime.evaluate", {"expression": "0"})      # collect events that arrived meanwhile
        return {**state, "problems": self._problems()}

    def _problems(self) -> list[str]:
        problems = []
        for ev in self.events:
            method, p = ev["method"], ev.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                text = (d.get("exception") or {}).get("description") or d.get("text", "")
                problems.append(f"JavaScript exception: {text.splitlines()[0] if text else d}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                problems.append(f"console.{p['type']}: {args[:200]}")
            elif method == "Log.entryAdded":
                e = p.get("entry", {})
                if e.get("level") == "error" and e.get("source") != "network" and "favicon.ico" not in e.get("url", ""):
                    problems.append(f"browser error ({e.get('source')}): {e.get('text', '')[:200]} {e.get('url', '')}")
            elif method == "Network.responseReceived":
                r = p.get("response", {})
                if r.get("status", 0) >= 400 and not r.get("url", "").endswith("favicon.ico"):
                    problems.append(f"HTTP {r['status']} for {r['url']}")
            elif method == "Network.loadingFailed":
                url = self.urls.get(p.get("requestId"), "?")
                if not url.endswith("favicon.ico") and url not in self.blocked and not p.get("canceled"):
                    problems.append(f"request failed ({p.get('errorText')}): {url}")
        problems += [f"request to another host (the book must not need the network): {u}"
                     for u in dict.fromkeys(self.blocked)]
        return list(dict.fromkeys(problems))

    def screenshot(self, path: Path, full_page: bool = True, max_height: int = 40000) -> None:
        """A PNG of the page as a reader sees it, the whole length of it (at most ``max_height`` CSS pixels).

        For the whole length the viewport is made as tall as the page for the capture (and restored
        after), so the page is laid out at its real width; capturing "beyond the viewport" instead
        shifts sticky sidebars and can cut the left of the article off.
        """
        params = {"format": "png"}
        width, height = self.size
        tall = None
        if full_page:
            size = self.call("Page.getLayoutMetrics").get("cssContentSize") or {}
            if size.get("height", 0) > height:
                tall = int(min(size["height"], max_height))
                self.call("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": tall, "deviceScaleFactor": 1, "mobile": False})
                # Scrolled to the top, and two frames drawn at the new height: the page is laid out at it.
                # (The width is the same, so lsl.js's fitting, which depends only on it, stays as it was.)
                self.evaluate("window.scrollTo(0, 0); new Promise(r => requestAnimationFrame("
                              "() => requestAnimationFrame(r)))")
                params["clip"] = {"x": 0, "y": 0, "width": width, "height": tall, "scale": 1}
        try:
            data = self.call("Page.captureScreenshot", params)["data"]
        finally:
            if tall is not None:
                self.call("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        finally:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
            try:  # helpers that outlive the main process would keep writing into the profile
                os.killpg(self.process.pid, 9)
            except (ProcessLookupError, PermissionError, AttributeError):
                pass
            # A helper may still be finishing a write while the profile is removed: retry until it is gone.
            for _ in range(50):
                shutil.rmtree(self.profile, ignore_errors=True)
                if not os.path.exists(self.profile):
                    break
                time.sleep(0.1)


# ---------------------------------------------------------------------------
# The whole check


@dataclass
class Result:
    page: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    browser: bool = True                 # False: checked from its HTML alone (a source listing, a redirect)


def check_site(html_dir: Path, browser: Browser | Sequence[Browser], repo: Repository, *,
               screenshots: Path | None = None, screenshot_pages=SCREENSHOT_PAGES, log=print) -> list[Result]:
    """Open every page of ``html_dir`` in ``browser`` and run every check; one :class:`Result` per page.

    ``browser`` may be several browsers: each then takes the next page left (the chapters, which take
    longest, first) in a thread of its own, and the results come back in the site's page order. The
    links are checked last, once every page's rendered anchors are known.
    """
    browsers = [browser] if isinstance(browser, Browser) else list(browser)
    site = Site(html_dir)
    server, base = serve(html_dir)
    pages = site.pages()
    is_chapter = {p: site.exists("_sources/" + PurePosixPath(p).with_suffix(".ipynb").as_posix())
                  or repo.is_chapter(p) for p in pages}
    found: dict[str, Result] = {}
    outlines, took = {}, {}
    for page in pages:
        if page.startswith(SOURCE_LISTINGS) and not is_chapter[page]:
            t0 = time.monotonic()
            outlines[page] = outline((html_dir / page).read_text(errors="replace"))
            took[page] = time.monotonic() - t0
    opened = listings_to_open(outlines)
    for page, out in outlines.items():
        if page not in opened:                    # checked from its HTML: see listings_to_open
            t0 = time.monotonic()
            site.add_outline(page, out)
            found[page] = Result(page, check_listing(page, out, site.exists), took[page] + time.monotonic() - t0,
                                 browser=False)
    todo = queue.Queue()
    for page in sorted(pages, key=lambda p: not is_chapter[p]):     # long pages first: the threads end together
        if page not in found:
            todo.put(page)
    errors: list[BaseException] = []

    def check_page(b: Browser, page: str) -> Result:
        t0 = time.monotonic()
        static = (html_dir / page).read_text(errors="replace")
        target = redirect_target(static)
        if target is not None:                       # a redirect page: its target must exist
            path, _ = _local_target(page, target) or (target, "")
            problems = [] if site.exists(path) else [f"redirect to a missing page {target!r}"]
            return Result(page, problems, time.monotonic() - t0, browser=False)
        state = b.open(base + urllib.parse.quote(page))
        html = _soup(state.get("html") or static)        # parsed once, for every check
        site.add_rendered(page, html)
        problems = list(state["problems"])
        problems += [f"broken image (no pixels): {src}" for src in state.get("broken", [])]
        problems += check_overflow(state.get("overflow") or [])
        problems += check_images(page, html, site.exists)
        problems += check_math(html)
        if "cell_output" in static:               # only a page with code cells' outputs can have these
            served = cell_outputs(static)         # the page as served: the live DOM adds copy buttons
            problems += check_stray_outputs(served)
            problems += check_raw_dumps(served)
        problems += check_alt_text(html)
        problems += check_colab(page, html, repo, is_chapter[page])
        if screenshots is not None and (page in screenshot_pages or is_chapter[page]):
            b.screenshot(screenshots / (page.replace("/", "_").removesuffix(".html") + ".png"))
        return Result(page, problems, time.monotonic() - t0)

    def work(b: Browser) -> None:
        while not errors:
            try:
                page = todo.get_nowait()
            except queue.Empty:
                return
            try:
                found[page] = check_page(b, page)
            except BaseException as e:                   # stop the others too; raised below
                errors.append(e)

    try:
        threads = [threading.Thread(target=work, args=(b,), daemon=True) for b in browsers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        results = [found[p] for p in pages]
        for r in results:                                # links last: every page's rendered anchors are known
            if r.page in site.links:
                r.problems += broken_links(site.links[r.page], site.exists, site.ids_of)
        chapters = [p for p in pages if site.exists("_sources/" + PurePosixPath(p).with_suffix(".ipynb").as_posix())]
        if not chapters:
            results.append(Result("(site)", ["no chapter page found (no page built from a notebook of the repository)"]))
    finally:
        server.shutdown()
        server.server_close()
    for r in results:
        log(f"{'FAIL' if r.problems else 'ok  '} {r.page} ({r.seconds:.1f} s{'' if r.browser else ', from its HTML'})")
        for p in r.problems:
            log(f"       - {p}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", default=str(ROOT / "_build" / "html"), help="the built HTML folder")
    parser.add_argument("--config", default=str(ROOT / "_config.yml"), help="the book's _config.yml")
    parser.add_argument("--screenshots", default=None, help="folder for screenshots (default: <html>/../screenshots)")
    parser.add_argument("--chromium", default=None, help="the Chromium executable")
    parser.add_argument("--install-browser", action="store_true", help="apt-get install chromium if it is missing")
    parser.add_argument("--mathjax-dir", default=None,
                        help="answer requests for MathJax's CDN from this local copy (the folder holding es5/); by "
                             "default such a request fails: the book serves MathJax itself")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds allowed for loading one page")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="browsers that check pages side by side (default: 2, or 1 on one core)")
    args = parser.parse_args(argv)

    html_dir = Path(args.html).resolve()
    if not (html_dir / "index.html").is_file() and not any(html_dir.glob("**/*.html")):
        print(f"browser check: no built book in {html_dir}; build it first (make book)", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None and args.install_browser:
        install_chromium()
        chromium = find_chromium(args.chromium)
    if chromium is None:
        print(f"browser check: {INSTALL_HINT}", file=sys.stderr)
        return 2
    mathjax = local_mathjax(args.mathjax_dir) if args.mathjax_dir else None   # the book serves its own
    repo = Repository.from_config(Path(args.config))
    shots = Path(args.screenshots) if args.screenshots else html_dir.parent / "screenshots"
    t0 = time.monotonic()
    browsers = []
    try:
        for _ in range(max(1, args.workers)):
            browsers.append(Browser(chromium, mathjax=mathjax, timeout=args.timeout))
        results = check_site(html_dir, browsers, repo, screenshots=shots)
    finally:
        for browser in browsers:
            browser.close()
    failed = [r for r in results if r.problems]
    print(f"browser check of {html_dir}: {len(results)} pages in {time.monotonic() - t0:.0f} s; "
          f"screenshots in {shots}")
    print(f"browser_check: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
