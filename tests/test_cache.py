"""Tests for lsl.cache: tensor round trips, atomic writes, corrupt and foreign entries, safe loading."""

from __future__ import annotations

import os
import pickle
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from lsl import cache

MARKER_ENV = "LSL_TEST_CACHE_MARKER"


def _plant_marker() -> int:
    """Called only if an unpickler runs code from a cache file: leaves evidence on disk."""
    Path(os.environ[MARKER_ENV]).write_text("code from a cache entry was executed")
    return 0


class Evil:
    def __reduce__(self):
        return (_plant_marker, ())


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("LSL_CACHE_DIR", str(d))
    monkeypatch.delenv("LSL_CACHE", raising=False)
    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "MARKER"))
    return d


class Counter:
    def __init__(self, value):
        self.calls, self.value = 0, value

    def __call__(self):
        self.calls += 1
        return self.value


def entries(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_cache_dir_from_environment(cache_dir, monkeypatch):
    assert cache.cache_dir() == cache_dir
    monkeypatch.delenv("LSL_CACHE_DIR")
    assert cache.cache_dir() == Path.home() / ".cache" / "lsl"


def test_round_trip_of_tensors(cache_dir):
    value = {
        "theta": torch.randn(5, 7, dtype=torch.float64),
        "labels": torch.arange(10),
        "flag": torch.tensor([True, False]),
        "half": torch.randn(3).to(torch.float16),
        "scalar": torch.tensor(3.5),
    }
    key = {"experiment": "x", "D": 12, "lr": 0.1, "dims": [1, 2, 3], "dtype": torch.float64}
    path = cache.save(key, value)
    assert path.parent == cache_dir and path.suffix == ".pt"
    out = cache.load(key)
    assert set(out) == set(value)
    for k in value:
        assert out[k].dtype == value[k].dtype
        assert torch.equal(out[k], value[k])


def test_cached_computes_once_then_loads(cache_dir):
    value = {"a": torch.arange(4.0)}
    fn = Counter(value)
    key = {"name": "once", "seed": 1}
    first = cache.cached(key, fn)
    second = cache.cached(key, fn)
    third = cache.cached(dict(key), fn)
    assert fn.calls == 1
    for out in (first, second, third):
        assert torch.equal(out["a"], value["a"])
    other = cache.cached({"name": "once", "seed": 2}, fn)
    assert fn.calls == 2 and torch.equal(other["a"], value["a"])
    assert len(entries(cache_dir)) == 2


def test_key_order_does_not_matter():
    a = {"x": 1, "y": [1, 2], "z": {"p": 0.5, "q": None}}
    b = {"z": {"q": None, "p": 0.5}, "y": [1, 2], "x": 1}
    assert cache.key_hash(a) == cache.key_hash(b)
    assert cache.key_hash(a) != cache.key_hash({**a, "x": 2})
    assert cache.key_hash({"y": [1, 2]}) != cache.key_hash({"y": [2, 1]})  # list order does matter
    assert cache.key_hash({"lr": 0.1}) != cache.key_hash({"lr": 0.1000001})
    fn = Counter({"v": torch.ones(1)})
    cache.cached(a, fn)
    cache.cached(b, fn)
    assert fn.calls == 1


def test_non_json_key_rejected_helpfully():
    with pytest.raises(TypeError, match=r"cache keys must be built from str, int, float.*object"):
        cache.key_hash({"model": object()})
    with pytest.raises(TypeError, match="settings"):
        cache.cached({"model": torch.nn.Linear(2, 2)}, lambda: {"a": torch.ones(1)})


def test_values_must_be_tensors():
    with pytest.raises(TypeError, match="mapping of str -> torch.Tensor"):
        cache.save({"k": 1}, {"a": [1, 2]})
    with pytest.raises(TypeError, match="mapping of str -> torch.Tensor"):
        cache.save({"k": 1}, torch.ones(2))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_recomputed_with_a_warning(cache_dir, damage):
    key = {"name": "corrupt"}
    value = {"a": torch.randn(50, 50)}
    path = cache.save(key, value)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(len(raw)))
    else:
        path.write_bytes(b"")
    with pytest.raises(cache.CacheMiss):
        cache.load(key)
    fresh = {"a": torch.ones(3)}
    fn = Counter(fresh)
    with pytest.warns(UserWarning, match="unreadable entry"):
        out = cache.cached(key, fn)
    assert fn.calls == 1 and torch.equal(out["a"], fresh["a"])
    # the entry was overwritten and is readable again
    assert torch.equal(cache.load(key)["a"], fresh["a"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(cache.cached(key, fn)["a"], fresh["a"])
    assert fn.calls == 1


def test_entry_for_another_key_under_the_same_name_is_refused(cache_dir):
    key_a, key_b = {"name": "a"}, {"name": "b"}
    path_a = cache.save(key_a, {"v": torch.zeros(2)})
    path_b = cache_dir / f"{cache.key_hash(key_b)}.pt"
    shutil.copy(path_a, path_b)  # a foreign entry sitting under b's file name
    with pytest.raises(cache.CacheMiss, match="different key"):
        cache.load(key_b)
    fn = Counter({"v": torch.ones(2)})
    with pytest.warns(UserWarning):
        out = cache.cached(key_b, fn)
    assert fn.calls == 1 and torch.equal(out["v"], torch.ones(2))
    assert torch.equal(cache.load(key_b)["v"], torch.ones(2))
    assert torch.equal(cache.load(key_a)["v"], torch.zeros(2))


def test_missing_entry_is_a_cache_miss(cache_dir):
    with pytest.raises(cache.CacheMiss):
        cache.load({"never": "saved"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an absent entry is silent
        cache.cached({"never": "saved"}, lambda: {"a": torch.ones(1)})


def test_writes_leave_no_temporary_files(cache_dir):
    for i in range(5):
        cache.cached({"i": i}, lambda: {"a": torch.randn(100)})
    names = entries(cache_dir)
    assert len(names) == 5
    assert all(n.endswith(".pt") and not n.endswith(".tmp") for n in names)


def test_failure_during_compute_creates_no_entry(cache_dir):
    def boom():
        raise RuntimeError("compute failed")

    with pytest.raises(RuntimeError, match="compute failed"):
        cache.cached({"name": "boom"}, boom)
    assert [n for n in entries(cache_dir) if not n.startswith(".")] == []
    with pytest.raises(cache.CacheMiss):
        cache.load({"name": "boom"})


def test_failure_during_save_leaves_no_partial_entry(cache_dir, monkeypatch):
    key = {"name": "interrupted"}
    cache.save(key, {"a": torch.zeros(3)})

    def failing_save(obj, fh, *args, **kwargs):
        fh.write(b"partial")
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(cache.torch, "save", failing_save)
        with pytest.raises(OSError, match="disk full"):
            cache.save(key, {"a": torch.ones(3)})
    # the old entry is intact and no temporary file is left behind
    assert torch.equal(cache.load(key)["a"], torch.zeros(3))
    assert entries(cache_dir) == [f"{cache.key_hash(key)}.pt"]


def _malicious_bytes(kind: str) -> bytes:
    payload = {"key": "whatever", "t/a": Evil()}
    if kind == "pickle":
        return pickle.dumps(payload, protocol=2)
    import io

    buf = io.BytesIO()
    torch.save(payload, buf)  # the zip format torch.load reads by default
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_malicious_entry_is_not_executed(cache_dir, tmp_path, kind):
    marker = tmp_path / "MARKER"
    raw = _malicious_bytes(kind)
    # control: an unsafe load of these bytes does run the planted code
    if kind == "pickle":
        pickle.loads(raw)
    else:
        import io

        torch.load(io.BytesIO(raw), weights_only=False)
    assert marker.exists()
    marker.unlink()

    key = {"name": "target"}
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / f"{cache.key_hash(key)}.pt").write_bytes(raw)
    with pytest.raises(cache.CacheMiss):
        cache.load(key)
    assert not marker.exists()
    fn = Counter({"a": torch.ones(2)})
    with pytest.warns(UserWarning, match="unreadable entry"):
        out = cache.cached(key, fn)
    assert not marker.exists()
    assert fn.calls == 1 and torch.equal(out["a"], torch.ones(2))
    assert torch.equal(cache.load(key)["a"], torch.ones(2))


def test_cache_disabled(cache_dir, monkeypatch):
    monkeypatch.setenv("LSL_CACHE", "0")
    fn = Counter({"a": torch.ones(2)})
    for _ in range(3):
        assert torch.equal(cache.cached({"name": "off"}, fn)["a"], torch.ones(2))
    assert fn.calls == 3
    assert entries(cache_dir) == []
    # an existing entry is ignored too
    monkeypatch.setenv("LSL_CACHE", "1")
    cache.save({"name": "stale"}, {"a": torch.zeros(2)})
    monkeypatch.setenv("LSL_CACHE", "off")
    assert torch.equal(cache.cached({"name": "stale"}, fn)["a"], torch.ones(2))
    assert fn.calls == 4


def test_explicit_directory_and_device(tmp_path, cache_dir):
    other = tmp_path / "elsewhere"
    fn = Counter({"a": torch.arange(3)})
    cache.cached({"k": 1}, fn, directory=other)
    assert len(entries(other)) == 1 and entries(cache_dir) == []
    out = cache.cached({"k": 1}, fn, directory=other, device="cpu")
    assert fn.calls == 1 and out["a"].device.type == "cpu"
