"""Permutation symmetry of hidden units, and weight matching (Git Re-Basin).

Permuting the hidden units of a layer -- the rows of its weight matrix and its
bias, together with the matching columns of the next layer's weights -- leaves
the network's function unchanged. Two independently trained networks may thus
be "the same solution" with their units in different orders. Weight matching
(Ainsworth, Hayase & Srinivasa 2023, *Git Re-Basin*, Algorithm 1) aligns the
second network's units to the first's: it maximises
``sum over parameters <theta_a, pi(theta_b)>`` -- equivalently it minimises
``||theta_a - pi(theta_b)||`` -- over the permutations ``pi`` of every hidden
layer, by coordinate descent: one layer at a time, each step a linear
assignment problem solved exactly by :func:`scipy.optimize.linear_sum_assignment`.

Supported architectures are the book's (:mod:`lsl.data.nets`): :class:`~lsl.data.nets.MLP`,
:class:`~lsl.data.nets.SimpleCNN1d` and :class:`~lsl.data.nets.SimpleCNN` (convolution
channels are permuted; element-wise activations, max-pooling, dropout and
flattening commute with them), and any ``nn.Sequential`` chain of those layers.
Batch norm (``nn.BatchNorm1d``/``2d``) acts on every unit separately: a batch-norm layer after a
weighted layer is permuted with it (its scale and shift in the parameters, its running statistics
by :func:`permute_module`). Layers that mix units in other ways (layer norm, attention, residual
connections) are refused with an error.

Typical use::

    theta_b_aligned = lsl.paths.permutations.weight_matching(L, theta_a, theta_b)
    match = lsl.paths.permutations.match(L, theta_a, theta_b)      # the permutation and the objective too

Conventions: a :class:`Permutation` holds one index tensor ``p`` per hidden
layer; applying it puts the original unit ``p[i]`` at position ``i``.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from lsl import arguments
from lsl.network import NetworkLandscape
from lsl.paths.tunnels import barrier, linear_path

__all__ = ["Axis", "Group", "PermutationSpec", "Permutation", "permutation_spec", "apply_permutation",
           "identity_permutation", "random_permutation", "permute_module", "matching_objective", "match", "Matching",
           "weight_matching", "layer_stats", "LayerStats", "repair", "AlignmentComparison", "compare_alignment"]

# Layers that act on every unit separately (or not at all): a permutation of units commutes with them.
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.GELU, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Softplus,
                nn.Identity, nn.modules.dropout._DropoutNd, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


@dataclass(frozen=True)
class Axis:
    """One axis of one parameter that a permutation group acts on.

    Attributes:
        param: the parameter's name (as in :class:`lsl.landscape.FlatView`).
        dim: the axis of the parameter's tensor.
        block: units are contiguous blocks of ``block`` entries along ``dim`` (a linear layer
            after the flattened output of a convolution sees ``channels x positions`` inputs);
            1 otherwise.
    """

    param: str
    dim: int
    block: int = 1


@dataclass(frozen=True)
class Group:
    """The hidden units of one layer, permuted together.

    Attributes:
        name: the name of the layer that produces the units (e.g. ``"1"`` or ``"features.3"``).
        size: the number of units (hidden width, or channels).
        axes: every parameter axis the permutation acts on: the producing layer's weight rows
            and bias, the scale and shift of a batch-norm layer after it, and the consuming layer's
            weight columns.
        norms: the batch-norm layers after the producing layer, whose running statistics (buffers, not
            parameters) the permutation also moves (:func:`permute_module`).
    """

    name: str
    size: int
    axes: tuple[Axis, ...]
    norms: tuple[str, ...] = ()


@dataclass(frozen=True)
class PermutationSpec:
    """Where the permutation symmetries of an architecture act: one :class:`Group` per hidden layer.

    Attributes:
        groups: the hidden layers in forward order.
        layers: names of the weighted layers (linear or convolution) in forward order.
    """

    groups: tuple[Group, ...]
    layers: tuple[str, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """The number of units of each group."""
        return tuple(g.size for g in self.groups)


class Permutation:
    """One permutation of the units of every hidden layer of an architecture.

    ``perm[g]`` is a ``LongTensor`` of the group's size; :func:`apply_permutation` puts the
    original unit ``perm[g][i]`` of layer ``g`` at position ``i``.

    Args:
        indices: one index tensor (or sequence of ints) per group.
    """

    def __init__(self, indices):
        idx = []
        for g, p in enumerate(indices):
            p = torch.as_tensor(p, dtype=torch.long).cpu()
            if p.dim() != 1 or not torch.equal(p.sort().values, torch.arange(p.numel())):
                raise ValueError(f"entry {g} is not a permutation of 0..{p.numel() - 1}: {p.tolist()[:20]}")
            idx.append(p)
        self.indices: tuple[torch.Tensor, ...] = tuple(idx)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, g: int) -> torch.Tensor:
        return self.indices[g]

    def __eq__(self, other) -> bool:
        return (isinstance(other, Permutation) and len(self) == len(other)
                and all(torch.equal(a, b) for a, b in zip(self.indices, other.indices)))

    def __repr__(self) -> str:
        return f"Permutation(sizes={[p.numel() for p in self.indices]})"

    def inverse(self) -> "Permutation":
        """The permutation that undoes this one."""
        return Permutation([torch.argsort(p) for p in self.indices])

    def then(self, other: "Permutation") -> "Permutation":
        """The permutation equal to applying ``self`` first and ``other`` second."""
        if [p.numel() for p in self.indices] != [q.numel() for q in other.indices]:
            raise ValueError("the two permutations belong to different architectures")
        return Permutation([p[q] for p, q in zip(self.indices, other.indices)])

    def is_identity(self) -> bool:
        """Whether every unit stays in place."""
        return all(torch.equal(p, torch.arange(p.numel())) for p in self.indices)

    def fixed_fraction(self) -> float:
        """The fraction of all hidden units that stay in place."""
        n = sum(p.numel() for p in self.indices)
        return sum(int((p == torch.arange(p.numel())).sum()) for p in self.indices) / max(n, 1)


# ---------------------------------------------------------------------------
# the architecture's symmetry


def _chain(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The book's networks as a flat list of (qualified name, layer) in forward order."""
    from lsl.data import nets

    if isinstance(model, (nets.SimpleCNN1d, nets.SimpleCNN)):
        parts = [("features", model.features), ("head", model.head)]
    elif isinstance(model, nn.Sequential):  # nets.MLP, or a user's chain
        parts = [("", model)]
    else:
        raise TypeError(
            f"weight matching supports the book's networks (lsl.data.nets.MLP, SimpleCNN1d, SimpleCNN) and "
            f"nn.Sequential chains of Linear/Conv layers with element-wise activations; got {type(model).__name__}. "
            "Build the network with lsl.data.nets.make('mlp' | 'cnn1d' | 'cnn', ...)."
        )
    out = []
    for prefix, seq in parts:
        for name, layer in seq.named_children():
            out.append((f"{prefix}.{name}" if prefix else name, layer))
    return out


