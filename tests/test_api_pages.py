"""The API reference has one page per lsl module, each documenting only the module's public names."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: page name (``book/api/<name>.md``) -> the module's file: the core's modules and the book layer's (``lsl.book``)
#: (private modules, ``lsl/_*.py``, are plumbing with no public names: no page)
FILES = {p.stem: p for folder in (ROOT / "lsl", ROOT / "lsl" / "book") for p in folder.glob("*.py") if not p.stem.startswith("_")}
MODULES = sorted(FILES)
assert len(FILES) == len([p for folder in (ROOT / "lsl", ROOT / "lsl" / "book") for p in folder.glob("*.py")
                          if not p.stem.startswith("_")]), \
    "a module of lsl.book has the name of a core module: their API pages would collide"


def dotted(module: str) -> str:
    """``lsl.<module>`` or ``lsl.book.<module>``."""
    return ".".join(FILES[module].relative_to(ROOT).with_suffix("").parts)


def _all_names(module: str) -> list[str] | None:
    """The module's ``__all__`` read from its source (no import: plotting modules stay unloaded)."""
    tree = ast.parse(FILES[module].read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


@pytest.mark.parametrize("module", MODULES)
def test_module_has_public_all(module):
    names = _all_names(module)
    assert names is not None, (f"{FILES[module].relative_to(ROOT)} has no __all__: the API page (automodule :members:) would list "
                               "every public-looking name; add __all__ with the module's public names")
    private = [n for n in names if n.startswith("_")]
    assert not private, f"{FILES[module].relative_to(ROOT)} exports private names {private} in __all__"


@pytest.mark.parametrize("module", MODULES)
def test_module_has_api_page(module):
    page = ROOT / "book" / "api" / f"{module}.md"
    assert page.exists(), f"no API page for {dotted(module)}: add book/api/{module}.md (copy another page of book/api/)"
    text = page.read_text(encoding="utf-8")
    assert re.search(rf"^\.\. automodule:: {re.escape(dotted(module))}$", text, re.M), f"{page} does not document {dotted(module)}"
    assert ":private-members:" not in text and ":undoc-members:" not in text, f"{page} lists internal helpers"
    index = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    assert f"(api/{module}.md)" in index, f"book/api.md does not link the page of {dotted(module)}"


def test_no_stray_api_pages():
    pages = {p.stem for p in (ROOT / "book" / "api").glob("*.md")}
    assert pages <= set(MODULES), f"API pages for modules that do not exist: {sorted(pages - set(MODULES))}"
