"""The package's layering: the computational core never imports the book layer, and ``import lsl`` stays light."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import lsl

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lsl"
#: Third-party modules that belong to the book layer (figures, widgets, glue into the rendered book).
BOOK_THIRD_PARTY = ("matplotlib", "ipywidgets", "myst_nb", "IPython")


def _module_name(path: Path) -> str:
    """``lsl/curvature/hessian.py`` -> ``lsl.curvature.hessian`` (``__init__.py`` -> its package)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module a file imports (at top level or inside functions), as dotted names; ``from lsl.x import y``
    counts ``lsl.x.y`` too when ``y`` is a module (a subpackage's module)."""
    names: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names.add(base)
            for alias in node.names:
                dotted = f"{base}.{alias.name}"
                if (ROOT / (dotted.replace(".", "/") + ".py")).exists() or (ROOT / dotted.replace(".", "/")).is_dir():
                    names.add(dotted)
    return names


def _is_book(name: str) -> bool:
    return name == "lsl.book" or name.startswith("lsl.book.")


def _layer(module: str) -> str:
    """``"core"``, a family's name, or ``"book"``, for a dotted module name inside lsl."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in lsl.CORE:
        return "core"
    return parts[1]


CODE = [p for p in sorted(PACKAGE.rglob("*.py")) if "book" not in p.relative_to(PACKAGE).parts[:1]]


def test_the_tree_is_the_core_the_families_and_the_book_layer():
    """Directly in lsl/: the core's modules and nothing else; one folder per family with the modules its
    ``__init__`` lists (``MODULES``), a paragraph on what it is for, and what it builds on (``BUILDS_ON``)."""
    assert {p.stem for p in PACKAGE.glob("*.py")} == {"__init__", *lsl.CORE}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == {*lsl.FAMILIES, "book"}
    for fam in lsl.FAMILIES:
        pkg = importlib.import_module(f"lsl.{fam}")
        assert {p.stem for p in (PACKAGE / fam).glob("*.py")} == {"__init__", *pkg.MODULES}, fam
        assert list(pkg.__all__) == list(pkg.MODULES), fam
        assert len((pkg.__doc__ or "").split()) >= 25 and "Builds on" in pkg.__doc__, \
            f"lsl/{fam}/__init__.py: say in a paragraph what the family is for and what it builds on"
        assert set(pkg.BUILDS_ON) <= set(lsl.FAMILIES) and fam not in pkg.BUILDS_ON, fam
        for b in pkg.BUILDS_ON:    # what a family builds on comes before it
            assert lsl.FAMILIES.index(b) < lsl.FAMILIES.index(fam), (fam, b)


def test_the_book_layer_is_a_subpackage_of_its_own():
    """Sizes per profile, set-up, glue, figures and widgets live in ``lsl.book``, nothing of them beside the core."""
    assert {p.stem for p in (PACKAGE / "book").glob("*.py")} >= {"__init__", *lsl.book.MODULES}


def test_the_core_and_the_families_never_import_the_book_layer():
    assert len(CODE) >= 35
    for path in CODE:
        bad = {n for n in _imports(path) if _is_book(n) or n.split(".")[0] in BOOK_THIRD_PARTY}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: computation must not draw, glue or read profiles"


def test_each_family_imports_only_the_core_and_what_it_builds_on():
    """The core imports no family; a family imports the core, itself and the families in its ``BUILDS_ON``."""
    seen = set()
    for path in CODE:
        own = _layer(_module_name(path))
        allowed = {"core"} if own == "core" else {"core", own, *importlib.import_module(f"lsl.{own}").BUILDS_ON}
        if path == PACKAGE / "__init__.py":
            continue   # the package imports its families to make them attributes of lsl
        for name in _imports(path):
            if name.startswith("lsl.") or name == "lsl":
                layer = _layer(name)
                seen.add((own, layer))
                assert layer in allowed, (f"{path.relative_to(ROOT)} ({own}) imports {name} ({layer}); "
                                          f"it may import {sorted(allowed)}: move the code, or declare the family in BUILDS_ON")
    assert ("curvature", "core") in seen and ("ensembles", "paths") in seen    # the imports are read


def test_plotting_takes_arrays_never_landscapes():
    """The figure helpers draw results: none of them imports a landscape or any module that computes one."""
    bad = {n for n in _imports(PACKAGE / "book" / "plots.py")
           if (n.startswith("lsl.") and not _is_book(n)) or n.startswith("torch")}
    assert not bad, f"lsl/book/plots.py imports {sorted(bad)}: plotting takes arrays, never landscapes"


def test_imports_form_no_circle():
    """No lsl module imports (at top level or inside a function) a module that imports it back, directly or
    through others: each module builds only on modules below it (``lanczos`` under ``hessian`` under
    ``spectrum``, ``short_directions`` and ``linear_operators``)."""
    modules = {_module_name(p): p for p in CODE if p.name != "__init__.py"}
    deps = {m: {n for n in _imports(p) if n in modules} - {m} for m, p in modules.items()}
    state: dict[str, str] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == "done":
            return
        if state.get(m) == "open":
            circle = path[path.index(m):] + [m]
            raise AssertionError("circular imports: " + " -> ".join(circle))
        state[m] = "open"
        for d in sorted(deps[m]):
            visit(d, path + [m])
        state[m] = "done"

    assert deps["lsl.curvature.linear_operators"] >= {"lsl.curvature.hessian", "lsl.curvature.lanczos", "lsl.curvature.spectrum"}
    assert "lsl.landscape" in deps["lsl.network"] and "lsl.network" not in deps["lsl.landscape"]
    for m in sorted(modules):
        visit(m, [])


def _defined(module: str) -> set[str]:
    """The names a module of lsl defines (top-level functions, classes, assignments; not its imports)."""
    path = ROOT / (module.replace(".", "/") + ".py")
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def test_every_name_is_imported_from_where_it_lives():
    """No compatibility layer: a ``from lsl.x.y import name`` anywhere in the project (package, chapters, tests,
    benchmarks, tools) names the module that defines ``name``, never one that merely imports it."""
    files = [p for folder in ("lsl", "book", "tests", "benchmarks", "tools") for p in (ROOT / folder).rglob("*.py")]
    wrong = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("lsl.")):
                continue
            mod = node.module
            if _is_book(mod) or not (ROOT / (mod.replace(".", "/") + ".py")).exists():
                continue   # the book layer's entry points, and subpackages (from lsl.curvature import hessian)
            wrong += [f"{path.relative_to(ROOT)}: {a.name} from {mod}" for a in node.names if a.name not in _defined(mod)]
    assert not wrong, "names imported from a module that does not define them:\n" + "\n".join(wrong)


def test_import_lsl_loads_no_plotting_widgets_or_book_tools():
    code = ("import sys, lsl; loaded = [m for m in " + repr(BOOK_THIRD_PARTY) +
            " if m in sys.modules]; print(','.join(loaded))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"import lsl loaded {out.stdout.strip()}"


def test_book_layer_loads_on_first_use():
    assert callable(lsl.book.setup) and hasattr(lsl.book.profiles.Profile, "check_at_scale") and hasattr(lsl.book.plots, "figure")
    assert callable(lsl.book.explore.wedge_explorer)
    try:
        lsl.no_such_module
    except AttributeError as err:
        assert "no_such_module" in str(err)
    else:
        raise AssertionError("unknown attributes must raise AttributeError")
