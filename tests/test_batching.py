"""The evaluation policy (lsl.batching): its arithmetic per device type, that no other module holds a rule of
its own, and that a tiny budget (many small calls) gives the values of the default budget."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

from lsl import batching
from lsl.ensembles import averaging
from lsl.paths import tunnels
from lsl.probes import planes, radial
from lsl.network import NetworkLandscape
from lsl.data.nets import MLP, SimpleCNN1d

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted(p for p in (ROOT / "lsl").glob("*.py") if p.name != "batching.py")


# ---------------------------------------------------------------------------
# arithmetic


def test_default_budgets_are_the_measured_cpu_rule_and_the_element_budget():
    # the numbers the book's results were computed with: changing them regroups points
    assert batching.budget("cpu") == batching.Budget(elements=2**25, point_examples=32768, examples=512)
    assert batching.budget("cuda:1") == batching.Budget(elements=2**25, point_examples=None, examples=512)
    assert batching.budget("meta") == batching.budget("mps") == batching.budget("cuda")  # dry runs of an accelerator


def test_points_per_call_on_a_cpu_follows_point_example_evaluations():
    # 51 x 51 plane, 4000 examples: 8 points per call (32768 // 4000), whatever D
    assert batching.points_per_call("cpu", 4000, 10**5, 2601) == 8
    assert batching.points_per_call(torch.device("cpu"), 4000, 10**8, 2601) == 8
    assert batching.points_per_call("cpu", 100, 10**5, 2601) == 327
    assert batching.points_per_call("cpu", 100, 10**5, 20) == 20  # never more than the points
    assert batching.points_per_call("cpu", 10**6, 10, 50) == 1  # never fewer than one
    assert batching.points_per_call("cpu", 0, 10, 50) == 50
    assert batching.points_per_call("cpu", 5, 10, 0) == 1
    assert batching.vmap_chunk_size("cpu", 4000, 10**5, 2601) == 8
    assert batching.vmap_chunk_size("cpu", 4000, 10**5, 8) is None  # one call
    assert batching.vmap_chunk_size("cpu", 4000, 10**5, 9) == 8


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "meta"])
def test_points_per_call_on_an_accelerator_follows_parameter_values(device):
    assert batching.points_per_call(device, 4000, 2**20, 2601) == 32  # 2**25 // 2**20
    assert batching.points_per_call(device, 10**6, 2**20, 2601) == 32  # the examples do not count
    assert batching.points_per_call(device, 4000, 1000, 2601) == 2601  # 33554 would fit
    assert batching.points_per_call(device, 4000, 2**26, 2601) == 1
    assert batching.vmap_chunk_size(device, 4000, 1000, 2601) is None
    assert batching.vmap_chunk_size(device, 4000, 2**20, 33) == 32


@pytest.mark.parametrize("device", ["cpu", "cuda", "meta"])
def test_chunk_size_wins_and_random_draws_take_one_call(device):
    assert batching.points_per_call(device, 4000, 2**20, 2601, chunk_size=5) == 5
    assert batching.points_per_call(device, 4000, 2**20, 3, chunk_size=5) == 3
    assert batching.points_per_call(device, 4000, 2**20, 2601, random=True) == 2601
    assert batching.points_per_call(device, 4000, 2**20, 2601, chunk_size=5, random=True) == 5
    with pytest.raises(ValueError, match="chunk_size"):
        batching.points_per_call(device, 4000, 2**20, 2601, chunk_size=0)


@pytest.mark.parametrize("device", ["cpu", "cuda", "meta"])
def test_points_per_batch_bounds_parameter_values_on_every_device(device):
    assert batching.points_per_batch(device, 1000, 10**6) == 2**25 // 1000
    assert batching.points_per_batch(device, 1000, 10**6, per_point=5) == 2**25 // 5000  # rays of 5 radii
    assert batching.points_per_batch(device, 1000, 100) == 100
    assert batching.points_per_batch(device, 1000, 100, max_elements=3500) == 3  # a caller's own bound
    assert batching.points_per_batch(device, 2**26, 100) == 1
    assert batching.examples_per_call(device, 10**5) == 512
    assert batching.examples_per_call(device, 60) == 60
    with pytest.raises(ValueError, match="max_elements"):
        batching.points_per_batch(device, 1000, 100, max_elements=0)


def test_use_changes_one_device_type_for_a_block_only():
    before = dict(batching.BUDGETS)
    with batching.use("cpu", point_examples=100, examples=7) as b:
        assert b == batching.budget("cpu") and b.elements == 2**25
        assert batching.points_per_call("cpu", 50, 10, 99) == 2
        assert batching.examples_per_call("cpu", 60) == 7
        assert batching.points_per_call("cuda", 50, 10, 99) == 99  # other devices unchanged
    with batching.use("meta", elements=30):  # a type without an entry gets one, from cuda's budget
        assert batching.points_per_call("meta", 50, 10, 99) == 3
        assert batching.points_per_call("cuda", 50, 10, 99) == 99
    assert batching.BUDGETS == before
    with pytest.raises(ValueError, match="point_examples"):
        with batching.use("cpu", point_examples=0):
            pass
    with pytest.raises(TypeError):
        with batching.use("cpu", widths=3):
            pass
    assert batching.BUDGETS == before
    with pytest.raises(ValueError, match="elements"):
        batching.Budget(elements=2.5)


# ---------------------------------------------------------------------------
# one place


_LITERALS = [
    (r"2\s*\*\*\s*25\b", "the element budget 2**25"),
    (r"\b(32768|33554432)\b", "a budget's number"),
    (r"EVAL_CHUNK|CPU_EXAMPLES_PER_CHUNK|MAX_ELEMENTS", "a chunk constant of its own"),
    (r"max_elements\s*(:[^=,)]*)?=\s*\d", "a default bound on parameter values"),
    (r"chunk_size\s*(:[^=,)]*)?=\s*\d", "a default chunk size"),
    (r"\.split\(\s*\d", "a literal chunk of a tensor"),
]

#: vmaps allowed to size their calls by ``landscape.chunk_size`` alone (ignoring the budget when it is None): none.
KNOWN_BYPASSES: set[str] = set()


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_no_module_but_the_policy_holds_a_chunk_rule(path):
    text = path.read_text(encoding="utf-8")
    for pattern, what in _LITERALS:
        hits = [f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}" for m in re.finditer(pattern, text)]
        assert not hits, f"lsl/{path.name} holds {what} ({hits}): ask lsl.batching instead"


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_every_vmap_takes_its_chunks_from_the_policy(path):
    """A ``chunk_size=`` given to ``vmap`` is a number the policy returned (through a call or a variable),
    never a constant and never the landscape's ``chunk_size`` passed on as it is (``None`` would mean one call)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "vmap"):
            continue
        for kw in node.keywords:
            if kw.arg != "chunk_size":
                continue
            bad = isinstance(kw.value, ast.Constant) or (isinstance(kw.value, ast.Attribute) and kw.value.attr == "chunk_size")
            call = f"vmap({ast.unparse(node.args[0])}, chunk_size={ast.unparse(kw.value)})" if node.args else ""
            assert not bad or call in KNOWN_BYPASSES, (f"lsl/{path.name}:{node.lineno} sizes a vmap by "
                                                       f"{ast.unparse(kw.value)}: use lsl.batching.vmap_chunk_size")


