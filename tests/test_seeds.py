"""The run-wide seed (lsl.seeds): run 0 is the code as written, another run seed redraws every random start."""

import pytest
import torch

from lsl import seeds
from lsl.data import datasets, nets
from lsl.probes import radial


@pytest.fixture
def run_seed():
    """Set a run seed for one test, and put 0 back after it."""
    yield seeds.set_run
    seeds.set_run(0)


def test_run_zero_changes_nothing():
    assert seeds.run() == 0 and [seeds.shifted(s) for s in (0, 1, 7)] == [0, 1, 7]


def test_another_run_seed_redraws_and_is_repeatable(run_seed):
    base_init = nets.make("mlp", (10,), 3, seed=0, width=8, depth=2)
    base_dirs = radial.random_directions(20, 2, seed=0)
    # the run-0 draw equals an explicitly seeded draw of the generator (the reference: torch's own seeding)
    assert torch.equal(base_dirs, radial.random_directions(20, 2, seed=0))
    run_seed(1)
    assert seeds.shifted(3) == 3 + seeds.STRIDE
    init = nets.make("mlp", (10,), 3, seed=0, width=8, depth=2)
    dirs = radial.random_directions(20, 2, seed=0)
    assert not torch.equal(dirs, base_dirs)
    assert any(not torch.equal(a, b) for a, b in zip(init.parameters(), base_init.parameters()))
    # run seed 1 with seed 0 is seed STRIDE in run 0: the same draw
    assert torch.equal(dirs, radial.random_directions(20, 2, seed=0))
    run_seed(0)
    assert torch.equal(radial.random_directions(20, 2, seed=seeds.STRIDE), dirs)


def test_the_run_seed_redraws_a_data_subset(run_seed):
    a = datasets.load("gaussian_mixture", n_train=30, n_test=10, seed=0)
    run_seed(2)
    b = datasets.load("gaussian_mixture", n_train=30, n_test=10, seed=0)
    assert not torch.equal(a.x_train, b.x_train)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_run_seeds_are_refused(bad):
    with pytest.raises(ValueError):
        seeds.set_run(bad)


def test_setup_reads_the_run_seed(monkeypatch, run_seed):
    from lsl.book import runtime

    assert runtime.run_seed({}) == 0 and runtime.run_seed({"LSL_SEED": "2"}) == 2 and runtime.run_seed({}, 3) == 3
    with pytest.raises(ValueError, match="LSL_SEED"):
        runtime.run_seed({"LSL_SEED": "one"})
    monkeypatch.setenv("LSL_SEED", "1")
    runtime.setup("toy_model", verbose=False)
    assert seeds.run() == 1
