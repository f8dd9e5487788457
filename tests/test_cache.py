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


# ---------------------------------------------------------------------------
# entries are checked by content on load (issue 31, item 2)


def _rewrite(path: Path, change) -> None:
    """Rewrite an entry through ``change(tensors)``, with a digest that matches: well formed, but not what was expected."""
    payload = torch.load(path, weights_only=True)
    tensors = {k[2:]: v for k, v in payload.items() if k.startswith("t/")}
    change(tensors)
    fresh = {"key": payload["key"], "digest": cache.content_digest(tensors), **{f"t/{k}": v for k, v in tensors.items()}}
    torch.save(fresh, path)


def _flip_a_bit(path: Path, tensor: torch.Tensor) -> None:
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(tensor.numpy().tobytes())
    assert at >= 0, "the tensor's bytes are stored as they are (uncompressed)"
    raw[at + tensor.numel() * tensor.element_size() // 2] ^= 0x40  # an exponent bit of a middle entry
    path.write_bytes(bytes(raw))


THETA = torch.linspace(-1, 1, 12, dtype=torch.float64)
EXPECT = {"theta": cache.Expect((12,), torch.float64, finite=True), "losses": cache.Expect((None,))}

DAMAGES = {
    "flip a bit": lambda p: _flip_a_bit(p, THETA),
    "truncate": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) * 2 // 3]),
    "swap a shape": lambda p: _rewrite(p, lambda t: t.update(theta=t["theta"].reshape(3, 4))),
    "another size": lambda p: _rewrite(p, lambda t: t.update(theta=t["theta"][:-1])),
    "another dtype": lambda p: _rewrite(p, lambda t: t.update(theta=t["theta"].float())),
    "nan in theta": lambda p: _rewrite(p, lambda t: t["theta"].__setitem__(3, float("nan"))),
    "remove a key": lambda p: _rewrite(p, lambda t: t.pop("theta")),
    "a stale digest": lambda p: torch.save({**torch.load(p, weights_only=True), "digest": "0" * 64}, p),
    "no digest": lambda p: torch.save({k: v for k, v in torch.load(p, weights_only=True).items() if k != "digest"}, p),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_entry_is_recomputed_with_a_warning_that_names_it(cache_dir, damage):
    key = {"name": "checked"}
    value = {"theta": THETA.clone(), "losses": torch.tensor([3.0, 2.0, 1.0])}
    path = cache.save(key, value)
    assert torch.equal(cache.load(key, expect=EXPECT)["theta"], THETA)  # intact: it loads
    DAMAGES[damage](path)
    with pytest.raises(cache.CacheMiss, match=path.name):
        cache.load(key, expect=EXPECT)
    fn = Counter({"theta": THETA.clone(), "losses": torch.tensor([3.0, 2.0, 1.0])})
    with pytest.warns(UserWarning, match=rf"unreadable entry and recomputing it.*{path.name}"):
        out = cache.cached(key, fn, expect=EXPECT)
    assert fn.calls == 1 and torch.equal(out["theta"], THETA) and torch.equal(out["losses"], value["losses"])
    with warnings.catch_warnings():  # the entry was rewritten and loads again
        warnings.simplefilter("error")
        assert torch.equal(cache.cached(key, fn, expect=EXPECT)["theta"], THETA)
    assert fn.calls == 1


def test_what_a_damaged_entry_is_told(cache_dir):
    key = {"name": "told"}
    path = cache.save(key, {"theta": THETA.clone(), "losses": torch.ones(2)})
    reasons = {"flip a bit": "do not match the digest", "swap a shape": r"shape \(3, 4\), expected \(12,\)",
               "another dtype": "dtype torch.float32, expected torch.float64",
               "nan in theta": r"non-finite entries \(at \[\[3\]\]\)", "remove a key": "'theta' is missing"}
    for damage, reason in reasons.items():
        cache.save(key, {"theta": THETA.clone(), "losses": torch.ones(2)})
        DAMAGES[damage](path)
        with pytest.raises(cache.CacheMiss, match=reason):
            cache.load(key, expect=EXPECT)


def test_an_optional_tensor_may_be_absent_and_a_check_sees_the_whole_entry(cache_dir):
    key = {"name": "optional"}
    cache.save(key, {"theta": THETA.clone()})
    expect = {"theta": cache.Expect((None,)), "snapshots": cache.Expect((None, 12), optional=True)}
    assert set(cache.load(key, expect=expect)) == {"theta"}
    with pytest.raises(cache.CacheMiss, match="too long"):
        cache.load(key, expect=expect, check=lambda e: "too long" if e["theta"].numel() > 10 else None)


def test_stale_temporary_files_are_cleaned_up(cache_dir):
    import time

    cache.save({"name": "first"}, {"a": torch.ones(2)})
    old, fresh = cache_dir / "killed-write.tmp", cache_dir / "being-written.tmp"
    old.write_bytes(b"partial")
    fresh.write_bytes(b"partial")
    past = time.time() - cache.STALE_SECONDS - 60
    os.utime(old, (past, past))
    cache.save({"name": "second"}, {"a": torch.zeros(2)})
    assert not old.exists(), "a temporary file left by a killed write is removed"
    assert fresh.exists(), "a temporary file that another process may be writing now is kept"


# ---------------------------------------------------------------------------
# the digests of a computation (issue 31, item 1)


def test_functions_are_digested_by_their_code_and_the_values_they_hold():
    import torch.nn.functional as F

    d = cache.value_digest
    ce = lambda z, y: F.cross_entropy(z, y)  # noqa: E731
    assert d(ce) == d(lambda z, y: F.cross_entropy(z, y))  # the same computation, the same key
    assert d(ce) != d(lambda z, y: F.cross_entropy(z, y) + 10 * (z ** 2).mean())
    assert d(lambda z: z * 2) != d(lambda z: z * 3)  # a constant

    def scaled(s):
        return lambda z: z * s

    assert d(scaled(2.0)) == d(scaled(2.0)) and d(scaled(2.0)) != d(scaled(3.0))  # a value it closes over
    assert d(scaled(torch.ones(3))) != d(scaled(torch.zeros(3)))

    def with_default(z, s=2.0):
        return z * s

    def with_other_default(z, s=3.0):
        return z * s

    assert d(with_default) != d(with_other_default)
    namespace = {"F": F, "SCALE": 2.0}
    exec("def loss(z, y):\n    return SCALE * F.cross_entropy(z, y)", namespace)
    before = d(namespace["loss"])
    namespace["SCALE"] = 3.0  # a global it uses
    assert d(namespace["loss"]) != before
    assert d(F.cross_entropy) == d(F.cross_entropy) and d(F.cross_entropy) != d(F.mse_loss)  # library code: by name
    assert d(torch.tanh) != d(torch.relu)
    # only the globals a function loads count: an unrelated global named like an attribute it reads does not
    plain, crowded = {"F": F}, {"F": F, "cross_entropy": object()}
    for namespace in (plain, crowded):
        exec("def loss(z, y):\n    return F.cross_entropy(z, y)", namespace)
    assert d(crowded["loss"]) == d(plain["loss"])


def test_classes_are_digested_by_what_they_define():
    import abc

    class Base(abc.ABC):
        @abc.abstractmethod
        def f(self):
            ...

    def make(k):
        class Impl(Base):
            scale = 2.0

            def f(self):
                return k

        return Impl

    assert cache.value_digest(make(1)) == cache.value_digest(make(1))
    assert cache.value_digest(make(1)) != cache.value_digest(make(2))  # a method's closure
    with pytest.raises(cache.UntrustedKey, match="Impl object"):  # an instance's state is its own affair
        cache.value_digest(make(1)())


def test_a_value_that_cannot_be_digested_is_refused_by_name():
    class Opaque:
        pass

    thing = Opaque()
    with pytest.raises(cache.UntrustedKey, match=r"the value 'thing' that the loss closes over is a .*Opaque object"):
        cache.value_digest(lambda z, y: z.sum() + (thing is None), where="the loss")
    assert cache.trusted_key(lambda: {"a": 1}) == {"a": 1}
    with pytest.warns(UserWarning, match="not cached, because its cache key cannot be trusted: .*Opaque"):
        assert cache.trusted_key(lambda: {"f": cache.value_digest(lambda: thing)}) is None


def test_modules_are_digested_by_their_code_attributes_and_tensors():
    from torch import nn

    def build(cls, **kw):
        torch.manual_seed(0)
        return cls(**kw)

    class Net(nn.Module):
        def __init__(self, scale=1.0):
            super().__init__()
            self.fc, self.scale = nn.Linear(4, 3), scale

        def forward(self, x):
            return self.fc(torch.tanh(x)) * self.scale

    first = build(Net)

    class Net(nn.Module):  # the cell edited and run again: the same name, the same repr, another forward
        def __init__(self, scale=1.0):
            super().__init__()
            self.fc, self.scale = nn.Linear(4, 3), scale

        def forward(self, x):
            return self.fc(torch.relu(x)) * self.scale

    second = build(Net)
    assert repr(first) == repr(second)
    assert cache.module_digest(first) != cache.module_digest(second)
    assert cache.module_digest(second) == cache.module_digest(build(Net))
    assert cache.module_digest(build(Net, scale=2.0)) != cache.module_digest(second)  # an attribute
    other = build(Net)
    with torch.no_grad():
        other.fc.weight.add_(1.0)
    assert cache.module_digest(other) != cache.module_digest(second)  # a parameter...
    assert cache.module_digest(other, skip={"fc.weight"}) == cache.module_digest(second, skip={"fc.weight"})  # ... unless theta gives it
    hooked = build(Net)
    hooked.register_forward_hook(lambda m, args, out: out * 2)
    assert cache.module_digest(hooked) != cache.module_digest(second)  # a hook
    bn = [nn.BatchNorm1d(3), nn.BatchNorm1d(3)]
    bn[1].running_mean.add_(1.0)
    assert cache.module_digest(bn[0]) != cache.module_digest(bn[1])  # a buffer


DIGESTS_SCRIPT = """
import torch
from torch import nn
from lsl import cache
from lsl.data import datasets, nets
ds = datasets.load("gaussian_mixture", n_train=16, n_test=8, n_classes=3, dim=4)
land = nets.network(ds, "mlp", width=5, depth=1, loss="mse")()
model = nets.make("mlp", (4,), 3, width=5, depth=1)
model.register_forward_hook(lambda m, args, out: out * 2)
kinds = {"a", "b", "c", "d"}
print(cache.value_digest(lambda z, k: z.sum() * (k in {"relu", "tanh", "gelu"})), cache.value_digest(kinds),
      cache.module_digest(model), cache.key_hash({"landscape": land.fingerprint()}))
"""


def test_digests_are_the_same_in_every_process():
    """A cache is only worth having if a new session finds its entries: no digest may depend on the hash seed."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
        outs.append(subprocess.run([sys.executable, "-c", DIGESTS_SCRIPT], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert outs[0] == outs[1] and len(outs[0].split()) == 4


def test_what_a_function_reads_from_a_users_module_counts():
    import sys
    import types

    helpers = types.ModuleType("my_helpers")  # a module of the reader's, imported into a notebook
    helpers.SCALE = 2.0
    exec("def penalty(z):\n    return SCALE * z.pow(2).mean()", helpers.__dict__)
    sys.modules["my_helpers"] = helpers
    try:
        namespace = {"my_helpers": helpers}
        exec("def loss(z, y):\n    return my_helpers.penalty(z)", namespace)
        before = cache.value_digest(namespace["loss"])
        exec("def penalty(z):\n    return SCALE * z.abs().mean()", helpers.__dict__)  # the helper edited
        assert cache.value_digest(namespace["loss"]) != before
    finally:
        del sys.modules["my_helpers"]
