"""Tests for lsl.book.profiles: choosing the profile and the device from the environment, the smoke rule."""

from __future__ import annotations

import math

import pytest
import torch

from lsl.book import profiles, sizes, smoke


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("LSL_PROFILE", raising=False)
    monkeypatch.delenv("LSL_DEVICE", raising=False)


def test_default_profile_is_quick():
    assert profiles.profile_name() == "quick"
    assert profiles.current().name == "quick"
    assert profiles.current() is profiles.PROFILES["quick"]


@pytest.mark.parametrize("value", ["paper", "PAPER", " paper "])
def test_paper_profile_from_environment(monkeypatch, value):
    monkeypatch.setenv("LSL_PROFILE", value)
    assert profiles.current().name == "paper"


def test_empty_profile_variable_means_quick(monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "")
    assert profiles.current().name == "quick"


def test_unknown_profile_names_the_allowed_ones(monkeypatch):
    monkeypatch.setenv("LSL_PROFILE", "huge")
    with pytest.raises(ValueError, match=r"unknown profile 'huge'.*\['large', 'medium', 'paper', 'quick', 'smoke'\]"):
        profiles.current()
    with pytest.raises(ValueError, match="quick.*paper|paper.*quick"):
        profiles.get("fast")


def test_paper_is_at_least_as_large_as_quick():
    q, p = profiles.get("quick").chapter("toy_model"), profiles.get("paper").chapter("toy_model")
    assert set(q) == set(p)
    assert p.D_probe >= q.D_probe and p.n_planes >= q.n_planes and p.plane_steps >= q.plane_steps


def test_chapter_config_access():
    cfg = profiles.get("quick").chapter("toy_model")
    assert cfg.D_tunnel == cfg["D_tunnel"] == profiles.PROFILES["quick"].chapters["toy_model"]["D_tunnel"]
    assert len(cfg) == len(profiles.PROFILES["quick"].chapters["toy_model"])
    assert dict(cfg)["n_planes"] == cfg.n_planes
    assert "D_tunnel" in cfg
    assert "toy_model" in repr(cfg)
    with pytest.raises(AttributeError, match=r"chapter 'toy_model' has no setting 'D_tunel'; known: \[.*'D_tunnel'"):
        cfg.D_tunel
    with pytest.raises(KeyError):
        cfg["D_tunel"]
    with pytest.raises(TypeError):
        cfg._values["D_tunnel"] = 1  # read-only
    assert not hasattr(cfg, "no_such_setting")


def test_unknown_chapter():
    with pytest.raises(KeyError, match=r"no settings for chapter 'nope'.*toy"):
        profiles.get("quick").chapter("nope")


def test_device_respects_environment(monkeypatch):
    monkeypatch.setenv("LSL_DEVICE", "cpu")
    assert profiles.device() == torch.device("cpu")
    monkeypatch.setenv("LSL_DEVICE", " cpu ")
    assert profiles.device() == torch.device("cpu")
    monkeypatch.delenv("LSL_DEVICE")
    assert profiles.device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when CUDA is missing")
@pytest.mark.parametrize("value", ["cuda", "cuda:1"])
def test_device_cuda_without_gpu_is_an_error(monkeypatch, value):
    monkeypatch.setenv("LSL_DEVICE", value)
    with pytest.raises(RuntimeError, match=f"LSL_DEVICE={value}.*no CUDA device.*cpu"):
        profiles.device()


def test_bad_device_string(monkeypatch):
    monkeypatch.setenv("LSL_DEVICE", "not-a-device")
    with pytest.raises(RuntimeError):
        profiles.device()


# ---------------------------------------------------------------------------
# the smoke scale: derived from paper by one rule


def _leaves(value, path=()):
    """(path, value) of every non-container setting, tuples indexed by position."""
    if isinstance(value, dict) or hasattr(value, "items"):
        for k, v in value.items():
            yield from _leaves(v, path + (str(k),))
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    else:
        yield path, value


def test_smoke_is_a_profile_with_every_paper_chapter(monkeypatch):
    smoke, paper = profiles.get("smoke"), profiles.get("paper")
    assert set(smoke.chapters) == set(paper.chapters)
    for name in paper.chapters:
        assert set(smoke.chapter(name)) == set(paper.chapter(name)), name
    monkeypatch.setenv("LSL_PROFILE", "smoke")
    assert profiles.current() is smoke and not smoke.checks_claims