# ---------------------------------------------------------------------------
# values: a tiny budget (many small calls, ragged ends) against the default


N = 60


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def land(request):
    """Float32 on a CPU: an MLP (the layer stack's path) and a 1-D CNN (vmap's path)."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(N, 8, generator=gen), torch.randint(0, 3, (N,), generator=gen)
    torch.manual_seed(0)
    model = MLP(8, 3, width=5, depth=2) if request.param == "mlp" else SimpleCNN1d(8, 3, channels=(2,))
    return NetworkLandscape(model, x, y, x_test=x[:29], y_test=y[:29])


def _tiny(land):
    """Calls of 3 points (180 point-examples on 60 examples), batches of 5 points, slices of 7 examples."""
    return batching.use("cpu", point_examples=3 * N, elements=5 * land.D, examples=7)


def test_tiny_budget_gives_the_same_losses_logits_and_paths(land):
    gen = torch.Generator().manual_seed(1)
    points = land.theta0 + 0.3 * torch.randn(11, land.D, generator=gen)
    path = tunnels.linear_path(points[0], points[1], 9)

    def run():
        assert land.dtype == torch.float32
        with torch.no_grad():
            out = dict(loss=land.loss(points), logits=land.logits(points), accuracy=land.accuracy(points, "test"),
                       path=tunnels._batched_loss(land, path), polyline=tunnels.path_losses(land, points[:4], 5)[1],
                       barriers=averaging.pairwise_barriers(land, points[:4], n_points=5).losses)
        t = points.clone().requires_grad_(True)
        out["autograd"] = torch.autograd.grad(land.loss(t).sum(), t)[0]
        return out

    default = run()
    with _tiny(land):
        assert land._vmap_chunk(N, 11) == 3
        tiny = run()
    # Each point's value is computed by the same kernels whichever call it is in: bitwise equal. The
    # gradient's backward pass is a batched product whose kernel can depend on the number of rows (with
    # ATEN_CPU_CAPABILITY=default it does): equal to float32 rounding there.
    for key in default:
        if key == "autograd":
            torch.testing.assert_close(tiny[key], default[key], rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(tiny[key], default[key]), key


def test_tiny_budget_gives_the_same_families_members_and_derivatives(land):
    """Equal to float32 rounding, not bitwise: here the grouping changes how a sum is formed. The points
    ``origin + coeffs @ directions`` of a family are a matrix product, and the members' logits on a slice
    of 7 examples another, whose kernel (blocking, fused multiply-adds) depends on how many rows they
    have; a vectorised call of a single point (the ragged end of a batch) takes a plain rather than a
    batched product in the backward pass."""
    gen = torch.Generator().manual_seed(2)
    points = land.theta0 + 0.3 * torch.randn(11, land.D, generator=gen)
    dirs = 0.3 * torch.randn(2, land.D, generator=gen)
    coeffs = torch.randn(13, 2, generator=gen)
    vectors = torch.randn(10, land.D, generator=gen)

    def run():
        return dict(affine=land.loss_affine(land.theta0, dirs, coeffs),
                    plane=planes.direction_plane(land, land.theta0, dirs, n=4, split="test"),
                    radial=radial.radial_profile(land, land.theta0, torch.linspace(0, 1, 3), directions=dirs),
                    log_probs=averaging._log_probs(land, points[:4], "test"),
                    average=averaging.prediction_average(land, points[:4], "test"),
                    grad=land.grad(points), hvp=land.hvp(land.theta0, vectors))

    default = run()
    with _tiny(land):
        assert batching.points_per_batch(land.device, land.D, 13) == 5 and batching.examples_per_call("cpu", 29) == 7
        tiny = run()
    close = dict(rtol=1e-6, atol=1e-6)
    for key in ("affine", "log_probs", "average", "grad", "hvp"):
        torch.testing.assert_close(tiny[key], default[key], **close, msg=key)
    torch.testing.assert_close(tiny["plane"].loss, default["plane"].loss, **close)
    torch.testing.assert_close(tiny["plane"].accuracy, default["plane"].accuracy)
    torch.testing.assert_close(tiny["radial"].losses, default["radial"].losses, **close)


def test_an_explicit_bound_still_works_and_chunk_size_wins(land):
    gen = torch.Generator().manual_seed(3)
    dirs = 0.3 * torch.randn(2, land.D, generator=gen)
    coeffs = torch.randn(13, 2, generator=gen)
    with _tiny(land):
        tiny = land.loss_affine(land.theta0, dirs, coeffs)
    torch.testing.assert_close(land.loss_affine(land.theta0, dirs, coeffs, max_elements=5 * land.D), tiny,
                               rtol=1e-6, atol=0)  # max_elements= is the budget's bound, given by the caller
    # (not bitwise: the points origin + coeffs @ dirs are a matrix product whose kernel depends on its rows)
    points = land.theta0 + 0.3 * torch.randn(7, land.D, generator=gen)
    expected = land.loss(points)
    old = land.chunk_size
    try:
        land.chunk_size = 2
        with batching.use("cpu", point_examples=10**9):
            assert land._vmap_chunk(N, 7) == 2  # the landscape's chunk_size wins over any budget
            torch.testing.assert_close(land.loss(points), expected, rtol=1e-6, atol=0)
    finally:
        land.chunk_size = old


def test_meta_follows_the_accelerator_budget():
    """On ``meta`` (shapes only) the element budget splits a batch, as on a GPU, and shapes come out whole."""
    x, y = torch.empty(N, 8, device="meta"), torch.empty(N, dtype=torch.long, device="meta")
    land = NetworkLandscape(MLP(8, 3, width=5, depth=1), x, y, device="meta")
    points = torch.zeros(11, land.D, device="meta")
    with batching.use("meta", elements=3 * land.D):
        assert land._vmap_chunk(N, 11) == 3 and land._points_per_call(N, 11) == 3
        assert land.loss(points).shape == (11,) and land.logits(points).shape == (11, N, 3)
        assert land.loss_affine(land.theta0, points[:2], torch.zeros(7, 2, device="meta")).shape == (7,)
        assert land.grad(points).shape == (11, land.D)
