"""The API reference has one page per lsl module, written from the package by ``tools/package_map.py``."""

import ast
from pathlib import Path

import pytest

from tools import package_map

ROOT = Path(__file__).resolve().parents[1]
STRUCTURE = package_map.structure()
MODULES = [m for _, m in package_map._modules(STRUCTURE)]


def _source(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


def _all_names(module: str) -> list[str] | None:
    """The module's ``__all__`` read from its source (no import: plotting modules stay unloaded)."""
    tree = ast.parse(_source(module).read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def test_every_module_of_the_package_is_listed_by_it():
    """The structure the pages are written from covers every module file (none forgotten in a MODULES list)."""
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "lsl").rglob("*.py")
             if p.name != "__init__.py"}
    assert files == set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_has_public_all(module):
    names = _all_names(module)
    assert names is not None, (f"{_source(module).relative_to(ROOT)} has no __all__: the API page (automodule :members:) "
                               "would list every public-looking name; add __all__ with the module's public names")
    private = [n for n in names if n.startswith("_")]
    assert not private, f"{_source(module).relative_to(ROOT)} exports private names {private} in __all__"


def test_the_api_pages_and_package_maps_are_written_from_the_package():
    """book/api.md, book/api/*.md, the package map in README.md and book/architecture.md and the families'
    drawing are what tools/package_map.py writes today (run it after adding, moving or describing a module)."""
    stale = [str(p.relative_to(ROOT)) for p, text in package_map.expected(STRUCTURE).items()
             if (p.read_text(encoding="utf-8") if p.exists() else None) != text]
    assert not stale, f"out of date: {stale}; run: python -m tools.package_map"


def test_the_check_finds_a_missing_page(tmp_path, monkeypatch):
    """The check above can fail: in a copy of the tree, a missing page and an undocumented new module are reported."""
    import shutil

    for part in ("lsl", "book/api", "book/images"):
        shutil.copytree(ROOT / part, tmp_path / part)
    for part in ("README.md", "book/api.md", "book/architecture.md"):
        shutil.copy(ROOT / part, tmp_path / part)
    monkeypatch.setattr(package_map, "ROOT", tmp_path)
    assert package_map.main(["--check"]) == 0
    (tmp_path / "book" / "api" / "lsl.toy.md").unlink()
    assert package_map.main(["--check"]) == 1
    assert package_map.main([]) == 0 and package_map.main(["--check"]) == 0     # written again
    (tmp_path / "book" / "api" / "lsl.gone.md").write_text("# a page of a module that no longer exists")
    assert package_map.main(["--check"]) == 1
