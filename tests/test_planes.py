"""Tests for lsl.probes.planes: filter-normalised, Hessian and trajectory-PCA directions; plane grids; .npz round trips.

References: per-filter norms computed directly from the module's weight
tensors; a dense Hessian from ``torch.autograd.functional.hessian`` of the
hand-written network in ``tests/reference.py``; ``numpy.linalg.svd`` of the
same trajectory; direct loss evaluations at grid points.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsl.data.nets import MLP, make
from lsl.network import NetworkLandscape
from lsl.probes import planes
from lsl.probes.planes import LossPlane, loss_plane
from lsl.toy import WedgeLandscape
from tests.reference import cross_entropy, tanh_mlp_logits

F64 = torch.float64
IN, WIDTH, C, N = 5, 8, 3, 40


def tiny(seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(N, IN, generator=gen, dtype=F64)
    y = torch.randint(0, C, (N,), generator=gen)
    torch.manual_seed(seed)
    land = NetworkLandscape(MLP(IN, C, width=WIDTH, depth=1, activation="tanh").to(F64), x, y)
    return land, land.theta0.clone(), x, y


def test_filter_normalized_norms_equal_theta_filters_mlp_and_conv():
    torch.manual_seed(0)
    model = make("cnn1d", (40,), 10, seed=0).double()
    land = NetworkLandscape(model, torch.randn(6, 40, dtype=F64), torch.randint(0, 10, (6,)))
    theta = land.theta0 * 1.7
    d = planes.filter_normalized_directions(land, theta, k=2, seed=3)
    params = {n: p.detach() * 1.7 for n, p in model.named_parameters()}
    n_multi = 0
    for k in range(2):
        views = land.view.unflatten(d[k])
        for name, w in params.items():
            if w.dim() >= 2:
                n_multi += 1
                assert torch.allclose(views[name].reshape(w.shape[0], -1).norm(dim=1),
                                      w.reshape(w.shape[0], -1).norm(dim=1), rtol=1e-12)
            else:
                assert torch.all(views[name] == 0)  # bias="zero"
    assert n_multi >= 4  # conv and linear weights were both checked
    copy = planes.filter_normalized_directions(land, theta, k=1, seed=3, bias="copy")[0]
    for name, w in params.items():
        if w.dim() == 1:
            assert torch.equal(land.view.unflatten(copy)[name], w)
    assert not torch.allclose(d[0], d[1])  # two different random directions
    assert torch.equal(d, planes.filter_normalized_directions(land, theta, k=2, seed=3))  # seeded


def test_filter_normalized_plane_is_invariant_to_relu_rescaling():
    """ReLU networks: scaling layer 1 by c and layer 2 by 1/c leaves the function and the filter-normalised plane unchanged."""
    torch.manual_seed(0)
    x, y = torch.randn(30, IN, dtype=F64), torch.randint(0, C, (30,))
    land = NetworkLandscape(MLP(IN, C, width=WIDTH, depth=1, activation="relu").to(F64), x, y)
    theta = land.theta0
    p = {k: v.clone() for k, v in land.view.unflatten(theta.clone()).items()}
    names = list(p)
    p[names[0]] *= 5.0; p[names[1]] *= 5.0; p[names[2]] /= 5.0  # W1, b1 up; W2 down
    scaled = land.view.flatten(p)
    a = planes.direction_plane(land, theta, planes.filter_normalized_directions(land, theta, seed=1), n=5)
    b = planes.direction_plane(land, scaled, planes.filter_normalized_directions(land, scaled, seed=1), n=5)
    assert torch.allclose(a.loss, b.loss, rtol=1e-10)
    raw = torch.randn(2, land.D, generator=torch.Generator().manual_seed(1), dtype=F64)
    ra = planes.direction_plane(land, theta, raw, n=5)
    rb = planes.direction_plane(land, scaled, raw, n=5)
    assert (ra.loss - rb.loss).abs().max() > 1e-2  # without normalisation the picture changes


def test_hessian_directions_are_eigenvectors_of_dense_hessian():
    land, theta, x, y = tiny()
    H = torch.autograd.functional.hessian(lambda t: cross_entropy(tanh_mlp_logits(t, x, IN, WIDTH, C), y), theta)
    V, lam = planes.hessian_directions(land, theta, 2, tol=1e-10)
    ev = torch.linalg.eigvalsh(H).flip(0)
    assert torch.allclose(lam, ev[:2], atol=1e-9)
    for i in range(2):
        assert torch.allclose(H @ V[i], lam[i] * V[i], atol=1e-8)
    assert torch.allclose(V @ V.T, torch.eye(2, dtype=F64), atol=1e-10)
    # the grid's second difference along axis 1 at the centre is the top eigenvalue (to O(h^2))
    plane = planes.direction_plane(land, theta, V, n=5, span=2e-3)
    h = float(plane.u[1] - plane.u[0])
    L = plane.loss
    assert abs(float(L[2, 3] - 2 * L[2, 2] + L[2, 1]) / h**2 - float(lam[0])) < 1e-4 * float(lam[0])


def trajectory(D=30, T=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    steps = torch.randn(T, D, generator=gen, dtype=F64) * torch.linspace(2, 0.1, D, dtype=F64)
    return steps.cumsum(0)


@pytest.mark.parametrize("center", [True, False])
def test_trajectory_directions_match_numpy_svd(center):
    traj = trajectory()
    pca = planes.trajectory_directions(traj, center=center)
    M = (traj[:-1] - traj[-1]).numpy()
    if center:
        M = M - M.mean(0)
    _, s, Vt = np.linalg.svd(M, full_matrices=False)
    for i in range(2):
        assert abs(abs(float(pca.directions[i] @ torch.from_numpy(Vt[i]))) - 1) < 1e-10
    assert np.allclose(pca.explained_variance.numpy(), s[:2] ** 2 / (s**2).sum(), rtol=1e-10)
    assert np.allclose(pca.coords.numpy(), (traj - traj[-1]).numpy() @ pca.directions.numpy().T)
    assert torch.all(pca.coords[0] >= 0) and torch.allclose(pca.coords[-1], torch.zeros(2, dtype=F64))
    if center:  # against scikit-learn's PCA, which Li et al. use
        from sklearn.decomposition import PCA

        sk = PCA(n_components=2).fit((traj[:-1] - traj[-1]).numpy())
        assert np.allclose(sk.explained_variance_ratio_, pca.explained_variance.numpy(), rtol=1e-8)


def test_direction_plane_values_and_coords():
    land, theta, *_ = tiny()
    d = planes.filter_normalized_directions(land, theta, seed=0)
    plane = planes.direction_plane(land, theta, d, n=4, span=(-1.0, 0.5, 0.0, 2.0), split="train")
    for i, j in [(0, 0), (1, 3), (3, 2)]:
        pt = theta + plane.u[j] * d[0] + plane.v[i] * d[1]
        assert torch.allclose(plane.loss[i, j], land.loss(pt), rtol=1e-12)
        assert torch.allclose(plane.point(plane.u[j], plane.v[i]), pt)
        assert torch.allclose(plane.coords(pt), torch.stack([plane.u[j], plane.v[i]]), atol=1e-10)  # non-orthogonal basis
    assert plane.accuracy.shape == (4, 4)
    sub = planes.direction_plane(land, theta, d, n=3, idx=torch.arange(10))
    assert torch.allclose(sub.loss[1, 1], land.loss(theta, idx=torch.arange(10)))


def test_direction_plane_rejects_bad_input():
    land, theta, *_ = tiny()
    d = torch.randn(2, land.D, dtype=F64)
    with pytest.raises(ValueError, match="parallel"):
        planes.direction_plane(land, theta, torch.stack([d[0], 2 * d[0]]))
    with pytest.raises(ValueError, match=r"\[2, D\]"):
        planes.direction_plane(land, theta, d[:1])
    with pytest.raises(ValueError, match="span"):
        planes.direction_plane(land, theta, d, span=(1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="bias"):
        planes.filter_normalized_directions(land, theta, bias="keep")
    with pytest.raises(ValueError, match="T >= 3"):
        planes.trajectory_directions(torch.zeros(2, 4))


def test_save_and_load_round_trip(tmp_path):
    land, theta, *_ = tiny()
    traj = torch.stack([theta + 0.1 * k * torch.randn(land.D, dtype=F64) for k in range(5)])
    pca = planes.trajectory_directions(traj)
    plane = planes.direction_plane(land, traj[-1], pca.directions, n=6, split="train", kind="trajectory-pca",
                                   meta={"explained_variance": pca.explained_variance.tolist(),
                                         "path": pca.coords.tolist()})
    back = planes.load_plane(planes.save_plane(plane, tmp_path / "pca"))
    assert isinstance(back, planes.DirectionPlane) and back.kind == "trajectory-pca" and back.split == "train"
    assert back.meta == plane.meta
    for name in ("u", "v", "loss", "accuracy", "anchors", "basis", "origin"):
        assert torch.equal(getattr(back, name), getattr(plane, name)), name
    assert torch.allclose(back.coords(traj), pca.coords, atol=1e-10)
    # a three-point plane from lsl.probes.radial, and a plane saved without directions
    three = loss_plane(land, theta, traj[1], traj[2], n=4)
    back3 = planes.load_plane(planes.save_plane(three, tmp_path / "three.npz"))
    assert type(back3) is LossPlane and torch.equal(back3.loss, three.loss) and torch.equal(back3.basis, three.basis)
    slim = planes.load_plane(planes.save_plane(plane, tmp_path / "slim.npz", directions=False))
    assert slim.basis is None and torch.equal(slim.loss, plane.loss)
    with pytest.raises(ValueError, match="without its directions"):
        slim.coords(theta)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a loss plane"):
        planes.load_plane(tmp_path / "other.npz")


def test_rescaled_point_keeps_the_function_and_filter_normalised_planes():
    """ReLU rescaling changes theta but not the outputs; the filter-normalised plane is invariant, a unit plane is not."""
    from lsl.data import nets
    from lsl.network import NetworkLandscape
    from lsl.probes import planes

    torch.manual_seed(0)
    x, y = torch.randn(50, 6, dtype=torch.float64), torch.randint(0, 3, (50,))
    land = NetworkLandscape(nets.MLP(6, 3, width=8, depth=2, activation="relu").double(), x, y)
    theta = land.theta0
    moved = planes.rescaled_point(land, theta, 5.0, layer=1)
    assert float((moved - theta).norm()) > 1.0
    torch.testing.assert_close(land.logits(moved), land.logits(theta), rtol=0, atol=1e-12)
    a = planes.direction_plane(land, theta, planes.filter_normalized_directions(land, theta, seed=3), n=5, span=0.5)
    b = planes.direction_plane(land, moved, planes.filter_normalized_directions(land, moved, seed=3), n=5, span=0.5)
    torch.testing.assert_close(a.loss, b.loss, rtol=0, atol=1e-10)
    unit = torch.nn.functional.normalize(torch.randn(2, land.D, dtype=torch.float64), dim=1)
    ua = planes.direction_plane(land, theta, unit, n=5, span=2.0)
    ub = planes.direction_plane(land, moved, unit, n=5, span=2.0)
    assert float((ua.loss - ub.loss).abs().max()) > 1e-2
    with pytest.raises(ValueError, match="followed by a ReLU"):
        planes.rescaled_point(NetworkLandscape(nets.MLP(6, 3, width=8, depth=2, activation="tanh").double(), x, y),
                              theta, 2.0)
    with pytest.raises(ValueError, match="positive"):
        planes.rescaled_point(land, theta, -1.0)
    with pytest.raises(ValueError, match="layer stack"):
        planes.rescaled_point(NetworkLandscape(nets.SimpleCNN1d(length=6, n_classes=3, channels=(2,)).double(), x, y),
                              theta, 2.0)


# ---------------------------------------------------------------------------
# loss planes through three points, on the toy model


def test_loss_plane_values_and_coordinates():
    land = WedgeLandscape(12, 6, dtype=F64)
    gen = torch.Generator().manual_seed(0)
    a, b, c = torch.randn(3, 12, generator=gen, dtype=F64)
    plane = loss_plane(land, a, b, c, n=9, margin=0.3)
    assert plane.loss.shape == (9, 9) and plane.u.shape == (9,) and plane.v.shape == (9,)
    assert plane.accuracy is None and plane.basis.shape == (2, 12)
    torch.testing.assert_close(plane.basis @ plane.basis.T, torch.eye(2, dtype=F64))
    for i, j in [(0, 0), (3, 7), (8, 2), (4, 4)]:
        expected = land.loss(plane.point(plane.u[j], plane.v[i]))
        torch.testing.assert_close(plane.loss[i, j], expected)
    # a, b, c round-trip through coords / point and match the stored anchors.
    abc = torch.stack([a, b, c])
    xy = plane.coords(abc)
    torch.testing.assert_close(xy, plane.anchors)
    torch.testing.assert_close(plane.point(xy[:, 0], xy[:, 1]), abc)
    torch.testing.assert_close(xy[0], torch.zeros(2, dtype=F64))
    assert float(xy[1, 1]) == pytest.approx(0.0, abs=1e-12) and float(xy[1, 0]) > 0
    # The grid extends beyond the points by the margin.
    assert float(plane.u[0]) < float(xy[:, 0].min()) and float(plane.u[-1]) > float(xy[:, 0].max())
    assert float(plane.v[0]) < float(xy[:, 1].min()) and float(plane.v[-1]) > float(xy[:, 1].max())
    span = float(xy[:, 0].max() - xy[:, 0].min())
    assert float(plane.u[-1] - plane.u[0]) == pytest.approx(1.6 * span)


def test_loss_plane_chunked_evaluation_matches():
    land = WedgeLandscape(10, 4, dtype=F64)
    a, b, c = torch.randn(3, 10, generator=torch.Generator().manual_seed(3), dtype=F64)
    full = loss_plane(land, a, b, c, n=7)
    small = loss_plane(land, a, b, c, n=7, max_elements=25)  # 2 points per chunk
    torch.testing.assert_close(full.loss, small.loss)


def test_loss_plane_rejects_bad_input():
    land = WedgeLandscape(6, 3, dtype=F64)
    a = torch.zeros(6, dtype=F64)
    b = torch.ones(6, dtype=F64)
    c = torch.tensor([1.0, 0, 0, 0, 0, 0], dtype=F64)
    with pytest.raises(ValueError, match="collinear"):
        loss_plane(land, a, b, 2.5 * b)
    with pytest.raises(ValueError, match="same point"):
        loss_plane(land, a, a, c)
    with pytest.raises(ValueError, match="shape"):
        loss_plane(land, a, b, torch.zeros(5, dtype=F64))
    with pytest.raises(ValueError, match="single point"):
        loss_plane(land, a, b, torch.zeros(2, 6, dtype=F64))
    with pytest.raises(ValueError, match="n must be"):
        loss_plane(land, a, b, c, n=1)
    with pytest.raises(ValueError, match="margin"):
        loss_plane(land, a, b, c, margin=-0.1)
    with pytest.raises(ValueError, match="accuracy"):
        loss_plane(land, a, b, c, split="test")
