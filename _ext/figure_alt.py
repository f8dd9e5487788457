"""A Sphinx extension for the book: every figure's image gets a real alt text.

Sphinx's HTML writer uses an image's file path as its ``alt`` attribute when the image has none, which
is what a screen reader then reads out. For an image inside a figure without an explicit alt
(``{glue:figure}``'s ``:alt:`` option) this extension takes the caption's leading sentences (up to 250 characters). An image with neither an
alt nor a caption gets a warning (``make test`` builds with ``-W``, so it fails there).
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bFig)(?<!\bFigs)(?<!\bcf)(?<!\bvs)(?<!\bet al)\.(\s|$)")


def first_sentence(text: str, limit: int = 250) -> str:
    """The caption's leading sentences that fit in ``limit`` characters (at least the first one, cut at a
    word if it alone is longer), without the final full stop."""
    text = " ".join(text.split())
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if text[match.start()] == ".":
            sentences.append(text[start: match.start() + 1].strip())
            start = match.end()
    if start < len(text):
        sentences.append(text[start:].strip())
    alt = sentences[0] if sentences else text
    for sentence in sentences[1:]:
        if len(alt) + 1 + len(sentence) > limit:
            break
        alt += " " + sentence
    if len(alt) > limit:
        alt = alt[:limit].rsplit(" ", 1)[0] + " …"
    return alt.rstrip(" .")


def _needs_alt(image: nodes.image) -> bool:
    alt = (image.get("alt") or "").strip()
    return not alt or alt == image.get("uri") or re.search(r"\.(png|jpe?g|svg|gif)$", alt, re.I) is not None


def add_alt(app, doctree, docname) -> None:
    """``doctree-resolved``: alt text from the caption for each figure image that lacks one."""
    for image in doctree.findall(nodes.image):
        if not _needs_alt(image):
            continue
        figure = image.parent
        while figure is not None and not isinstance(figure, nodes.figure):
            figure = figure.parent
        captions = list(figure.findall(nodes.caption)) if figure is not None else []
        if captions and captions[0].astext().strip():
            image["alt"] = first_sentence(captions[0].astext())
        else:
            logger.warning(f"image {image.get('uri')!r} has no alt text and no caption: put it in a captioned "
                           "{glue:figure} (lsl.book.report.figure) or give it an alt text",
                           location=image, type="lsl", subtype="alt")


def setup(app):
    app.connect("doctree-resolved", add_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
