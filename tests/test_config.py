"""Typed key=value parsing for --hp and --env-kwargs, presets and field docs."""

from dataclasses import dataclass

import pytest

from advrl.agents import ALGORITHMS, get_algorithm
from advrl.agents.reinforce import ReinforceConfig
from advrl.core.config import (
    config_from_overrides,
    field_docs,
    parse_call_kwargs,
    parse_value,
    split_assignments,
)
from advrl.core.errors import UserError
from advrl.envs.gridworld import GridWorldEnv
from advrl.presets import PRESETS, find_preset


@pytest.mark.parametrize(
    ("text", "annotation", "expected"),
    [
        ("3e-4", float, 3e-4),
        ("1e6", int, 1_000_000),
        ("12", int, 12),
        ("true", bool, True),
        ("No", bool, False),
        ("none", float | None, None),
        ("0.5", float | None, 0.5),
        ("64,64", tuple[int, ...], (64, 64)),
        ("(32)", tuple[int, ...], (32,)),
        ("abc", str, "abc"),
    ],
)
def test_parse_value(text, annotation, expected):
    assert parse_value(text, annotation) == expected


@pytest.mark.parametrize(
    ("text", "annotation"),
    [
        ("fast", float),
        ("1.5", int),
        ("maybe", bool),
        ("x,y", tuple[int, ...]),
    ],
)
def test_parse_value_rejects_ill_typed(text, annotation):
    with pytest.raises(ValueError, match="expected"):
        parse_value(text, annotation)


def test_split_assignments():
    assert split_assignments(["lr=1", "gamma = 0.9", "lr=2"], "--hp") == {"lr": "2", "gamma": "0.9"}
    with pytest.raises(UserError, match="key=value"):
        split_assignments(["lr"], "--hp")


def test_config_overrides_and_suggestions():
    config = config_from_overrides(ReinforceConfig, {"lr": 0.1}, {"gamma": "0.9"}, "reinforce")
    assert (config.lr, config.gamma) == (0.1, 0.9)
    with pytest.raises(UserError, match="did you mean gamma"):
        config_from_overrides(ReinforceConfig, {}, {"gama": "0.9"}, "reinforce")
    with pytest.raises(UserError, match="expected a number"):
        config_from_overrides(ReinforceConfig, {}, {"lr": "fast"}, "reinforce")
    with pytest.raises(UserError, match="gamma must be in"):
        config_from_overrides(ReinforceConfig, {}, {"gamma": "1.5"}, "reinforce")


def test_env_kwargs_are_typed_by_the_constructor():
    kwargs = parse_call_kwargs(GridWorldEnv, {"slip": "0.2", "layout": "S.+"}, "GridWorld-v0")
    assert kwargs == {"slip": 0.2, "layout": "S.+"}
    with pytest.raises(UserError, match="did you mean slip"):
        parse_call_kwargs(GridWorldEnv, {"slipp": "0.2"}, "GridWorld-v0")
    with pytest.raises(UserError, match="expected a number"):
        parse_call_kwargs(GridWorldEnv, {"slip": "lots"}, "GridWorld-v0")


def test_every_config_field_is_documented_and_valid_by_default():
    for algo in ALGORITHMS.values():
        docs = field_docs(algo.Config)
        names = [f for f in algo.Config.__dataclass_fields__]
        assert set(docs) == set(names), f"{algo.name}: undocumented fields"
        assert algo.Config().validate() == []


def test_presets_name_real_hyperparameters():
    for algo, entries in PRESETS.items():
        config_cls = get_algorithm(algo).Config
        for _, preset in entries:
            config_from_overrides(config_cls, preset.hp, {}, algo)  # raises if a name is wrong


def test_find_preset_falls_back():
    assert find_preset("reinforce", "GridWorld-v0").hp["lr"] == 3e-3
    assert find_preset("reinforce", "advrl:GridWorld-v0").hp["lr"] == 3e-3
    assert find_preset("reinforce", "SomethingElse-v0").hp == {}
    assert find_preset("no-such-algo", "GridWorld-v0").hp == {}


@dataclass
class _Documented:
    alpha: float = 1.0
    """The first
    knob."""
    beta: int = 2


def test_field_docs_reads_attribute_docstrings():
    assert field_docs(_Documented) == {"alpha": "The first knob."}
