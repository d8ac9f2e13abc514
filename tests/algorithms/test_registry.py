"""The component registry: out-of-tree plug-ins through the `unipo.components` entry-point group, a
torch-free description of every preset, and registration errors."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from unipo.algorithms import registry
from unipo.algorithms.formula_terms import GLOSSARY
from unipo.cli import main

PLUGIN = "unipo_test_double_centered"  # the out-of-tree package the test writes

DESCRIPTOR = '''
"""Descriptor (torch-free): card, relation, hyper-parameter of a toy advantage estimator."""
import numpy as np

from unipo.algorithms.cards import card, t
from unipo.algorithms.formula_terms import define_term
from unipo.algorithms.hparams import HParam
from unipo.algorithms.registry import component
from unipo.algorithms.stored import compare, group_mean_std, missing, unchecked

define_term("dc_batch_mean", r"\\bar{R}_{B}", None, "advantage", "mean reward of the batch")
EQUATION = "Â = R − ((1 − λ)·mean_g + λ·mean_B)"


def _relation(step, hp):
    reward, groups, advantage = step.response_value("reward"), step.groups(), step.response_value("advantage")
    if reward is None or groups is None or advantage is None:
        return [missing("advantage", EQUATION, "reward", "group", "advantage")]
    if hp["double_centered_mix"] > 0 and step.whole_rollout is not True:
        return [unchecked("advantage", EQUATION, "mean_B is over the whole rollout; this step may hold part of it")]
    group_mean, _, _ = group_mean_std(reward, groups)
    lam = hp["double_centered_mix"]
    return [compare("advantage", EQUATION, advantage, reward - ((1 - lam) * group_mean + lam * reward.mean()))]


@component("advantage", "double_centered", summary="R minus a blend of the group mean and the batch mean",
           compute="unipo_test_double_centered.tensors:double_centered", inputs=("reward", "group"),
           response_terms=("group_mean", "baseline"), level="response",
           batch_dependent=lambda hp: ("double_centered subtracts the batch's mean reward"
                                      if hp["double_centered_mix"] > 0 else None),
           hparams={"double_centered_mix": HParam(0.5, "weight λ of the batch mean in the baseline",
                                                  minimum=0.0, maximum=1.0)},
           relation=_relation, citation="UNIPO test plug-in (2025)")
def double_centered_card(hp):
    latex = (rf"{t('advantage')} = {t('reward')} - {t('baseline')},\\quad "
             rf"{t('baseline')} = (1-\\lambda)\\,{t('group_mean')} + \\lambda\\,{t('dc_batch_mean')}")
    return card("advantage", "double_centered", "Advantage", latex,
                f"Reward minus a baseline between the group mean and the batch mean (λ = {hp['double_centered_mix']:g}).")
'''

TENSORS = '''
"""Tensor code (imports torch; loaded only when advantages are computed)."""
import torch


def double_centered(rewards, groups, hp, state):
    lam = hp["double_centered_mix"]
    group_mean = groups.mean(rewards)
    baseline = (1 - lam) * group_mean + lam * rewards.mean()
    return rewards - baseline, {"group_mean": group_mean, "baseline": baseline}, {}
'''


@pytest.fixture
def fresh_registry():
    """Let the registry load again (entry points included); put it back as it was afterwards."""
    registry._load()  # built-ins first: their modules are imported (and register) once per process
    saved, glossary = dict(registry._REGISTRY), dict(GLOSSARY)
    registry._loaded = False
    yield registry
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._loaded = True
    GLOSSARY.clear()
    GLOSSARY.update(glossary)


@pytest.fixture
def plugin(tmp_path, monkeypatch, fresh_registry):
    """A distribution outside UNIPO, installed into tmp_path: package + dist-info with the entry point."""
    package = tmp_path / PLUGIN
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "components.py").write_text(textwrap.dedent(DESCRIPTOR))
    (package / "tensors.py").write_text(textwrap.dedent(TENSORS))
    info = tmp_path / f"{PLUGIN}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[unipo.components]\ndouble_centered = {PLUGIN}.components\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # also invalidates the import caches
    yield fresh_registry
    for name in [m for m in sys.modules if m == PLUGIN or m.startswith(PLUGIN + ".")]:
        del sys.modules[name]


def test_an_out_of_tree_component_registers_through_its_entry_point(plugin, capsys):
    from unipo.algorithms import get_preset

    assert "double_centered" in plugin.names("advantage")
    found = plugin.get("advantage", "double_centered")
    assert found.card.__module__ == f"{PLUGIN}.components" and found.level == "response"

    algo = get_preset("grpo", advantage_estimator="double_centered", double_centered_mix=0.5)
    assert ("advantage", "double_centered") in [(c.axis, c.name) for c in algo.components]
    advantage_card = algo.formula.card("advantage")
    assert advantage_card["variant"] == "double_centered"
    assert advantage_card["citation"] == "UNIPO test plug-in (2025)"
    assert "dc_batch_mean" in [term["key"] for term in advantage_card["terms"]]
    assert "double_centered subtracts the batch's mean reward" in algo.batch_dependent()
    assert get_preset("grpo", advantage_estimator="double_centered",
                      double_centered_mix=0.0).batch_dependent() == []
    with pytest.raises(ValueError, match="double_centered_mix"):
        get_preset("grpo", double_centered_mix=2.0)

    # Its tensor code runs through the spec, and its relation proves its card on the stored columns.
    import torch
    from unipo.algorithms.stored import StoredStep

    rewards, group_ids = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64), torch.tensor([0, 0, 1, 1])
    details = algo.advantage_details(rewards, group_ids)
    # mean_B = 0.75; baselines 0.5·0.5 + 0.5·0.75 = 0.625 and 0.5·1 + 0.5·0.75 = 0.875
    assert details.advantages.tolist() == pytest.approx([0.375, -0.625, 0.125, 0.125])
    assert details.terms["baseline"].tolist() == pytest.approx([0.625, 0.625, 0.875, 0.875])
    step = StoredStep(tokens={}, offsets=np.arange(5), whole_rollout=True,
                      responses={"reward": rewards.numpy(), "group": group_ids.numpy(),
                                 "advantage": details.advantages.numpy()})
    (relation,) = found.relation(step, algo.hparams)
    assert relation.holds and relation.checked == 4
    step.responses["advantage"] = details.advantages.numpy() + 0.1
    assert found.relation(step, algo.hparams)[0].status == "fails"
    step.whole_rollout = None
    assert found.relation(step, algo.hparams)[0].status == "unchecked"

    assert main(["algorithms", "--components"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("double_centered "))
    assert "[response]" in line and "R minus a blend of the group mean and the batch mean" in line
    assert "hparam double_centered_mix = 0.5 (≥ 0, ≤ 1): weight λ of the batch mean in the baseline" in out
    assert "cite   UNIPO test plug-in (2025)" in out and f"from   {PLUGIN}.components" in out
    assert out.index("double_centered ") > out.index("advantage  (one, chosen by advantage_estimator")
    assert out.index("double_centered ") < out.index("kl  (one, chosen by kl_estimator")

    assert main(["algorithms", "--components", "--json"]) == 0
    listed = {(c["axis"], c["name"]): c for c in json.loads(capsys.readouterr().out)}
    entry = listed[("advantage", "double_centered")]
    assert entry["hparams"]["double_centered_mix"]["default"] == 0.5 and entry["module"] == f"{PLUGIN}.components"

    assert main(["algorithms", "grpo", "--set", "advantage_estimator=double_centered"]) == 0
    out = capsys.readouterr().out
    assert "advantage    double_centered" in out
    assert "double_centered_mix        0.5" in out
    assert "  - double_centered subtracts the batch's mean reward" in out


def test_a_broken_plug_in_warns_and_the_rest_still_loads(tmp_path, monkeypatch, fresh_registry):
    info = tmp_path / "unipo_test_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: unipo_test_broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[unipo.components]\nbroken = unipo_test_no_such_module\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="component plug-in 'broken'"):
        found = fresh_registry.names("advantage")
    assert "group_norm" in found


def test_builtin_cli_lists_every_axis_and_describes_from_the_spec(capsys):
    assert main(["algorithms", "--components"]) == 0
    out = capsys.readouterr().out
    for axis in {c.axis for c in registry.components()}:
        assert any(line.startswith(axis + "  (") for line in out.splitlines()), axis
    for c in registry.components():
        assert f"  {c.name} " in out
    assert "hparam overlong_buffer_fraction = 0.0" in out

    assert main(["algorithms", "dapo"]) == 0
    out = capsys.readouterr().out
    assert "  selection       drop_truncated" in out and "  sample_filter   dynamic_sampling" in out
    assert "  o = surrogate\n" in out
    assert main(["algorithms", "grpo", "--set", "entropy_coef=0.01"]) == 0
    assert "  o = surrogate − kl_penalty + entropy_bonus\n" in capsys.readouterr().out

    assert main(["algorithms", "grpo", "--set", "scale_rewards=batch", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["composition"] == [{"term": "surrogate", "sign": 1}, {"term": "kl_penalty", "sign": -1}]
    assert {"axis": "advantage", "name": "group_norm"}.items() <= data["components"][2].items()
    assert data["batch_dependent"] == ["scale_rewards='batch' divides by the batch's reward std"]
    assert data["formula"]["notation"] == "unipo/1" and data["hparams"]["scale_rewards"] == "batch"

    assert main(["algorithms", "grpo", "--components"]) == 2
    assert "--components lists every component" in capsys.readouterr().err


TORCH_FREE = r"""
import contextlib, io, sys
import unipo.algorithms as algorithms
from unipo.algorithms import get_preset, list_presets, registry
from unipo.cli import main
for preset in list_presets():
    algo = get_preset(preset.name)
    algo.formula.to_dict(), algo.composition, algo.batch_dependent(), algo.components, algo.to_dict()
    algo.uses_reference, algo.uses_values, algo.token_level_advantages
