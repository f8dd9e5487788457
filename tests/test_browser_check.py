"""Tests for tests/browser_check.py: its link, image, math and Colab checks on a tiny fake site,
and (where Chromium is installed) the whole check in a real headless browser."""

from __future__ import annotations

import re

import textwrap
from pathlib import Path

import pytest

pytest.importorskip("bs4")
from tests import browser_check as bc  # noqa: E402

PAGE = """<html><head><title>t</title></head><body>{}</body></html>"""


def site_of(files: dict[str, str]):
    ids = {path: bc.page_ids(html) for path, html in files.items() if path.endswith(".html")}
    return (lambda p: p in files), (lambda p: ids[p])


def test_links_to_missing_pages_and_anchors_are_found():
    files = {
        "index.html": PAGE.format('<a href="book/a.html#sec">ok</a> <a href="book/a.html#nope">bad anchor</a>'
                                  '<a href="book/missing.html">bad page</a> <a href="#top">self</a>'
                                  '<a href="https://example.org/x.html#y">external</a> <a href="mailto:a@b">mail</a>'
                                  '<a href="#">empty</a> <a href="_sources/book/a.ipynb">source</a>'),
        "book/a.html": PAGE.format('<section id="sec"><a name="old"></a><a href="../index.html#top">up</a>'
                                   '<a href="a.html#old">named</a> <a href="../book/a.html#sec%20x">quoted</a></section>'),
        "_sources/book/a.ipynb": "{}",
    }
    files["index.html"] = files["index.html"].replace("<body>", '<body id="top">')
    exists, ids_of = site_of(files)
    problems = bc.check_links("index.html", files["index.html"], exists, ids_of)
    assert problems == ["broken link: 'book/a.html#nope' -> book/a.html has no #nope",
                        "broken link: 'book/missing.html' -> missing book/missing.html"]
    problems = bc.check_links("book/a.html", files["book/a.html"], exists, ids_of)
    assert problems == ["broken link: '../book/a.html#sec%20x' -> book/a.html has no #sec x"]


def test_links_out_of_the_site_are_broken():
    exists, ids_of = site_of({"a.html": PAGE.format("")})
    assert bc.check_links("a.html", PAGE.format('<a href="../../etc/passwd">x</a>'), exists, ids_of)


def test_missing_images_are_found():
    exists, _ = site_of({"_images/x.png": "", "book/p.html": ""})
    html = PAGE.format('<img src="../_images/x.png"><img src="../_images/y.png"><img src="https://x.org/a.png">')
    assert bc.check_images("book/p.html", html, exists) == ["missing image: '../_images/y.png'"]


TYPESET = '<span class="math notranslate nohighlight"><mjx-container class="MathJax">x</mjx-container></span>'


@pytest.mark.parametrize("body,expected", [
    (f"<p>Let {TYPESET} be.</p>", []),
    ('<p>Let <span class="math notranslate nohighlight">\\(x^2\\)</span> be.</p>', ["unrendered math"]),
    ('<div class="math notranslate nohighlight"><mjx-container><mjx-merror>Undefined control sequence'
     '</mjx-merror></mjx-container></div>', ["MathJax errors"]),
    ("<p>the loss $L(\\theta)$ is</p>", ["raw TeX"]),
    ("<p>where $$x = 1$$</p>", ["raw TeX"]),
    ("<p>\\begin{align} x \\end{align}</p>", ["raw TeX"]),
    ("<p>costs $5 and $10, no math</p>", []),
    ("<pre>plt.xlabel('$\\\\sqrt{x}$')</pre><code>$a_b$</code>", []),
    ("<p>see {term}`wedge`</p>", ["unprocessed MyST roles"]),
    ("<p>a <code>{term}`wedge`</code> role</p><script>var a = '$x_1$';</script>", []),
])
def test_math_checks(body, expected):
    problems = bc.check_math(PAGE.format(body))
    assert len(problems) == len(expected) and all(p.startswith(e) for p, e in zip(problems, expected)), problems


