"""A disk cache for expensive results (trained optima, generated data).

**Keys.** An entry is stored under a hash of everything that determines it: a JSON-able ``key``
mapping, the cache format version and the versions of Python, torch, NumPy and ``lsl``. What goes
into a key is the computation itself, not its name: :func:`value_digest` condenses a value that
takes part in a computation -- a loss function, a module, the numbers they close over -- into a
digest of its code and its values (see :func:`value_digest` for what is digested and what is
refused). A value that cannot be digested raises :class:`UntrustedKey`; callers then compute
without the cache, with a warning that says why (:func:`trusted_key`), instead of risking another
computation's result.

**Entries** hold tensors only, with a SHA-256 digest of their contents, and are written atomically
(a temporary file, then ``os.replace``); temporary files left by a killed write are removed once
they are :data:`STALE_SECONDS` old. Loading uses ``torch.load(..., weights_only=True)``, so an
entry can never execute code, and checks the entry by content: the digest, and the names, shapes,
dtypes and finiteness the caller expects (:class:`Expect`). An entry that is unreadable, damaged,
or not what the caller expects is recomputed and overwritten, with a warning that names its file.

The directory is ``LSL_CACHE_DIR`` if set, else ``~/.cache/lsl``. Set ``LSL_CACHE=0`` to switch
the cache off.
"""

from __future__ import annotations

import dataclasses
import dis
import enum
import functools
import hashlib
import json
import os
import sys
import sysconfig
import tempfile
import time
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

__all__ = ["cache_dir", "key_hash", "cached", "lookup", "save", "load", "CacheMiss", "Expect", "UntrustedKey",
           "value_digest", "module_digest", "trusted_key", "content_digest"]

#: Bump when the meaning of cached entries changes, so old entries are not reused.
#: 2: keys digest the computation (code and values, :func:`value_digest`), entries carry a digest of their tensors.
FORMAT_VERSION = 2
#: Temporary files (``*.tmp``) of a write older than this many seconds are left by a killed write and are removed.
STALE_SECONDS = 600


class CacheMiss(LookupError):
    """Raised by :func:`load` when an entry is absent, unreadable, damaged or not what the caller expects."""


class UntrustedKey(ValueError):
    """Raised when a value in a computation cannot be digested, so that no cache key can name the computation."""


def cache_dir() -> Path:
    """The cache directory (``LSL_CACHE_DIR``, default ``~/.cache/lsl``)."""
    return Path(os.environ.get("LSL_CACHE_DIR") or Path.home() / ".cache" / "lsl")