def permutation_spec(model: nn.Module | NetworkLandscape) -> PermutationSpec:
    """The permutation symmetries of a network: which parameter axes each hidden layer's permutation acts on.

    Args:
        model: a network of :mod:`lsl.data.nets` (or its :class:`~lsl.network.NetworkLandscape`).

    Raises:
        TypeError: for an architecture whose layers are not a chain of linear and convolutional
            layers with element-wise activations, pooling, dropout, flattening and batch norm in between
            (layer norm and unknown modules are refused: their statistics mix units or the order of
            operations is unknown; so is batch norm before the first weighted layer or after the last,
            or with another number of channels than the layer before it).
    """
    if isinstance(model, NetworkLandscape):
        model = model.model
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a network (nn.Module or NetworkLandscape), got {type(model).__name__}")
    layers: list[tuple[str, nn.Module]] = []
    norms: dict[str, list[tuple[str, nn.Module]]] = {}   # weighted layer -> the batch-norm layers after it
    for name, layer in _chain(model):
        if isinstance(layer, _WEIGHTED):
            if isinstance(layer, (nn.Conv1d, nn.Conv2d)) and layer.groups != 1:
                raise TypeError(f"layer {name!r}: grouped convolutions are not supported")
            layers.append((name, layer))
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if not layers:
                raise TypeError(f"batch-norm layer {name!r} comes before any weighted layer: it has no units to follow")
            norms.setdefault(layers[-1][0], []).append((name, layer))
        elif isinstance(layer, (nn.Flatten, *_ELEMENTWISE)):
            continue
        else:
            raise TypeError(
                f"layer {name!r} ({type(layer).__name__}) does not commute with a permutation of units "
                "(or is not known to): weight matching supports chains of Linear/Conv1d/Conv2d layers with "
                "element-wise activations, pooling, dropout, flattening and batch norm; layer norm is not supported"
            )
    if not layers:
        raise TypeError("the network has no linear or convolutional layer")
    if layers[-1][0] in norms:
        raise TypeError(f"batch norm after the last weighted layer {layers[-1][0]!r} is not supported (its units are the outputs)")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    groups = []
    for (name, layer), (next_name, nxt) in zip(layers[:-1], layers[1:]):
        size = layer.out_channels if hasattr(layer, "out_channels") else layer.out_features
        axes = [Axis(f"{name}.weight", 0)]
        if layer.bias is not None:
            axes.append(Axis(f"{name}.bias", 0))
        for bn_name, bn in norms.get(name, []):
            if bn.num_features != size:
                raise TypeError(f"batch-norm layer {bn_name!r} has {bn.num_features} channels, layer {name!r} {size} units")
            if bn.affine:
                axes += [Axis(f"{bn_name}.weight", 0), Axis(f"{bn_name}.bias", 0)]
        fan_in = nxt.in_channels if hasattr(nxt, "in_channels") else nxt.in_features
        if fan_in % size:
            raise TypeError(f"layer {next_name!r} takes {fan_in} inputs, not a multiple of the {size} units of {name!r}")
        axes.append(Axis(f"{next_name}.weight", 1, fan_in // size))
        missing = [a.param for a in axes if a.param not in trainable]
        if missing:
            raise TypeError(f"parameters {missing} are frozen or missing: permute only fully trainable networks")
        groups.append(Group(name, size, tuple(axes), tuple(n for n, _ in norms.get(name, []))))
    return PermutationSpec(tuple(groups), tuple(n for n, _ in layers))


def _spec(obj) -> PermutationSpec:
    return obj if isinstance(obj, PermutationSpec) else permutation_spec(obj)


def identity_permutation(spec) -> Permutation:
    """The permutation that leaves every unit in place (``spec``: a spec, network or landscape)."""
    return Permutation([torch.arange(n) for n in _spec(spec).sizes])


def random_permutation(spec, *, seed: int = 0) -> Permutation:
    """A uniformly random permutation of every hidden layer, from a seeded generator.

    Args:
        spec: a :class:`PermutationSpec`, a network or a landscape.
        seed: the generator's seed (the global random state is untouched).
    """
    gen = torch.Generator().manual_seed(seed)
    return Permutation([torch.randperm(n, generator=gen) for n in _spec(spec).sizes])


def _permute_axis(t: torch.Tensor, dim: int, block: int, p: torch.Tensor) -> torch.Tensor:
    idx = p.to(t.device)
    if block > 1:
        idx = (idx[:, None] * block + torch.arange(block, device=t.device)).reshape(-1)
    return t.index_select(dim, idx)


def apply_permutation(landscape: NetworkLandscape, theta: torch.Tensor, perm: Permutation,
                      spec: PermutationSpec | None = None) -> torch.Tensor:
    """The parameters ``theta`` with every hidden layer's units permuted by ``perm``.

    The permuted network computes exactly the same function (up to the order of floating-point
    additions).

    Args:
        landscape: the network's landscape (its architecture and flat layout).
        theta: one point ``[D]`` or a batch ``[B, D]`` (every row permuted alike).
        perm: the permutation (:func:`random_permutation`, :func:`match`, ...).
        spec: the architecture's :class:`PermutationSpec` (computed if not given).

    Returns:
        a new tensor of the shape of ``theta``.
    """
    spec = spec or permutation_spec(landscape)
    theta = landscape.check_theta(theta)
    if [p.numel() for p in perm.indices] != list(spec.sizes):
        raise ValueError(f"the permutation has sizes {[p.numel() for p in perm.indices]}, the network's hidden "
                         f"layers {list(spec.sizes)}")
    lead = theta.dim() - 1
    params = {k: v.clone() for k, v in landscape.view.unflatten(theta).items()}
    for group, p in zip(spec.groups, perm.indices):
        for ax in group.axes:
            params[ax.param] = _permute_axis(params[ax.param], lead + ax.dim, ax.block, p)
    out = torch.cat([params[s.name].reshape(*theta.shape[:-1], -1) for s in landscape.view.slots], dim=-1)
    return out


def permute_module(model: nn.Module, perm: Permutation, spec: PermutationSpec | None = None) -> nn.Module:
    """A copy of a torch network with every hidden layer's units permuted: parameters *and* batch-norm statistics.

    :func:`apply_permutation` moves the flat parameter vector; a module also holds buffers. Here the
    running mean and variance of each batch-norm layer move with its units, so the copy computes the
    same function as ``model`` in evaluation mode (stored statistics) and in training mode (batch statistics).

    Args:
        model: a network that :func:`permutation_spec` accepts.
        perm: the permutation.
        spec: the network's :class:`PermutationSpec` (computed if not given).

    Returns:
        a deep copy of ``model``, permuted, in the same train/eval mode.
    """
    spec = spec or permutation_spec(model)
    if [p.numel() for p in perm.indices] != list(spec.sizes):
        raise ValueError(f"the permutation has sizes {[p.numel() for p in perm.indices]}, the network's hidden "
                         f"layers {list(spec.sizes)}")
    out = copy.deepcopy(model)
    with torch.no_grad():
        for group, p in zip(spec.groups, perm.indices):
            for ax in group.axes:
                param = out.get_parameter(ax.param)
                param.copy_(_permute_axis(param.detach(), ax.dim, ax.block, p))
            for bn_name in group.norms:
                bn = out.get_submodule(bn_name)
                for buf in ("running_mean", "running_var"):
                    t = getattr(bn, buf)
                    if t is not None:
                        t.copy_(t.index_select(0, p.to(t.device)))
    return out


def matching_objective(landscape: NetworkLandscape, theta_a: torch.Tensor, theta_b: torch.Tensor) -> float:
    """Weight matching's objective ``<theta_a, theta_b>`` (maximised over permutations of ``theta_b``).

    Permutations preserve norms, so maximising it is minimising ``||theta_a - pi(theta_b)||``.
    """
    a = landscape.check_theta(theta_a, "theta_a").double()
    b = landscape.check_theta(theta_b, "theta_b").double()
    return float((a * b).sum())


def _unit_rows(t: torch.Tensor, dim: int, n: int) -> torch.Tensor:
    """The tensor as ``[n, rest]``: one row per unit of axis ``dim`` (a unit's block of entries is contiguous)."""
    t = t.movedim(dim, 0)
    return t.reshape(n, -1)


@dataclass(frozen=True)
class Matching:
    """What weight matching found (see :func:`match`).

    ``theta`` is on the landscape's device; the permutation's index tensors are on the CPU.

    Attributes:
        theta: ``theta_b`` permuted to match ``theta_a`` ``[D]``.
        permutation: the permutation applied to ``theta_b``.
        objective_identity: ``<theta_a, theta_b>`` before alignment.
        objective: ``<theta_a, pi(theta_b)>`` after alignment (never smaller).
        distance_identity: ``||theta_a - theta_b||``.
        distance: ``||theta_a - pi(theta_b)||``.
        sweeps: passes over the layers until no layer's assignment changed (in the kept run).
        seconds: wall time of the search.
    """

    theta: torch.Tensor
    permutation: Permutation
    objective_identity: float
    objective: float
    distance_identity: float
    distance: float
    sweeps: int
    seconds: float


def match(landscape: NetworkLandscape, theta_a: torch.Tensor, theta_b: torch.Tensor, *, max_sweeps: int = 100,
          seed: int = 0) -> Matching:
    """Weight matching (Ainsworth et al. 2023, Algorithm 1): permute ``theta_b``'s units to match ``theta_a``'s.

    Coordinate descent over the hidden layers, visited in a seeded random order on every sweep: for
    layer ``g`` with the other layers' permutations fixed, the objective is linear in the permutation
    ``P_g``, ``sum_ij C[i, j] P_g[i, j]`` with ``C[i, j]`` the inner product of every parameter slice that
    belongs to unit ``i`` of ``theta_a`` and unit ``j`` of the (partly permuted) ``theta_b`` -- a linear
    assignment problem, solved exactly by :func:`scipy.optimize.linear_sum_assignment`. A layer's
    permutation is replaced only when that strictly raises the objective, so the objective never
    decreases; the search stops after a sweep in which no layer changed (or after ``max_sweeps``).

    Coordinate descent can stop in a local optimum. It is run from two starts -- the identity (the
    paper's) and a forward pass that matches each layer on its incoming weights and bias given the
    layers before it (which recovers an exact permutation of ``theta_a``) -- and the better result is
    kept, so the objective is never below the identity's.

    Args:
        landscape: the network's landscape (a :mod:`lsl.data.nets` architecture; see :func:`permutation_spec`).
        theta_a: the reference point ``[D]``.
        theta_b: the point to permute ``[D]``.
        max_sweeps: the most passes over the layers.
        seed: seeds the order in which layers are visited.

    Returns:
        a :class:`Matching`.
    """
    start = time.perf_counter()
    spec = permutation_spec(landscape)
    a = landscape.check_theta(theta_a, "theta_a")
    b = landscape.check_theta(theta_b, "theta_b")
    if a.dim() != 1 or b.dim() != 1:
        raise ValueError("match aligns two single points [D]; loop over pairs for batches")
    if max_sweeps < 1:
        raise ValueError(f"max_sweeps must be >= 1, got {max_sweeps}")
    pa = {k: v.double() for k, v in landscape.view.unflatten(a).items()}
    pb = {k: v.double() for k, v in landscape.view.unflatten(b).items()}
    # which group acts on each (param, dim): to permute b's other axes by the current permutations
    owner = {(ax.param, ax.dim): (gi, ax.block) for gi, g in enumerate(spec.groups) for ax in g.axes}

    def cost_of(gi: int, perm: list[torch.Tensor], incoming_only: bool = False) -> torch.Tensor:
        group = spec.groups[gi]
        n = group.size
        cost = torch.zeros(n, n, dtype=torch.float64, device=a.device)
        for ax in group.axes:
            if incoming_only and ax.dim != 0:
                continue
            wb = pb[ax.param]
            for d in range(wb.dim()):  # permute b's other axes by their groups' current permutations
                if d != ax.dim and (ax.param, d) in owner:
                    og, oblock = owner[(ax.param, d)]
                    wb = _permute_axis(wb, d, oblock, perm[og])
            cost += _unit_rows(pa[ax.param], ax.dim, n) @ _unit_rows(wb, ax.dim, n).T
        return cost

    def assign(cost: torch.Tensor) -> torch.Tensor:
        rows, cols = linear_sum_assignment(cost.cpu().numpy(), maximize=True)
        return torch.as_tensor(cols[np.argsort(rows)], dtype=torch.long)

    def descend(perm: list[torch.Tensor], seed: int) -> tuple[list[torch.Tensor], int]:
        gen = np.random.default_rng(seed)
        sweeps = 0
        for sweeps in range(1, max_sweeps + 1):
            changed = False
            for gi in gen.permutation(len(spec.groups)):
                cost = cost_of(gi, perm)
                new = assign(cost)
                n = cost.shape[0]
                old_value = float(cost[torch.arange(n), perm[gi].to(a.device)].sum())
                new_value = float(cost[torch.arange(n), new.to(a.device)].sum())
                if new_value > old_value + 1e-12 * max(1.0, abs(old_value)) and not torch.equal(new, perm[gi]):
                    perm[gi] = new
                    changed = True
            if not changed:
                break
        return perm, sweeps

    def value(perm: list[torch.Tensor]) -> float:
        return matching_objective(landscape, a, apply_permutation(landscape, b, Permutation(perm), spec))

    # Start 1, the paper's: every layer at the identity. Start 2: layers in forward order, each matched on
    # its incoming weights and bias only, given the layers before it (exact when theta_b is a permutation
    # of theta_a). Coordinate descent from both; the better result is kept, so it is never worse than start 1.
    perm, sweeps = descend([torch.arange(n) for n in spec.sizes], seed)
    forward: list[torch.Tensor] = [torch.arange(n) for n in spec.sizes]
    for gi in range(len(spec.groups)):
        forward[gi] = assign(cost_of(gi, forward, incoming_only=True))
    forward, sweeps_f = descend(forward, seed + 1)
    if spec.groups and value(forward) > value(perm):
        perm, sweeps = forward, sweeps_f
    permutation = Permutation(perm)
    aligned = apply_permutation(landscape, b, permutation, spec)
    return Matching(
        theta=aligned, permutation=permutation,
        objective_identity=matching_objective(landscape, a, b), objective=matching_objective(landscape, a, aligned),
        distance_identity=float((a - b).double().norm()), distance=float((a - aligned).double().norm()),
        sweeps=sweeps, seconds=time.perf_counter() - start,
    )


def weight_matching(landscape: NetworkLandscape, theta_a: torch.Tensor, theta_b: torch.Tensor, **options) -> torch.Tensor:
    """``theta_b`` with its hidden units permuted to match ``theta_a``'s (Git Re-Basin weight matching).

    The returned point computes the same function as ``theta_b``. Options are those of :func:`match`,
    which also returns the permutation, the objective and the distances before and after.

    Args:
        landscape: the network's landscape (:class:`~lsl.network.NetworkLandscape` of a :mod:`lsl.data.nets` network).
        theta_a: the reference point ``[D]``.
        theta_b: the point to align ``[D]``.
    """
    return match(landscape, theta_a, theta_b, **options).theta


# ---------------------------------------------------------------------------
# statistics of hidden units along a path, and REPAIR (Jordan et al. 2023)


@dataclass(frozen=True)
class LayerStats:
    """Per-unit statistics of every hidden layer's pre-activations over a set of inputs (see :func:`layer_stats`).

    The tensors are on the landscape's device.

    Attributes:
        names: the hidden layers (the groups of :func:`permutation_spec`).
        mean: per layer, the units' means ``[B, units]``.
        std: per layer, the units' standard deviations ``[B, units]`` (over examples, and over
            positions for convolution channels).
    """

    names: list[str]
    mean: list[torch.Tensor]
    std: list[torch.Tensor]


def layer_stats(landscape: NetworkLandscape, thetas: torch.Tensor, x: torch.Tensor | None = None) -> LayerStats:
    """Mean and standard deviation of every hidden unit's pre-activation, at each of several points.

    Jordan et al. (2023) found that the units of a network on the straight line between two
    (aligned) networks have smaller variance than at the ends -- *variance collapse* -- and that
    restoring it (:func:`repair`) removes much of the barrier.

    Args:
        landscape: the network's landscape.
        thetas: points ``[D]`` or ``[B, D]``.
        x: inputs (default: the training inputs).
    """
    spec = permutation_spec(landscape)
    thetas = landscape.check_theta(thetas, "thetas")
    thetas = thetas.unsqueeze(0) if thetas.dim() == 1 else thetas
    x = landscape.x if x is None else x.to(landscape.device, landscape.x.dtype)
    names = [g.name for g in spec.groups]
    modules = dict(landscape.model.named_modules())
    means: list[list[torch.Tensor]] = [[] for _ in names]
    stds: list[list[torch.Tensor]] = [[] for _ in names]
    seen: dict[str, torch.Tensor] = {}
    hooks = [modules[n].register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o)) for n in names]
    try:
        with torch.no_grad():
            for theta in thetas:
                seen.clear()
                landscape.forward(theta, x)  # the module's forward: the hooks see each layer
                for k, n in enumerate(names):
                    out = seen[n].movedim(1, -1).reshape(-1, seen[n].shape[1])  # [examples (x positions), units]
                    means[k].append(out.mean(0))
                    stds[k].append(out.std(0))
    finally:
        for h in hooks:
            h.remove()
    return LayerStats(names, [torch.stack(m) for m in means], [torch.stack(s) for s in stds])


