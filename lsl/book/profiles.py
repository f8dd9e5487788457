"""Profiles: one book, several scales, and a smoke scale for the tests.

``quick`` (the default, on a GPU too) runs every chapter on a CPU with offline
data in well under two minutes; ``paper`` (only when asked for with
``LSL_PROFILE=paper``) uses a GPU and the papers' datasets and sizes; ``smoke``
is ``paper`` shrunk by a rule (:func:`derive_smoke`, :mod:`lsl.book.smoke`), so that the paper
profile's code paths run in the tests on a CPU in seconds, on small files in
the paper datasets' formats. Between ``quick`` and ``paper``, the rungs of the scale ladder (:data:`RUNGS`:
``medium`` and ``large``, offline data on a CPU) enlarge the chapters whose claims move with scale; they run
outside the book build, by ``make records`` (:mod:`lsl.book.ladder`), which writes their verdict records. A chapter reads all its sizes (they are listed in
:mod:`lsl.book.sizes`) from the active profile, chosen by the environment variable ``LSL_PROFILE``::

    import lsl
    P = lsl.book.profiles.current()          # reads LSL_PROFILE, default "quick"
    cfg = P.chapter("toy_model")        # the toy chapter's sizes
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

from . import sizes, smoke

__all__ = ["Profile", "PROFILES", "RUNGS", "LADDER", "current", "get", "device", "profile_name", "derive_smoke"]


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
        name: ``"quick"``, ``"paper"``, ``"smoke"`` or a rung of the scale ladder (``"medium"``, ``"large"``).
        description: one line on what the profile is for.
        chapters: per-chapter settings (see :meth:`chapter`), keyed by the chapters' file names.
    """

    name: str
    description: str
    chapters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def chapter(self, name: str) -> ChapterConfig:
        """The settings of chapter ``name`` in this profile."""
        if name not in self.chapters:
            raise KeyError(f"profile {self.name!r} has no settings for chapter {name!r}; known: {sorted(self.chapters)}")
        return ChapterConfig(name, self.chapters[name])

    @property
    def checks_claims(self) -> bool:
        """Whether claims that hold only at a chapter's real scale are checked (not at the ``smoke`` scale)."""
        return self.name != "smoke"

    def check_at_scale(self, condition: Any, claim: str) -> None:
        """Assert a claim that only holds at a chapter's real scale; at the ``smoke`` scale, say that it is skipped.

        In ``quick`` and ``paper`` this is ``assert condition, claim``. In ``smoke`` (tiny networks
        trained for a few steps on small synthetic files) the claim is not expected to hold, so it is
        not checked; a line says which claim was skipped and why, so nothing is dropped silently. The
        profile is this object (the one :func:`lsl.book.setup` returned), never an environment variable
        read again.

        Args:
            condition: the claim's test (anything with a truth value, e.g. a bool or a one-element tensor).
            claim: what the claim says, in words (the message of the assertion).

        Returns ``None``, like ``assert``, so that a cell ending in it shows nothing.

        Raises:
            AssertionError: with ``claim`` as its message, if the claim was checked and does not hold.
        """
        if not self.checks_claims:
            print(f"[smoke] not checked: {claim!r} (a claim that holds only at the chapter's real scale; "
                  f"the smoke profile checks that the code runs, not the science)")
            return None
        if not bool(condition):
            raise AssertionError(claim)
        return None


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        "quick",
        "CPU, offline data (mnist1d, digits, Gaussian mixtures), every chapter in under two minutes",
        sizes.QUICK,
    ),
    "paper": Profile(
        "paper",
        "GPU, the papers' datasets and sizes (MNIST, Fashion MNIST, CIFAR-10/100, SimpleCNN)",
        sizes.PAPER,
    ),
}


def derive_smoke(paper: Profile) -> Profile:
    """The ``smoke`` profile: ``paper`` with every count shrunk by one rule (:func:`lsl.book.smoke.shrink_chapters`).

    Args:
        paper: the paper profile.

    Returns:
        the ``smoke`` :class:`Profile`, with the same chapters as ``paper``.
    """
    return Profile(
        "smoke",
        "the paper profile shrunk by a rule (steps / 100, intervals / 10, examples / 50, widths / 4, "
        "other counts / 10, grids to 3 values): its code paths on a CPU in seconds, for tests; claims are not checked at this scale",
        smoke.shrink_chapters(paper.chapters, sizes.SMOKE),
    )


PROFILES["smoke"] = derive_smoke(PROFILES["paper"])
PROFILES["medium"] = Profile(
    "medium",
    "a rung of the scale ladder: CPU, offline data, the scale-sensitive chapters at about 2 to 3 times quick's sizes "
    "(mnist1d at 10k training examples, MLPs of width 128); about 20-30 min for them on 2 cores",
    sizes.MEDIUM,
)
PROFILES["large"] = Profile(
    "large",
    "the largest rung of the scale ladder on a CPU: offline data, mnist1d at 20k training examples, MLPs up to "
    "D of about 2e5; about 2 h for the scale-sensitive chapters on 2 cores, run outside CI by make records",
    sizes.LARGE,
)

#: The rungs of the scale ladder above ``quick`` (CPU, offline data; run by :mod:`lsl.book.ladder`, never by the
#: book build, which reads their records).
RUNGS = ("medium", "large")
#: Every profile in the order of its scale: the scale ladder's rungs, then ``paper`` (a GPU run, recorded by the
#: same mechanism).
LADDER = ("smoke", "quick", *RUNGS, "paper")


def profile_name() -> str:
    """The active profile's name, from ``LSL_PROFILE`` (default ``"quick"``), stripped and lower-cased."""
    return os.environ.get("LSL_PROFILE", "quick").strip().lower() or "quick"


def get(name: str) -> Profile:
    """The profile called ``name``; raises ``ValueError`` naming the allowed ones otherwise."""
    key = str(name).strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: choose one of {sorted(PROFILES)} "
            f"(LSL_PROFILE=quick, the default, for CPU runs; LSL_PROFILE=paper for the papers' sizes on a GPU; "
            f"LSL_PROFILE=smoke for tests; medium and large, the scale ladder's rungs on a CPU, for make records)"
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
