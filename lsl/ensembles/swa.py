"""Stochastic weight averaging (SWA): the snapshots of a cyclic learning rate and their weight average.

Fort & Jastrzebski (2019, Section 4.5 and Figure 6) explain when SWA works with their wedge model:
snapshots taken at the ends of the cycles of a cyclic learning rate stay on *one* wedge when the
maximum learning rate is low, so their average lies in the same low-loss region; at a high maximum
learning rate consecutive snapshots land on *different* wedges, and their average falls between
them, onto high loss. Averaging the snapshots' *predictions* instead is :mod:`lsl.ensembles.averaging`; the
sweep of the maximum learning rate that compares the two is :mod:`lsl.ensembles.snapshots`.

Everything works on flat parameter vectors (see :class:`lsl.network.NetworkLandscape`):
snapshots are ``[M, D]`` tensors, one row per snapshot.

- :func:`cyclic_snapshots` trains with a cyclic cosine schedule and keeps the
  parameters at the end of each cycle (reporting divergence instead of raising);
- :func:`weight_average` is SWA's average. Its batch-norm statistics follow the one policy of
  :class:`lsl.network.NetworkLandscape`: the loss at any point, an average included, uses the training
  data's statistics at that point, so the landscape itself evaluates the average (:func:`swa_landscape`
  returns it); :func:`swa_model` gives an ``nn.Module`` with those statistics (or, for use outside
  ``lsl``, statistics recomputed on other inputs as ``torch.optim.swa_utils.update_bn`` does);
  :func:`has_batchnorm` says whether a network has batch norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lsl.landscape import Landscape, check_finite
from lsl.network import NetworkLandscape
from lsl.settings import check_settings, SNAPSHOT_DEFAULTS, trainer, TrainSettings
from lsl.training.trainer import train

__all__ = ["CyclicSnapshots", "cyclic_snapshots", "weight_average", "has_batchnorm", "swa_model", "swa_landscape"]


def _batches_per_epoch(n_train: int | None, batch_size: int | None) -> int:
    """Minibatches in one pass over the data, as drawn by :func:`lsl.training.trainer.landscape_objective`."""
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


@trainer(SNAPSHOT_DEFAULTS)
def cyclic_snapshots(
    landscape: Landscape,
    theta0: torch.Tensor,
    *,
    cycles: int,
    settings: TrainSettings = SNAPSHOT_DEFAULTS,
    cache: bool = True,
) -> CyclicSnapshots:
    """Train with a cyclic cosine learning rate and keep the parameters at the end of every cycle.

    Within each cycle the learning rate decays from ``lr`` to ``lr_min`` along a cosine
    (:func:`lsl.training.trainer.lr_schedule` with ``"cyclic"``), then restarts; a snapshot is taken after
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
        settings: the optimiser settings (default :data:`~lsl.settings.SNAPSHOT_DEFAULTS`), which must
            give ``cycle_steps`` (optimisation steps per cycle, at least 1) and ``lr`` (the maximum
            learning rate, at the start of each cycle); ``lr_min`` is the learning rate at the end of
            each cycle; ``batch_size=None`` takes full-batch steps (needed for landscapes without
            data, such as the toy model).
        cache: store the run on disk (see :func:`lsl.training.trainer.train`).

    Returns:
        a :class:`CyclicSnapshots` with ``cycles`` snapshots.

    Raises:
        ValueError: if ``cycles`` or ``cycle_steps`` is not a positive integer, or the settings are
            invalid or not cyclic.
    """
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ValueError(f"cycles must be an integer >= 1, got {cycles!r}")
    s = check_settings(settings, who="cyclic_snapshots", needs=("lr", "cycle_steps"))
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
    check_finite(thetas, "thetas")
    return thetas.mean(0)


def has_batchnorm(model: nn.Module | NetworkLandscape) -> bool:
    """Whether a module (or a network landscape's architecture) has batch-norm layers.

    Args:
        model: an ``nn.Module`` or a :class:`~lsl.network.NetworkLandscape`.
    """
    module = model.model if isinstance(model, NetworkLandscape) else model
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def swa_model(landscape: NetworkLandscape, theta: torch.Tensor, loader_x=None, *,
              batch_size: int | None = None) -> nn.Module:
    """An ``nn.Module`` with the (averaged) parameters ``theta`` and batch-norm statistics for them.

    An average of weights needs its own batch-norm statistics: the running means and variances
    stored during training belong to other weights. By default the module carries the statistics of the
    landscape's policy (:class:`~lsl.network.NetworkLandscape`): the training data's mean and biased
    variance at ``theta`` (:meth:`~lsl.network.NetworkLandscape.module_at`), so its ``eval()`` outputs are the
    landscape's. Given ``loader_x``, the statistics are instead recomputed on those inputs with
    ``torch.optim.swa_utils.update_bn`` (reset, then one pass in training mode with a cumulative average
    of the batches' means and unbiased variances), torch's convention, for use outside ``lsl``. Without
    batch norm the module is ``module_at(theta)`` either way. The landscape itself is never modified.

    Args:
        landscape: a network landscape.
        theta: the parameters ``[D]``, e.g. :func:`weight_average` of snapshots.
        loader_x: ``None`` (the policy's statistics), or the inputs to recompute statistics on: an
            iterable of input batches (a data loader whose items are tensors or ``(x, y)`` pairs) or one tensor.
        batch_size: split a tensor ``loader_x`` into batches of this size (default: one batch).

    Returns:
        the module, in ``eval`` mode, on the landscape's device and dtype.
    """
    theta = landscape.check_theta(theta)
    if theta.dim() != 1:
        raise ValueError("swa_model takes one point theta [D]; average snapshots first with weight_average")
    model = landscape.module_at(theta)
    if has_batchnorm(model) and loader_x is not None:
        if isinstance(loader_x, torch.Tensor):
            x = loader_x.to(landscape.device, dtype=landscape.x.dtype)
            loader_x = list(x.split(batch_size or x.shape[0]))
        torch.optim.swa_utils.update_bn(loader_x, model, device=landscape.device)
        model.eval()
    return model


def swa_landscape(landscape: NetworkLandscape, theta: torch.Tensor, loader_x=None, *,
                  batch_size: int | None = None) -> NetworkLandscape:
    """The landscape on which to evaluate the averaged parameters ``theta``: ``landscape`` itself.

    Under the batch-norm policy of :class:`~lsl.network.NetworkLandscape` the loss at every point, the
    weight average included, uses the training data's batch-norm statistics at that point, so
    ``landscape.accuracy(t)`` is already the accuracy of the SWA solution (kept so that callers written
    for recomputed statistics still read naturally).

    Args:
        landscape: a network landscape.
        theta: the averaged parameters ``[D]``.
        loader_x: must be ``None`` for a network with batch norm (the landscape's statistics are its
            training data's; build a :class:`~lsl.network.NetworkLandscape` on other inputs to use theirs);
            ignored without batch norm.
        batch_size: unused (kept for the signature of :func:`swa_model`).

    Returns:
        ``landscape``.

    Raises:
        ValueError: if ``loader_x`` is given for a network with batch norm.
    """
    landscape.check_theta(theta)
    if loader_x is not None and has_batchnorm(landscape):
        raise ValueError("a landscape's batch-norm statistics are its training data's at each theta (the one policy "
                         "of NetworkLandscape); to evaluate with statistics of other inputs, build a NetworkLandscape "
                         "on them, or use swa_model(landscape, theta, loader_x) for a module outside lsl")
    return landscape
