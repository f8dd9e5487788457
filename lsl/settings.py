"""Optimiser settings: one object that says how a trainer optimises, shared by every trainer in :mod:`lsl`.

A :class:`TrainSettings` holds the number of steps, the learning rate and its schedule, the
optimiser, the minibatch size, the L2 strength and the seed. Every trainer takes one, and only
one, way to set them: the argument ``settings``::

    fast = TrainSettings(steps=500, lr=0.05, schedule="cosine")
    lsl.training.trainer.train(landscape, theta0, settings=fast)

**The rule.** A trainer's ``settings`` default to its own defaults (the constants below); a
caller who passes ``settings`` passes all of them, so to change one field of a trainer's
defaults, replace it: ``settings=TUNNEL_DEFAULTS.replace(steps=200)`` keeps the tunnel's cosine
schedule and learning rate. No trainer takes an optimiser setting as a keyword of its own:
``train(landscape, theta0, lr=0.1)`` raises a ``TypeError`` that says which ``settings=`` to pass
(:func:`trainer`). The settings are checked when they are built: a negative learning rate or an
unknown schedule raises a ``ValueError`` that says what to pass; a trainer that needs a field its
settings leave at ``None`` (most need ``steps`` and ``lr``) says so (:func:`check_settings`).

**Each trainer's defaults.** Most trainers start from ``TrainSettings()`` (Adam, a constant
learning rate, the full batch). Those whose algorithm is usually run otherwise have their own
defaults:

- :data:`TRAIN_DEFAULTS` (``TrainSettings()``): :func:`lsl.training.trainer.train`, :func:`lsl.training.trainer.minimize`,
  :func:`lsl.paths.tunnels.bezier_curve`.
- :data:`TUNNEL_DEFAULTS` (``steps=1000, lr=0.01, schedule="cosine"``): :func:`lsl.paths.tunnels.build_tunnel`
  and :func:`lsl.paths.tunnels.tunnel`.
- :data:`SUBSPACE_DEFAULTS` (``schedule="cosine"``): :func:`lsl.paths.orthogonal.optimize_orthogonal`,
  :func:`lsl.paths.connectors.m_connector`, :func:`lsl.paths.connectors.train_simplex` (and their
  list forms), :func:`lsl.subspaces.hyperplanes.train_in_hyperplanes` and what is built on it
  (:func:`~lsl.subspaces.hyperplanes.train_in_hyperplane`, :func:`~lsl.subspaces.hyperplanes.dimension_sweep`,
  :func:`~lsl.subspaces.hyperplanes.intrinsic_dimension`, :func:`lsl.subspaces.goldilocks.goldilocks_scan`).
- :data:`ROWS_DEFAULTS` (``steps=1000, optimizer="sgd"``): :func:`lsl.training.rows.train_rows`.
- :data:`FAMILY_DEFAULTS` (``steps=2000, lr=0.1, optimizer="sgd"``): :func:`lsl.training.families.train_family`
  and :func:`~lsl.training.families.train_families`.
- :data:`SNAPSHOT_DEFAULTS` (``optimizer="sgd", momentum=0.9, batch_size=128, schedule="cyclic"``):
  :func:`lsl.ensembles.swa.cyclic_snapshots` and what is built on it (:func:`lsl.ensembles.snapshots.snapshot_sweep`).
- :data:`ENSEMBLE_DEFAULTS` (``optimizer="sgd", momentum=0.9, batch_size=128, schedule="cosine"``):
  :func:`lsl.ensembles.averaging.deep_ensemble`.

**Which settings a trainer uses.** Every trainer uses every field, with these exceptions, each
said in the trainer's docstring: :func:`lsl.training.trainer.minimize` optimises a given objective, so
``batch_size``, ``l2`` and ``seed`` (which describe a landscape's objective) are left to
:func:`lsl.training.trainer.landscape_objective`; :func:`lsl.training.rows.train_rows` and
:func:`lsl.training.families.train_family` run SGD with a constant learning rate, so they need
``optimizer="sgd"`` and ``schedule="constant"``; :func:`lsl.ensembles.swa.cyclic_snapshots` needs
``schedule="cyclic"``, and :func:`lsl.ensembles.snapshots.snapshot_sweep` takes its learning rates
one per run (``max_lrs``), so its settings leave ``lr`` unset.

**Per-row values.** A trainer that trains several models at once, each with its own learning rate
or L2 strength, takes those vectors as arguments of its own: :func:`lsl.training.rows.train_rows`'s
``lrs``, ``l2s`` and ``seeds`` (one per row; each in place of the settings' field, which must then
be left at its default).

Settings that are not optimiser settings stay keyword arguments of the trainer that has them:
what is recorded (``snapshot_every``), when to stop (``target_loss``, ``check_every``), what to do
on divergence (``nonfinite``), the cache (``cache``), and the sizes of the experiment (``n_points``,
``n_samples``, ``cycles``, ...).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Callable

__all__ = ["TrainSettings", "trainer", "check_settings", "OPTIMIZERS", "SCHEDULES",
           "TRAIN_DEFAULTS", "TUNNEL_DEFAULTS", "SUBSPACE_DEFAULTS", "ROWS_DEFAULTS", "FAMILY_DEFAULTS",
           "SNAPSHOT_DEFAULTS", "ENSEMBLE_DEFAULTS"]

#: The optimisers a trainer can run, Adam and SGD (with heavy-ball ``momentum``).
OPTIMIZERS = ("adam", "sgd")
#: The learning-rate schedules (see :func:`lsl.training.trainer.lr_schedule`).
SCHEDULES = ("constant", "cosine", "cyclic")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class TrainSettings:
    """How a trainer optimises: steps, learning rate and schedule, optimiser, minibatches, L2, seed.

    Build one with the fields you want to change (``TrainSettings(steps=500, lr=0.05)``) and pass
    it as ``settings=`` to any trainer (the only way a trainer takes them); :meth:`replace` gives a copy with some fields changed. The
    object is frozen, so one instance can be shared by several runs. The defaults:

    ============  ============  =========================================================
    field         default       meaning of the default
    ============  ============  =========================================================
    steps         None          none: every trainer needs a number of steps
    lr            None          none: every trainer needs a learning rate
    optimizer     "adam"        Adam
    schedule      "constant"    the same learning rate at every step
    lr_min        0.0           cosine and cyclic schedules decay to zero
    cycle_steps   None          no cycle (only the cyclic schedule needs one)
    momentum      0.0           SGD without momentum
    batch_size    None          the full batch at every step
    l2            0.0           no L2 penalty
    seed          0             seed 0
    ============  ============  =========================================================

    A trainer whose usual settings differ has its own defaults (see :mod:`lsl.settings`).
    Every field is checked when the object is built; an invalid one raises a ``ValueError``
    that says what is wrong and what to pass (``batch_size`` is also checked against the
    number of training examples when training starts).

    Attributes:
        steps: the number of optimisation steps (for trainers that stop at a target loss, the
            cap on it); ``None`` until given.
        lr: the learning rate (the maximum one of a cosine or cyclic schedule); ``None`` until given.
        optimizer: ``"adam"`` or ``"sgd"`` (:data:`OPTIMIZERS`).
        schedule: ``"constant"``, ``"cosine"`` (from ``lr`` down to ``lr_min`` over ``steps``) or
            ``"cyclic"`` (that cosine within each cycle of ``cycle_steps`` steps, then a restart);
            see :func:`lsl.training.trainer.lr_schedule`.
        lr_min: the learning rate that cosine and cyclic schedules decay to, ``0 <= lr_min <= lr``.
        cycle_steps: the length of a cycle of the cyclic schedule (``None``: no cycle).
        momentum: heavy-ball momentum of SGD, in ``[0, 1)`` (Adam does not use it).
        batch_size: the minibatch size for landscapes with data (``None``: the full batch).
        l2: adds ``l2 / 2 * ||theta||^2`` to the loss (coupled L2 regularisation), ``>= 0``.
        seed: seeds the minibatch order (and, where a trainer draws them, its random planes,
            samples and dropout masks).
    """

    steps: int | None = None
    lr: float | None = None
    optimizer: str = "adam"
    schedule: str = "constant"
    lr_min: float = 0.0
    cycle_steps: int | None = None
    momentum: float = 0.0
    batch_size: int | None = None
    l2: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        # Only checked, never converted: the values reach cache keys as they were given.
        if self.steps is not None and not (_is_int(self.steps) and self.steps >= 0):
            raise ValueError(f"steps must be >= 0, an integer (the number of optimisation steps); got {self.steps!r}. "
                             "Pass e.g. steps=1000")
        if self.lr is not None and not (_is_number(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be > 0, a finite number (the learning rate); got {self.lr!r}. "
                             "Pass a positive step size, e.g. lr=0.01")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        if not (_is_number(self.lr_min) and self.lr_min >= 0):
            raise ValueError(f"lr_min must be >= 0 (where cosine and cyclic schedules end); got {self.lr_min!r}")
        if self.lr is not None and self.lr_min > self.lr:
            raise ValueError(f"lr_min must be <= lr: a schedule decays from lr down to lr_min; got lr={self.lr!r}, "
                             f"lr_min={self.lr_min!r}. Lower lr_min (0 by default)")
        if self.cycle_steps is not None and not (_is_int(self.cycle_steps) and self.cycle_steps >= 1):
            raise ValueError(f"cycle_steps must be an integer >= 1 (the length of a cycle of the cyclic schedule), "
                             f"or None; got {self.cycle_steps!r}")
        if not (_is_number(self.momentum) and 0.0 <= self.momentum < 1.0):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}: 0 is plain SGD, 0.9 is usual")
        if self.batch_size is not None and not _is_int(self.batch_size):
            raise TypeError(f"batch_size must be an int or None, got {self.batch_size!r}")
        if not (_is_number(self.l2) and self.l2 >= 0):
            raise ValueError(f"l2 must be >= 0 (the strength of the L2 penalty), got {self.l2!r}")
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")

    def replace(self, **changes) -> TrainSettings:
        """A copy with the given fields changed (``settings.replace(lr=0.1)``); the copy is checked too.

        Raises:
            TypeError: for a name that is not a field, listing the fields.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(f"TrainSettings has no field {', '.join(map(repr, unknown))}; its fields are "
                            f"{[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **changes)


#: Defaults of most trainers (:func:`lsl.training.trainer.train`, :func:`lsl.training.trainer.minimize`,
#: :func:`lsl.paths.tunnels.bezier_curve`): ``TrainSettings()``, Adam at a constant learning rate, the full batch.
TRAIN_DEFAULTS = TrainSettings()
#: Defaults of the tunnel builder (:func:`lsl.paths.tunnels.build_tunnel`), 1000 steps of Adam at 0.01 with a cosine decay.
TUNNEL_DEFAULTS = TrainSettings(steps=1000, lr=0.01, schedule="cosine")
#: Defaults of optimisation inside a subspace (:func:`lsl.paths.orthogonal.optimize_orthogonal`, m-connectors,
#: random hyperplanes), Adam with a cosine decay, which lets the iterate settle into non-smooth minima such
#: as the toy model's wedges.
SUBSPACE_DEFAULTS = TrainSettings(schedule="cosine")
#: Defaults of :func:`lsl.training.rows.train_rows`, plain SGD with a constant learning rate, at most 1000 steps.
ROWS_DEFAULTS = TrainSettings(steps=1000, optimizer="sgd")
#: Defaults of :func:`lsl.training.families.train_family`, SGD at 0.1, at most 2000 steps per member.
FAMILY_DEFAULTS = TrainSettings(steps=2000, lr=0.1, optimizer="sgd")
#: Defaults of :func:`lsl.ensembles.swa.cyclic_snapshots`, SGD with momentum 0.9, minibatches of 128, the cyclic schedule.
SNAPSHOT_DEFAULTS = TrainSettings(optimizer="sgd", momentum=0.9, batch_size=128, schedule="cyclic")
#: Defaults of :func:`lsl.ensembles.averaging.deep_ensemble`, SGD with momentum 0.9, minibatches of 128, cosine decay.
ENSEMBLE_DEFAULTS = TrainSettings(optimizer="sgd", momentum=0.9, batch_size=128, schedule="cosine")

#: How error messages name each trainer's defaults.
_DEFAULT_NAMES = {id(TRAIN_DEFAULTS): "TRAIN_DEFAULTS", id(TUNNEL_DEFAULTS): "TUNNEL_DEFAULTS", id(SUBSPACE_DEFAULTS): "SUBSPACE_DEFAULTS",
                  id(ROWS_DEFAULTS): "ROWS_DEFAULTS", id(FAMILY_DEFAULTS): "FAMILY_DEFAULTS",
                  id(SNAPSHOT_DEFAULTS): "SNAPSHOT_DEFAULTS", id(ENSEMBLE_DEFAULTS): "ENSEMBLE_DEFAULTS"}
#: Keywords that trainers once took beside ``settings`` (``max_steps`` was ``steps``): refused with a pointer to ``settings``.
_OLD_KEYWORDS = {"max_steps": "steps"}


def _defaults_name(defaults: TrainSettings) -> str:
    name = _DEFAULT_NAMES.get(id(defaults))
    return f"lsl.settings.{name}" if name else "lsl.settings.TRAIN_DEFAULTS"


def trainer(defaults: TrainSettings) -> Callable:
    """Mark a function as a trainer whose defaults are ``defaults``: it refuses optimiser keywords.

    A trainer takes its optimiser settings only as ``settings=``. Called with a keyword that
    names a field of :class:`TrainSettings` (or ``max_steps``, the old name of ``steps``), the
    decorated function raises a ``TypeError`` that says which ``settings=`` to pass instead,
    e.g. ``settings=lsl.settings.TUNNEL_DEFAULTS.replace(lr=...)``. The signature, name and
    docstring are the function's own.

    Args:
        defaults: the trainer's default settings (the default of its ``settings`` argument).
    """
    fields = {f.name for f in dataclasses.fields(TrainSettings)}

    def decorate(fn: Callable) -> Callable:
        own = set(inspect.signature(fn).parameters)
        refused = (fields | set(_OLD_KEYWORDS)) - own

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bad = [k for k in kwargs if k in refused]
            if bad:
                names = [_OLD_KEYWORDS.get(k, k) for k in bad]
                example = ", ".join(f"{name}=..." for name in names)
                raise TypeError(
                    f"{fn.__name__}() takes its optimiser settings only as settings=TrainSettings(...), not as "
                    f"{', '.join(k + '=' for k in bad)}: pass settings={_defaults_name(defaults)}.replace({example}) "
                    f"(its defaults), or settings=your_settings.replace({example})")
            return fn(*args, **kwargs)

        wrapper.defaults = defaults
        return wrapper

    return decorate


def check_settings(settings: TrainSettings, *, who: str, needs: tuple[str, ...] = ("steps", "lr")) -> TrainSettings:
    """Check a trainer's ``settings``: a :class:`TrainSettings` whose needed fields are given.

    Every trainer in :mod:`lsl` starts with this call; a new trainer should too (and be decorated
    with :func:`trainer`).

    Args:
        settings: the caller's settings.
        who: the trainer's name, for error messages.
        needs: fields that must not be ``None`` (most trainers need ``steps`` and ``lr``).

    Returns:
        ``settings``.

    Raises:
        TypeError: if ``settings`` is not a :class:`TrainSettings`.
        ValueError: if a needed field is ``None``.
    """
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"{who}: settings must be a lsl.settings.TrainSettings, e.g. settings=TrainSettings(steps=..., "
                        f"lr=...), got {type(settings).__name__}")
    missing = [name for name in needs if getattr(settings, name) is None]
    if missing:
        example = ", ".join(f"{name}=..." for name in missing)
        raise ValueError(f"{who} needs {' and '.join(missing)}: pass settings whose {' and '.join(missing)} "
                         f"are given, e.g. settings=TrainSettings({example})")
    return settings
