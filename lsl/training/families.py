"""Families of optima that differ in one hyperparameter, trained to a matched training loss.

Fort & Jastrzebski (2019), Section 4.4 and Figure 5: train a *family* of networks
that differ in one hyperparameter -- learning rate, batch size, L2 strength,
dropout rate or width -- and compare the optima, e.g. by the width of their
radial tunnels (:func:`lsl.probes.radial.tunnel_widths`). :func:`lsl.data.nets.network` builds
the landscapes of a family from a data set and an architecture.

**Protocol: optima at matched training loss.** Hyperparameters change how fast
training goes as well as where it ends, so comparing members after the same
number of steps mixes the two. :func:`train_family` therefore trains every
member until its *full-batch training loss* falls below ``target_loss``,
checked every ``check_every`` steps (and at step 0), and stops that member at
the first check below the target. The training loss here is the landscape's
own loss: the data loss on the whole training set in evaluation mode (dropout
off), without the L2 penalty, so members with different L2 or dropout are
matched on the same quantity. A member that has not reached the target after
``settings.steps`` steps is stopped there and flagged (:attr:`Member.reached` is
``False``, :attr:`Member.capped` is ``True``); one whose loss becomes NaN or
infinite is stopped and flagged as diverged. With ``target_loss=None`` every
member is trained for ``settings.steps`` steps (the "train to convergence"
protocol, with convergence meaning a fixed, generous budget).

**Which members are trained together.** The optimiser is plain SGD (optionally
with heavy-ball momentum), implemented row-wise by :func:`lsl.training.rows.train_rows`:
a ``[B, D]`` tensor holds ``B`` models that share the landscape and the minibatch
sequence, each row with its own learning rate and L2 strength, and each row
follows the trajectory it would follow alone (see :mod:`lsl.training.rows`). Rows that
reach the target are frozen and dropped from the computation while the others go on.

- ``"lr"`` and ``"l2"`` families can be stacked: one :func:`~lsl.training.rows.train_rows` call for
  all members (``stack=True``; the default stacks on a GPU, and on a CPU for layer stacks,
  whose gradients are batched matrix products: see :func:`train_family`).
- ``"batch_size"`` members share the landscape but not the minibatch sequence:
  they are trained one after the other (each with the family's ``lr``; the
  learning rate is *not* rescaled with the batch size).
- ``"dropout"`` and ``"width"`` change the module, hence the landscape (and for
  width the dimension ``D``): one landscape per member, built by calling
  ``build(dropout=value)`` or ``build(width=value)``, trained one after the
  other. Dropout adds no parameters, so all members of a dropout family start
  from the same ``theta0``.

**Cache.** With ``cache=True`` each member is stored with :mod:`lsl.cache` under
a key made of the landscape's :meth:`~lsl.landscape.Landscape.fingerprint` (for a
network, the code of its module and loss and the values they hold), a digest of
``theta0``, every training setting, the device type and the versions of torch and ``lsl``
(as :func:`lsl.training.trainer.train` does); a rerun loads the members instead of
training them, and only missing members are trained. A loaded member is checked by
content (a digest, the shape and dtype of theta, finiteness unless it diverged); a
damaged one is retrained with a warning that names its file. A landscape whose
fingerprint cannot be trusted (a loss closing over an object that cannot be digested)
has its members trained and not cached, with a warning.

**Several seeds.** :func:`train_families` trains the same family from several seeds at once (the
members that share a landscape and a batch size as rows of one call, each row with its own minibatch
order), as :func:`train_family` would one seed at a time. The families of several seeds give one row per seed; :func:`member_table`
stacks a per-member quantity of those rows (a member's test accuracy, or the tunnel width of
:func:`lsl.probes.radial.tunnel_widths` at each member) into an array ``[seeds, values]``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from lsl.landscape import Landscape, check_finite, tensor_digest
from lsl.training.rows import RowsResult, train_rows
from lsl.settings import FAMILY_DEFAULTS, ROWS_DEFAULTS, TrainSettings, check_settings, trainer
from lsl.training.trainer import NONFINITE, START_HINT, NonFiniteLossError

__all__ = ["HPARAMS", "train_family", "train_families", "Member", "Family", "member_table"]

#: The hyperparameters a family can sweep.
HPARAMS = ("lr", "batch_size", "l2", "dropout", "width")
_STACKED = ("lr", "l2")
_ARCHITECTURE = ("dropout", "width")


@dataclass(frozen=True)
class Member:
    """One trained member of a family.

    ``theta`` is on the member's landscape's device; ``check_steps`` and ``check_losses`` are on the CPU.

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
        settings: the member's full training settings, as stored in its cache key (a dict: lr, l2,
            batch size, momentum, target loss, check interval, the cap ``max_steps`` (the settings' ``steps``), seed, and the
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
        """``True`` if a target was set and the member stopped at its cap (``settings.steps``) without reaching it."""
        return self.reached is False and not self.diverged


@dataclass(frozen=True)
class Family:
    """A family of optima that differ in one hyperparameter (see :func:`train_family`).

    Each member's parameters are on its landscape's device.

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


def _member_key(landscape: Landscape, theta0: torch.Tensor, settings: dict, *, fingerprint: dict | None = None) -> dict:
    fingerprint = landscape.fingerprint() if fingerprint is None else fingerprint
    return {"what": "lsl.training.families.member", "landscape": fingerprint, "theta0": tensor_digest(theta0),
            "settings": settings, "device": landscape.device.type, "torch": torch.__version__}


def _fingerprint_or_none(landscape: Landscape) -> dict | None:
    """The landscape's fingerprint (it groups the members trained together), or ``None`` if it has none."""
    from lsl.cache import UntrustedKey

    try:
        return landscape.fingerprint()
    except (UntrustedKey, NotImplementedError):
        return None


def _member_expect(landscape: Landscape) -> dict:
    """What a cached member of ``landscape`` must hold (:class:`lsl.cache.Expect`)."""
    from lsl.cache import Expect

    return {"theta": Expect((landscape.D,), landscape.dtype), "steps": Expect(()), "reached": Expect((), torch.bool),
            "diverged": Expect((), torch.bool), "check_steps": Expect((None,)), "check_losses": Expect((None,))}


def _member_problem(entry: dict[str, torch.Tensor]) -> str | None:
    """Why a cached member is not one that training can have produced, or ``None``."""
    if entry["check_steps"].shape != entry["check_losses"].shape:
        return "its check steps and check losses disagree in number"
    if not bool(entry["diverged"]) and not (bool(torch.isfinite(entry["theta"]).all())
                                            and bool(torch.isfinite(entry["check_losses"]).all())):
        return "theta or a check loss has non-finite entries, yet the member is not marked as diverged"
    return None


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


@trainer(FAMILY_DEFAULTS)
def train_family(
    build: Landscape | Callable[..., Landscape],
    hparam: str,
    values: Sequence,
    *,
    settings: TrainSettings = FAMILY_DEFAULTS,
    target_loss: float | None = None,
    check_every: int = 50,
    theta0: torch.Tensor | None = None,
    stack: bool | None = None,
    cache: bool = True,
    nonfinite: str = "raise",
) -> Family:
    """Train one optimum per value of a hyperparameter, at matched training loss.

    See the module docstring for the protocol (stop at the first check where the
    full-batch training loss is below ``target_loss``; a flag when ``settings.steps`` is hit),
    for which members are trained together, and for the cache.

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.FAMILY_DEFAULTS`:
    SGD at 0.1, at most 2000 steps per member): ``steps`` (the cap per member), ``lr``, ``momentum``, ``batch_size``, ``l2``, ``seed``, shared by all members
    (the swept one is replaced by each member's value). The optimiser is plain SGD with a constant
    learning rate (:func:`lsl.training.rows.train_rows`), so ``optimizer`` must be ``"sgd"`` and ``schedule``
    ``"constant"``.

    Args:
        build: for ``"lr"``, ``"l2"`` and ``"batch_size"`` a :class:`~lsl.landscape.Landscape`
            or a builder called as ``build()``; for ``"dropout"`` and ``"width"`` a builder
            called as ``build(dropout=value)`` / ``build(width=value)``, e.g. :func:`lsl.data.nets.network`.
        hparam: ``"lr"``, ``"batch_size"``, ``"l2"``, ``"dropout"`` or ``"width"``.
        values: the values of ``hparam``, one member each.
        settings: the optimiser settings shared by all members (default
            :data:`~lsl.settings.FAMILY_DEFAULTS`); ``settings.steps`` is the cap on the number of
            steps per member, ``settings.seed`` seeds the minibatch order and dropout masks (the
            same for every member).
        target_loss: the matched full-batch training loss (``None``: train everyone for ``settings.steps``).
        check_every: steps between checks of the training loss.
        theta0: the common starting point for lr, L2 and batch-size families (default: the
            landscape's ``theta0``); dropout and width families start at each built landscape's ``theta0``.
        stack: train the members that share a landscape and a batch size (an lr or L2 family) as one
            ``[B, D]`` batch (``False``: one at a time). The
            default, ``None``, stacks on a GPU, and on a CPU for a layer stack, whose gradients are
            written out as batched matrix products (:meth:`lsl.network.NetworkLandscape.loss_and_grad`;
            8 MLPs of 7k parameters train about 3 times faster stacked than one after the other,
            ``benchmarks/batched_training.py``); other networks (the CNNs) go through ``vmap``, which
            on a CPU is no faster than a loop for small networks. Stacked and lone runs agree up to
            floating-point rounding, which SGD amplifies over thousands of steps: a member trained
            in a stack can stop a check earlier or later than the same member trained alone.
        cache: load members from / store them in :mod:`lsl.cache`.
        nonfinite: ``"raise"`` (default): a member whose loss becomes NaN or infinite stops the
            sweep with a :class:`lsl.training.trainer.NonFiniteLossError` naming the member, the step and the
            learning rate (also when such a member is loaded from the cache); ``"record"``: the
            member is flagged (:attr:`Member.diverged`) and the others go on.

    Returns:
        a :class:`Family`; its members' parameters on each landscape's device.

    Raises:
        ValueError: for invalid settings, an optimiser or schedule other than SGD at a constant rate, or a
            ``theta0`` with NaN or infinite entries (named with their positions).
    """
    opt = check_settings(settings, who="train_family")
    return _train([build], [opt.seed], hparam, values, opt, target_loss=target_loss, check_every=check_every,
                  theta0=theta0, stack=stack, cache=cache, nonfinite=nonfinite, who="train_family")[0]


@trainer(FAMILY_DEFAULTS)
def train_families(
    builds: Sequence[Landscape | Callable[..., Landscape]],
    hparam: str,
    values: Sequence,
    *,
    seeds: Sequence[int],
    settings: TrainSettings = FAMILY_DEFAULTS,
    target_loss: float | None = None,
    check_every: int = 50,
    stack: bool | None = None,
    cache: bool = True,
    nonfinite: str = "raise",
) -> list[Family]:
    """The same family from several seeds, trained together: ``[train_family(builds[k], ..., settings=settings.replace(seed=seeds[k])) ...]``.

    Seed ``seeds[k]`` seeds the minibatch order of the ``k``-th family, and ``builds[k]`` builds its
    landscapes (usually the same network initialised from that seed, e.g. ``lsl.data.nets.network(data,
    "mlp", seed=seeds[k])``). Each member is the member :func:`train_family` would train (the same
    settings and cache entries), but members that share a landscape and a batch size are trained as
    rows of one :func:`lsl.training.rows.train_rows` call, each row with its own minibatch order (``stack``,
    as in :func:`train_family`): the seeds of a dropout, width or batch-size member, and every
    member of every seed of a learning-rate or L2 family. On a CPU a layer stack trains three rows in
    about half the time of three rows one after the other. The results agree with separate calls up
    to floating-point rounding (and, with dropout, in distribution: the masks of rows trained
    together are drawn from ``seeds[0]``).

    Settings (:class:`~lsl.settings.TrainSettings`, default :data:`~lsl.settings.FAMILY_DEFAULTS`): as
    :func:`train_family`, with one seed per family (``seeds``) in place of ``settings.seed``.

    Args:
        builds: one landscape or builder per seed (see ``build`` of :func:`train_family`); their
            landscapes of one member must compute the same function (the same
            :meth:`~lsl.landscape.Landscape.fingerprint`) to be trained together.
        hparam, values: as for :func:`train_family`.
        seeds: one seed per build (in place of ``settings.seed``, which must be left at 0).
        settings: the optimiser settings shared by all members, as for :func:`train_family`.
        target_loss, check_every: as for :func:`train_family`.
        stack, cache, nonfinite: as for :func:`train_family`.

    Returns:
        one :class:`Family` per seed, in the order of ``seeds``; each family's ``wall_time`` is the
        time of the whole call.
    """
    seeds = list(seeds)
    builds = list(builds)
    if not seeds or len(seeds) != len(builds):
        raise ValueError(f"give one build per seed: got {len(builds)} builds and {len(seeds)} seeds")
    if any(isinstance(sd, bool) or not isinstance(sd, int) for sd in seeds):
        raise ValueError(f"every seed must be an integer, got {seeds}")
    check_settings(settings, who="train_families")
    if settings.seed != 0:
        raise ValueError(f"train_families takes one seed per family as seeds=, not settings.seed={settings.seed}: "
                         "leave settings.seed at 0")
    opt = settings.replace(seed=seeds[0])
    return _train(builds, seeds, hparam, values, opt, target_loss=target_loss, check_every=check_every,
                  theta0=None, stack=stack, cache=cache, nonfinite=nonfinite, who="train_families")


def _train(builds, seeds, hparam, values, opt, *, target_loss, check_every, theta0, stack, cache, nonfinite,
           who) -> list[Family]:
    """The engine of :func:`train_family` and :func:`train_families`: one family per (build, seed)."""
    if opt.optimizer != "sgd" or opt.schedule != "constant":
        raise ValueError(f"{who} runs plain SGD with a constant learning rate; got optimizer={opt.optimizer!r}, "
                         f"schedule={opt.schedule!r}. Pass settings with optimizer='sgd' and schedule='constant' "
                         "(e.g. lsl.settings.FAMILY_DEFAULTS.replace(...))")
    lr, batch_size, l2, momentum, max_steps = opt.lr, opt.batch_size, opt.l2, opt.momentum, opt.steps
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
    S, V = len(seeds), len(values)
    bases = [dict(lr=float(lr), l2=float(l2), batch_size=batch_size, momentum=float(momentum),
                  target_loss=None if target_loss is None else float(target_loss), check_every=check_every,
                  max_steps=max_steps, seed=sd) for sd in seeds]  # max_steps: the cache key's name for steps
    lands, starts = [], []  # [seed][member]
    for build in builds:
        if hparam in _ARCHITECTURE:  # one landscape per member
            if isinstance(build, Landscape) or not callable(build):
                raise TypeError(f"a {hparam} family changes the architecture: pass a builder, "
                                f"e.g. lsl.data.nets.network(dataset, 'mlp', ...), called as build({hparam}=value)")
            if theta0 is not None:
                raise ValueError(f"a {hparam} family starts each member at its own landscape's theta0; leave theta0=None")
            lands.append([build(**{hparam: v}) for v in values])
            starts.append([land.theta0 for land in lands[-1]])
        else:
            land = build if isinstance(build, Landscape) else build()
            start0 = theta0
            if start0 is None:
                if not hasattr(land, "theta0"):
                    raise ValueError(f"{type(land).__name__} has no theta0: pass theta0")
                start0 = land.theta0
            start0 = check_finite(land.check_theta(start0, "theta0", finite=False), "theta0", hint=START_HINT)
            if start0.dim() != 1:
                raise ValueError("theta0 must be one point [D]: every member starts there")
            lands.append([land] * V)
            starts.append([start0] * V)
    member_settings = [[_settings_for(hparam, v, base) for v in values] for base in bases]
    for row in member_settings:
        for s, v in zip(row, values):
            if hparam in _ARCHITECTURE:
                s[hparam] = v
    slots = [(k, i) for k in range(S) for i in range(V)]
    from lsl import cache as disk

    use_cache = cache and disk.enabled()
    # one fingerprint per landscape object (it digests the data); None where the key cannot be trusted (a
    # loss or module that cannot be digested): those members are trained and not cached, with a warning
    by_object: dict[int, dict | None] = {}
    for k, i in slots:
        land = lands[k][i]
        if id(land) not in by_object:
            by_object[id(land)] = (disk.trusted_key(land.fingerprint, what=f"a member of the {hparam} family")
                                   if use_cache else _fingerprint_or_none(land))
    fingerprints = {(k, i): by_object[id(lands[k][i])] for k, i in slots}
    # The architecture override is not part of the key: the fingerprint already describes the module, so
    # build(dropout=0.0) and build() (the same network) share one entry, e.g. the base member of every family.
    keys = {(k, i): _member_key(lands[k][i], starts[k][i],
                                {a: b for a, b in member_settings[k][i].items() if a not in _ARCHITECTURE},
                                fingerprint=fingerprints[k, i]) if fingerprints[k, i] is not None else None
            for k, i in slots} if use_cache else {slot: None for slot in slots}

    got: dict[tuple[int, int], dict] = {}
    loaded: dict[tuple[int, int], bool] = {slot: False for slot in slots}
    if disk.enabled():
        for k, i in slots:
            if keys[k, i] is not None:
                entry = disk.lookup(keys[k, i], expect=_member_expect(lands[k][i]), check=_member_problem)
                if entry is not None:
                    got[k, i], loaded[k, i] = entry, True
    todo = [slot for slot in slots if slot not in got]

    def run(group: list[tuple[int, int]]) -> None:
        k0, i0 = group[0]
        s = member_settings[k0][i0]
        res = train_rows(lands[k0][i0], torch.stack([starts[k][i] for k, i in group]),
                         settings=ROWS_DEFAULTS.replace(steps=max_steps, batch_size=s["batch_size"],
                                                        momentum=s["momentum"]),
                         lrs=[member_settings[k][i]["lr"] for k, i in group],
                         l2s=[member_settings[k][i]["l2"] for k, i in group],
                         seeds=[member_settings[k][i]["seed"] for k, i in group],
                         target_loss=s["target_loss"], check_every=check_every, nonfinite=nonfinite)
        for b, slot in enumerate(group):
            got[slot] = _pack(res, b)
            if keys[slot] is not None and disk.enabled():
                disk.save(keys[slot], got[slot])  # atomic: a temporary file, then os.replace

    if todo:
        first = lands[todo[0][0]][todo[0][1]]
        if stack is None:
            stack = first.device.type == "cuda" or getattr(first, "backprop_by_hand", False)
        if stack:
            # rows of one call share the landscape (the same function: fingerprint, device) and the batch size
            groups: dict[str, list[tuple[int, int]]] = {}
            for k, i in todo:
                same = fingerprints[k, i] if fingerprints[k, i] is not None else id(lands[k][i])
                label = repr((same, lands[k][i].device, member_settings[k][i]["batch_size"]))
                groups.setdefault(label, []).append((k, i))
            for group in groups.values():
                run(group)
        else:
            for slot in todo:
                run([slot])

    if nonfinite == "raise":
        for k, i in slots:
            if bool(got[k, i]["diverged"]):
                s = int(got[k, i]["steps"])
                raise NonFiniteLossError(
                    f"the member {hparam}={values[i]!r} (loaded from the cache) diverged: its loss was non-finite at the "
                    f"check at step {s}, with learning rate {member_settings[k][i]['lr']:g}. Lower the learning rate, or "
                    f"pass nonfinite='record' to keep diverged members", step=s, lr=member_settings[k][i]["lr"], row=i)
    families = []
    for k in range(S):
        members = []
        for i, v in enumerate(values):
            g, land = got[k, i], lands[k][i]
            theta = g["theta"].to(device=land.device, dtype=land.dtype)
            check_losses = g["check_losses"]
            members.append(Member(
                hparam=hparam, value=v, theta=theta, steps=int(g["steps"]),
                train_loss=float(check_losses[-1]) if check_losses.numel() else float(land.loss(theta)),
                train_accuracy=_accuracy(land, theta, "train"), test_accuracy=_accuracy(land, theta, "test"),
                reached=None if target_loss is None else bool(g["reached"]), diverged=bool(g["diverged"]),
                check_steps=g["check_steps"], check_losses=check_losses, settings=member_settings[k][i],
                from_cache=loaded[k, i],
            ))
        families.append(Family(hparam, values, members, lands[k], bases[k]["target_loss"],
                               time.perf_counter() - start))
    return families


def member_table(rows: Sequence[Any], quantity: str | Callable[[Any], Any]) -> np.ndarray:
    """A per-member quantity of several families (one per seed, say) as an array ``[rows, members]``.

    Each row is a :class:`Family`, or a result with one entry per member of a family, such as the
    :class:`~lsl.probes.radial.TunnelWidths` of its members. For a family, ``quantity`` names an attribute of
    its members (``"test_accuracy"``, ``"train_loss"``, ``"steps"``, ...) or is a function of a
    member; for another row it names an attribute with one number per member (``"angular_width"``,
    ``"width"``, ``"theta_norms"`` of a :class:`~lsl.probes.radial.TunnelWidths`) or is a function of the row.

    Example: ``member_table([tws[s] for s in seeds], "angular_width")[i, j]`` is the angular width of
    member ``j`` (the ``j``-th value of the hyperparameter) trained from seed ``seeds[i]``.

    Args:
        rows: the families (or per-member results), one per row of the table, all with the same number
            of members.
        quantity: an attribute name, or a function, as above.

    Returns:
        A float64 NumPy array ``[len(rows), M]`` (tensors are copied to the CPU; a ``None``, such as the
        accuracy of a landscape without a test split, becomes ``nan``).

    Raises:
        ValueError: if there are no rows, a row does not give one number per member, or the rows have
            different numbers of members.
        AttributeError: if ``quantity`` names no attribute of a member or row.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("member_table needs at least one row (a family, or a result per member)")
    get = quantity if callable(quantity) else (lambda obj: getattr(obj, quantity))
    table = []
    for i, row in enumerate(rows):
        values = [get(m) for m in row.members] if isinstance(row, Family) else get(row)
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu()
        values = np.asarray(values, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"row {i} gives {quantity!r} of shape {values.shape}, not one number per member")
        if table and values.shape != table[0].shape:
            raise ValueError(f"the rows have different numbers of members: {table[0].shape[0]} in row 0, "
                             f"{values.shape[0]} in row {i}")
        table.append(values)
    return np.array(table)
