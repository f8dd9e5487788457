"""Profiles: one book, two scales.

``quick`` (the default) runs every chapter on a CPU with offline data in well
under two minutes; ``paper`` uses a GPU and the papers' datasets and sizes.
A chapter reads all its sizes from the active profile, chosen by the
environment variable ``LSL_PROFILE``::

    import lsl
    P = lsl.profiles.current()          # reads LSL_PROFILE, default "quick"
    cfg = P.chapter("toy")              # the toy chapter's sizes
    cfg.D, cfg.n_planes

The device is chosen by ``LSL_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ...),
else the GPU when one is present.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import torch

__all__ = ["Profile", "PROFILES", "current", "get", "device", "profile_name"]


class ChapterConfig(Mapping[str, Any]):
    """Read-only settings of one chapter: attribute access (``cfg.D``) and mapping access (``cfg["D"]``)."""

    def __init__(self, chapter: str, values: Mapping[str, Any]):
        self._chapter = chapter
        self._values = MappingProxyType(dict(values))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(
                f"chapter {self._chapter!r} has no setting {key!r}; known: {sorted(self._values)}"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"ChapterConfig[{self._chapter}]({items})"


@dataclass(frozen=True)
class Profile:
    """A named set of sizes for every chapter, plus defaults for device and data.

    Attributes:
        name: ``"quick"`` or ``"paper"``.
        description: one line on what the profile is for.
        chapters: per-chapter settings (see :meth:`chapter`).
        datasets: which data each experiment uses in this profile.
    """

    name: str
    description: str
    chapters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def chapter(self, name: str) -> ChapterConfig:
        """The settings of chapter ``name`` in this profile."""
        if name not in self.chapters:
            raise KeyError(f"profile {self.name!r} has no settings for chapter {name!r}; known: {sorted(self.chapters)}")
        return ChapterConfig(name, self.chapters[name])


_TOY_QUICK = dict(
    # random hyperplanes: two (D, n) pairs, d swept around d_lim = D - n
    pairs=((60, 40), (120, 60)),
    n_planes=8,
    plane_steps=2000,
    plane_lr=0.05,
    success_tol=1e-4,
    # tunnels and probes
    D_tunnel=200,
    n_tunnel=150,
    opt_steps=1500,
    tunnel_points=21,
    tunnel_steps=1500,
    tunnel_sizes=(11, 21, 41),
    probe_offset=0.02,
    D_probe=1000,
    n_probe=700,
    n_directions=200,
    n_radii=40,
)

_TOY_PAPER = dict(
    pairs=((200, 150), (500, 300), (1000, 800)),
    n_planes=32,
    plane_steps=5000,
    plane_lr=0.05,
    success_tol=1e-4,
    D_tunnel=1000,
    n_tunnel=700,
    opt_steps=4000,
    tunnel_points=41,
    tunnel_steps=4000,
    tunnel_sizes=(11, 21, 41, 81),
    probe_offset=0.02,
    D_probe=10_000,
    n_probe=7000,
    n_directions=1000,
    n_radii=60,
)

PROFILES: dict[str, Profile] = {
    "quick": Profile(
        "quick",
        "CPU, offline data (mnist1d, digits, Gaussian mixtures), every chapter in under two minutes",
        {"toy": _TOY_QUICK},
    ),
    "paper": Profile(
        "paper",
        "GPU, the papers' datasets and sizes (MNIST, Fashion MNIST, CIFAR-10/100, SimpleCNN)",
        {"toy": _TOY_PAPER},
    ),
}


def profile_name() -> str:
    """The active profile's name, from ``LSL_PROFILE`` (default ``"quick"``)."""
    return os.environ.get("LSL_PROFILE", "quick").strip().lower() or "quick"


def get(name: str) -> Profile:
    """The profile called ``name``; raises ``ValueError`` naming the allowed ones otherwise."""
    key = str(name).strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: choose one of {sorted(PROFILES)} "
            f"(set LSL_PROFILE=quick for CPU runs, LSL_PROFILE=paper for GPU runs)"
        )
    return PROFILES[key]


def current() -> Profile:
    """The active profile (``LSL_PROFILE``, default ``"quick"``)."""
    return get(profile_name())


def device() -> torch.device:
    """The device experiments run on: ``LSL_DEVICE`` if set, else CUDA when available, else CPU."""
    wanted = os.environ.get("LSL_DEVICE", "").strip()
    if wanted:
        dev = torch.device(wanted)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"LSL_DEVICE={wanted} but no CUDA device is available; unset it or use cpu")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