def test_smoke_keeps_everything_but_the_counts():
    """Same datasets, architectures, learning rates and thresholds; only integers (and grid lengths) change."""
    paper, smoke = profiles.get("paper"), profiles.get("smoke")
    for name in paper.chapters:
        p, s = paper.chapters[name], smoke.chapters[name]
        for key, value in p.items():
            if isinstance(value, (str, float, bool)) or value is None:
                assert s[key] == value, (name, key)
        assert s.get("dataset") == p.get("dataset") and s.get("arch") == p.get("arch")
        small = dict(_leaves(s))
        for path, value in _leaves(p):
            if sizes.SMOKE[name][path[0]] == "cases":          # thinned: what is left is some of the paper's cases
                assert set(s[path[0]]) <= set(p[path[0]]), (name, path[0])
            elif isinstance(value, str):
                assert small.get(path, value) == value, (name, path)


def test_smoke_never_grows_a_count_and_shrinks_the_large_ones():
    paper, smoke = profiles.get("paper"), profiles.get("smoke")
    for name in paper.chapters:
        for key, value in paper.chapters[name].items():
            small = smoke.chapters[name][key]
            if isinstance(value, int) and not isinstance(value, bool):
                assert 1 <= small <= value or small == value, (name, key, value, small)
                if value >= 10:
                    assert small < value, (name, key)


def test_every_setting_declares_its_smoke_rule_beside_it():
    """sizes.SMOKE names every setting of every chapter, nothing else, with a known kind: a renamed or new
    setting without its rule fails here (its smoke size is never guessed from its name)."""
    assert set(sizes.SMOKE) == set(sizes.QUICK) == set(sizes.PAPER)
    for name in sizes.QUICK:
        assert set(sizes.SMOKE[name]) == set(sizes.QUICK[name]), name
        for key, rule in sizes.SMOKE[name].items():
            kinds = [rule] if isinstance(rule, str) else list(rule.values())
            assert set(kinds) <= set(smoke.KINDS), (name, key, rule)


def test_a_setting_without_a_rule_is_an_error():
    paper = {"new": dict(steps=100, renamed_setting=5)}
    with pytest.raises(ValueError, match=r"without one: \['renamed_setting'\]"):
        smoke.shrink_chapters(paper, {"new": {"steps": "steps"}})
    with pytest.raises(ValueError, match=r"rules for no setting: \['gone'\]"):
        smoke.shrink_chapters(paper, {"new": {"steps": "steps", "renamed_setting": "count", "gone": "count"}})
    with pytest.raises(ValueError, match="integer .* under the smoke rule 'value'"):
        smoke.shrink_chapters(paper, {"new": {"steps": "steps", "renamed_setting": "value"}})
    with pytest.raises(ValueError, match="unknown smoke rule"):
        smoke.shrink_chapters(paper, {"new": {"steps": "stepz", "renamed_setting": "count"}})


