"""Preparing a chapter to run: device, profile and figure style in one call.

Every chapter's first code cell is the same, apart from the chapter's name::

    import sys, subprocess
    if "google.colab" in sys.modules:  # a fresh Colab runtime: install this book's lsl from its repository
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "lsl @ git+https://github.com/lsl-book/lsl@main"], check=True)
    import lsl
    P, cfg, device = lsl.runtime.setup("toy")

The install line must run before ``lsl`` can be imported, so it stays in the
cell; everything else is :func:`setup`, which

- picks the **device**: ``LSL_DEVICE`` if set, else the GPU when there is one, else the CPU;
- picks the **profile**: ``LSL_PROFILE`` if set; otherwise ``paper`` when the device is a GPU
  and the machine can reach the internet (the paper's datasets have to be downloaded once),
  ``quick`` in every other case. The choice is written to ``LSL_PROFILE`` so that everything
  that reads the profile later agrees with it;
- on Google Colab in the ``paper`` profile, downloads the chapter's datasets if they are missing
  (:func:`lsl.data.download`; Colab ships torchvision);
- applies the book's figure style and prints one line saying what it chose.

The environment variables always win, so ``make book`` (which sets ``LSL_PROFILE=quick``)
and a reader who sets ``os.environ["LSL_PROFILE"] = "paper"`` before the cell get exactly
what they asked for.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, Iterator, Mapping, NamedTuple

import torch

from . import profiles

__all__ = ["Runtime", "setup", "choose_profile", "on_colab", "has_network", "paper_datasets"]

#: Hosts tried (in order) to decide whether the machine has network access.
NETWORK_PROBES: tuple[tuple[str, int], ...] = (("pypi.org", 443), ("github.com", 443))


class Runtime(NamedTuple):
    """What :func:`setup` chose; unpacks as ``P, cfg, device = setup(...)``.

    ``profile`` is the active :class:`~lsl.profiles.Profile`, ``cfg`` the chapter's settings in it
    (a :class:`~lsl.profiles.ChapterConfig`), ``device`` the ``torch.device`` the chapter computes on.
    """

    profile: profiles.Profile
    cfg: profiles.ChapterConfig
    device: torch.device


def on_colab() -> bool:
    """Whether this kernel runs on Google Colab (Colab imports ``google.colab`` at start-up)."""
    return "google.colab" in sys.modules


def has_network(timeout: float = 2.0, probes: tuple[tuple[str, int], ...] = NETWORK_PROBES) -> bool:
    """Whether a TCP connection to one of ``probes`` (host, port) succeeds within ``timeout`` seconds."""
    for host, port in probes:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def choose_profile(env: Mapping[str, str], *, gpu: bool, network) -> tuple[str, str]:
    """The profile to use and why, as ``(name, reason)``.

    Args:
        env: the environment (``os.environ``); a non-empty ``LSL_PROFILE`` wins.
        gpu: whether the chosen device is a GPU.
        network: whether the machine reaches the internet: a bool, or a callable returning
            one, which is only called when the answer matters (on a GPU, without ``LSL_PROFILE``).

    Returns:
        ``("paper", ...)`` on a GPU with network access, ``("quick", ...)`` otherwise, unless
        ``LSL_PROFILE`` names a profile (which is validated by :func:`lsl.profiles.get`).
    """
    wanted = env.get("LSL_PROFILE", "").strip()
    if wanted:
        return profiles.get(wanted).name, "set by LSL_PROFILE"
    if not gpu:
        return "quick", "no GPU"
    online = network() if callable(network) else bool(network)
    if not online:
        return "quick", "GPU but no network for the paper's datasets"
    return "paper", "GPU and network"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _strings(v)


def paper_datasets(cfg: Mapping[str, Any]) -> list[str]:
    """The paper datasets (``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``) a chapter's settings name."""
    from .data import PAPER_DATASETS

    found = {s.strip().lower().replace("-", "_") for s in _strings(dict(cfg))}
    return [name for name in PAPER_DATASETS if name in found]


def setup(chapter: str, *, verbose: bool = True) -> Runtime:
    """Prepare a chapter: choose device and profile, fetch missing paper data on Colab, set the style.

    Args:
        chapter: the chapter's name in the profiles (``"toy"``, ``"hyperplanes"``, ``"tunnels"``,
            ``"geometry"``, ...).
        verbose: print one line saying what was chosen and why.

    Returns:
        a :class:`Runtime` ``(profile, cfg, device)``.
    """
    device = profiles.device()
    gpu = device.type == "cuda"
    name, reason = choose_profile(os.environ, gpu=gpu, network=has_network)
    os.environ["LSL_PROFILE"] = name
    profile = profiles.get(name)
    cfg = profile.chapter(chapter)
    if name == "paper" and on_colab():
        from . import data

        for dataset in paper_datasets(cfg):
            data.download(dataset)
    from . import plots

    plots.use_style()
    if verbose:
        from . import __version__

        where = "Google Colab" if on_colab() else "local"
        gpu_name = f" ({torch.cuda.get_device_name(device)})" if gpu else ""
        print(f"lsl {__version__} [{where}] chapter {chapter!r}: profile {name} ({reason}); "
              f"device {device}{gpu_name}")
    return Runtime(profile, cfg, device)
