"""Tests for lsl.curvature.matrix_free: a symmetric operator with its shape, dtype and device, its blocks and restrictions.

References are dense matrices: a random symmetric matrix wrapped as an operator, whose blocks and
restrictions must equal ``P^T A P`` and ``B A B^T`` formed explicitly; and the exact Hessian of a tiny
float64 network (``lsl.curvature.hessian.exact_hessian``, itself tested against ``torch.autograd.functional``
in tests/test_hessian.py), for the operators that ``lsl.curvature.hessian.curvature_operator`` returns.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lsl.curvature import hessian
from lsl.curvature.matrix_free import MAX_DENSE_DIM, SymmetricOperator

from tests.test_hessian import point, tiny_net

F64 = torch.float64


def random_symmetric(n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=gen, dtype=F64)
    return a + a.T


def wrap(a: torch.Tensor, name: str = "A") -> SymmetricOperator:
    # rows v [k, n] -> (A v^T)^T = v A (A symmetric); one vector [n] -> A v
    return SymmetricOperator(lambda v: v @ a.T, a.shape[0], a.dtype, a.device, name)


def test_an_operator_knows_its_shape_dtype_device_and_name_and_applies_to_vectors_and_rows():
    a = random_symmetric(7)
    op = wrap(a, "A")
    assert op.shape == (7, 7) and op.dim == 7 and op.dtype == F64 and op.device == torch.device("cpu")
    assert op.name == "A" and "dim=7" in repr(op)
    gen = torch.Generator().manual_seed(1)
    v, V = torch.randn(7, generator=gen, dtype=F64), torch.randn(3, 7, generator=gen, dtype=F64)
    torch.testing.assert_close(op(v), a @ v)
    torch.testing.assert_close(op @ v, a @ v)
    torch.testing.assert_close(op(V), V @ a)  # each row multiplied
    torch.testing.assert_close(op.dense(), a)
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.dim = 3


def test_block_equals_the_dense_block_for_an_index_and_for_a_mask():
    a = random_symmetric(9, seed=2)
    op = wrap(a)
    index = torch.tensor([7, 1, 4])  # any order: the block's coordinates follow it
    P = torch.eye(9, dtype=F64)[:, index]
    blk = op.block(index)
    assert blk.shape == (3, 3) and blk.dtype == F64 and "block" in blk.name
    torch.testing.assert_close(blk.dense(), P.T @ a @ P)
    torch.testing.assert_close(blk.dense(), a[index][:, index])
    mask = torch.zeros(9, dtype=torch.bool)
    mask[[0, 3, 8]] = True
    torch.testing.assert_close(op.block(mask).dense(), a[mask][:, mask])
    V = torch.randn(4, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    torch.testing.assert_close(blk(V), V @ (P.T @ a @ P))
    # a block of a block is the block of the chosen coordinates
    torch.testing.assert_close(blk.block(torch.tensor([2, 0])).dense(), a[[4, 7]][:, [4, 7]])


def test_restrict_equals_B_A_Bt_for_a_basis_that_is_not_orthonormal():
    a = random_symmetric(8, seed=4)
    op = wrap(a)
    gen = torch.Generator().manual_seed(5)
    B = torch.randn(3, 8, generator=gen, dtype=F64)  # neither orthonormal nor normalised
    r = op.restrict(B)
    assert r.shape == (3, 3) and r.dtype == F64 and r.device == op.device and "3-plane" in r.name
    torch.testing.assert_close(r.dense(), B @ a @ B.T)
    c, C = torch.randn(3, generator=gen, dtype=F64), torch.randn(5, 3, generator=gen, dtype=F64)
    torch.testing.assert_close(r(c), B @ a @ B.T @ c)
    torch.testing.assert_close(r @ C, C @ (B @ a @ B.T))
    # the quadratic form on the subspace: c^T (B A B^T) c = x^T A x for x = B^T c
    x = B.T @ c
    torch.testing.assert_close(c @ r(c), x @ a @ x)
    # a float32 basis is cast to the operator's dtype
    torch.testing.assert_close(op.restrict(B.float()).dense(), B.float().double() @ a @ B.float().double().T)


def test_bad_inputs_raise_clear_errors():
    op = wrap(random_symmetric(5))
    with pytest.raises(ValueError, match=r"vectors \[5\] or rows \[k, 5\]"):
        op(torch.zeros(4, dtype=F64))
    with pytest.raises(ValueError, match=r"vectors \[5\]"):
        op(torch.zeros(2, 3, 5, dtype=F64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        op([0.0] * 5)
    with pytest.raises(ValueError, match="lie in"):
        op.block(torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="lie in"):
        op.block(torch.tensor([-1, 2]))
    with pytest.raises(ValueError, match="repeats"):
        op.block(torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="no coordinates"):
        op.block(torch.zeros(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean mask must have 5"):
        op.block(torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="integers or booleans"):
        op.block(torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="1-D"):
        op.block(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r"basis must be a tensor \[d, 5\]"):
        op.restrict(torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"basis must be a tensor \[d, 5\]"):
        op.restrict(torch.zeros(5, dtype=F64))
    with pytest.raises(ValueError, match="non-finite"):
        op.restrict(torch.full((2, 5), float("nan"), dtype=F64))
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        SymmetricOperator(lambda v: v, 0, F64, "cpu")
    with pytest.raises(TypeError, match="callable"):
        SymmetricOperator(None, 3, F64, "cpu")
    big = SymmetricOperator(lambda v: v, MAX_DENSE_DIM + 1, F64, "cpu", "big")
    with pytest.raises(ValueError, match="use Lanczos"):
        big.dense()


# ---------------------------------------------------------------------------
# the curvature operators of a tiny float64 network


@pytest.fixture(scope="module")
def net():
    land = tiny_net()
    theta = point(land)
    return land, theta, hessian.exact_hessian(land, theta)


def test_curvature_operator_is_an_operator_with_the_landscapes_size_dtype_device_and_term(net):
    land, theta, _ = net
    names = {}
    for term in hessian.TERMS:
        op = hessian.curvature_operator(land, theta, term=term)
        assert isinstance(op, SymmetricOperator)
        assert op.shape == (land.D, land.D) and op.dtype == land.dtype and op.device == land.device
        names[term] = op.name
    assert names == {"hessian": "Hessian", "gauss_newton": "Gauss-Newton term G", "rest": "H - G"}


def test_dense_curvature_operator_is_the_exact_hessian_and_the_gauss_newton_split_sums_to_it(net):
    land, theta, H = net
    dense = {t: hessian.curvature_operator(land, theta, term=t).dense() for t in hessian.TERMS}
    torch.testing.assert_close(dense["hessian"], H)
    torch.testing.assert_close(dense["gauss_newton"] + dense["rest"], H)
    torch.testing.assert_close(dense["gauss_newton"], hessian.exact_hessian(land, theta, term="gauss_newton"))
    assert torch.linalg.eigvalsh(dense["gauss_newton"]).min() > -1e-10  # G is positive semi-definite
    # products of vectors and rows agree with the dense matrix
    V = torch.randn(3, land.D, generator=torch.Generator().manual_seed(6), dtype=F64)
    op = hessian.curvature_operator(land, theta)
    torch.testing.assert_close(op(V), V @ H)
    torch.testing.assert_close(op @ V[0], H @ V[0])


def test_block_of_one_layer_is_that_block_of_the_exact_hessian(net):
    land, theta, H = net
    slot = next(s for s in land.view.slots if s.name.endswith("weight"))  # the first layer's weights
    index = torch.arange(slot.start, slot.stop)
    op = hessian.curvature_operator(land, theta)
    blk = op.block(index)
    assert blk.dim == slot.stop - slot.start
    torch.testing.assert_close(blk.dense(), H[slot.start:slot.stop, slot.start:slot.stop])
    # the top of the block's spectrum is what layer_spectra reports for that parameter
    top = hessian.layer_spectra(land, theta, 2)[slot.name]
    torch.testing.assert_close(top, torch.linalg.eigvalsh(blk.dense()).flip(0)[:2], rtol=1e-6, atol=1e-8)


def test_restriction_to_a_plane_is_B_H_Bt_and_is_the_goldilocks_restricted_hessian(net):
    from lsl.subspaces import goldilocks, projections

    land, theta, H = net
    B = torch.randn(4, land.D, generator=torch.Generator().manual_seed(7), dtype=F64)
    op = hessian.curvature_operator(land, theta)
    torch.testing.assert_close(op.restrict(B).dense(), B @ H @ B.T)
    proj = projections.make_projection("dense", land.D, 3, n_planes=2, seed=0, device=land.device, dtype=land.dtype)
    M = proj.columns()  # [P, d, D]
    got = goldilocks.restricted_hessian(land, theta, proj)
    torch.testing.assert_close(got, torch.stack([m @ H @ m.T for m in M]))
    with pytest.raises(ValueError, match=rf"basis must be a tensor \[d, {land.D}\]"):
        op.restrict(B[:, :-1])
    with pytest.raises(ValueError, match=rf"acts on vectors \[{land.D}\]"):
        op(torch.zeros(land.D + 1, dtype=F64))
