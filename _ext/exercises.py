"""A Sphinx extension for the book: exercises a lecturer can cite as "Exercise 3.2".

Each chapter ends with a section titled "Exercises" holding a numbered list. In a chapter that the
table of contents numbers (``numbered:`` in ``_toc.yml``), every item of that list gets its label,
"Exercise <chapter>.<item>", in bold at its start, and an anchor ``exercise-<chapter>-<item>`` that a
link, a slide or a syllabus can point to (``.../tunnels.html#exercise-3-2``). The list's own numbers are
then hidden (``ol.lsl-exercises`` in ``_static/lsl.css``), so the label is the only number a reader sees.
An "Exercises" section in a numbered chapter without a numbered list is a warning (``make test``
builds with ``-W``).
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

TITLE = "Exercises"


def chapter_number(env, docname: str) -> tuple[int, ...] | None:
    """The chapter's number as the table of contents gives it, e.g. ``(3,)``; None if it has none."""
    numbers = env.toc_secnumbers.get(docname, {})
    number = numbers.get("") or next(iter(numbers.values()), None)
    return tuple(number) if number else None


def label(chapter: tuple[int, ...], item: int) -> str:
    """The label of an exercise: ``Exercise 3.2``."""
    return "Exercise " + ".".join(str(n) for n in (*chapter, item))


def anchor(chapter: tuple[int, ...], item: int) -> str:
    """The anchor of an exercise: ``exercise-3-2``."""
    return "exercise-" + "-".join(str(n) for n in (*chapter, item))


def label_exercises(app, doctree, docname: str) -> None:
    """``doctree-resolved`` handler: label the items of the chapter's "Exercises" list."""
    chapter = chapter_number(app.env, docname)
    if chapter is None:
        return
    for section in doctree.findall(nodes.section):
        title = section.next_node(nodes.title)
        if title is None or title.astext().strip() != TITLE:
            continue
        lists = [child for child in section.children if isinstance(child, nodes.enumerated_list)]
        if not lists:
            logger.warning(f"the {TITLE} section has no numbered list to label", location=section)
            continue
        exercises = lists[0]
        exercises["classes"].append("lsl-exercises")
        for item_number, item in enumerate(exercises.children, start=1):
            if not isinstance(item, nodes.list_item):
                continue
            item["ids"].insert(0, anchor(chapter, item_number))
            first = item.next_node(nodes.paragraph)
            strong = nodes.strong(text=label(chapter, item_number) + ". ")
            if first is not None:
                first.insert(0, strong)
            else:
                item.insert(0, nodes.paragraph("", "", strong))


def setup(app):
    app.connect("doctree-resolved", label_exercises)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
