"""The robust cases: the other (data set, activation) pairs on which a chapter repeats its experiment.

Fort & Jastrzebski's Section 4.1 says their experiments were repeated on other architectures and data
sets; the chapters do the same on the cases their profile lists (``cfg.robust_cases``: pairs of a data
set's name and an activation, with ``cfg.robust_n_train`` and ``cfg.robust_n_test`` per data set).
:func:`robust_cases` loads each case's data once and returns a :class:`RobustCase` that builds the
chapter's network on it, the one way networks are built in the book (:func:`lsl.data.nets.network`)::

    for case in cases.robust_cases(cfg, cfg.arch, cfg.net, device=device):
        L = case.build()                      # seed 0
        starts = case.starts([0, 1])          # the initialisations of seeds 0 and 1, [2, D]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch

from lsl import arguments
from lsl.data import datasets, nets
from lsl.network import NetworkLandscape

__all__ = ["RobustCase", "robust_cases"]


@dataclass(frozen=True)
class RobustCase:
    """One robust case: a data set and the chapter's network on it with one activation (see :func:`robust_cases`).

    Attributes:
        data: the data set's name (:func:`lsl.data.datasets.load`).
        activation: the network's activation.
        dataset: the loaded data set.
        arch: the architecture (:func:`lsl.data.nets.make`).
        options: the architecture's options, the activation included.
        device: where the landscapes compute (``None``: the data's device).
        chunk_size: passed to :func:`lsl.data.nets.network`.
    """

    data: str
    activation: str
    dataset: Any = field(repr=False)
    arch: str
    options: Mapping[str, Any]
    device: Any = None
    chunk_size: int | None = None

    def build(self, seed: int = 0, **overrides) -> NetworkLandscape:
        """The network on the case's data, initialised with ``seed`` (``overrides`` change options, e.g. ``width=``)."""
        return self.builder(seed)(**overrides)

    def builder(self, seed: int = 0):
        """:func:`lsl.data.nets.network` for this case: ``build(**overrides) -> NetworkLandscape``."""
        seed = arguments.integer("seed", seed)
        return nets.network(self.dataset, self.arch, seed=seed, device=self.device, chunk_size=self.chunk_size,
                            **self.options)

    def starts(self, seeds: Sequence[int]) -> torch.Tensor:
        """The initial parameters of the network for each of ``seeds``, ``[len(seeds), D]``."""
        return torch.stack([self.build(s).theta0 for s in arguments.integers("seeds", seeds)])


def robust_cases(cfg, arch: str, options: Mapping[str, Any], *, device=None,
                 chunk_size: int | None = None) -> list[RobustCase]:
    """The robust cases of a chapter's profile, each with its data loaded.

    Args:
        cfg: the chapter's settings (:func:`lsl.book.setup`), with ``robust_cases`` (pairs of a data set's
            name and an activation), ``robust_n_train`` and ``robust_n_test`` (per data set's name).
        arch: the architecture of every case.
        options: the architecture's options; each case replaces ``activation`` with its own.
        device: where the data and the landscapes live (``None``: the CPU).
        chunk_size: passed to :func:`lsl.data.nets.network`.

    Returns:
        one :class:`RobustCase` per entry of ``cfg.robust_cases``, in order (a data set used by two cases
        is loaded once).

    Raises:
        ValueError: if a case names a data set without ``robust_n_train`` / ``robust_n_test`` entries.
    """
    loaded: dict[str, Any] = {}
    out = []
    for name, activation in cfg.robust_cases:
        missing = [k for k in ("robust_n_train", "robust_n_test") if name not in getattr(cfg, k)]
        if missing:
            raise ValueError(f"robust case {name!r}: no entry for it in {' and '.join(missing)}")
        if name not in loaded:
            loaded[name] = datasets.load(name, n_train=cfg.robust_n_train[name], n_test=cfg.robust_n_test[name],
                                         device=device)
        out.append(RobustCase(name, activation, loaded[name], arch, {**options, "activation": activation},
                              device, chunk_size))
    return out