def test_colab_links_of_chapter_pages(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch.ipynb").write_text("{}")
    (tmp_path / "_config.yml").write_text(textwrap.dedent("""
        repository: {url: "https://github.com/me/mybook", branch: main, path_to_book: ""}
        launch_buttons: {colab_url: "https://colab.research.google.com"}
    """))
    repo = bc.Repository.from_config(tmp_path / "_config.yml")
    assert (repo.owner, repo.name, repo.branch) == ("me", "mybook", "main")
    good = "https://colab.research.google.com/github/me/mybook/blob/main/book/ch.ipynb"
    assert repo.colab_link("book/ch.html") == good
    assert repo.is_chapter("book/ch.html") and not repo.is_chapter("book/intro.html")
    assert bc.check_colab("book/ch.html", PAGE.format(f'<a href="{good}">Colab</a>'), repo) == []
    assert bc.check_colab("book/intro.html", PAGE.format(""), repo) == []            # not a chapter
    assert "no Open-in-Colab link" in bc.check_colab("book/ch.html", PAGE.format(""), repo)[0]
    wrong = good.replace("/main/", "/master/")
    assert bc.check_colab("book/ch.html", PAGE.format(f'<a href="{wrong}">Colab</a>'), repo) == [
        f"Colab link {wrong} should be {good}"]
    # a page built from a notebook that the repository does not have
    other = good.replace("ch.ipynb", "gone.ipynb")
    assert bc.check_colab("book/gone.html", PAGE.format(f'<a href="{other}">Colab</a>'), repo, True) == [
        "built from a notebook, but book/gone.ipynb is not in the repository"]


def test_the_books_config_gives_the_expected_colab_link():
    repo = bc.Repository.from_config(bc.ROOT / "_config.yml")
    assert repo.colab_link("book/toy_model.html") == (
        "https://colab.research.google.com/github/lsl-book/lsl/blob/main/book/toy_model.ipynb")
    assert repo.is_chapter("book/toy_model.html")


def test_redirect_pages_are_recognised():
    html = '<html><head><meta http-equiv="Refresh" content="0; url=book/intro.html" /></head></html>'
    assert bc.redirect_target(html) == "book/intro.html"
    assert bc.redirect_target(PAGE.format("x")) is None


# ---------------------------------------------------------------------------
# In a real browser, on a tiny site with one good page and one of each fault


GOOD = """<html><head><script defer src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
</head><body id="top"><h1 id="title">Good</h1><img src="img.png" alt="A one-pixel test image.">
<p>Math: <span class="math notranslate nohighlight">\\(x^2 + y_1\\)</span></p>
<a href="bad.html#nowhere">to bad</a> <a href="#title">self</a></body></html>"""
BAD = """<html><head></head><body><h1>Bad</h1><img src="missing.png">
<script>console.error("boom"); undefinedFunction();</script>
<p>Raw: $x_1$ and <span class="math notranslate nohighlight">\\(z\\)</span></p>
<a href="good.html#title">fine</a> <a href="gone.html">gone</a></body></html>"""
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8cfc0f01f0005000201a1b5d1a40000000049454e44ae426082")


@pytest.fixture(scope="module")
def chromium():
    pytest.importorskip("websocket")
    exe = bc.find_chromium()
    if exe is None:
        pytest.skip(bc.INSTALL_HINT)
    return exe


def test_a_real_browser_finds_each_fault(chromium, tmp_path):
    site = tmp_path / "html"
    site.mkdir()
    (site / "good.html").write_text(GOOD)
    (site / "bad.html").write_text(BAD)
    (site / "img.png").write_bytes(PNG)
    (tmp_path / "_config.yml").write_text('repository: {url: "https://github.com/me/b", branch: main}\n')
    repo = bc.Repository.from_config(tmp_path / "_config.yml")
    mathjax = bc.local_mathjax()
    browser = bc.Browser(chromium, mathjax=mathjax, timeout=20)
    try:
        results = {r.page: r.problems for r in bc.check_site(site, browser, repo, screenshots=tmp_path / "shots",
                                                              screenshot_pages=("good.html",), log=lambda *_: None)}
    finally:
        browser.close()
    assert (tmp_path / "shots" / "good.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")      # a PNG
    good, bad = results["good.html"], results["bad.html"]
    if mathjax is not None:            # MathJax served from the local copy: the math is typeset
        assert good == ["broken link: 'bad.html#nowhere' -> bad.html has no #nowhere"]
    text = "\n".join(bad)
    assert "console.error: boom" in text
    assert "JavaScript exception: ReferenceError: undefinedFunction is not defined" in text
    assert "HTTP 404 for http://127.0.0.1" in text and "missing.png" in text
    assert "missing image: 'missing.png'" in text
    assert "raw TeX in the text" in text
    assert "unrendered math: 1 of 1" in text
    assert "broken link: 'gone.html' -> missing gone.html" in text
    assert "good.html#title" not in text
    assert Path(browser.profile).exists() is False


def test_two_browsers_find_what_one_finds(chromium, tmp_path):
    """Pages shared out between two browsers: the same problems per page, in the site's page order."""
    site = tmp_path / "html"
    site.mkdir()
    for i in range(3):
        (site / f"good{i}.html").write_text(GOOD.replace("bad.html#nowhere", "good0.html#title"))
    (site / "bad.html").write_text(BAD)
    (site / "img.png").write_bytes(PNG)
    (tmp_path / "_config.yml").write_text('repository: {url: "https://github.com/me/b", branch: main}\n')
    repo = bc.Repository.from_config(tmp_path / "_config.yml")
    mathjax = bc.local_mathjax()
    runs = []
    for n in (1, 2):
        browsers = [bc.Browser(chromium, mathjax=mathjax, timeout=20) for _ in range(n)]
        try:
            results = bc.check_site(site, browsers, repo, screenshots=None, log=lambda *_: None)
            # each run serves the site on a port of its own
            runs.append([(r.page, sorted(re.sub(r"127\.0\.0\.1:\d+", "HOST", p) for p in r.problems)) for r in results])
        finally:
            for b in browsers:
                b.close()
    one, two = runs
    assert [page for page, _ in one] == bc.Site(site).pages() + ["(site)"]      # no chapter in a fake site
    assert two == one
    assert dict(one)["bad.html"] and not any(problems for page, problems in one if page not in ("bad.html", "(site)") and mathjax)


WIDE = """<html><head><style>article { width: 400px; } .s { overflow-x: auto; }</style></head><body>
<article class="bd-article"><p>fits</p><div id="cut" style="width: 600px">a wide block</div>
<div class="s"><table><tr><td style="min-width: 700px">wide table, no cue</td></tr></table></div>
<div class="s lsl-overflows"><table><tr><td style="min-width: 700px">wide table with cue</td></tr></table></div>
<div class="s"><table><tr><td>a narrow table in a scroller</td></tr></table></div>
<span style="position: absolute; clip: rect(1px, 1px, 1px, 1px)" class="visually-hidden">
<span style="display: inline-block; width: 900px">for screen readers</span></span></article></body></html>"""


def test_the_browser_measures_what_sticks_out_of_the_column(chromium, tmp_path):
    """Wider than the column: cut off, scrolling with no cue, scrolling with the book's cue (fine)."""
    site = tmp_path / "html"
    site.mkdir()
    (site / "wide.html").write_text(WIDE)
    server, base = bc.serve(site)
    browser = bc.Browser(chromium, timeout=20)
    try:
        state = browser.open(base + "wide.html")
    finally:
        browser.close()
        server.shutdown()
    problems = bc.check_overflow(state["overflow"])
    assert len(problems) == 2, problems
    assert problems[0].startswith("wider than the column by 200 px (cut off at the right): div") and "a wide block" in problems[0]
    assert problems[1].startswith("scrolls sideways by") and "no cue" in problems[1] and "wide table, no cue" in problems[1]


def test_overflow_problems_are_worded_for_each_case():
    found = [{"what": "div", "by": 5, "scrolls": False, "cue": False},
             {"what": "table", "by": 7, "scrolls": True, "cue": False},
             {"what": "table2", "by": 9, "scrolls": True, "cue": True}]
    assert bc.check_overflow(found) == ["wider than the column by 5 px (cut off at the right): div",
                                        "scrolls sideways by 7 px with no cue to the reader: table"]


def _cell(outputs: str) -> str:
    return ('<div class="cell docutils container"><div class="cell_input docutils container">'
            '<pre>glue("x", 0.349)</pre></div><div class="cell_output docutils container">'
            f'{outputs}</div></div>')


def _plain(text: str, extra: str = "") -> str:
    return (f'<div class="output text_plain{extra} highlight-myst-ansi notranslate"><div class="highlight">'
            f'<pre><span></span>{text}\n</pre></div></div>')


@pytest.mark.parametrize("shown", ["&#39;0.349&#39;", "60.6", "27000", "&#39;Not reproduced&#39;", "-1.5e-03", "True"])
def test_a_stray_value_in_a_cell_output_fails(shown):
    page = PAGE.format(_cell(_plain(shown)))
    problems = bc.check_stray_outputs(page)
    assert len(problems) == 1 and problems[0].startswith("stray output value")


def test_printed_text_rich_output_and_glued_prose_are_not_stray():
    printed = '<div class="output stream highlight-myst-ansi notranslate"><pre>0.349\n</pre></div>'
    page = PAGE.format(_cell(printed) + _cell(_plain("tensor([0.1000, 0.2000])"))
                       + _cell(_plain("D=60 n=40: threshold 20"))
                       + '<p>the barrier is <span class="output text_plain">0.349</span></p>')
    assert bc.check_stray_outputs(page) == []


@pytest.mark.parametrize("shown", [
    "test accuracy [0.949999988079071, 0.9559999704360962]",          # ensembles, before the fix
    "outliers counted at each step {0: 1, 30: 1, 60: 1}",               # local geometry
    "top C: {0: 0.365, 150: 0.902}",
    "agreement with A&#39;s labels: [1.   0.88 0.83 0.76]",             # tunnels
    "[[0.75 0.59 0.64]\n [1.1  0.92 0.88]]",                            # widths
    "tensor([0.1000, 0.2000])",
])
def test_a_raw_dump_in_an_output_fails(shown):
    printed = f'<div class="output stream highlight-myst-ansi notranslate"><pre>{shown}\n</pre></div>'
    assert len(bc.check_raw_dumps(PAGE.format(_cell(printed)))) == 1


@pytest.mark.parametrize("shown", ["test accuracy [0.950, 0.956]", "top C at steps 0, 150: 0.365, 0.902",
                                   "D=60 n=40: threshold 20; gap 1.2e+04", "width 64: 0.900 and 0.856"])
def test_numbers_printed_for_a_reader_are_not_raw_dumps(shown):
    printed = f'<div class="output stream highlight-myst-ansi notranslate"><pre>{shown}\n</pre></div>'
    assert bc.check_raw_dumps(PAGE.format(_cell(printed))) == []


def test_images_need_a_real_alt_text():
    page = PAGE.format('<article class="bd-article">'
                       '<img src="../_images/abc123.png" alt="_images/abc123.png">'
                       '<img src="../_images/def.png">'
                       '<img src="../_images/ghi.png" alt="">'
                       '<img src="../_images/ok.png" alt="Loss along the straight line and along the tunnel.">'
                       '</article><img src="logo.png" alt="">')
    problems = bc.check_alt_text(page)
    assert len(problems) == 3
    assert all("alt text" in p for p in problems) and not any("ok.png" in p for p in problems)


@pytest.mark.parametrize("shown", ["&#39;0.349&#39;", "60.6", "tensor([0.1000, 0.2000])", "outliers {0: 1, 30: 1, 60: 1}"])
def test_the_outputs_alone_show_what_the_whole_page_shows(shown):
    """cell_outputs parses only the output areas: the stray-value and raw-dump checks find the same on it."""
    page = PAGE.format('<p class="x cell_output_like">0.5</p>' + _cell(_plain(shown))
                       + _cell('<div class="output stream"><pre>[[0.75 0.59 0.64]\n [1.1  0.92 0.88]]</pre></div>'))
    outputs = bc.cell_outputs(page)
    assert len(outputs.select(".cell_output")) == 2
    assert bc.check_stray_outputs(outputs) == bc.check_stray_outputs(page)
    assert bc.check_raw_dumps(outputs) == bc.check_raw_dumps(page) and bc.check_raw_dumps(page)


def test_checks_take_a_page_parsed_once():
    page = PAGE.format('<a href="gone.html">x</a><img src="y.png"><p>$x_1$</p>')
    soup = bc._soup(page)
    assert bc._soup(soup) is soup
    exists, ids_of = site_of({"a.html": page})
    for check in (lambda h: bc.check_links("a.html", h, exists, ids_of), lambda h: bc.check_images("a.html", h, exists),
                  bc.check_math, bc.check_alt_text):
        assert check(soup) == check(page) and check(page)


def _listing(name: str, code: str, *, depth: int = 1, extra_head: str = "", title: str | None = None,
             body_extra: str = "") -> str:
    """A fake viewcode source listing of module ``name``, ``depth`` folders under _modules/."""
    up = "../" * (depth + 1)
    return (f'<html><head><link rel="stylesheet" href="{up}_static/theme.css?v=1"/>'
            f'<link rel="search" title="Search" href="{up}search.html"/>'
            f'<script src="{up}_static/doctools.js?v=2"></script>'
            f"<script>DOCUMENTATION_OPTIONS.pagename = '_modules/{name}';</script>{extra_head}</head>"
            f'<body><a href="#main">skip</a><article class="bd-article" id="main">'
            f'<h1>{title or "Source code for " + name}</h1><div class="highlight"><pre>'
            f'<span></span><div class="viewcode-block" id="f"><a class="viewcode-back" href="{up}api.html#f">[docs]</a>'
            f'<span class="k">def</span> <span class="nf">f</span>():\n    {code}\n</div></pre></div>{body_extra}'
            f'<a name="old"></a></article></body></html>')


def test_an_outline_finds_what_the_parsed_page_has():
    html = _listing("lsl/m", "return $x_1$  # code, not math", body_extra='<p>see $L(\\theta)$ {term}`wedge`</p>'
                    '<img src="p.png" alt="a plot">')
    out = bc.outline(html)
    assert out.ids == bc.page_ids(html) == {"main", "f", "old"}
    assert bc._links_of("_modules/lsl/m.html", out.hrefs) == bc.page_links("_modules/lsl/m.html", html)
    assert ("script", "../../_static/doctools.js?v=2") in out.resources
    assert ("link stylesheet", "../../_static/theme.css?v=1") in out.resources and ("img", "p.png") in out.resources
    assert out.title == "Source code for lsl/m" and "$x_1$" in "".join(out.code)
    assert any("pagename" in s for s in out.scripts)
    prose = " ".join(out.prose)
    assert "$L(\\theta)$" in prose and "$x_1$" not in prose and "pagename" not in prose
    assert out.rich == {"img"}
    assert bc.outline(_listing("lsl/m", "pass")).rich == set()
    assert bc.outline(_listing("lsl/m", "pass", body_extra='<span class="math">x</span>')).rich == {"math"}


def test_listings_at_any_depth_with_the_same_bundle_have_the_same_machinery():
    a = bc.outline(_listing("lsl/a", "pass", depth=1))
    b = bc.outline(_listing("lsl/sub/b", "return 1", depth=2))
    c = bc.outline(_listing("lsl/c", "pass", extra_head='<script src="../../_static/other.js"></script>'))
    d = bc.outline(_listing("lsl/d", "pass", extra_head="<script>var x = 1;</script>"))
    assert bc.machinery("_modules/lsl/a.html", a) == bc.machinery("_modules/lsl/sub/b.html", b)
    assert bc.machinery("_modules/lsl/a.html", a) != bc.machinery("_modules/lsl/c.html", c)
    assert bc.machinery("_modules/lsl/a.html", a) != bc.machinery("_modules/lsl/d.html", d)
    # one folder too shallow: the same text, other files
    assert bc.machinery("_modules/lsl/a.html", a) != bc.machinery("_modules/a.html", a)


def test_a_listing_checked_from_its_html_shows_missing_files_other_hosts_and_raw_tex():
    exists = {"_static/theme.css", "_static/doctools.js", "search.html"}.__contains__
    assert bc.check_listing("_modules/lsl/a.html", bc.outline(_listing("lsl/a", "pass")), exists) == []
    bad = _listing("lsl/a", "x = '$a_b$'", extra_head='<script src="https://cdn.example.org/x.js"></script>'
                   '<link rel="stylesheet" href="../../_static/gone.css"/><link rel="next" href="https://x.org/n"/>',
                   body_extra="<p>the loss $L(\\theta)$ and {term}`wedge`</p>")
    problems = bc.check_listing("_modules/lsl/a.html", bc.outline(bad), exists)
    assert problems == ["request to another host (the book must not need the network): https://cdn.example.org/x.js",
                        "missing file _static/gone.css (link '../../_static/gone.css')",
                        "raw TeX in the text: ['$L(\\\\theta)$']",
                        "unprocessed MyST roles in the text: ['{term}`']"]
    # the same bundle one folder too shallow: every file is missing
    assert len(bc.check_listing("_modules/a.html", bc.outline(_listing("lsl/a", "pass")), exists)) == 2


def test_the_listings_opened_are_the_extremes_and_the_odd_ones():
    pages = {f"_modules/lsl/m{i}.html": _listing(f"lsl/m{i}", "pass") for i in range(8)}
    pages["_modules/lsl/m1.html"] = _listing("lsl/m1", "x = 1 " * 30)                       # longest line
    pages["_modules/lsl/m2.html"] = _listing("lsl/m2", "y = '" + "z" * 60 + "'")            # longest unbroken run
    pages["_modules/lsl/m3.html"] = _listing("lsl/m3", "pass", title="Source code for lsl." + "long_name" * 5)
    pages["_modules/lsl/m4.html"] = _listing("lsl/m4", "pass\n    pass" * 40)               # the most code
    pages["_modules/lsl/m5.html"] = _listing("lsl/m5", "pass", body_extra='<img src="p.png" alt="a plot">')
    pages["_modules/lsl/m6.html"] = _listing("lsl/m6", "pass", extra_head='<script src="../../_static/x.js"></script>')
    outlines = {p: bc.outline(h) for p, h in pages.items()}
    assert bc.listings_to_open(outlines) == {f"_modules/lsl/m{i}.html" for i in (1, 2, 3, 4, 5, 6)}
    assert bc.listings_to_open({}) == set()
    one = {"_modules/lsl/m0.html": outlines["_modules/lsl/m0.html"]}
    assert bc.listings_to_open(one) == set(one)


def test_a_site_with_source_listings_checks_most_from_their_html(chromium, tmp_path):
    """Listings not opened are still checked: a broken link on one, and a link to a missing anchor in one."""
    site = tmp_path / "html"
    (site / "_modules" / "lsl").mkdir(parents=True)
    (site / "_static").mkdir()
    (site / "_static" / "theme.css").write_text("body { margin: 0; }")
    (site / "_static" / "doctools.js").write_text("var DOCUMENTATION_OPTIONS = {};")
    (site / "search.html").write_text(PAGE.format("search"))
    (site / "api.html").write_text(PAGE.format('<p id="f">f</p><a href="_modules/lsl/m2.html#f">ok</a>'
                                               '<a href="_modules/lsl/m3.html#nope">bad</a>'))
    for i in range(5):
        (site / "_modules" / "lsl" / f"m{i}.html").write_text(_listing(f"lsl/m{i}", "pass" + " pass" * i))
    gone = _listing("lsl/m3", "pass").replace('href="../../api.html#f"', 'href="../../api.html#gone"')
    (site / "_modules" / "lsl" / "m3.html").write_text(gone)
    (tmp_path / "_config.yml").write_text('repository: {url: "https://github.com/me/b", branch: main}\n')
    repo = bc.Repository.from_config(tmp_path / "_config.yml")
    browser = bc.Browser(chromium, timeout=20)
    try:
        results = {r.page: r for r in bc.check_site(site, browser, repo, screenshots=None, log=lambda *_: None)}
    finally:
        browser.close()
    assert not results["_modules/lsl/m3.html"].browser and results["_modules/lsl/m4.html"].browser
    assert results["_modules/lsl/m3.html"].problems == ["broken link: '../../api.html#gone' -> api.html has no #gone"]
    assert results["api.html"].problems == ["broken link: '_modules/lsl/m3.html#nope' -> _modules/lsl/m3.html has no #nope"]
    assert not any(r.problems for p, r in results.items() if p not in ("_modules/lsl/m3.html", "api.html", "(site)"))