def repair(landscape: NetworkLandscape, theta_a: torch.Tensor, theta_b: torch.Tensor, t: float | torch.Tensor,
           x: torch.Tensor | None = None, eps: float = 1e-8) -> torch.Tensor:
    """REPAIR for networks without normalisation layers (Jordan et al. 2023): interpolate, then restore unit statistics.

    For each ``t``, the point ``(1 - t) theta_a + t theta_b`` is corrected layer by layer, in forward
    order: every hidden unit's pre-activation is rescaled and shifted (by changing its weights and
    bias) so that its mean and standard deviation over ``x`` become the interpolation
    ``(1 - t) stat_a + t stat_b`` of the endpoints' statistics. ``theta_b`` should be aligned to
    ``theta_a`` first (:func:`weight_matching`), otherwise the units it mixes are unrelated.

    Args:
        landscape: the network's landscape (layers must have biases).
        theta_a, theta_b: the endpoints ``[D]``.
        t: interpolation coefficients, a float or ``[K]``.
        x: inputs on which statistics are measured (default: the training inputs).
        eps: guards the division by a unit's standard deviation.

    Returns:
        the corrected points ``[K, D]`` (``[D]`` for a float ``t``).
    """
    spec = permutation_spec(landscape)
    a = landscape.check_theta(theta_a, "theta_a")
    b = landscape.check_theta(theta_b, "theta_b")
    scalar = not isinstance(t, torch.Tensor) or t.dim() == 0
    ts = torch.as_tensor(t, dtype=a.dtype, device=a.device).reshape(-1)
    ends = layer_stats(landscape, torch.stack([a, b]), x)
    out = []
    for ti in ts:
        theta = ((1 - ti) * a + ti * b).clone()
        params = landscape.view.unflatten(theta)  # views: edited in place
        for k, group in enumerate(spec.groups):
            bias = f"{group.name}.bias"
            if bias not in params:
                raise ValueError(f"REPAIR needs a bias in layer {group.name!r}")
            cur = layer_stats(landscape, theta, x)
            target_mean = (1 - ti) * ends.mean[k][0] + ti * ends.mean[k][1]
            target_std = (1 - ti) * ends.std[k][0] + ti * ends.std[k][1]
            scale = target_std / (cur.std[k][0] + eps)
            w = params[f"{group.name}.weight"]
            w.mul_(scale.reshape(-1, *([1] * (w.dim() - 1))))
            params[bias].copy_((params[bias] - cur.mean[k][0]) * scale + target_mean)
        out.append(theta)
    res = torch.stack(out)
    return res[0] if scalar else res


