"""Envs declare what advrl's tools need to know of them (``advrl.core.capabilities``): the
training recipe they bring, a learned reward, a generator to evaluate. A user env that
declares what SeqGAN-v0 declares is treated as SeqGAN-v0 is: no env is recognised by name."""

import json
import re
from dataclasses import dataclass
from typing import Any

import declared_envs  # registers JudgedCorridor-v0
import gymnasium as gym
import pytest

from advrl.cli.evaluate import evaluate_main
from advrl.core.capabilities import EnvCapabilities, env_capabilities
from advrl.core.checkpoint import load_checkpoint
from advrl.core.errors import UserError
from advrl.plan import TrainSettings, plan_run
from advrl.plugins import RECIPES, Plugin, Recipe
from advrl.sweeps.sweep import SweepSettings, check_sweep
from advrl.train import train

SEQGAN = EnvCapabilities(recipe="seqgan", learned_reward=True, generator=True)


def test_capabilities_are_read_from_an_id_a_spec_a_class_or_a_built_env():
    assert env_capabilities("SeqGAN-v0") == SEQGAN
    assert env_capabilities("advrl:SeqGAN-v0") == SEQGAN  # Gymnasium's module:EnvId
    assert env_capabilities("advrl.envs.seqgan:SeqGANEnv") == SEQGAN
    assert env_capabilities("advrl.envs.seqgan:SeqGANVectorEnv") == SEQGAN
    assert env_capabilities("GridWorld-v0") == EnvCapabilities()
    assert env_capabilities("CartPole-v1") == EnvCapabilities()
    assert env_capabilities(gym.make("GridWorld-v0")) == EnvCapabilities()
    judged = EnvCapabilities(learned_reward=True)
    assert env_capabilities("declared_envs:JudgedCorridor") == judged
    assert env_capabilities("declared_envs:JudgedCorridor-v0") == judged
    assert env_capabilities(gym.make("JudgedCorridor-v0")) == judged  # under its wrappers
    assert env_capabilities(declared_envs.DictDeclaredCorridor) == judged
    # Nothing to read: the defaults, and making the env reports what is wrong.
    assert env_capabilities("no_such_module:Env") == EnvCapabilities()
    assert env_capabilities("NoSuchEnv-v9") == EnvCapabilities()
    assert env_capabilities("custom_envs:make_corridor") == EnvCapabilities()  # a function


def test_a_misspelt_declaration_names_the_known_capabilities():
    class Misspelt(gym.Env):
        metadata = {"render_modes": [], "advrl": {"learned_rewards": True}}

    with pytest.raises(UserError, match=r"unknown capabilities \['learned_rewards'\]"):
        env_capabilities(Misspelt)


def sweep_settings(tmp_path, env: str) -> SweepSettings:
    return SweepSettings(
        env=env,
        algo="reinforce",
        out=str(tmp_path / "sweep"),
        scheduler="asha",
        hp={"lr": "grid(1e-3,1e-2)"},
        total_steps=2048,
        eval_episodes=2,
    )


@pytest.mark.parametrize("env", ["SeqGAN-v0", "declared_envs:JudgedCorridor"])
def test_asha_is_refused_wherever_the_reward_is_learned(tmp_path, env):
    refusal = (
        f"--scheduler asha judges trials by their training return, which on {env} is the "
        "discriminator's score, not the generator's quality; use --scheduler none"
    )
    with pytest.raises(UserError, match=re.escape(refusal)):
        check_sweep(sweep_settings(tmp_path, env))


def test_asha_is_allowed_where_the_return_is_the_envs_own(tmp_path):
    hp, _ = check_sweep(sweep_settings(tmp_path, "custom_envs:Corridor"))
    assert hp["lr"].swept


@dataclass
class CountingConfig:
    """The options of a user's recipe."""

    scale: float = 1.0


class CountingPlugin(Plugin):
    """A user's recipe plug-in: counts the agent's updates."""

    name = "counting"

    def __init__(self, config: CountingConfig) -> None:
        self.config, self.updates = config, 0

    def after_update(self, run: Any, step: int) -> None:
        self.updates += 1

    def summary(self, run: Any) -> dict[str, Any]:
        return {"counting_updates": self.updates, "counting_scale": self.config.scale}


def counting_metrics(agent: Any, factory: Any, checkpoint: Any) -> dict[str, Any]:
    return {"quality": 0.5, "samples": ["right right right"]}


@pytest.fixture
def counting_recipe(monkeypatch):
    """The ``counting`` recipe that GeneratorCorridor brings, registered for one test."""
    recipe = Recipe(
        CountingConfig,
        lambda config: [CountingPlugin(config)],
        policy_agents_only="counting follows a policy",
        evaluate_checkpoint=counting_metrics,
    )
    monkeypatch.setitem(RECIPES, "counting", recipe)
    return recipe


def test_an_env_that_brings_a_recipe_is_trained_and_evaluated_by_it(
    counting_recipe, tmp_path, capsys
):
    env = "declared_envs:GeneratorCorridor"
    with pytest.raises(UserError, match=r"--algo dqn cannot train .*: counting follows a policy"):
        plan_run(TrainSettings(env=env, algo="dqn", run_dir=tmp_path / "dqn"))
    run_dir = tmp_path / "run"
    settings = TrainSettings(
        env=env,
        algo="reinforce",
        total_steps=200,
        num_envs=2,
        seed=0,
        run_dir=run_dir,
        eval_episodes=1,
        recipe_kwargs={"scale": "2"},
    )
    summary = train(settings)
    assert summary["counting_updates"] > 0 and summary["counting_scale"] == 2.0
    checkpoint = run_dir / "checkpoints" / "final.pt"
    assert load_checkpoint(checkpoint)["run"]["recipe"] == {"scale": 2.0}
    capsys.readouterr()
    assert evaluate_main([str(checkpoint), "--json"]) == 0  # the generator's metrics
    assert json.loads(capsys.readouterr().out) == counting_metrics(None, None, None)


def test_an_env_asking_for_a_recipe_nobody_provides_names_the_fix(tmp_path):
    with pytest.raises(UserError, match="training recipe 'counting', which none provides"):
        plan_run(TrainSettings(env="declared_envs:GeneratorCorridor", algo="ppo"))
