"""One device policy, tested without a GPU.

The rule (``NetworkLandscape``'s docstring): an explicit ``device=`` wins and everything is moved
there; otherwise the landscape computes on the data's device and a private copy of the model is
moved to it. The ``meta`` device carries a device and shapes but no values, so a CPU-only machine can
check where things would compute on a GPU:

- unit tests of the rule on ``meta`` tensors;
- every chapter dry-run on ``meta`` (:mod:`tests.device_dry_run`): every landscape it builds must
  compute on the chapter's device (or be a data-free landscape put on the CPU on purpose with
  ``device="cpu"``, such as the toy chapter's 3-D picture), and no cell may mix devices;
- a self-test: a chapter written the way ``book/local_geometry`` once was (a landscape computing on
  the CPU while the chapter's tensors sit on its device) is caught.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lsl.network import NetworkLandscape
from lsl.data.nets import MLP

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
#: Chapters that compute nothing: the page on scale draws the scale ladder's committed records.
READS_RECORDS_ONLY = {"scale"}
META = torch.device("meta")


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MLP(4, 3, width=5, depth=1)


def data(device="cpu", n=6):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 4, generator=gen), torch.randint(0, 3, (n,), generator=gen)
    return x.to(device), y.to(device)


# ---------------------------------------------------------------------------------------------------
# The rule


def test_the_data_device_wins_and_the_model_is_moved():
    x, y = data(META)
    model = tiny_model()
    L = NetworkLandscape(model, x, y)
    assert L.device == META
    assert all(p.device == META for p in L.model.parameters())
    assert all(p.device.type == "cpu" for p in model.parameters()), "the caller's model is not moved"
    assert L.theta0.device == META and L.loss(L.theta0).device == META


def test_an_explicit_device_wins_over_the_data():
    x, y = data("cpu")
    L = NetworkLandscape(tiny_model(), x, y, device="meta")
    assert L.device == META and L.x.device == META and L.y.device == META
    assert L.loss(torch.zeros(L.D)).device == META, "points given on another device are moved"


def test_cpu_data_and_model_compute_on_the_cpu():
    x, y = data("cpu")
    L = NetworkLandscape(tiny_model(), x, y)
    assert L.device.type == "cpu"


def test_data_on_two_devices_without_device_is_rejected():
    x, _ = data("cpu")
    _, y = data(META)
    with pytest.raises(ValueError, match="different devices"):
        NetworkLandscape(tiny_model(), x, y)
    L = NetworkLandscape(tiny_model(), x, y, device="meta")      # unless device= says where
    assert L.device == META


def test_a_meta_model_on_real_data_is_rejected_with_a_hint():
    x, y = data("cpu")
    with pytest.raises(ValueError, match="meta"):
        NetworkLandscape(tiny_model().to("meta"), x, y)


def test_network_builder_follows_the_same_rule():
    from lsl.data import nets
    from lsl.data.datasets import Dataset

    x, y = data(META)
    ds = Dataset("tiny", x, y, x, y, n_classes=3, input_shape=(4,))
    assert nets.network(ds, "mlp", width=5, depth=1)().device == META          # the data's device
    cpu = Dataset("tiny", *data("cpu"), *data("cpu"), n_classes=3, input_shape=(4,))
    assert nets.network(cpu, "mlp", width=5, depth=1, device="meta")().device == META   # device= wins


# ---------------------------------------------------------------------------------------------------
# The chapters


#: CPU seconds (of all threads together) a cell may take on meta: building a landscape takes a few
#: (loading its data is real work on the CPU), the real computations that follow are cut short.
CELL_CPU_SECONDS = "8"


def dry_run(path: Path, env_extra: dict | None = None) -> dict:
    env = dict(os.environ, LSL_PROFILE="quick", LSL_DRY_RUN_CELL_SECONDS=CELL_CPU_SECONDS, MPLBACKEND="Agg", **(env_extra or {}))
    out = subprocess.run([sys.executable, "-m", "tests.device_dry_run", str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def device_faults(report: dict) -> list[str]:
    faults = [f"cell at line {e['cell']}: {e['error']}" for e in report["device_errors"]]
    for rec in report["landscapes"]:
        deliberate = rec["explicit_device"] == rec["device"] == "cpu" and not rec.get("data")
        if rec["device"] != report["device"] and not deliberate:
            faults.append(f"cell at line {rec['cell']}: a {rec['kind']} computes on {rec['device']} while the "
                          f"chapter's device is {report['device']} (model on {rec.get('model')}, data on "
                          f"{rec.get('data')}); build it from the chapter's data or pass device=device")
    return faults


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_every_landscape_of_a_chapter_computes_on_the_chapters_device(nb):
    report = dry_run(nb.with_suffix(".py"))
    assert report["device"] == "meta"
    if nb.stem in READS_RECORDS_ONLY:
        assert not report["landscapes"], f"{nb.stem} should only read records, but it built a landscape"
        return
    assert report["landscapes"], f"{nb.stem}: the dry run built no landscape (nothing was checked)"
    assert not device_faults(report), "\n".join(device_faults(report))


OLD_LOCAL_GEOMETRY = '''
# %%
import lsl, torch
P, cfg, device = lsl.book.runtime.setup("local_geometry")
# %%
from lsl.data.nets import MLP
x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
model = MLP(4, 3, width=5, depth=1)
net = lsl.NetworkLandscape(model, x, y)          # the data were never moved to the chapter's device
idx = torch.arange(4, device=device)
loss = net.loss(net.theta0, idx=idx)
'''


def test_the_check_catches_a_landscape_off_the_chapters_device(tmp_path):
    path = tmp_path / "old_local_geometry.py"
    path.write_text(OLD_LOCAL_GEOMETRY)
    report = dry_run(path)
    faults = device_faults(report)
    assert any("computes on cpu while the chapter's device is meta" in f for f in faults), faults