@dataclass(frozen=True)
class AlignmentComparison:
    """Two optima compared before and after alignment by weight matching (see :func:`compare_alignment`).

    The three loss curves are sampled at the same ``path_points`` evenly spaced positions ``t`` from
    ``theta_a`` (``t = 0``) to ``theta_b`` or its aligned twin (``t = 1``), on the landscape's device.

    Attributes:
        matching: what :func:`match` found (``matching.theta`` is ``theta_b`` aligned to ``theta_a``).
        line: the training loss on the straight line from ``theta_a`` to ``theta_b`` ``[path_points]``.
        aligned: the loss on the straight line from ``theta_a`` to the aligned ``theta_b``.
        repaired: the loss on that line after :func:`repair` (unit statistics restored).
        barrier_before, barrier_after, barrier_repaired: the barriers of the three curves
            (:func:`lsl.paths.tunnels.barrier`: highest loss above the higher endpoint).
        distance_before: ``||theta_a - theta_b||``.
        distance_after: ``||theta_a - pi(theta_b)||``.
        radius: the mean norm of the two optima, ``(||theta_a|| + ||theta_b||) / 2``.
        seconds: wall time of the alignment (:attr:`Matching.seconds`).
    """

    matching: Matching
    line: torch.Tensor
    aligned: torch.Tensor
    repaired: torch.Tensor
    barrier_before: float
    barrier_after: float
    barrier_repaired: float
    distance_before: float
    distance_after: float
    radius: float
    seconds: float


