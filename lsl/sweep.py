"""Hyperparameter sweeps at matched training loss, and the width of the optima's radial tunnels.

Fort & Jastrzebski (2019), Section 4.4 and Figure 5: train a *family* of networks
that differ in one hyperparameter -- learning rate, batch size, L2 strength,
dropout rate or width -- and measure, at each optimum, how far one can walk
along a random direction before the loss rises past a threshold (the width of
the radial tunnel), and that width as an angle, width / ``||theta||``.

**Protocol: optima at matched training loss.** Hyperparameters change how fast
training goes as well as where it ends, so comparing members after the same
number of steps mixes the two. :func:`train_family` therefore trains every
member until its *full-batch training loss* falls below ``target_loss``,
checked every ``check_every`` steps (and at step 0), and stops that member at
the first check below the target. The training loss here is the landscape's
own loss: the data loss on the whole training set in evaluation mode (dropout
off), without the L2 penalty, so members with different L2 or dropout are
matched on the same quantity. A member that has not reached the target after
``max_steps`` steps is stopped there and flagged (:attr:`Member.reached` is
``False``, :attr:`Member.capped` is ``True``); one whose loss becomes NaN or
infinite is stopped and flagged as diverged. With ``target_loss=None`` every
member is trained for ``max_steps`` steps (the "train to convergence"
protocol, with convergence meaning a fixed, generous budget).

**Which members are trained together.** The optimiser is plain SGD (optionally
with heavy-ball momentum, as ``torch.optim.SGD`` with ``dampening=0``),
implemented row-wise by :func:`train_rows`: a ``[B, D]`` tensor holds ``B``
models that share the landscape and the minibatch sequence, and row ``b`` has
its own learning rate ``lr[b]`` (its gradient step is scaled by it) and its own
L2 strength ``l2[b]`` (the penalty ``l2[b] / 2 * ||theta_b||^2`` is added to its
loss). Row ``b`` therefore follows the trajectory that
``lsl.train.train(..., optimizer="sgd", schedule="constant", lr=lr[b], l2=l2[b])``
would follow alone with the same seed (up to floating-point rounding; with
dropout the masks drawn for a stack differ from a lone run's, so equality is
in distribution only). Rows that reach the target are frozen and dropped from
the computation while the others go on.

- ``"lr"`` and ``"l2"`` families can be stacked: one :func:`train_rows` call for
  all members (``stack=True``; the default stacks on a GPU and loops on a CPU,
  where vmapping small networks is no faster than a loop).
- ``"batch_size"`` members share the landscape but not the minibatch sequence:
  they are trained one after the other (each with the family's ``lr``; the
  learning rate is *not* rescaled with the batch size).
- ``"dropout"`` and ``"width"`` change the module, hence the landscape (and for
  width the dimension ``D``): one landscape per member, built by calling
  ``build(dropout=value)`` or ``build(width=value)``, trained one after the
  other. Dropout adds no parameters, so all members of a dropout family start
  from the same ``theta0``.

**Cache.** With ``cache=True`` each member is stored with :mod:`lsl.cache` under
a key made of the landscape's :meth:`~lsl.landscape.Landscape.fingerprint`, a
digest of ``theta0``, every training setting, the device type and the torch
version (as :func:`lsl.train.train` does); a rerun loads the members instead of
training them, and only missing members are trained.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .landscape import Landscape, NetworkLandscape, tensor_digest
from .probe import RadialProfile, radial_profile
from .train import NONFINITE, NonFiniteLossError, landscape_objective, progress

__all__ = ["HPARAMS", "network", "train_rows", "RowsResult", "train_family", "Member", "Family",
           "tunnel_widths", "TunnelWidths"]

#: The hyperparameters a family can sweep.
HPARAMS = ("lr", "batch_size", "l2", "dropout", "width")
_STACKED = ("lr", "l2")
_ARCHITECTURE = ("dropout", "width")


# ---------------------------------------------------------------------------
# building the landscapes of a family


def network(dataset, arch: str = "mlp", *, seed: int = 0, device=None, dtype: torch.dtype | None = None,
            loss: str = "cross_entropy", chunk_size: int | None = None, **options) -> Callable[..., NetworkLandscape]:
    """A builder of network landscapes on a data set, for :func:`train_family`.

    ``build = network(ds, "mlp", width=64, depth=2, seed=0)``; then ``build()`` is the
    base network and ``build(width=32)`` or ``build(dropout=0.2)`` the same architecture
    with one option overridden. The initialisation is seeded by ``seed`` (see
    :func:`lsl.nets.make`), so two calls with the same options give the same ``theta0``.

    The convolutional networks (``"cnn"``, ``"cnn1d"``) have no ``width`` option of their
    own; for them ``width=w`` scales their ``channels`` so that the first layer has ``w``
    channels, keeping the ratios between layers (16-32-32 with ``width=32`` becomes
    32-64-64), so a ``"width"`` family works for every architecture.

    Args:
        dataset: a :class:`lsl.data.Dataset` (training and test splits).
        arch: architecture name for :func:`lsl.nets.make`.
        seed: seed of the initialisation.
        device: where to compute; by the device policy of :class:`~lsl.landscape.NetworkLandscape`,
            ``None`` (the default) means the data's device, and the (CPU-built) model is moved there.
        dtype: the precision to evaluate in (default: float32, the model's).
        loss: the landscape's loss (see :class:`~lsl.landscape.NetworkLandscape`).
        chunk_size: evaluate batches of parameter points in chunks of this many (see
            :class:`~lsl.landscape.NetworkLandscape`). It changes speed and memory, never values or
            cache keys: on a CPU, chunks of about 8 points evaluate radial profiles and loss planes
            about twice as fast as one large batch; on a GPU leave it ``None``.
        **options: architecture options (``width``, ``depth``, ``activation``, ``dropout``, ...).

    Returns:
        ``build(**overrides) -> NetworkLandscape``; each landscape computes on ``device`` (or the data's).
    """
    from . import nets

    def build(**overrides) -> NetworkLandscape:
        opts = {**options, **overrides}
        if arch.lower() in ("cnn", "cnn1d") and "width" in opts:
            opts["channels"] = _scaled_channels(arch, opts.get("channels"), opts.pop("width"))
        model = nets.make(arch, dataset.input_shape, dataset.n_classes, seed=seed, **opts)
        if dtype is not None:
            model = model.to(dtype)
        return NetworkLandscape(model, dataset.x_train, dataset.y_train, x_test=dataset.x_test,
                                y_test=dataset.y_test, loss=loss, device=device, dtype=dtype, chunk_size=chunk_size)

    return build


def _scaled_channels(arch: str, channels, width) -> tuple[int, ...]:
    """The channels of a CNN scaled so that its first layer has ``width`` channels."""
    import inspect

    from . import nets

    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    if channels is None:
        channels = inspect.signature(nets.ARCHITECTURES[arch.lower()]).parameters["channels"].default
    channels = tuple(int(c) for c in channels)
    return tuple(max(1, round(c * width / channels[0])) for c in channels)


# ---------------------------------------------------------------------------
# row-wise SGD with a target loss


@dataclass
class RowsResult:
    """What :func:`train_rows` returns (``B`` rows).

    Attributes:
        theta: final parameters ``[B, D]`` (``[D]`` if ``theta0`` was one point).
        steps: SGD steps each row took ``[B]``.
        reached: whether each row's full-batch loss fell below the target ``[B]``
            (all ``False`` when there was no target).
        diverged: whether each row's loss became NaN or infinite ``[B]``.
        check_steps: the steps at which the loss was checked ``[C]`` (0 first).
        check_losses: the full-batch training loss at each check ``[C, B]``; NaN once a row has stopped.
    """

    theta: torch.Tensor
    steps: torch.Tensor
    reached: torch.Tensor
    diverged: torch.Tensor
    check_steps: torch.Tensor
    check_losses: torch.Tensor


def _per_row(value, B: int, name: str, dtype, device) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
    if t.numel() == 1:
        t = t.expand(B)
    if t.numel() != B:
        raise ValueError(f"{name} must be one number or one per row ({B}); got {t.numel()} values")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {t.tolist()}")
    return t.to(dtype=dtype, device=device).clone()


def train_rows(
    landscape: Landscape,
    theta0: torch.Tensor,
    *,
    lr: float | Sequence[float] | torch.Tensor,
    l2: float | Sequence[float] | torch.Tensor = 0.0,
    batch_size: int | None = None,
    momentum: float = 0.0,
    target_loss: float | None = None,
    check_every: int = 50,
    max_steps: int = 1000,
    seed: int = 0,
    nonfinite: str = "raise",
) -> RowsResult:
    """SGD on ``B`` models at once, each with its own learning rate and L2 strength, until a target loss.

    Every step draws the next minibatch of :func:`lsl.train.landscape_objective` (the same
    for all rows), and updates row ``b`` by ``theta_b -= lr[b] * d_b`` where ``d_b`` is the
    gradient of ``loss_b + l2[b] / 2 * ||theta_b||^2`` (or, with ``momentum``, the
    heavy-ball buffer ``d_b <- momentum * d_b + gradient``, as ``torch.optim.SGD``).
    So row ``b`` follows the run of ``lsl.train.train(landscape, theta0[b], optimizer="sgd",
    schedule="constant", lr=lr[b], l2=l2[b], momentum=momentum, batch_size=batch_size,
    seed=seed)``.

    The full-batch training loss (:meth:`~lsl.landscape.Landscape.loss`: evaluation mode,
    no L2) of the rows still training is checked at step 0, every ``check_every`` steps
    and at ``max_steps``. A row whose loss is below ``target_loss`` at a check is stopped
    there (its parameters and step count are those of that check). Stopped rows are left out
    of later steps.

    A loss that becomes NaN or infinite (the minibatch loss of a step, or the full-batch loss
    at a check) stops training with a :class:`lsl.train.NonFiniteLossError` naming the first
    such step, the row and its learning rate; it is noticed at the next check, so the
    per-step work makes no host-device round trip. With ``nonfinite="record"`` the row is
    instead stopped at that check and marked diverged, and the other rows go on.

    Args:
        landscape: the landscape (a network with data, or a landscape without data).
        theta0: starting points ``[B, D]`` (or one point ``[D]``).
        lr: learning rate, one number or one per row.
        l2: L2 strength, one number or one per row.
        batch_size: minibatch size (``None``: the full batch).
        momentum: heavy-ball momentum (0: plain SGD).
        target_loss: stop a row once its full-batch loss is below this (``None``: train all
            rows for ``max_steps``).
        check_every: steps between checks of the full-batch loss.
        max_steps: the cap on the number of steps.
        seed: seeds the minibatch order and dropout masks (as in :func:`lsl.train.train`).
        nonfinite: ``"raise"`` (default) or ``"record"`` (mark diverged rows and go on), see above.

    Returns:
        a :class:`RowsResult`; ``theta`` on the landscape's device, the per-row records on the CPU.

    Raises:
        lsl.train.NonFiniteLossError: with ``nonfinite="raise"``, when a row's loss becomes non-finite.
    """
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    theta0 = landscape.check_theta(theta0, "theta0")
    single = theta0.dim() == 1
    x = theta0.reshape(-1, landscape.D).detach().clone()
    B = x.shape[0]
    if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
        raise ValueError(f"check_every must be an integer >= 1, got {check_every!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"max_steps must be an integer >= 0, got {max_steps!r}")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    lr_t = _per_row(lr, B, "lr", x.dtype, x.device)
    l2_t = _per_row(l2, B, "l2", x.dtype, x.device)
    if bool((lr_t <= 0).any()):
        raise ValueError(f"every learning rate must be > 0, got {lr_t.tolist()}")
    if bool((l2_t < 0).any()):
        raise ValueError(f"every L2 strength must be >= 0, got {l2_t.tolist()}")
    objective = landscape_objective(landscape, batch_size=batch_size, l2=0.0, seed=seed)
    active = torch.ones(B, dtype=torch.bool)
    steps = torch.full((B,), max_steps, dtype=torch.long)
    reached = torch.zeros(B, dtype=torch.bool)
    diverged = torch.zeros(B, dtype=torch.bool)
    buf = torch.zeros_like(x) if momentum else None
    # the first step at which each row's minibatch loss was not finite (-1: none yet), kept on the device
    first_bad = torch.full((B,), -1, dtype=torch.long, device=x.device)
    check_steps: list[int] = []
    check_losses: list[torch.Tensor] = []

    def check(step: int) -> None:
        idx = active.nonzero().squeeze(1)
        if idx.numel() == 0:
            return
        with torch.no_grad():
            cur = landscape.loss(x[idx.to(x.device)]).detach().cpu().reshape(-1)
        row = torch.full((B,), float("nan"), dtype=cur.dtype)
        row[idx] = cur
        check_steps.append(step)
        check_losses.append(row)
        bad = ~torch.isfinite(cur)
        if nonfinite == "raise" and x.device.type != "meta":
            _raise_if_diverged(first_bad.cpu(), idx, bad, step, lr_t.cpu())
        done = bad | (cur < target_loss) if target_loss is not None else bad
        stop = idx[done]
        steps[stop] = step
        reached[idx[done & ~bad]] = True
        diverged[idx[bad]] = True
        active[stop] = False

    with torch.random.fork_rng(devices=[x.device] if x.is_cuda else []):
        torch.manual_seed(seed)
        check(0)
        step = 0
        bar = progress(range(max_steps), desc="sweep")
        # The active rows change only at checks: their indices on the device, and whether any of them has
        # an L2 penalty, are worked out after each check, not at every step, so that a step makes no
        # host-device round trip (each would wait for the device's queued work).
        l2_host = l2_t.cpu()
        idx = None
        for step in bar:
            if idx is None:
                if not bool(active.any()):
                    break
                idx_host = active.nonzero().squeeze(1)
                idx = idx_host.to(x.device)
                lr_a = lr_t[idx].unsqueeze(1)
                l2a = l2_t[idx] if bool((l2_host[idx_host] != 0).any()) else None
            xa = x[idx].detach().requires_grad_(True)
            with torch.enable_grad():
                loss = objective(xa)
                if nonfinite == "raise":
                    new = (first_bad[idx] < 0) & ~torch.isfinite(loss.detach())
                    first_bad[idx] = torch.where(new, torch.full_like(first_bad[idx], step), first_bad[idx])
                if l2a is not None:
                    loss = loss + 0.5 * l2a * (xa * xa).sum(-1)
                (g,) = torch.autograd.grad(loss.sum(), xa)
            with torch.no_grad():
                if buf is not None:
                    d = momentum * buf[idx] + g
                    buf[idx] = d
                else:
                    d = g
                x[idx] = xa.detach() - lr_a * d
            if (step + 1) % check_every == 0 or step + 1 == max_steps:
                check(step + 1)
                idx = None
        if hasattr(bar, "close"):
            bar.close()
    theta = x[0] if single else x
    return RowsResult(theta, steps, reached, diverged, torch.tensor(check_steps, dtype=torch.long),
                      torch.stack(check_losses))


def _raise_if_diverged(first_bad: torch.Tensor, idx: torch.Tensor, bad_at_check: torch.Tensor, step: int,
                       lr: torch.Tensor) -> None:
    """Raise :class:`lsl.train.NonFiniteLossError` for the earliest non-finite loss of any row."""
    steps = first_bad.clone()
    checked = idx[bad_at_check]
    steps[checked] = torch.where(steps[checked] < 0, torch.full_like(steps[checked], step), steps[checked])
    if not bool((steps >= 0).any()):
        return
    big = torch.iinfo(torch.long).max
    row = int(torch.where(steps >= 0, steps, torch.full_like(steps, big)).argmin())
    s, rate = int(steps[row]), float(lr[row])
    raise NonFiniteLossError(
        f"sweep training diverged: the loss of row {row} of {steps.numel()} became non-finite at step {s} "
        f"(the loss after {s} updates), with learning rate {rate:g}. Lower that learning rate, or pass "
        f"nonfinite='record' to mark diverged rows and go on", step=s, lr=rate, row=row)


# ---------------------------------------------------------------------------
# families


@dataclass
class Member:
    """One trained member of a family.

    Attributes:
        hparam: the swept hyperparameter (one of :data:`HPARAMS`).
        value: its value for this member.
        theta: the final parameters ``[D]``.
        steps: SGD steps taken.
        train_loss: full-batch training loss at the end (evaluation mode, no L2 penalty).
        train_accuracy, test_accuracy: accuracies at the end (``None`` for landscapes without them).
        reached: whether the training loss fell below the target; ``None`` when the family had no target.
        diverged: whether the loss became NaN or infinite.
        check_steps: steps at which the loss was checked ``[C]``.
        check_losses: full-batch training loss at those checks ``[C]``.
        settings: the member's full training settings (lr, l2, batch size, momentum, and the
            architecture override for dropout and width families).
        from_cache: whether the member was loaded from the cache.
    """

    hparam: str
    value: float | int
    theta: torch.Tensor
    steps: int
    train_loss: float
    train_accuracy: float | None
    test_accuracy: float | None
    reached: bool | None
    diverged: bool
    check_steps: torch.Tensor
    check_losses: torch.Tensor
    settings: dict = field(default_factory=dict)
    from_cache: bool = False

    @property
    def capped(self) -> bool:
        """``True`` if a target was set and the member stopped at ``max_steps`` without reaching it."""
        return self.reached is False and not self.diverged


@dataclass
class Family:
    """A family of optima that differ in one hyperparameter (see :func:`train_family`).

    Attributes:
        hparam: the swept hyperparameter.
        values: its values, in the order given.
        members: one :class:`Member` per value.
        landscapes: the landscape of each member (the same object for lr, L2 and batch-size families).
        target_loss: the matched training loss, or ``None``.
        wall_time: seconds spent in :func:`train_family` (loading from the cache included).
    """

    hparam: str
    values: list
    members: list[Member]
    landscapes: list[Landscape]
    target_loss: float | None
    wall_time: float

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self):
        return iter(self.members)

    def __getitem__(self, i: int) -> Member:
        return self.members[i]

    @property
    def thetas(self) -> list[torch.Tensor]:
        """The members' final parameters (a list: widths give different ``D``)."""
        return [m.theta for m in self.members]

    @property
    def all_reached(self) -> bool:
        """Whether every member reached the target (``True`` when there was no target and none diverged)."""
        return all((m.reached is not False) and not m.diverged for m in self.members)

    def summary(self) -> str:
        """One line per member: value, steps, training loss, accuracies, flags."""
        lines = []
        for m in self.members:
            acc = "" if m.train_accuracy is None else f"  acc train {m.train_accuracy:.3f}"
            acc += "" if m.test_accuracy is None else f" test {m.test_accuracy:.3f}"
            flag = " (diverged)" if m.diverged else " (cap hit)" if m.capped else ""
            lines.append(f"{self.hparam}={m.value!r}: {m.steps} steps, loss {m.train_loss:.4f}{acc}{flag}")
        return "\n".join(lines)


def _settings_for(hparam: str, value, base: dict) -> dict:
    s = dict(base)
    if hparam in ("lr", "l2", "batch_size"):
        s[hparam] = value
    return s


def _member_key(landscape: Landscape, theta0: torch.Tensor, settings: dict) -> dict:
    return {"what": "lsl.sweep.member", "landscape": landscape.fingerprint(), "theta0": tensor_digest(theta0),
            "settings": settings, "device": landscape.device.type, "torch": torch.__version__}


def _pack(res: RowsResult, b: int) -> dict[str, torch.Tensor]:
    theta = res.theta if res.theta.dim() == 1 else res.theta[b]
    c = res.check_losses[:, b]
    keep = ~torch.isnan(c)
    if res.diverged[b]:
        keep = torch.ones_like(keep)
        keep[res.check_steps > res.steps[b]] = False
    return {"theta": theta.detach().clone(), "steps": res.steps[b].clone(), "reached": res.reached[b].clone(),
            "diverged": res.diverged[b].clone(), "check_steps": res.check_steps[keep].clone(),
            "check_losses": c[keep].clone()}


def _accuracy(landscape: Landscape, theta: torch.Tensor, split: str) -> float | None:
    if not hasattr(landscape, "accuracy"):
        return None
    try:
        return float(landscape.accuracy(theta, split))
    except ValueError:  # no test split
        return None


def _check_value(hparam: str, v):
    if hparam in ("batch_size", "width"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{hparam} values must be integers, got {v!r}")
        return int(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{hparam} values must be numbers, got {v!r}")
    return float(v)


def train_family(
    build: Landscape | Callable[..., Landscape],
    hparam: str,
    values: Sequence,
    *,
    lr: float = 0.1,
    batch_size: int | None = None,
    l2: float = 0.0,
    momentum: float = 0.0,
    target_loss: float | None = None,
    check_every: int = 50,
    max_steps: int = 2000,
    seed: int = 0,
    theta0: torch.Tensor | None = None,
    stack: bool | None = None,
    cache: bool = True,
    nonfinite: str = "raise",
) -> Family:
    """Train one optimum per value of a hyperparameter, at matched training loss.

    See the module docstring for the protocol (stop at the first check where the
    full-batch training loss is below ``target_loss``; a flag when ``max_steps`` is hit),
    for which members are trained together, and for the cache.

    Args:
        build: for ``"lr"``, ``"l2"`` and ``"batch_size"`` a :class:`~lsl.landscape.Landscape`
            or a builder called as ``build()``; for ``"dropout"`` and ``"width"`` a builder
            called as ``build(dropout=value)`` / ``build(width=value)``, e.g. :func:`network`.
        hparam: ``"lr"``, ``"batch_size"``, ``"l2"``, ``"dropout"`` or ``"width"``.
        values: the values of ``hparam``, one member each.
        lr, batch_size, l2, momentum: the settings shared by all members (the swept one is
            replaced by each member's value).
        target_loss: the matched full-batch training loss (``None``: train everyone for ``max_steps``).
        check_every: steps between checks of the training loss.
        max_steps: the cap on the number of steps per member.
        seed: seeds the minibatch order and dropout masks (the same for every member).
        theta0: the common starting point for lr, L2 and batch-size families (default: the
            landscape's ``theta0``); dropout and width families start at each built landscape's ``theta0``.
        stack: train lr and L2 families as one ``[B, D]`` batch (``False``: one at a time). The
            default, ``None``, stacks on a GPU and not on a CPU, where a vmapped batch of small
            networks is no faster than a loop (on a 2-core CPU, 4 stacked MLPs of 7k parameters
            took 7.5 ms a step against 4 x 1.5 ms one by one). Stacked and lone runs agree up to
            floating-point rounding, which SGD amplifies over thousands of steps: a member trained
            in a stack can stop a check earlier or later than the same member trained alone.
        cache: load members from / store them in :mod:`lsl.cache`.
        nonfinite: ``"raise"`` (default): a member whose loss becomes NaN or infinite stops the
            sweep with a :class:`lsl.train.NonFiniteLossError` naming the member, the step and the
            learning rate (also when such a member is loaded from the cache); ``"record"``: the
            member is flagged (:attr:`Member.diverged`) and the others go on.

    Returns:
        a :class:`Family`; its members' parameters on each landscape's device.
    """
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    if hparam not in HPARAMS:
        raise ValueError(f"unknown hyperparameter {hparam!r}; choose one of {HPARAMS}")
    values = [_check_value(hparam, v) for v in values]
    if not values:
        raise ValueError("values is empty: give at least one value of the hyperparameter")
    if target_loss is not None and not target_loss > 0:
        raise ValueError(f"target_loss must be > 0 or None, got {target_loss}")
    start = time.perf_counter()
    base = dict(lr=float(lr), l2=float(l2), batch_size=batch_size, momentum=float(momentum),
                target_loss=None if target_loss is None else float(target_loss), check_every=check_every,
                max_steps=max_steps, seed=seed)
    # one landscape per member
    if hparam in _ARCHITECTURE:
        if isinstance(build, Landscape) or not callable(build):
            raise TypeError(f"a {hparam} family changes the architecture: pass a builder, "
                            f"e.g. lsl.sweep.network(dataset, 'mlp', ...), called as build({hparam}=value)")
        if theta0 is not None:
            raise ValueError(f"a {hparam} family starts each member at its own landscape's theta0; leave theta0=None")
        lands = [build(**{hparam: v}) for v in values]
        starts = [land.theta0 for land in lands]
    else:
        land = build if isinstance(build, Landscape) else build()
        if theta0 is None:
            if not hasattr(land, "theta0"):
                raise ValueError(f"{type(land).__name__} has no theta0: pass theta0")
            theta0 = land.theta0
        theta0 = land.check_theta(theta0, "theta0")
        if theta0.dim() != 1:
            raise ValueError("theta0 must be one point [D]: every member starts there")
        lands = [land] * len(values)
        starts = [theta0] * len(values)
    settings = [_settings_for(hparam, v, base) for v in values]
    for s, v in zip(settings, values):
        if hparam in _ARCHITECTURE:
            s[hparam] = v
    # The architecture override is not part of the key: the fingerprint already describes the module, so
    # build(dropout=0.0) and build() (the same network) share one entry, e.g. the base member of every family.
    keys = ([_member_key(lands[i], starts[i], {k: v for k, v in settings[i].items() if k not in _ARCHITECTURE})
             for i in range(len(values))] if cache else None)

    from . import cache as _cache

    got: list[dict | None] = [None] * len(values)
    loaded = [False] * len(values)
    if cache and _cache.enabled():
        for i, key in enumerate(keys):
            try:
                got[i] = _cache.load(key)
                loaded[i] = True
            except _cache.CacheMiss:
                pass
    todo = [i for i in range(len(values)) if got[i] is None]

    def run(rows: list[int]) -> None:
        s = settings[rows[0]]
        res = train_rows(lands[rows[0]], torch.stack([starts[i] for i in rows]),
                         lr=[settings[i]["lr"] for i in rows], l2=[settings[i]["l2"] for i in rows],
                         batch_size=s["batch_size"], momentum=s["momentum"], target_loss=s["target_loss"],
                         check_every=check_every, max_steps=max_steps, seed=seed, nonfinite=nonfinite)
        for b, i in enumerate(rows):
            got[i] = _pack(res, b)
            if cache and _cache.enabled():
                _cache.save(keys[i], got[i])  # atomic: a temporary file, then os.replace

    if todo:
        if stack is None:
            stack = lands[0].device.type == "cuda"
        if hparam in _STACKED and stack:
            run(todo)
        else:
            for i in todo:
                run([i])

    if nonfinite == "raise":
        for i, v in enumerate(values):
            if bool(got[i]["diverged"]):
                s = int(got[i]["steps"])
                raise NonFiniteLossError(
                    f"the member {hparam}={v!r} (loaded from the cache) diverged: its loss was non-finite at the check "
                    f"at step {s}, with learning rate {settings[i]['lr']:g}. Lower the learning rate, or pass "
                    f"nonfinite='record' to keep diverged members", step=s, lr=settings[i]["lr"], row=i)
    members = []
    for i, v in enumerate(values):
        g, land = got[i], lands[i]
        theta = g["theta"].to(device=land.device, dtype=land.dtype)
        check_losses = g["check_losses"]
        members.append(Member(
            hparam=hparam, value=v, theta=theta, steps=int(g["steps"]),
            train_loss=float(check_losses[-1]) if check_losses.numel() else float(land.loss(theta)),
            train_accuracy=_accuracy(land, theta, "train"), test_accuracy=_accuracy(land, theta, "test"),
            reached=None if target_loss is None else bool(g["reached"]), diverged=bool(g["diverged"]),
            check_steps=g["check_steps"], check_losses=check_losses, settings=settings[i], from_cache=loaded[i],
        ))
    return Family(hparam, values, members, lands, base["target_loss"], time.perf_counter() - start)


# ---------------------------------------------------------------------------
# tunnel widths


@dataclass
class TunnelWidths:
    """Radial tunnel widths of ``M`` optima, each probed along ``K`` random directions.

    Attributes:
        widths: per optimum and direction, the distance at which the loss first exceeds the
            threshold ``[M, K]`` (:meth:`lsl.probe.RadialProfile.width`; ``inf`` if it never does
            within the probed radii).
        angular_widths: ``widths / ||theta||`` ``[M, K]`` (:meth:`lsl.probe.RadialProfile.angular_width`).
        thresholds: the loss threshold used for each optimum ``[M]``.
        base_losses: the loss at each optimum ``[M]``.
        theta_norms: ``||theta||`` of each optimum ``[M]``.
        max_radii: the largest probed radius for each optimum ``[M]``.
        profiles: the :class:`~lsl.probe.RadialProfile` of each optimum.
    """

    widths: torch.Tensor
    angular_widths: torch.Tensor
    thresholds: torch.Tensor
    base_losses: torch.Tensor
    theta_norms: torch.Tensor
    max_radii: torch.Tensor
    profiles: list[RadialProfile]

    @property
    def width(self) -> torch.Tensor:
        """Mean width over directions ``[M]`` (``inf`` if a direction never crossed the threshold)."""
        return self.widths.mean(1)

    @property
    def width_std(self) -> torch.Tensor:
        """Standard deviation of the width over directions ``[M]``."""
        return self.widths.std(1) if self.widths.shape[1] > 1 else torch.zeros(self.widths.shape[0])

    @property
    def angular_width(self) -> torch.Tensor:
        """Mean angular width over directions ``[M]``."""
        return self.angular_widths.mean(1)

    @property
    def angular_std(self) -> torch.Tensor:
        """Standard deviation of the angular width over directions ``[M]``."""
        a = self.angular_widths
        return a.std(1) if a.shape[1] > 1 else torch.zeros(a.shape[0])

    @property
    def spread(self) -> torch.Tensor:
        """Relative spread of the width over directions, std / mean ``[M]`` (the same for the angle)."""
        return self.width_std / self.width

    @property
    def escaped(self) -> torch.Tensor:
        """Number of directions per optimum that never crossed the threshold ``[M]``."""
        return torch.isinf(self.widths).sum(1)


def _threshold(base: float, threshold, rise, factor) -> float:
    if threshold is not None:
        return float(threshold)
    if rise is not None:
        return base + float(rise)
    return base * float(factor)


def tunnel_widths(
    landscape: Landscape | Sequence[Landscape],
    thetas: torch.Tensor | Sequence[torch.Tensor],
    *,
    n_directions: int = 50,
    radii: torch.Tensor | None = None,
    max_radius: float | None = None,
    max_angle: float | None = None,
    n_radii: int = 40,
    grow: int = 4,
    threshold: float | None = None,
    rise: float | None = None,
    factor: float | None = None,
    seed: int = 0,
    directions: torch.Tensor | None = None,
) -> TunnelWidths:
    """Width and angular width of the radial tunnel at each of ``M`` optima.

    For each optimum, :func:`lsl.probe.radial_profile` evaluates the loss along
    ``n_directions`` random unit directions (the same directions for every optimum of the
    same ``D``: ``seed`` fixes them) at a grid of radii, and
    :meth:`~lsl.probe.RadialProfile.width` / :meth:`~lsl.probe.RadialProfile.angular_width`
    turn each ray into the first radius at which the loss exceeds the threshold.

    The threshold is given in exactly one of three ways: an absolute loss
    ``threshold``; a ``rise`` above the optimum's own loss (threshold = ``L(theta) +
    rise``, the convention of :func:`lsl.curvature.count_short_directions`); or a
    ``factor`` times the optimum's loss. At matched training loss the three rank the
    members alike; ``rise`` and ``factor`` adapt to each optimum's exact loss.

    Args:
        landscape: one landscape for all optima, or one per optimum (e.g. ``Family.landscapes``).
        thetas: the optima, ``[M, D]`` or a list of ``[D]`` tensors (e.g. ``Family.thetas``).
        n_directions: random directions per optimum.
        radii: explicit radii ``[R]`` (increasing, starting at 0); then ``max_radius``, ``max_angle`` and
            ``grow`` are ignored.
        max_radius: the largest radius of the grid ``linspace(0, max_radius, n_radii)``.
        max_angle: instead of ``max_radius``, the largest radius as a multiple of each optimum's
            ``||theta||`` (default when neither is given: 1, i.e. angles up to about one radian).
        n_radii: number of radii of the grid.
        grow: if some direction never crosses the threshold within ``max_radius``, double
            ``max_radius`` and probe again, at most this many times (0: never).
        threshold, rise, factor: the threshold (exactly one of them).
        seed: seeds the directions.
        directions: explicit unit directions ``[K, D]`` instead of random ones (one ``D`` only).

    Returns:
        a :class:`TunnelWidths`.
    """
    if sum(v is not None for v in (threshold, rise, factor)) != 1:
        raise ValueError("give exactly one of threshold (absolute loss), rise (above the optimum's loss) "
                         "or factor (times the optimum's loss)")
    if rise is not None and not rise > 0:
        raise ValueError(f"rise must be > 0, got {rise}")
    if factor is not None and not factor > 1:
        raise ValueError(f"factor must be > 1, got {factor}")
    if isinstance(thetas, torch.Tensor):
        thetas = [thetas] if thetas.dim() == 1 else list(thetas)
    thetas = list(thetas)
    if isinstance(landscape, Landscape):
        lands = [landscape] * len(thetas)
    else:
        lands = list(landscape)
        if len(lands) != len(thetas):
            raise ValueError(f"got {len(lands)} landscapes for {len(thetas)} optima")
    if not thetas:
        raise ValueError("no optima given")
    if radii is not None:
        radii = torch.as_tensor(radii, dtype=torch.float64)
        if radii.dim() != 1 or radii.numel() < 2 or bool((radii.diff() <= 0).any()) or float(radii[0]) < 0:
            raise ValueError("radii must be an increasing 1-D grid of at least 2 non-negative distances")
    elif n_radii < 2:
        raise ValueError(f"n_radii must be >= 2, got {n_radii}")
    if max_radius is not None and max_angle is not None:
        raise ValueError("give max_radius or max_angle, not both")
    for name, v in (("max_radius", max_radius), ("max_angle", max_angle)):
        if v is not None and not v > 0:
            raise ValueError(f"{name} must be > 0, got {v}")

    profiles, widths, angles, thrs, bases, norms, maxr = [], [], [], [], [], [], []
    for land, theta in zip(lands, thetas):
        theta = land.check_theta(theta)
        if theta.dim() != 1:
            raise ValueError("each optimum must be one point [D]")
        kw = dict(n_directions=n_directions, seed=seed, directions=directions)
        if radii is not None:
            prof = radial_profile(land, theta, radii, **kw)
            thr = _threshold(prof.base_loss, threshold, rise, factor)
        else:
            r_max = float(max_radius) if max_radius is not None else float(max_angle or 1.0) * float(theta.norm())
            if r_max <= 0:
                raise ValueError("theta is the origin: give max_radius")
            for attempt in range(grow + 1):
                grid = torch.linspace(0.0, r_max, n_radii, dtype=torch.float64)
                prof = radial_profile(land, theta, grid, **kw)
                thr = _threshold(prof.base_loss, threshold, rise, factor)
                if attempt == grow or not bool(torch.isinf(prof.width(thr)).any()):
                    break
                r_max *= 2
        profiles.append(prof)
        widths.append(prof.width(thr))
        angles.append(prof.angular_width(thr))
        thrs.append(thr)
        bases.append(prof.base_loss)
        norms.append(prof.theta_norm)
        maxr.append(float(prof.radii.max()))
    try:
        W, A = torch.stack(widths), torch.stack(angles)
    except RuntimeError as exc:
        raise ValueError("every optimum must be probed along the same number of directions") from exc
    f64 = torch.float64
    return TunnelWidths(W, A, torch.tensor(thrs, dtype=f64), torch.tensor(bases, dtype=f64),
                        torch.tensor(norms, dtype=f64), torch.tensor(maxr, dtype=f64), profiles)