registry.component_hparams(), algorithms.HPARAMS
with contextlib.redirect_stdout(io.StringIO()):
    for argv in (["algorithms"], ["algorithms", "--components"], ["algorithms", "--components", "--json"],
                 ["algorithms", "ppo"], ["algorithms", "dapo", "--json"]):
        assert main(argv) == 0, argv
print("torch" in sys.modules, len(list_presets()))
"""


def test_describing_every_preset_loads_no_torch():
    done = subprocess.run([sys.executable, "-c", TORCH_FREE], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    loaded, count = done.stdout.split()
    assert loaded == "False", "describing presets imported torch"
    assert int(count) > 0


def _card_function(module: str):
    def card(hp):
        return None
    card.__module__ = module
    return card


def test_registering_one_axis_and_name_twice_names_both_modules(fresh_registry):
    fresh_registry._loaded = True  # plug-ins are not the point here
    first = _card_function("pkg_one.components")
    decorator = registry.component("advantage", "twice_registered", summary="first")
    decorator(first)
    decorator(first)  # the same card function again (a module imported twice) is fine
    with pytest.raises(ValueError, match=r"advantage/twice_registered is registered twice "
                                         r"\(pkg_one\.components and pkg_two\.components\)"):
        registry.component("advantage", "twice_registered", summary="second")(_card_function("pkg_two.components"))
    assert registry.get("advantage", "twice_registered").summary == "first"


def test_registration_rejects_bad_declarations():
    with pytest.raises(ValueError, match=r"token_weight/unswitched: an `active\(hp\)` predicate is required"):
        registry.component("token_weight", "unswitched", summary="no switch")
    with pytest.raises(ValueError, match="unknown axis 'advantages'"):
        registry.component("advantages", "typo", summary="x")
    with pytest.raises(ValueError, match="level must be one of"):
        registry.component("advantage", "bad_level", summary="x", level="prompt")
    assert ("token_weight", "unswitched") not in registry._REGISTRY