def test_paper_tables_are_written_as_changes_to_quick():
    """Each chapter's paper table starts from its quick table (same settings, same order) and changes some."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(sizes))
    papers = {t.id: node.value for node in tree.body if isinstance(node, ast.Assign)
              for t in node.targets if isinstance(t, ast.Name) and t.id.endswith("_PAPER")}
    assert len(papers) == len(sizes.PAPER)
    for name, call in papers.items():
        assert isinstance(call, ast.Call) and call.func.id == "dict" and isinstance(call.args[0], ast.Name), name
        assert call.args[0].id == name.replace("_PAPER", "_QUICK"), name
    for name in sizes.PAPER:
        assert list(sizes.PAPER[name]) == list(sizes.QUICK[name]), name


def test_smoke_rule_by_hand_on_a_made_up_chapter():
    """An independent statement of the rule on a chapter the profiles do not have (as a new chapter would be)."""
    paper = profiles.Profile("paper", "test", {"new": dict(
        dataset="cifar100", arch="cnn", lr=0.1, n_train=None, flag=True,
        steps=20_000, snapshot_every=500, moments=(1000, 2000, 5000, 10_000, 20_000),
        batch_size=128, hessian_examples=5000, net=dict(channels=(16, 32, 64), depth=2),
        n_models=11, D=1001, depth=1, seeds=(3, 1, 4, 1, 5), seeds_count=3, classes=(2, 5, 10, 20, 50),
        lrs=(0.01, 0.02, 0.04, 0.08, 0.16, 0.32), nested={"A": {"steps": 300}}, pairs=((200, 150), (60, 40)),
        repeats=(3, 1, 4, 1, 5), n_repeats=5, one_repeat=1, hessian_subset=5000, small_subset=30)})
    rules = {"new": dict(dataset="value", arch="value", lr="value", n_train="examples", flag="value", steps="steps",
                         snapshot_every="interval", moments="steps", batch_size="examples", hessian_examples="examples",
                         net={"channels": "width", "depth": "count"}, n_models="count", D="count", depth="count",
                         seeds="names", seeds_count="names", classes="names", lrs="value", nested={"A": "steps"},
                         pairs="count", repeats="seeds", n_repeats="seeds", one_repeat="seeds",
                         hessian_subset="subset", small_subset="subset")}
    got = profiles.Profile("smoke", "test", smoke.shrink_chapters(paper.chapters, rules)).chapter("new")
    expected = dict(
        dataset="cifar100", arch="cnn", lr=0.1, n_train=None, flag=True,
        steps=200, snapshot_every=50, moments=(10, 50, 200),          # steps / 100, intervals / 10; a grid keeps 3
        batch_size=3, hessian_examples=100, net=dict(channels=(4, 8, 16), depth=2),   # /50, widths /4, depth kept
        n_models=3, D=101, depth=1, seeds=(3, 4, 5), seeds_count=3, classes=(2, 10, 50),   # counts / 10, >= 3
        lrs=(0.01, 0.04, 0.32), nested={"A": {"steps": 3}}, pairs=((20, 15), (6, 4)),
        repeats=(3, 1), n_repeats=2, one_repeat=1,                    # independent repetitions: the first two
        hessian_subset=20, small_subset=3)                            # a curvature estimate's examples / 250, >= 3
    assert dict(got) == expected
    # a run checked 40 times in paper is checked 4 times in smoke; positions stay multiples of the first
    assert got.steps // got.snapshot_every == 4 and all(m % got.moments[0] == 0 for m in got.moments)


def test_smoke_profile_follows_the_paper_profile():
    """smoke is derived, not written: deriving it again from paper gives the same settings."""
    again = profiles.derive_smoke(profiles.get("paper"))
    assert {k: dict(v) for k, v in again.chapters.items()} == {k: dict(v) for k, v in profiles.get("smoke").chapters.items()}
    steps = profiles.get("smoke").chapter("widths")
    assert steps.fig2_steps == math.ceil(profiles.get("paper").chapter("widths").fig2_steps / 100)


def test_check_at_scale_asserts_outside_smoke(monkeypatch, capsys):
    monkeypatch.setenv("LSL_PROFILE", "smoke")      # the environment is not read again: the profile object decides
    for name in ("quick", "paper"):
        P = profiles.get(name)
        assert P.checks_claims
        assert P.check_at_scale(True, "holds") is None      # like assert: a cell ending in it shows nothing
        with pytest.raises(AssertionError, match="^the claim in words$"):
            P.check_at_scale(1 > 2, "the claim in words")
    assert capsys.readouterr().out == ""


def test_check_at_scale_says_what_it_skips_under_smoke(monkeypatch, capsys):
    monkeypatch.setenv("LSL_PROFILE", "quick")
    P = profiles.get("smoke")
    assert P.check_at_scale(False, "tunnels are low") is None
    assert P.check_at_scale(True, "a second claim") is None
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("[smoke] not checked: 'tunnels are low'") and "real scale" in out[0]
    assert "'a second claim'" in out[1]


def test_quick_and_paper_name_the_same_settings():
    """Every chapter reads the same settings at both scales: a key added to one profile only breaks the other."""
    quick, paper = profiles.get("quick").chapters, profiles.get("paper").chapters
    assert set(quick) == set(paper)
    for chapter in quick:
        assert set(quick[chapter]) == set(paper[chapter]), (chapter, set(quick[chapter]) ^ set(paper[chapter]))


def test_smoke_keeps_the_first_and_last_case_of_a_list_of_cases():
    paper = profiles.Profile("paper", "test", {"new": dict(
        cases=(("a", "relu"), ("a", "tanh"), ("b", "relu"), ("b", "tanh")), two_cases=(("a", 1), ("b", 2)))})
    rules = {"new": dict(cases="cases", two_cases="cases")}
    got = profiles.Profile("smoke", "test", smoke.shrink_chapters(paper.chapters, rules)).chapter("new")
    assert got.cases == (("a", "relu"), ("b", "tanh")) and got.two_cases == (("a", 1), ("b", 2))
