"""Names that moved to another module and are still served by the module they left.

When a module is split (``lsl.curvature`` into ``lanczos``, ``spectrum`` and ``short_directions``,
``lsl.landscape`` into ``network``, ...), code written against the old place must keep working.
The old module lists the moved names with their new module and serves them on first use, through a
module ``__getattr__`` (PEP 562): so it needs no import of the new module at load time, and no import
circle arises when the new module imports the old one. The moved names stay out of the old module's
``__all__``, so the API reference documents each name once, where it lives.

Usage, at the end of the old module::

    _MOVED = {"NetworkLandscape": "network"}
    __getattr__, __dir__ = _moved.serve(__name__, _MOVED)
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Mapping


def serve(module_name: str, moved: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a module that still serves names which moved out of it.

    Args:
        module_name: the serving module's ``__name__`` (it must be imported, i.e. call this from it).
        moved: each moved name -> the module of ``lsl`` it lives in now (``"spectrum"`` for ``lsl.spectrum``).

    Returns:
        ``(__getattr__, __dir__)``: the first imports the new module on first use of a moved name and
        returns the name from it, and raises ``AttributeError`` for any other unknown name; the second
        lists the module's own names and the moved ones.
    """
    module = sys.modules[module_name]

    def __getattr__(name: str):
        if name in moved:
            return getattr(importlib.import_module(f".{moved[name]}", module.__package__), name)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(module)) | set(moved))

    return __getattr__, __dir__
