"""Ensembles of optima: prediction averaging, its comparison with weight averaging, and deep ensembles.

Fort & Jastrzebski (2019, Section 4.5 and Figure 6) read ensembles through their wedge model:
averaging the members' *predictions* gains from their diversity, most when they lie on different
wedges, where averaging their *weights* (SWA, :mod:`lsl.ensembles.swa`) falls between the wedges, onto high loss.

Everything works on flat parameter vectors (see :class:`lsl.network.NetworkLandscape`):
members are ``[M, D]`` tensors, one row per member.

- :func:`prediction_average` and :func:`ensemble_metrics` average softmax outputs;
  :func:`ensemble_growth` follows an ensemble as members are added;
- :func:`compare_averages` puts the best single member, the weight average and the
  prediction average side by side (the comparison of Figure 6);
- :func:`disagreement`, :func:`disagreement_matrix`, :func:`displacement_cosines` and
  :func:`pairwise_barriers` measure how different the members are (same wedge or not);
- :func:`deep_ensemble` trains independently initialised members, the reference ensemble.

The snapshots of a cyclic learning rate and their weight average moved to :mod:`lsl.ensembles.swa`
(``cyclic_snapshots``, ``CyclicSnapshots``, ``weight_average``, ``has_batchnorm``, ``swa_model``,
``swa_landscape``); they can still be imported from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lsl import batching
from lsl.paths import tunnels
from lsl.landscape import Landscape, check_finite
from lsl.network import NetworkLandscape
from lsl.settings import check_settings, ENSEMBLE_DEFAULTS, trainer, TrainSettings
from lsl.ensembles.swa import _batches_per_epoch, swa_landscape, weight_average
# the names that moved to lsl.ensembles.swa, served from here as before the split (lsl.ensembles.swa does not import this
# module, so a plain import makes no circle); they are documented once, on lsl.ensembles.swa's page
from lsl.training.trainer import train

__all__ = [
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
        thetas: the members ``[M, D]``, e.g. :attr:`lsl.ensembles.swa.CyclicSnapshots.snapshots`.
        split: where to measure, ``"train"`` or ``"test"``.
        loader_x: leave ``None``: the weight average's batch-norm statistics are the training data's at the
            average, the one policy of :class:`~lsl.network.NetworkLandscape` (given for a network with batch
            norm it raises a ``ValueError``, see :func:`lsl.ensembles.swa.swa_landscape`; ignored without).
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
    check_finite(thetas, "thetas")
    check_finite(origin, "origin")
    return tunnels.deviation_cosines(thetas - origin)


@dataclass(frozen=True)
class PathBarriers:
    """Losses along straight lines between pairs of members, and their barriers.

    ``losses`` is on the landscape's device; ``t`` and ``barriers`` are on the CPU.

    Attributes:
        pairs: the member indices ``(i, j)`` of each path.
        t: interpolation coefficients ``[K]`` (0 at member ``i``, 1 at member ``j``).
        losses: the training loss along each path ``[P, K]``.
        barriers: maximum loss along each path above the higher endpoint ``[P]``
            (:func:`lsl.paths.tunnels.barrier`).
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
        n_points: points per line, ends included (:func:`lsl.paths.tunnels.linear_path`).
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
    lines = torch.stack([tunnels.linear_path(thetas[i], thetas[j], n_points) for i, j in pair_list])  # [P, K, D]
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


@trainer(ENSEMBLE_DEFAULTS)
def deep_ensemble(
    dataset,
    arch: str,
    *,
    members: int,
    settings: TrainSettings = ENSEMBLE_DEFAULTS,
    cache: bool = True,
    landscape_options: dict | None = None,
    **net_options,
) -> DeepEnsemble:
    """Train ``members`` copies of an architecture from independent initialisations (a deep ensemble).

    Member ``k`` is initialised by ``lsl.data.nets.make(arch, ..., seed=settings.seed + k, **net_options)``.
    All members share one architecture, so their flat parameters are stacked ``[M, D]`` and
    trained together in one :func:`lsl.training.trainer.train` call; each follows exactly the trajectory it
    would follow alone. They see the same minibatches in the same order: their diversity comes
    from the initialisation.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.ENSEMBLE_DEFAULTS`:
    SGD with momentum 0.9, minibatches of 128, cosine decay): all of them (``steps`` per member);
    ``seed`` is the first member's initialisation seed and also seeds the minibatch order.

    Args:
        dataset: a :class:`lsl.data.datasets.Dataset` (training and test split).
        arch: architecture name for :func:`lsl.data.nets.make` (``"mlp"``, ``"cnn"``, ``"cnn1d"``).
        members: number of members ``M``, at least 1.
        settings: the optimiser settings (default :data:`~lsl.settings.ENSEMBLE_DEFAULTS`); ``steps``
            and ``lr`` must be given.
        cache: store the run on disk (see :func:`lsl.training.trainer.train`).
        landscape_options: keyword arguments for :class:`~lsl.network.NetworkLandscape`
            (``loss``, ``device``, ``dtype``, ``chunk_size``).
        **net_options: passed to :func:`lsl.data.nets.make` (``width``, ``depth``, ``channels``, ...); an
            optimiser setting here is refused (it belongs in ``settings``).

    Returns:
        a :class:`DeepEnsemble`, with the ensemble's cost in steps and epochs.
    """
    from lsl.data import nets

    s = check_settings(settings, who="deep_ensemble")
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