def enabled() -> bool:
    """Whether the disk cache is on: it is unless the environment variable ``LSL_CACHE`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get("LSL_CACHE", "1").strip() not in ("0", "false", "no", "off")


def _canonical(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, (torch.dtype, torch.device)):
        return str(obj)
    raise TypeError(
        f"cache keys must be built from str, int, float, bool, None, lists and dicts; got {type(obj).__name__}. "
        "Describe the object by its settings instead (e.g. the architecture's name and sizes), or by its "
        "value_digest."
    )


def _versions() -> dict[str, str]:
    from lsl import __version__

    return {"python": "%d.%d" % sys.version_info[:2], "torch": torch.__version__, "numpy": np.__version__,
            "lsl": __version__}


def key_hash(key: Mapping[str, Any]) -> str:
    """A stable hex digest of a JSON-able key (order of dict entries does not matter).

    The digest also covers the cache format version and the versions of Python, torch, NumPy and ``lsl``.
    """
    text = json.dumps({"v": FORMAT_VERSION, "versions": _versions(), "key": _canonical(key)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _path(key: Mapping[str, Any], directory: Path | None) -> Path:
    return (directory or cache_dir()) / f"{key_hash(key)}.pt"


# ---------------------------------------------------------------------------
# digests of what a computation is made of

#: Top-level packages whose named functions and classes are identified by name (their versions are in
#: every key, :func:`key_hash`), besides the standard library.
TRUSTED_PACKAGES = frozenset({"torch", "numpy", "scipy", "sklearn", "mnist1d", "lsl"})
_NN_MODULE_STATE = frozenset({"_parameters", "_buffers", "_modules"})
_CODE_FIELDS = ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_flags", "co_names", "co_varnames",
                "co_freevars", "co_cellvars")


def _h(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _tensor_bytes(t: torch.Tensor) -> str:
    t = t.detach()
    if t.is_sparse or t.device.type == "meta":
        raise TypeError(f"a {t.layout} tensor on {t.device}")
    t = t.contiguous().cpu()
    h = hashlib.sha256(f"{tuple(t.shape)}|{t.dtype}|".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:32]


def _is_library(module: str) -> bool:
    """Whether a module belongs to a trusted package or to the standard library (not a user's file of the same name)."""
    root = module.split(".")[0]
    if root.lstrip("_") in TRUSTED_PACKAGES:
        return True
    if root not in sys.stdlib_module_names and root.lstrip("_") not in sys.stdlib_module_names:
        return False
    file = getattr(sys.modules.get(module), "__file__", None)
    return file is None or os.path.realpath(file).startswith(_STDLIB)


_STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"])


def _trusted_name(obj: Any) -> str | None:
    """``module.qualname`` of a function or class defined at the top level of a trusted package, else ``None``."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    if _is_library(module) and not getattr(obj, "__closure__", None):
        return f"{module}.{qualname}"
    return None


def _const(c: Any) -> str:
    """A constant of a code object, the same in every process (a frozenset's order depends on the hash seed)."""
    if isinstance(c, types.CodeType):
        return _code(c)
    if isinstance(c, tuple):
        return "(" + ",".join(_const(v) for v in c) + ")"
    if isinstance(c, frozenset):
        return "{" + ",".join(sorted(_const(v) for v in c)) + "}"
    return f"{type(c).__name__}:{c!r}"


def _code(code: types.CodeType) -> str:
    """The bytecode, constants and names of a code object (nested code objects digested the same way)."""
    return _h("code", code.co_code.hex(), *(_const(c) for c in code.co_consts),
              *(repr(getattr(code, f, None)) for f in _CODE_FIELDS))


def _global_names(code: types.CodeType) -> set[str]:
    """The global names a code object (and the code nested in it) loads; attribute names are not among them."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return {n for n in names if isinstance(n, str)}


def _all_names(code: types.CodeType) -> set[str]:
    """Every name a code object (and the code nested in it) uses: globals and attributes."""
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _all_names(c)
    return names


class _Digester:
    def __init__(self):
        self.active: set[int] = set()  # objects being digested (a cycle refers back to one of them)

    def __call__(self, obj: Any, where: str) -> str:
        if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
            return f"{type(obj).__name__}:{obj!r}"
        if isinstance(obj, (torch.dtype, torch.device, torch.Size, torch.layout, torch.memory_format)):
            return f"{type(obj).__name__}:{obj}"
        if isinstance(obj, (np.generic,)):
            return f"{type(obj).__name__}:{obj!r}"
        if isinstance(obj, types.ModuleType):
            return f"module:{obj.__name__}"
        if isinstance(obj, enum.Enum):
            return f"enum:{self(type(obj), where)}:{obj.name}"
        if id(obj) in self.active:
            return f"cycle:{type(obj).__qualname__}"
        self.active.add(id(obj))
        try:
            return self._compound(obj, where)
        finally:
            self.active.discard(id(obj))

    def _compound(self, obj: Any, where: str) -> str:
        if isinstance(obj, torch.Tensor):
            try:
                return f"tensor:{_tensor_bytes(obj)}"
            except Exception as exc:
                raise UntrustedKey(f"{where}: cannot digest the tensor ({exc})") from exc
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise UntrustedKey(f"{where}: a NumPy array of Python objects cannot be digested")
            return _h("ndarray", str(obj.shape), str(obj.dtype), hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest())
        if isinstance(obj, (list, tuple)):
            return _h(type(obj).__name__, *(self(v, f"{where}[{i}]") for i, v in enumerate(obj)))
        if isinstance(obj, (set, frozenset)):
            return _h("set", *sorted(self(v, f"{where} (an element)") for v in obj))
        if isinstance(obj, Mapping) and type(obj).__module__ in ("builtins", "collections"):
            items = sorted((self(k, f"{where} (a key)"), self(v, f"{where}[{k!r}]")) for k, v in obj.items())
            return _h("dict", *(f"{k}={v}" for k, v in items))
        if isinstance(obj, functools.partial):
            return _h("partial", self(obj.func, f"{where}.func"), self(obj.args, f"{where}.args"),
                      self(obj.keywords, f"{where}.keywords"))
        if isinstance(obj, types.MethodType):
            return _h("method", self(obj.__func__, where), self(obj.__self__, f"{where}.__self__"))
        if isinstance(obj, types.FunctionType):
            return self._function(obj, where)
        if isinstance(obj, (staticmethod, classmethod)):
            return _h(type(obj).__name__, self(obj.__func__, where))
        if isinstance(obj, property):
            return _h("property", self(obj.fget, f"{where}.fget"), self(obj.fset, f"{where}.fset"))
        if isinstance(obj, type):
            return self._class(obj, where)
        if isinstance(obj, nn.Module):
            return self._module(obj, where, skip=frozenset())
        if dataclasses.is_dataclass(obj):
            return _h("dataclass", self(type(obj), where),
                      *(f"{f.name}={self(getattr(obj, f.name), f'{where}.{f.name}')}" for f in dataclasses.fields(obj)))
        if isinstance(obj, (types.MethodDescriptorType, types.WrapperDescriptorType, types.ClassMethodDescriptorType)):
            owner = obj.__objclass__
            return f"named:{owner.__module__}.{owner.__qualname__}.{obj.__name__}"
        if isinstance(obj, (types.BuiltinFunctionType, types.MethodWrapperType, np.ufunc)) or _trusted_name(obj) is not None and callable(obj):
            owner = getattr(obj, "__self__", None)
            module = getattr(obj, "__module__", None) or getattr(owner, "__name__", None) or "?"
            name = f"{module}.{getattr(obj, '__qualname__', None) or getattr(obj, '__name__', '?')}"
            if owner is None or isinstance(owner, (types.ModuleType, type)):  # a function, not a bound method
                return f"named:{name}"
            return _h("bound", name, self(owner, f"{where}.__self__"))
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        raise UntrustedKey(f"{where} is a {kind} object, whose state cannot be digested")

    def _function(self, fn: types.FunctionType, where: str) -> str:
        name = _trusted_name(fn)
        if name is not None:
            return f"named:{name}"
        parts = ["function", _code(fn.__code__), self(fn.__defaults__, f"{where} (its defaults)"),
                 self(fn.__kwdefaults__, f"{where} (its keyword defaults)")]
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                parts.append(f"{var}:<empty>")
                continue
            parts.append(f"{var}:{self(value, f'the value {var!r} that {where} closes over')}")
        for var in sorted(_global_names(fn.__code__)):
            if var in fn.__globals__:
                value = fn.__globals__[var]
                parts.append(f"global {var}:{self(value, f'the global {var!r} that {where} uses')}")
                if isinstance(value, types.ModuleType) and not _is_library(value.__name__):
                    # a module of the user's (e.g. helpers imported into a notebook): what the code may read from it
                    for attr in sorted(_all_names(fn.__code__)):
                        if attr in vars(value):
                            parts.append(f"{var}.{attr}:{self(vars(value)[attr], f'{var}.{attr}, which {where} may use')}")
        return _h(*parts)

    def _class(self, cls: type, where: str) -> str:
        name = _trusted_name(cls)
        if name is not None:
            forward = getattr(cls, "forward", None) if issubclass(cls, nn.Module) else None
            code = getattr(forward, "__code__", None)
            return _h("class", name, _code(code) if code is not None else "")
        parts = ["class", f"{cls.__module__}.{cls.__qualname__}",
                 *(self(b, f"{where} (a base class of {cls.__qualname__})") for b in cls.__bases__)]
        for attr, value in sorted(vars(cls).items()):
            routine = isinstance(value, (types.FunctionType, staticmethod, classmethod, property))
            if attr.startswith("__") and attr.endswith("__") and not routine or attr == "_abc_impl":
                continue  # __module__, __doc__, __dict__, __weakref__, dataclass fields, an ABC's registry, ...
            parts.append(f"{attr}:{self(value, f'{cls.__qualname__}.{attr}')}")
        return _h(*parts)

    def _module(self, module: nn.Module, where: str, skip: frozenset) -> str:
        parts = ["module"]
        for prefix, sub in module.named_modules(remove_duplicate=False):
            here = f"{where}.{prefix}" if prefix else where
            parts.append(f"{prefix}:{self._class(type(sub), f'the class of {here}')}")
            for attr, value in sorted(vars(sub).items()):
                if attr in _NN_MODULE_STATE:
                    continue
                if "hooks" in attr and isinstance(value, dict):  # keyed by handle ids, a global counter: the hooks in order
                    value = list(value.values())
                parts.append(f"{attr}={self(value, f'{here}.{attr}')}")
            for pname, p in sub._parameters.items():
                full = f"{prefix}.{pname}" if prefix else pname
                if p is None:
                    parts.append(f"{full}=None")
                elif full in skip:  # given by the flat vector theta: only its place matters
                    parts.append(f"{full}:{tuple(p.shape)}|{p.dtype}")
                else:
                    parts.append(f"{full}={self(p, f'{here}.{pname}')}")
            for bname, b in sub._buffers.items():
                parts.append(f"buffer {bname}={self(b, f'{here}.{bname}')}")
        return _h(*parts)


def value_digest(obj: Any, where: str = "the value") -> str:
    """A digest of what a value computes, for cache keys: its code and the values it depends on.

    Plain values (numbers, strings, ``None``, tensors, NumPy arrays, lists, tuples, sets, dicts, dataclasses,
    enums) are digested by content. A Python function is digested by its code object (bytecode, constants,
    names; always available, unlike its source), its defaults, the values its closure holds and the
    globals its code loads, each digested the same way (a module is named; for a module of the user's own,
    such as helpers imported into a notebook, the attributes the code may read from it are digested too). A
    class is digested by its bases and everything it defines; a ``torch.nn.Module`` by :func:`module_digest`.
    Functions and classes
    defined at the top level of the standard library, torch, NumPy, SciPy, scikit-learn, mnist1d and ``lsl``
    (:data:`TRUSTED_PACKAGES`) are named, as are builtin functions: their versions are in every key.

    Args:
        obj: the value, e.g. a loss function.
        where: how to name it in the message of :class:`UntrustedKey`.

    Returns:
        A hex digest (32 characters).

    Raises:
        UntrustedKey: if a part of it cannot be digested (an object with arbitrary state, such as an
            open file or an instance of a class without a digestable state), naming the part.
    """
    return _h("value", _Digester()(obj, where))


def module_digest(module: nn.Module, *, skip: frozenset[str] | set[str] = frozenset(), where: str = "the model") -> str:
    """A digest of what a ``torch.nn.Module`` computes, for cache keys.

    Covers every submodule: its name, its class (for a class of a trusted package its name and the code
    of its ``forward``; for any other class everything it defines, as in :func:`value_digest`), its
    attributes (hooks included), its parameters and its buffers.

    Args:
        module: the module.
        skip: names of parameters whose values do not count (those given by a flat parameter vector):
            only their shapes and dtypes are digested.
        where: how to name the module in the message of :class:`UntrustedKey`.

    Returns:
        A hex digest (32 characters).

    Raises:
        UntrustedKey: if a part of the module cannot be digested.
    """
    return _h("module", _Digester()._module(module, where, frozenset(skip)))


def trusted_key(build: Callable[[], Mapping[str, Any]], what: str = "this result") -> dict | None:
    """Build a cache key, or warn and return ``None`` when the computation cannot be named.

    Args:
        build: a function returning the key; it raises :class:`UntrustedKey` when a value of the
            computation cannot be digested.
        what: what is computed, for the warning.

    Returns:
        The key, or ``None`` (compute without the cache) after a ``UserWarning`` that says why.
    """
    try:
        return dict(build())
    except UntrustedKey as exc:
        warnings.warn(f"lsl cache: {what} is computed and not cached, because its cache key cannot be trusted: "
                      f"{exc}", stacklevel=3)
        return None


# ---------------------------------------------------------------------------
# entries


@dataclass(frozen=True)
class Expect:
    """What a caller expects of one tensor of an entry; an entry that differs is treated as damaged.

    Attributes:
        shape: the expected shape, ``None`` in a place that may take any size; ``None`` for any shape.
        dtype: the expected dtype, or ``None`` for any.
        finite: whether every entry must be finite (no NaN, no infinity).
        optional: whether the tensor may be absent.
    """

    shape: tuple[int | None, ...] | None = None
    dtype: torch.dtype | None = None
    finite: bool = False
    optional: bool = False

    def problem(self, name: str, t: torch.Tensor | None) -> str | None:
        """Why the tensor ``name`` does not meet this expectation, or ``None`` if it does."""
        if t is None:
            return None if self.optional else f"the tensor {name!r} is missing"
        if self.shape is not None and (len(t.shape) != len(self.shape)
                                       or any(e is not None and e != s for e, s in zip(self.shape, t.shape))):
            want = tuple("*" if e is None else e for e in self.shape)
            return f"the tensor {name!r} has shape {tuple(t.shape)}, expected {want}"
        if self.dtype is not None and t.dtype != self.dtype:
            return f"the tensor {name!r} has dtype {t.dtype}, expected {self.dtype}"
        if self.finite and (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            bad = (~torch.isfinite(t)).nonzero()[:3].tolist()
            return f"the tensor {name!r} has non-finite entries (at {bad}{', ...' if len(bad) == 3 else ''})"
        return None


def content_digest(value: Mapping[str, torch.Tensor]) -> str:
    """A SHA-256 digest of named tensors (names, shapes, dtypes, contents), stored with an entry and checked on load."""
    h = hashlib.sha256()
    for name in sorted(value):
        h.update(f"{name}|{_tensor_bytes(value[name])}|".encode())
    return h.hexdigest()


def _clean_stale(directory: Path) -> None:
    now = time.time()
    for tmp in directory.glob("*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_SECONDS:
                tmp.unlink()
        except OSError:  # removed by another process meanwhile, or not ours to remove
            pass


def save(key: Mapping[str, Any], value: Mapping[str, torch.Tensor], directory: Path | None = None) -> Path:
    """Write a mapping of tensors atomically under ``key`` with a digest of its contents; returns the entry's path.

    Temporary files in the directory older than :data:`STALE_SECONDS` (left by a killed write) are removed.
    """
    if not isinstance(value, Mapping) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise TypeError("cache entries must be a mapping of str -> torch.Tensor")
    path = _path(key, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(path.parent)
    tensors = {k: v.detach().cpu() for k, v in value.items()}
    payload = {"key": json.dumps(_canonical(key), sort_keys=True), "digest": content_digest(tensors),
               **{f"t/{k}": v for k, v in tensors.items()}}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load(key: Mapping[str, Any], directory: Path | None = None, *, expect: Mapping[str, Expect] | None = None,
         check: Callable[[dict[str, torch.Tensor]], str | None] | None = None) -> dict[str, torch.Tensor]:
    """Read the entry stored under ``key`` (tensors only, ``weights_only=True``) and check it by content.

    Args:
        key: the key it was saved under.
        directory: override the cache directory.
        expect: the tensors the caller expects, by name (:class:`Expect`: shape, dtype, finiteness);
            tensors not named here are returned unchecked.
        check: a further check of the whole entry, returning why it is wrong, or ``None``.

    Returns:
        The entry's tensors, on the CPU.

    Raises:
        CacheMiss: if the entry is absent, unreadable, written for another key, damaged (its contents do
            not match the digest stored with it), or not what ``expect`` and ``check`` ask for.
    """
    path = _path(key, directory)
    if not path.exists():
        raise CacheMiss(str(path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict):
            raise ValueError(f"the file holds a {type(payload).__name__}, not an entry")
        if payload.get("key") != json.dumps(_canonical(key), sort_keys=True):
            raise ValueError("entry was written for a different key")
        out = {k[2:]: v for k, v in payload.items() if isinstance(k, str) and k.startswith("t/")}
        if not all(isinstance(v, torch.Tensor) for v in out.values()):
            raise ValueError("the entry holds something other than tensors")
        if payload.get("digest") != content_digest(out):
            raise ValueError("its contents do not match the digest stored with it (damaged)")
        for name, want in (expect or {}).items():
            problem = want.problem(name, out.get(name))
            if problem:
                raise ValueError(problem)
        problem = check(out) if check is not None else None
        if problem:
            raise ValueError(problem)
        return out
    except Exception as exc:  # corrupt, truncated, foreign, damaged or unexpected
        raise CacheMiss(f"{path}: {exc}") from exc


def lookup(key: Mapping[str, Any], directory: Path | None = None, *, expect: Mapping[str, Expect] | None = None,
           check: Callable[[dict[str, torch.Tensor]], str | None] | None = None) -> dict[str, torch.Tensor] | None:
    """The entry under ``key`` checked as :func:`load` does, or ``None``: silently if absent, with a warning naming the file if it is unusable.

    Args:
        key: the key.
        directory: override the cache directory.
        expect: what the caller expects of the entry's tensors (see :func:`load`).
        check: a further check of the whole entry (see :func:`load`).

    Returns:
        The tensors on the CPU, or ``None`` (then compute the result and :func:`save` it).
    """
    try:
        return load(key, directory, expect=expect, check=check)
    except CacheMiss as miss:
        if _path(key, directory).exists():
            warnings.warn(f"lsl cache: ignoring an unreadable entry and recomputing it ({miss})", stacklevel=3)
        return None


def cached(
    key: Mapping[str, Any] | None,
    compute: Callable[[], Mapping[str, torch.Tensor]],
    *,
    directory: Path | None = None,
    device: torch.device | str | None = None,
    expect: Mapping[str, Expect] | None = None,
    check: Callable[[dict[str, torch.Tensor]], str | None] | None = None,
) -> dict[str, torch.Tensor]:
    """Return the tensors stored under ``key``, computing and storing them on a miss.

    An entry that is unreadable, damaged or not what ``expect`` and ``check`` ask for is not fatal: it is
    reported with a warning that names its file, recomputed and overwritten. With ``LSL_CACHE=0``, or a
    ``key`` of ``None`` (see :func:`trusted_key`), the result is always computed and never stored.

    Args:
        key: everything that determines the result (settings, seeds, sizes, data, code), or ``None``.
        compute: a function returning a mapping of str -> tensor.
        directory: override the cache directory.
        device: move loaded tensors here.
        expect: what the caller expects of the entry's tensors (see :func:`load`).
        check: a further check of the whole entry (see :func:`load`).

    Returns:
        The tensors (on ``device`` if given).
    """
    use = key is not None and enabled()
    out = lookup(key, directory, expect=expect, check=check) if use else None
    if out is None:
        out = dict(compute())
        if use:
            save(key, out, directory)
    return {k: v.to(device) if device is not None else v for k, v in out.items()}
