"""A disk cache for expensive results (trained optima, generated data).

Entries are keyed by a hash of everything that determines them (a JSON-able
``key`` mapping plus the cache format version), hold tensors only, and are
written atomically (a temporary file, then ``os.replace``). Loading uses
``torch.load(..., weights_only=True)``, so an entry can never execute code. A
corrupt or unreadable entry is recomputed and overwritten, with a warning.

The directory is ``LSL_CACHE_DIR`` if set, else ``~/.cache/lsl``. Set
``LSL_CACHE=0`` to switch the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

__all__ = ["cache_dir", "key_hash", "cached", "save", "load", "CacheMiss"]

#: Bump when the meaning of cached entries changes, so old entries are not reused.
FORMAT_VERSION = 1


class CacheMiss(LookupError):
    """Raised by :func:`load` when an entry is absent or unreadable."""


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
        "Describe the object by its settings instead (e.g. the architecture's name and sizes)."
    )


def key_hash(key: Mapping[str, Any]) -> str:
    """A stable hex digest of a JSON-able key (order of dict entries does not matter)."""
    text = json.dumps({"v": FORMAT_VERSION, "key": _canonical(key)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _path(key: Mapping[str, Any], directory: Path | None) -> Path:
    return (directory or cache_dir()) / f"{key_hash(key)}.pt"


def save(key: Mapping[str, Any], value: Mapping[str, torch.Tensor], directory: Path | None = None) -> Path:
    """Write a mapping of tensors atomically under ``key``; returns the entry's path."""
    if not isinstance(value, Mapping) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise TypeError("cache entries must be a mapping of str -> torch.Tensor")
    path = _path(key, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"key": json.dumps(_canonical(key), sort_keys=True), **{f"t/{k}": v.detach().cpu() for k, v in value.items()}}
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


def load(key: Mapping[str, Any], directory: Path | None = None) -> dict[str, torch.Tensor]:
    """Read the entry stored under ``key`` (tensors only, ``weights_only=True``).

    Raises:
        CacheMiss: if the entry is absent, unreadable, or was written for another key.
    """
    path = _path(key, directory)
    if not path.exists():
        raise CacheMiss(str(path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("key") != json.dumps(_canonical(key), sort_keys=True):
            raise ValueError("entry was written for a different key")
        return {k[2:]: v for k, v in payload.items() if k.startswith("t/")}
    except Exception as exc:  # corrupt, truncated, or foreign file
        raise CacheMiss(f"{path}: {exc}") from exc


def cached(
    key: Mapping[str, Any],
    compute: Callable[[], Mapping[str, torch.Tensor]],
    *,
    directory: Path | None = None,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """Return the tensors stored under ``key``, computing and storing them on a miss.

    A corrupt entry is not fatal: it is reported with a warning, recomputed and
    overwritten. With ``LSL_CACHE=0`` the result is always computed and never stored.

    Args:
        key: everything that determines the result (settings, seeds, sizes, data).
        compute: a function returning a mapping of str -> tensor.
        directory: override the cache directory.
        device: move loaded tensors here.
    """
    if enabled():
        try:
            out = load(key, directory)
            return {k: v.to(device) if device is not None else v for k, v in out.items()}
        except CacheMiss as miss:
            if _path(key, directory).exists():
                warnings.warn(f"lsl cache: ignoring an unreadable entry and recomputing it ({miss})", stacklevel=2)
    value = dict(compute())
    if enabled():
        save(key, value, directory)
    return {k: v.to(device) if device is not None else v for k, v in value.items()}
