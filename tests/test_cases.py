"""Tests for lsl.book.cases: the robust cases of a profile, each network the one a chapter built by hand
(``nets.make`` + ``NetworkLandscape.from_dataset`` on the loaded data)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lsl.book import cases
from lsl.data import datasets, nets
from lsl.network import NetworkLandscape

CFG = SimpleNamespace(robust_cases=(("gaussian_mixture", "tanh"), ("gaussian_mixture", "relu")),
                      robust_n_train={"gaussian_mixture": 30}, robust_n_test={"gaussian_mixture": 12})
OPTIONS = dict(width=5, depth=1, activation="relu")


def test_robust_cases_build_the_networks_of_the_plain_loop():
    got = cases.robust_cases(CFG, "mlp", OPTIONS)
    assert [(c.data, c.activation) for c in got] == list(CFG.robust_cases)
    assert got[0].dataset is got[1].dataset                      # a data set shared by two cases is loaded once
    for case, (name, act) in zip(got, CFG.robust_cases):
        data = datasets.load(name, n_train=30, n_test=12)
        assert torch.equal(case.dataset.x_train, data.x_train) and torch.equal(case.dataset.y_test, data.y_test)
        assert case.options == {**OPTIONS, "activation": act}
        models = [nets.make("mlp", data.input_shape, data.n_classes, seed=s, **{**OPTIONS, "activation": act}) for s in (0, 1)]
        ref = NetworkLandscape.from_dataset(models[0], data)
        L = case.build()
        assert L.D == ref.D and torch.equal(L.theta0, ref.theta0)
        assert torch.equal(L.loss(L.theta0), ref.loss(ref.theta0))
        assert L.fingerprint() == ref.fingerprint()                # the same cache keys as before
        assert torch.equal(case.starts([0, 1]), torch.stack([ref.theta_of(m) for m in models]))
        assert case.build(width=3).D < L.D                         # an option overridden
    with pytest.raises(Exception):
        got[0].data = "other"                                      # frozen


def test_robust_cases_name_a_missing_entry():
    cfg = SimpleNamespace(robust_cases=(("digits", "relu"),), robust_n_train={}, robust_n_test={"digits": 10})
    with pytest.raises(ValueError, match="robust case 'digits': no entry for it in robust_n_train"):
        cases.robust_cases(cfg, "mlp", OPTIONS)
    with pytest.raises(TypeError, match="seed must be an integer"):
        cases.robust_cases(CFG, "mlp", OPTIONS)[0].build(seed=0.5)
