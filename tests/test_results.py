"""The result convention (book/architecture.md, rule 1) for every dataclass of lsl's core.

A core function returns tensors or a frozen dataclass whose fields are documented under "Attributes:" and
whose docstring says on which device its tensors are. The dataclasses are found by scanning the core and the families,
so a new result is checked without being listed here; the few that must stay mutable are listed below,
each with its reason.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

#: Dataclasses that stay mutable, with the reason. Nothing else in lsl may be a mutable dataclass.
MUTABLE = {
    # Input data, not a result: built by the loaders (its __post_init__ normalises input_shape in place) and
    # documented with its constructor's arguments.
    "lsl.data.datasets.Dataset",
}


def _dataclasses() -> list[type]:
    """Every public dataclass defined in a module of the core or a family (not the book layer)."""
    found = []
    for path in sorted((ROOT / "lsl").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if path.stem == "__init__" or parts[1] == "book":
            continue
        module = importlib.import_module(".".join(parts))
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
                    and not name.startswith("_")):
                found.append(obj)
    return found


DATACLASSES = _dataclasses()


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_the_scan_finds_the_results_of_every_part_of_lsl():
    """A scan that found nothing would pass every check below."""
    names = {_name(c) for c in DATACLASSES}
    assert {"lsl.training.trainer.TrainResult", "lsl.probes.radial.RadialProfile", "lsl.probes.radial.TunnelWidths", "lsl.probes.planes.LossPlane",
            "lsl.probes.planes.DirectionPlane", "lsl.probes.planes.TrajectoryPCA", "lsl.paths.permutations.Matching", "lsl.paths.permutations.LayerStats",
            "lsl.curvature.logit_gradients.Freezing", "lsl.curvature.logit_gradients.RandomLogitModel", "lsl.curvature.spectrum.SpectralDensity",
            "lsl.curvature.short_directions.ShortDirections", "lsl.training.families.Family", "lsl.data.datasets.Dataset"} <= names
    assert MUTABLE <= names, f"allow-listed classes that no longer exist: {sorted(MUTABLE - names)}"


@pytest.mark.parametrize("cls", [c for c in DATACLASSES if _name(c) not in MUTABLE], ids=_name)
def test_dataclasses_are_frozen_documented_under_attributes_and_say_where_their_tensors_are(cls):
    assert cls.__dataclass_params__.frozen, (f"{_name(cls)} is a mutable dataclass: make it frozen, or list it in "
                                             "MUTABLE with the reason")
    doc = inspect.getdoc(cls)
    assert "Attributes:" in doc and "Args:" not in doc, f"{_name(cls)}: document the fields under 'Attributes:'"
    attributes = doc.split("Attributes:")[1]
    for f in dataclasses.fields(cls):
        assert re.search(rf"^\s+(\w+, )*{f.name}(, \w+)*:", attributes, re.M), f"{_name(cls)}.{f.name} is undocumented"
    if any("Tensor" in str(f.type) for f in dataclasses.fields(cls)):
        assert re.search(r"device|CPU", doc), f"{_name(cls)} does not say on which device its tensors are"


def test_a_frozen_result_refuses_assignment():
    from lsl import toy
    from lsl.probes import radial

    land = toy.WedgeLandscape(D=6, n=2)
    profile = radial.radial_profile(land, torch.zeros(6, dtype=land.dtype), torch.linspace(0, 1, 3), n_directions=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.losses = profile.losses * 0
