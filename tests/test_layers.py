"""The package's layering: the computational core never imports the book layer, and ``import lsl`` stays light."""

import ast
import subprocess
import sys
from pathlib import Path

import lsl

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lsl"
#: Third-party modules that belong to the book layer (figures, widgets, glue into the rendered book).
BOOK_THIRD_PARTY = ("matplotlib", "ipywidgets", "myst_nb", "IPython")


def _imports(path: Path) -> set[str]:
    """Every module a file imports (at top level or inside functions), as dotted names relative to ``lsl``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y
                base = node.module or ""
                if base:
                    names.add("lsl." + base)
                else:
                    names.update("lsl." + alias.name for alias in node.names)
            elif node.module:
                names.add(node.module)
    return names


def _is_book(name: str) -> bool:
    return name == "lsl.book" or name.startswith("lsl.book.")


def test_the_book_layer_is_a_subpackage_of_its_own():
    """Sizes per profile, set-up, glue, figures and widgets live in ``lsl.book``, nothing of them beside the core."""
    assert {p.stem for p in (PACKAGE / "book").glob("*.py")} >= {"__init__", *lsl.book.MODULES}
    assert not {p.stem for p in PACKAGE.glob("*.py")} & set(lsl.book.MODULES)


def test_core_modules_never_import_the_book_layer():
    core = [p for p in sorted(PACKAGE.glob("*.py"))]   # every module directly in lsl/ (lsl/book/ is the book layer)
    assert len(core) >= 20
    for path in core:
        # the core's relative imports are read as lsl.<name>; "from . import book" would read lsl.book
        bad = {n for n in _imports(path) if _is_book(n) or n.split(".")[0] in BOOK_THIRD_PARTY}
        assert not bad, f"lsl/{path.name} (core) imports {sorted(bad)}: computation must not draw, glue or read profiles"


def test_plotting_takes_arrays_never_landscapes():
    """The figure helpers draw results: none of them imports a landscape or any module that computes one."""
    computing = {"lsl.landscape", "lsl.network", "lsl.toy", "lsl.stack", "lsl.nets", "lsl.train", "lsl.data"}
    bad = {n for n in _imports(PACKAGE / "book" / "plots.py") if n in computing or n.startswith("torch")}
    assert not bad, f"lsl/book/plots.py imports {sorted(bad)}: plotting takes arrays, never landscapes"


def test_core_imports_form_no_circle():
    """No lsl module imports (at top level or inside a function) a module that imports it back, directly or
    through others: each module builds only on modules below it (``lanczos`` under ``curvature`` under
    ``spectrum``, ``short_directions`` and ``operators``). The names that moved out of ``lsl.curvature`` are
    still served by it for compatibility, through ``importlib`` in its module ``__getattr__`` on first use:
    that is no import the curvature operators need, and it is not counted here. ``lsl.landscape`` serves
    ``NetworkLandscape`` (moved to ``lsl.network``, which builds on ``lsl.landscape``) the same way."""
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    deps = {m: {n.split(".")[1] for n in _imports(p) if n.startswith("lsl.") and n.split(".")[1] in modules} - {m}
            for m, p in modules.items()}
    state: dict[str, str] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == "done":
            return
        if state.get(m) == "open":
            circle = path[path.index(m):] + [m]
            raise AssertionError("circular imports: " + " -> ".join(f"lsl.{x}" for x in circle))
        state[m] = "open"
        for d in sorted(deps[m]):
            visit(d, path + [m])
        state[m] = "done"

    assert deps["operators"] >= {"curvature", "lanczos", "spectrum"}  # the imports are read
    assert "landscape" in deps["network"] and "network" not in deps["landscape"]
    for m in sorted(modules):
        visit(m, [])


def test_import_lsl_loads_no_plotting_widgets_or_book_tools():
    code = ("import sys, lsl; loaded = [m for m in " + repr(BOOK_THIRD_PARTY) +
            " if m in sys.modules]; print(','.join(loaded))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"import lsl loaded {out.stdout.strip()}"


def test_book_layer_loads_on_first_use():
    assert callable(lsl.book.setup) and hasattr(lsl.book.profiles, "check_at_scale") and hasattr(lsl.book.plots, "figure")
    assert callable(lsl.book.explore.wedge_explorer)
    try:
        lsl.no_such_module
    except AttributeError as err:
        assert "no_such_module" in str(err)
    else:
        raise AssertionError("unknown attributes must raise AttributeError")


def test_moved_names_are_served_by_their_old_module_and_listed_once():
    """Every module that lost names to a split serves them (the same objects) through lsl._moved, lists them
    in dir(), keeps them out of __all__, and still refuses unknown names."""
    import importlib

    for old in ("curvature", "operators", "subspace", "landscape", "connect"):
        module = importlib.import_module(f"lsl.{old}")
        assert module._MOVED, old
        for name, new in module._MOVED.items():
            assert getattr(module, name) is getattr(importlib.import_module(f"lsl.{new}"), name), (old, name)
            assert name in dir(module) and name not in getattr(module, "__all__", ()), (old, name)
        try:
            getattr(module, "no_such_name")
        except AttributeError as err:
            assert "no_such_name" in str(err) and old in str(err)
        else:
            raise AssertionError(f"lsl.{old} served an unknown name")
