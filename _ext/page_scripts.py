"""A Sphinx extension for the book: tidy the scripts of each HTML page.

1. **Each script once.** With Jupyter Book 1.x (Sphinx 7.4), inline scripts that extensions add
   while the documents are read (sphinx-thebe's ``const THEBE_JS_URL = ...``, sphinx-togglebutton's
   selector) end up twice in every page: once as registered (file name ``None``) and once as
   re-registered by the HTML builder (file name ``""``), which Sphinx does not recognise as the same
   asset. A ``const`` declared twice is a JavaScript error on every page (tests/browser_check.py
   reports it). The second copy of any script whose file name and attributes equal an earlier
   one's is dropped.
2. **No widget state.** The book shows the static figure of an explorer (``lsl.book.explore``), never
   the widget (see ``nb_mime_priority_overrides`` in ``_config.yml``), so the widget state that
   myst-nb embeds for an executed notebook is dead weight (about 100 kB per explorer); it is dropped.
"""

from __future__ import annotations

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _key(js) -> tuple:
    filename = getattr(js, "filename", js) or ""
    attributes = getattr(js, "attributes", {}) or {}
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def tidy_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` handler: drop repeated scripts and widget state from ``script_files``."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        key = _key(js)
        if key in seen or dict(key[1]).get("type") == WIDGET_STATE:
            continue
        seen.add(key)
        kept.append(js)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", tidy_scripts, priority=900)   # after the themes and myst-nb add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
