"""Ensembles of optima: cyclic-learning-rate snapshots, weight averaging and prediction averaging.

Fort & Jastrzebski (2019, Section 4.5 and Figure 6) explain when stochastic
weight averaging (SWA) works with their wedge model: snapshots taken at the
ends of the cycles of a cyclic learning rate stay on *one* wedge when the
maximum learning rate is low, so their average lies in the same low-loss
region; at a high maximum learning rate consecutive snapshots land on
*different* wedges, and their average falls between them, onto high loss.
Averaging the members' *predictions* instead (an ensemble) keeps working,
and gains from the members' diversity.

Everything works on flat parameter vectors (see :class:`lsl.landscape.NetworkLandscape`):
snapshots are ``[M, D]`` tensors, one row per member.

- :func:`cyclic_snapshots` trains with a cyclic cosine schedule and keeps the
  parameters at the end of each cycle (reporting divergence instead of raising);
- :func:`weight_average` is SWA's average; :func:`swa_landscape` and :func:`swa_model`
  recompute batch-norm statistics for it (as ``torch.optim.swa_utils.update_bn``);
- :func:`prediction_average` and :func:`ensemble_metrics` average softmax outputs;
  :func:`ensemble_growth` follows an ensemble as members are added;
- :func:`compare_averages` puts the best single member, the weight average and the
  prediction average side by side (the comparison of Figure 6);
- :func:`disagreement`, :func:`disagreement_matrix`, :func:`displacement_cosines` and
  :func:`pairwise_barriers` measure how different the members are (same wedge or not);
- :func:`deep_ensemble` trains independently initialised members, the reference ensemble.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from . import batching, connect
from .landscape import Landscape, NetworkLandscape
from .settings import ENSEMBLE_DEFAULTS, FROM_SETTINGS, SNAPSHOT_DEFAULTS, TrainSettings, resolve
from .train import train

__all__ = [
    "CyclicSnapshots", "cyclic_snapshots", "weight_average", "has_batchnorm", "swa_landscape", "swa_model",
    "prediction_average", "EnsembleMetrics", "ensemble_metrics", "EnsembleGrowth", "ensemble_growth",
    "AveragingComparison", "compare_averages",
    "disagreement", "disagreement_matrix", "displacement_cosines", "PathBarriers", "pairwise_barriers",
    "DeepEnsemble", "deep_ensemble",
]


def _members(thetas: torch.Tensor, landscape: Landscape | None = None, name: str = "thetas") -> torch.Tensor:
    """``thetas`` as a ``[M, D]`` batch of members (a single point ``[D]`` becomes ``M = 1``)."""
    if landscape is not None:
        thetas = landscape.check_theta(thetas, name)
    elif not isinstance(thetas, torch.Tensor) or thetas.dim() not in (1, 2):
        raise ValueError(f"{name} must be a tensor [D] or [M, D]")
    return thetas.unsqueeze(0) if thetas.dim() == 1 else thetas


def _batches_per_epoch(n_train: int | None, batch_size: int | None) -> int:
    """Minibatches in one pass over the data, as drawn by :func:`lsl.train.landscape_objective`."""
    if n_train is None or batch_size is None:
        return 1  # a full-batch step (or a landscape without data) is one pass
    return max(1, n_train // batch_size)


# ---------------------------------------------------------------------------
# snapshots of a cyclic learning rate


@dataclass(frozen=True)
class CyclicSnapshots:
    """The snapshots of a run with a cyclic learning rate (one per cycle, at the cycle's end).

    Its tensors are on the landscape's device, except ``lrs``, which is on the CPU.

    Attributes:
        snapshots: parameters at the end of each cycle, ``[cycles, D]`` (or ``[cycles, B, D]``
            when ``B`` models were trained at once).
        snapshot_steps: the step after which each snapshot was taken (``cycle_steps * (k + 1)``).
        losses: the minibatch training loss at every step, ``[steps]`` or ``[steps, B]``.
        lrs: the learning rate at every step ``[steps]``.
        diverged: ``True`` where training diverged (a non-finite loss at some step, or
            non-finite final parameters); a boolean scalar, or ``[B]``.
        diverged_at: the first step with a non-finite loss, ``-1`` where there was none
            (an integer scalar, or ``[B]``).
        lr: the maximum learning rate.
        cycle_steps: steps per cycle.
        epochs: passes over the training data in the whole run (``steps / (n_train // batch_size)``).
    """

    snapshots: torch.Tensor
    snapshot_steps: list[int]
    losses: torch.Tensor
    lrs: torch.Tensor
    diverged: torch.Tensor
    diverged_at: torch.Tensor
    lr: float
    cycle_steps: int
    epochs: float

    @property
    def cycles(self) -> int:
        """Number of cycles (= number of snapshots)."""
        return int(self.snapshots.shape[0])

    @property
    def steps(self) -> int:
        """Total training steps, ``cycles * cycle_steps`` (the cost of the whole snapshot ensemble)."""
        return self.cycles * self.cycle_steps

    @property
    def cycle_end_losses(self) -> torch.Tensor:
        """The minibatch loss at the last step of each cycle, ``[cycles]`` (or ``[cycles, B]``)."""
        return self.losses[[s - 1 for s in self.snapshot_steps]]

    @property
    def any_diverged(self) -> bool:
        """Whether any of the trained models diverged."""
        return bool(self.diverged.any())


def cyclic_snapshots(
    landscape: Landscape,
    theta0: torch.Tensor,
    *,
    cycles: int,
    settings: TrainSettings | None = None,
    cycle_steps: int = FROM_SETTINGS,
    lr: float = FROM_SETTINGS,
    lr_min: float = FROM_SETTINGS,
    optimizer: str = FROM_SETTINGS,
    momentum: float = FROM_SETTINGS,
    batch_size: int | None = FROM_SETTINGS,
    seed: int = FROM_SETTINGS,
    cache: bool = True,
) -> CyclicSnapshots:
    """Train with a cyclic cosine learning rate and keep the parameters at the end of every cycle.

    Within each cycle the learning rate decays from ``lr`` to ``lr_min`` along a cosine
    (:func:`lsl.train.lr_schedule` with ``"cyclic"``), then restarts; a snapshot is taken after
    the last step of each cycle, where the learning rate is lowest. These snapshots are the
    members of a snapshot ensemble and the points SWA averages.

    Divergence is recorded, not raised: if the loss becomes non-finite the run goes on (its
    parameters are then NaN) and :attr:`CyclicSnapshots.diverged` says so. A network with
    saturating activations (tanh) may instead blow up to a huge but finite loss; look at
    :attr:`CyclicSnapshots.cycle_end_losses` (or the snapshots' accuracy) to see that.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.SNAPSHOT_DEFAULTS`:
    SGD with momentum 0.9, minibatches of 128, the cyclic schedule): all of them. ``schedule`` must
    be ``"cyclic"`` and ``cycle_steps`` given; ``steps`` is ``cycles * cycle_steps`` (leave it
    ``None``, or set it to that).

    Args:
        landscape: the loss landscape (a network with data, or the toy model).
        theta0: the initial parameters ``[D]``, or ``[B, D]`` for ``B`` models trained at once,
            all with the same learning rate (loop to use several).
        cycles: number of cycles (= number of snapshots), at least 1.
        settings: the optimiser settings (``None``: :data:`~lsl.settings.SNAPSHOT_DEFAULTS`).
        cycle_steps: optimisation steps per cycle, at least 1 (replaces ``settings.cycle_steps``).
        lr: the maximum learning rate, at the start of each cycle (replaces ``settings.lr``).
        lr_min, optimizer, momentum, seed: each replaces the field of ``settings`` when given
            (``lr_min`` is the learning rate at the end of each cycle).
        batch_size: minibatch size; ``None`` for full-batch steps (needed for landscapes
            without data, such as the toy model).
        cache: store the run on disk (see :func:`lsl.train.train`).

    Returns:
        a :class:`CyclicSnapshots` with ``cycles`` snapshots.

    Raises:
        ValueError: if ``cycles`` or ``cycle_steps`` is not a positive integer, or the settings are
            invalid or not cyclic.
    """
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ValueError(f"cycles must be an integer >= 1, got {cycles!r}")
    s = resolve(settings, SNAPSHOT_DEFAULTS, who="cyclic_snapshots", needs=("lr", "cycle_steps"),
                cycle_steps=cycle_steps, lr=lr, lr_min=lr_min, optimizer=optimizer, momentum=momentum,
                batch_size=batch_size, seed=seed)
    if s.schedule != "cyclic":
        raise ValueError(f"cyclic_snapshots trains with the cyclic schedule; got schedule={s.schedule!r}. Pass "
                         "settings with schedule='cyclic' (e.g. lsl.settings.SNAPSHOT_DEFAULTS.replace(...))")
    cycle_steps = s.cycle_steps
    steps = cycles * cycle_steps
    if s.steps is not None and s.steps != steps:
        raise ValueError(f"cyclic_snapshots trains cycles * cycle_steps = {steps} steps, but the settings say "
                         f"steps={s.steps}; leave steps=None in the settings")
    res = train(landscape, theta0, settings=s.replace(steps=steps), snapshot_every=cycle_steps, cache=cache,
                nonfinite="record")
    finite = torch.isfinite(res.losses)  # [steps] or [steps, B]
    bad_theta = ~torch.isfinite(res.theta).all(-1)
    diverged = ~finite.all(0) | bad_theta
    first_bad = torch.where(finite.all(0), torch.full_like(finite[0], -1, dtype=torch.long),
                            (~finite).to(torch.long).argmax(0))
    return CyclicSnapshots(
        snapshots=res.snapshots, snapshot_steps=list(res.snapshot_steps), losses=res.losses, lrs=res.lrs,
        diverged=diverged, diverged_at=first_bad, lr=float(s.lr), cycle_steps=int(cycle_steps),
        epochs=steps / _batches_per_epoch(landscape.n_train, s.batch_size),
    )


# ---------------------------------------------------------------------------
# weight averaging (SWA)


def weight_average(thetas: torch.Tensor) -> torch.Tensor:
    """The SWA average of flat parameter vectors: the mean over the first dimension.

    Args:
        thetas: members ``[M, D]`` (or ``[M, B, D]``: ``M`` snapshots of ``B`` runs).

    Returns:
        the average ``[D]`` (or ``[B, D]``), equal to what
        ``torch.optim.swa_utils.AveragedModel`` accumulates from the same members.
    """
    if not isinstance(thetas, torch.Tensor) or thetas.dim() not in (2, 3) or thetas.shape[0] < 1:
        raise ValueError("thetas must be a tensor [M, D] or [M, B, D] with M >= 1")
    return thetas.mean(0)


def has_batchnorm(model: nn.Module | NetworkLandscape) -> bool:
    """Whether a module (or a network landscape's architecture) has batch-norm layers.

    Args:
        model: an ``nn.Module`` or a :class:`~lsl.landscape.NetworkLandscape`.
    """
    module = model.model if isinstance(model, NetworkLandscape) else model
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def swa_model(landscape: NetworkLandscape, theta: torch.Tensor, loader_x=None, *,
              batch_size: int | None = None) -> nn.Module:
    """An ``nn.Module`` with the (averaged) parameters ``theta`` and batch-norm statistics recomputed for them.

    An average of weights needs its own batch-norm statistics: the running means and variances
    stored during training belong to other weights. If the architecture has batch norm, they
    are recomputed with ``torch.optim.swa_utils.update_bn`` (reset, then one pass over
    ``loader_x`` in training mode with a cumulative average); otherwise the stored buffers are
    kept. The landscape itself is never modified.

    Args:
        landscape: a network landscape.
        theta: the parameters ``[D]``, e.g. :func:`weight_average` of snapshots.
        loader_x: the inputs to recompute statistics on: an iterable of input batches (a data
            loader whose items are tensors or ``(x, y)`` pairs) or one tensor; default: the
            landscape's training inputs.
        batch_size: split a tensor ``loader_x`` into batches of this size (default: one batch).

    Returns:
        the module, in ``eval`` mode, on the landscape's device and dtype.
    """
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError("swa_model takes one point theta [D]; average snapshots first with weight_average")
    model = landscape.module_at(theta)
    if has_batchnorm(model):
        if loader_x is None:
            loader_x = landscape.x
        if isinstance(loader_x, torch.Tensor):
            x = loader_x.to(landscape.device, dtype=landscape.x.dtype)
            loader_x = list(x.split(batch_size or x.shape[0]))
        torch.optim.swa_utils.update_bn(loader_x, model, device=landscape.device)
        model.eval()
    return model


def swa_landscape(landscape: NetworkLandscape, theta: torch.Tensor, loader_x=None, *,
                  batch_size: int | None = None) -> NetworkLandscape:
    """The landscape on which to evaluate the averaged parameters ``theta``.

    Without batch norm this is ``landscape`` itself (the same object). With batch norm it is a
    shallow copy that shares the data and architecture but holds the batch-norm statistics
    recomputed at ``theta`` by :func:`swa_model`, so ``swa_landscape(net, t).accuracy(t)`` is the
    accuracy of the SWA solution.

    Args:
        landscape: a network landscape.
        theta: the averaged parameters ``[D]``.
        loader_x: inputs to recompute the statistics on (see :func:`swa_model`).
        batch_size: batch size for a tensor ``loader_x`` (see :func:`swa_model`).
    """
    if not has_batchnorm(landscape):
        return landscape
    model = swa_model(landscape, theta, loader_x, batch_size=batch_size)
    out = copy.copy(landscape)
    out.buffers = {k: b.detach().clone() for k, b in model.named_buffers()}
    return out


# ---------------------------------------------------------------------------
# prediction averaging (ensembles)


def _log_probs(landscape: NetworkLandscape, thetas: torch.Tensor, split: str) -> torch.Tensor:
    """Log-softmax outputs of every member on a split, ``[M, N, C]``.

    The split is evaluated a slice of examples at a time (:func:`lsl.batching.examples_per_call`: this
    bounds the memory of ``M`` members' activations on a large test set), the members of each slice
    in calls sized by the evaluation policy.
    """
    x, _ = landscape.split(split)
    step = batching.examples_per_call(landscape.device, x.shape[0])
    with torch.no_grad():
        return torch.cat([torch.log_softmax(landscape.logits(thetas, xb), dim=-1) for xb in x.split(step)], dim=-2)


def prediction_average(landscape: NetworkLandscape, thetas: torch.Tensor, split: str = "test") -> torch.Tensor:
    """The ensemble's prediction: the average of the members' softmax probabilities.

    Args:
        landscape: a network landscape.
        thetas: the members ``[M, D]`` (a single ``[D]`` is an ensemble of one).
        split: ``"train"`` or ``"test"``.

    Returns:
        class probabilities ``[N, C]`` (each row sums to 1).
    """
    thetas = _members(thetas, landscape)
    return _log_probs(landscape, thetas, split).exp().mean(0)


@dataclass(frozen=True)
class EnsembleMetrics:
    """Accuracy and negative log-likelihood of a prediction-averaged ensemble and of its members.

    ``member_accuracy`` and ``member_nll`` are on the landscape's device.

    Attributes:
        accuracy: accuracy of the averaged prediction.
        nll: mean negative log-likelihood ``-log p(y)`` of the averaged probabilities.
        member_accuracy: accuracy of each member ``[M]``.
        member_nll: cross-entropy of each member ``[M]``.
    """

    accuracy: float
    nll: float
    member_accuracy: torch.Tensor
    member_nll: torch.Tensor

    @property
    def best_member(self) -> int:
        """Index of the member with the highest accuracy (non-finite members never win)."""
        acc = torch.nan_to_num(self.member_accuracy, nan=-1.0)
        return int(acc.argmax())


def ensemble_metrics(landscape: NetworkLandscape, thetas: torch.Tensor, split: str = "test") -> EnsembleMetrics:
    """Accuracy and NLL of the prediction average of ``thetas``, and of each member alone.

    The ensemble's log-probability is computed stably as
    ``logsumexp_m log_softmax_m - log M``.

    Args:
        landscape: a network landscape.
        thetas: the members ``[M, D]``.
        split: ``"train"`` or ``"test"``.
    """
    thetas = _members(thetas, landscape)
    _, y = landscape.split(split)
    logp = _log_probs(landscape, thetas, split)  # [M, N, C]
    ens = torch.logsumexp(logp, dim=0) - math.log(logp.shape[0])
    member_logp_y = logp.gather(-1, y.view(1, -1, 1).expand(logp.shape[0], -1, 1)).squeeze(-1)  # [M, N]
    return EnsembleMetrics(
        accuracy=float((ens.argmax(-1) == y).to(landscape.dtype).mean()),
        nll=float(-ens.gather(-1, y.unsqueeze(-1)).mean()),
        member_accuracy=(logp.argmax(-1) == y).to(landscape.dtype).mean(-1),
        member_nll=-member_logp_y.mean(-1),
    )


@dataclass(frozen=True)
class EnsembleGrowth:
    """Accuracy and NLL of the prediction average of the first ``k`` members, for ``k = 1 .. M``.

    Its tensors are on the landscape's device.

    Attributes:
        accuracy: accuracy of the ensemble of the first ``k`` members ``[M]``.
        nll: its negative log-likelihood ``[M]``.
    """

    accuracy: torch.Tensor
    nll: torch.Tensor

    @property
    def members(self) -> torch.Tensor:
        """The ensemble sizes ``1 .. M``."""
        return torch.arange(1, len(self.accuracy) + 1)


def ensemble_growth(landscape: NetworkLandscape, thetas: torch.Tensor, split: str = "test") -> EnsembleGrowth:
    """How a prediction-averaged ensemble improves as members are added in order (e.g. snapshots in time).

    Entry ``k - 1`` equals ``ensemble_metrics(landscape, thetas[:k], split)``, but every member is
    evaluated once, not once per ensemble it belongs to.

    Args:
        landscape: a network landscape.
        thetas: the members ``[M, D]``, in the order in which they join.
        split: ``"train"`` or ``"test"``.
    """
    thetas = _members(thetas, landscape)
    _, y = landscape.split(split)
    logp = _log_probs(landscape, thetas, split)  # [M, N, C]
    k = torch.arange(1, logp.shape[0] + 1, device=logp.device, dtype=logp.dtype)
    ens = torch.logcumsumexp(logp, dim=0) - k.log().view(-1, 1, 1)  # [M, N, C]: log of the running mean
    accuracy = (ens.argmax(-1) == y).to(landscape.dtype).mean(-1)
    nll = -ens.gather(-1, y.view(1, -1, 1).expand(ens.shape[0], -1, 1)).squeeze(-1).mean(-1)
    return EnsembleGrowth(accuracy=accuracy, nll=nll)


@dataclass(frozen=True)
class AveragingComparison:
    """The best single member, the weight average (SWA) and the prediction average, on one split.

    Attributes:
        single_accuracy: accuracy of the best member (by accuracy).
        single_nll: NLL of that member.
        weight_accuracy: accuracy of the weight average.
        weight_nll: NLL of the weight average.
        prediction_accuracy: accuracy of the prediction average.
        prediction_nll: NLL of the prediction average.
        members: the metrics of every member and of the ensemble (:class:`EnsembleMetrics`).
    """

    single_accuracy: float
    single_nll: float
    weight_accuracy: float
    weight_nll: float
    prediction_accuracy: float
    prediction_nll: float
    members: EnsembleMetrics

    @property
    def prediction_minus_weight(self) -> float:
        """How much more accurate the prediction average is than the weight average."""
        return self.prediction_accuracy - self.weight_accuracy


def compare_averages(landscape: NetworkLandscape, thetas: torch.Tensor, split: str = "test",
                     loader_x=None) -> AveragingComparison:
    """Compare the best single member with the weight average and the prediction average (Figure 6).

    Args:
        landscape: a network landscape.
        thetas: the members ``[M, D]``, e.g. :attr:`CyclicSnapshots.snapshots`.
        split: where to measure, ``"train"`` or ``"test"``.
        loader_x: inputs for recomputing batch-norm statistics of the weight average
            (see :func:`swa_model`; ignored without batch norm).
    """
    thetas = _members(thetas, landscape)
    members = ensemble_metrics(landscape, thetas, split)
    best = members.best_member
    avg = weight_average(thetas)
    swa = swa_landscape(landscape, avg, loader_x)
    w = ensemble_metrics(swa, avg, split)
    return AveragingComparison(
        single_accuracy=float(members.member_accuracy[best]), single_nll=float(members.member_nll[best]),
        weight_accuracy=w.accuracy, weight_nll=w.nll,
        prediction_accuracy=members.accuracy, prediction_nll=members.nll, members=members,
    )


# ---------------------------------------------------------------------------
# diversity: same wedge or not?


def disagreement(landscape: NetworkLandscape, a: torch.Tensor, b: torch.Tensor, split: str = "test") -> float:
    """Fraction of examples on which two models predict different labels.

    Args:
        landscape: a network landscape.
        a: the first model ``[D]``.
        b: the second model ``[D]``.
        split: ``"train"`` or ``"test"``.
    """
    a, b = landscape.check_theta(a, "a"), landscape.check_theta(b, "b")
    if a.dim() != 1 or b.dim() != 1:
        raise ValueError("disagreement compares two single models [D]; use disagreement_matrix for many")
    pred = landscape.predict(torch.stack([a, b]), split)
    return float((pred[0] != pred[1]).to(torch.float64).mean())


def disagreement_matrix(landscape: NetworkLandscape, thetas: torch.Tensor, split: str = "test") -> torch.Tensor:
    """Pairwise disagreement ``[M, M]`` between members ``[M, D]`` (zero on the diagonal)."""
    thetas = _members(thetas, landscape)
    pred = landscape.predict(thetas, split)  # [M, N]
    return (pred.unsqueeze(1) != pred.unsqueeze(0)).to(torch.float64).mean(-1)


def displacement_cosines(thetas: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    """Cosines between the displacements ``theta_i - origin`` of members from a common origin.

    With the origin at the initialisation (or at the first snapshot), snapshots on one wedge
    move along shared long directions and have large cosines; snapshots on different wedges
    point in nearly orthogonal directions.

    Args:
        thetas: members ``[M, D]``.
        origin: the common origin ``[D]``.

    Returns:
        the cosine matrix ``[M, M]`` (ones on the diagonal; a zero displacement gives zeros).
    """
    thetas = _members(thetas)
    if origin.shape != thetas.shape[-1:]:
        raise ValueError(f"origin must have shape [D] = {tuple(thetas.shape[-1:])}, got {tuple(origin.shape)}")
    return connect.deviation_cosines(thetas - origin)


@dataclass(frozen=True)
class PathBarriers:
    """Losses along straight lines between pairs of members, and their barriers.

    ``losses`` is on the landscape's device; ``t`` and ``barriers`` are on the CPU.

    Attributes:
        pairs: the member indices ``(i, j)`` of each path.
        t: interpolation coefficients ``[K]`` (0 at member ``i``, 1 at member ``j``).
        losses: the training loss along each path ``[P, K]``.
        barriers: maximum loss along each path above the higher endpoint ``[P]``
            (:func:`lsl.connect.barrier`).
    """

    pairs: list[tuple[int, int]]
    t: torch.Tensor
    losses: torch.Tensor
    barriers: torch.Tensor


def pairwise_barriers(landscape: Landscape, thetas: torch.Tensor, *, n_points: int = 11,
                      pairs: str | list[tuple[int, int]] = "consecutive", **loss_options) -> PathBarriers:
    """Loss barriers on the straight lines between members: are they on the same wedge?

    Snapshots on one wedge (one convex-looking low-loss region) are joined by lines with no
    barrier; a barrier well above the endpoints' loss means the line leaves the low-loss set.
    All points of all paths are evaluated in one batched call.

    Args:
        landscape: the loss landscape (network or toy model).
        thetas: members ``[M, D]`` with ``M >= 2``.
        n_points: points per line, ends included (:func:`lsl.connect.linear_path`).
        pairs: ``"consecutive"`` (``(0, 1), (1, 2), ...``, the default), ``"all"`` (every
            ``i < j``), or an explicit list of index pairs.
        **loss_options: passed to ``landscape.loss`` (e.g. ``idx`` to measure a network's
            loss on a subset of the training set).
    """
    thetas = _members(thetas, landscape)
    M = thetas.shape[0]
    if M < 2:
        raise ValueError(f"need at least 2 members to form a path, got {M}")
    if pairs == "consecutive":
        pair_list = [(i, i + 1) for i in range(M - 1)]
    elif pairs == "all":
        pair_list = [(i, j) for i in range(M) for j in range(i + 1, M)]
    elif isinstance(pairs, str):
        raise ValueError(f"pairs must be 'consecutive', 'all' or a list of index pairs, got {pairs!r}")
    else:
        pair_list = [(int(i), int(j)) for i, j in pairs]
    if not pair_list:
        raise ValueError("no pairs to measure")
    for i, j in pair_list:
        if not (0 <= i < M and 0 <= j < M):
            raise ValueError(f"pair ({i}, {j}) is out of range for {M} members")
    lines = torch.stack([connect.linear_path(thetas[i], thetas[j], n_points) for i, j in pair_list])  # [P, K, D]
    with torch.no_grad():
        losses = landscape.loss(lines.reshape(-1, landscape.D), **loss_options).reshape(len(pair_list), n_points)
    # connect.barrier of every row, in one vectorised expression (no host round trip per path)
    barriers = (losses.max(1).values - losses[:, [0, -1]].max(1).values).cpu()
    t = torch.linspace(0, 1, n_points, dtype=thetas.dtype)
    return PathBarriers(pair_list, t, losses, barriers)


# ---------------------------------------------------------------------------
# deep ensembles: independent initialisations


@dataclass(frozen=True)
class DeepEnsemble:
    """Independently initialised and trained members sharing one architecture.

    Its tensors are on the landscape's device.

    Attributes:
        landscape: the network landscape (architecture and data) shared by the members.
        theta0: the members' initialisations ``[M, D]``.
        members: the trained members ``[M, D]``.
        seeds: the initialisation seed of each member.
        losses: the minibatch training loss at every step ``[steps, M]``.
        diverged: ``True`` for members whose training loss became non-finite ``[M]``.
        steps_per_member: optimisation steps of each member.
        epochs_per_member: passes over the training data of each member
            (``steps / (n_train // batch_size)``).
    """

    landscape: NetworkLandscape
    theta0: torch.Tensor
    members: torch.Tensor
    seeds: list[int]
    losses: torch.Tensor
    diverged: torch.Tensor
    steps_per_member: int
    epochs_per_member: float

    @property
    def total_steps(self) -> int:
        """Training steps of the whole ensemble, ``M * steps_per_member`` (its cost)."""
        return len(self.seeds) * self.steps_per_member

    @property
    def total_epochs(self) -> float:
        """Passes over the data of the whole ensemble, ``M * epochs_per_member``."""
        return len(self.seeds) * self.epochs_per_member


def deep_ensemble(
    dataset,
    arch: str,
    *,
    members: int,
    settings: TrainSettings | None = None,
    steps: int = FROM_SETTINGS,
    lr: float = FROM_SETTINGS,
    optimizer: str = FROM_SETTINGS,
    momentum: float = FROM_SETTINGS,
    schedule: str = FROM_SETTINGS,
    lr_min: float = FROM_SETTINGS,
    batch_size: int | None = FROM_SETTINGS,
    seed: int = FROM_SETTINGS,
    cache: bool = True,
    landscape_options: dict | None = None,
    **net_options,
) -> DeepEnsemble:
    """Train ``members`` copies of an architecture from independent initialisations (a deep ensemble).

    Member ``k`` is initialised by ``lsl.nets.make(arch, ..., seed=seed + k, **net_options)``.
    All members share one architecture, so their flat parameters are stacked ``[M, D]`` and
    trained together in one :func:`lsl.train.train` call; each follows exactly the trajectory it
    would follow alone. They see the same minibatches in the same order: their diversity comes
    from the initialisation.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.ENSEMBLE_DEFAULTS`:
    SGD with momentum 0.9, minibatches of 128, cosine decay): all of them (``steps`` per member);
    ``seed`` is the first member's initialisation seed and also seeds the minibatch order.

    Args:
        dataset: a :class:`lsl.data.Dataset` (training and test split).
        arch: architecture name for :func:`lsl.nets.make` (``"mlp"``, ``"cnn"``, ``"cnn1d"``).
        members: number of members ``M``, at least 1.
        settings: the optimiser settings (``None``: :data:`~lsl.settings.ENSEMBLE_DEFAULTS`); ``steps``
            and ``lr`` must be given, here or as keywords.
        steps, lr, optimizer, momentum, schedule, lr_min, batch_size, seed: each replaces the field of
            ``settings`` when given.
        cache: store the run on disk (see :func:`lsl.train.train`).
        landscape_options: keyword arguments for :class:`~lsl.landscape.NetworkLandscape`
            (``loss``, ``device``, ``dtype``, ``chunk_size``).
        **net_options: passed to :func:`lsl.nets.make` (``width``, ``depth``, ``channels``, ...).

    Returns:
        a :class:`DeepEnsemble`, with the ensemble's cost in steps and epochs.
    """
    from . import nets

    s = resolve(settings, ENSEMBLE_DEFAULTS, who="deep_ensemble", steps=steps, lr=lr, optimizer=optimizer,
                momentum=momentum, schedule=schedule, lr_min=lr_min, batch_size=batch_size, seed=seed)
    seed = s.seed
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise ValueError(f"members must be an integer >= 1, got {members!r}")
    seeds = [seed + k for k in range(members)]
    models = [nets.make(arch, dataset.input_shape, dataset.n_classes, seed=s, **net_options) for s in seeds]
    land = NetworkLandscape(models[0], dataset.x_train, dataset.y_train, x_test=dataset.x_test,
                            y_test=dataset.y_test, **(landscape_options or {}))
    theta0 = torch.stack([land.theta_of(m) for m in models])
    res = train(land, theta0, settings=s, cache=cache)
    diverged = ~torch.isfinite(res.losses).all(0) | ~torch.isfinite(res.theta).all(-1)
    return DeepEnsemble(
        landscape=land, theta0=theta0, members=res.theta, seeds=seeds, losses=res.losses, diverged=diverged,
        steps_per_member=int(s.steps), epochs_per_member=s.steps / _batches_per_epoch(land.n_train, s.batch_size),
    )