def compare_alignment(landscape: NetworkLandscape, theta_a: torch.Tensor, theta_b: torch.Tensor, *,
                      path_points: int = 21, x: torch.Tensor | None = None, **options) -> AlignmentComparison:
    """Compare two optima before and after aligning ``theta_b`` to ``theta_a``: lines, REPAIR, barriers, distances.

    The plain loop it replaces::

        m = match(L, a, b)
        line = L.loss(linear_path(a, b, n)); aligned = L.loss(linear_path(a, m.theta, n))
        repaired = L.loss(repair(L, a, m.theta, torch.linspace(0, 1, n), x=x))
        barrier(line), barrier(aligned), barrier(repaired), m.distance_identity, m.distance

    Args:
        landscape: the network's landscape (a stack of layers with biases, for :func:`repair`).
        theta_a, theta_b: two optima ``[D]`` (typically trained from different initialisations).
        path_points: points on each line, endpoints included (``>= 2``).
        x: inputs on which REPAIR measures the units' statistics (default: the training inputs).
        **options: passed to :func:`match` (``max_sweeps``, ...).

    Returns:
        an :class:`AlignmentComparison`.

    Raises:
        ValueError: for ``path_points < 2`` or a point of the wrong shape.
    """
    path_points = arguments.integer("path_points", path_points, low=2)
    a = landscape.check_theta(theta_a, "theta_a")
    b = landscape.check_theta(theta_b, "theta_b")
    m = match(landscape, a, b, **options)
    t = torch.linspace(0, 1, path_points)
    with torch.no_grad():
        line = landscape.loss(linear_path(a, b, path_points))
        aligned = landscape.loss(linear_path(a, m.theta, path_points))
        repaired = landscape.loss(repair(landscape, a, m.theta, t, x=x))
    return AlignmentComparison(m, line, aligned, repaired, barrier(line), barrier(aligned), barrier(repaired),
                               m.distance_identity, m.distance, 0.5 * (a.norm() + b.norm()).item(), m.seconds)
