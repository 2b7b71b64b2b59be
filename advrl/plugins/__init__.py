"""The trainer's plug-ins, and which of them a run gets.

``base`` holds the protocol (``Plugin``, ``Run``) and the generic ones (periodic checkpoints,
discriminator curves); ``seqgan`` is SeqGAN's recipe, ``gail`` the learned reward, ``bc``
behaviour cloning. ``assemble_plugins`` turns a run's request (``--reward``, ``--pretrain``,
``--recipe-kwargs``, the env) into the list the trainer runs, refusing combinations that
cannot work with one line naming the fix.

An env that brings a training recipe names it in its capabilities
(``advrl.core.capabilities``: SeqGAN-v0's is ``"seqgan"``); ``RECIPES`` maps the name to the
recipe's options and plug-ins, so the trainer never recognises an env by its class or name.
``register_recipe`` adds one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym

from advrl.agents import AgentClass
from advrl.agents.bc import BCConfig
from advrl.agents.rollout import OnPolicyAgent
from advrl.core.capabilities import EnvCapabilities, env_capabilities
from advrl.core.checkpoint import load_checkpoint
from advrl.core.config import config_from_overrides
from advrl.core.demos import load_demos
from advrl.core.errors import UserError
from advrl.core.modules import is_vector_space
from advrl.envs.make import EnvFactory, make_env
from advrl.gan.airl import EXPERT_READINGS, FROZEN_READINGS
from advrl.plugins.base import DiscriminatorLog, PeriodicCheckpoints, Plugin, Run
from advrl.plugins.bc_pretrain import BehaviourCloning
from advrl.plugins.gail import (
    AIRLConfig,
    GAILConfig,
    LearnedRewardPlugin,
    check_frozen_reading,
)
from advrl.plugins.seqgan_recipe import SeqGANRecipe, SeqGANRecipeConfig, SeqGANRecipePlugin

if TYPE_CHECKING:
    from advrl.envs.seqgan import SeqGANEnv

PRETRAIN_KINDS = ("bc",)


@dataclass(frozen=True)
class Recipe:
    """A training recipe that an env brings (``EnvCapabilities.recipe`` names it): its
    options, its plug-ins, what it rules out, and how its checkpoints are evaluated."""

    config: type
    """The dataclass of its options (``--recipe-kwargs``, over a preset's)."""
    plugins: Callable[[Any], list[Plugin]]
    """Its plug-ins, given its options."""
    policy_agents_only: str | None = None
    """Why an agent without a policy (Q-learning) cannot follow it; None if any can."""
    own_pretraining: str | None = None
    """What the recipe pre-trains already, refusing ``--pretrain``; None to allow it."""
    evaluate_checkpoint: Callable[[Any, EnvFactory, Path], dict[str, Any]] | None = None
    """A generator env's metrics for a checkpoint (``evaluate.py``): floats, and
    ``samples``, a list of strings, if it has them."""


RECIPES: dict[str, Recipe] = {}
"""Training recipes by the name an env's capabilities give."""


def register_recipe(name: str, recipe: Recipe) -> None:
    """Make ``recipe`` the one that envs declaring ``recipe=name`` are trained with."""
    RECIPES[name] = recipe


def env_recipe(capabilities: EnvCapabilities, env_name: str) -> Recipe | None:
    """The recipe an env's capabilities name (None if none); an unknown name is a UserError."""
    if capabilities.recipe is None:
        return None
    try:
        return RECIPES[capabilities.recipe]
    except KeyError:
        raise UserError(
            f"env {env_name!r} asks for the training recipe {capabilities.recipe!r}, which "
            f"none provides (known: {', '.join(sorted(RECIPES))}); register it with "
            "advrl.plugins.register_recipe"
        ) from None


def _seqgan_plugins(config: SeqGANRecipeConfig) -> list[Plugin]:
    seqgan = SeqGANRecipePlugin(config)
    return [seqgan, seqgan.discriminator_log()]


def _seqgan_checkpoint_metrics(
    agent: OnPolicyAgent, factory: EnvFactory, checkpoint: Path
) -> dict[str, Any]:
    """Generation metrics of a SeqGAN-v0 checkpoint under the run's own discriminator."""
    game = cast("SeqGANEnv", make_env(factory, training=False).unwrapped).game
    payload = load_checkpoint(checkpoint)
    state = payload.get("plugins", {}).get("seqgan", payload.get("env_state"))
    if state is not None:
        game.load_state_dict(state)
    options = payload["run"].get("recipe") or {}
    recipe = SeqGANRecipe(game, agent.policy, agent.device, SeqGANRecipeConfig(**options))
    return recipe.evaluate()


register_recipe(
    "seqgan",
    Recipe(
        SeqGANRecipeConfig,
        _seqgan_plugins,
        policy_agents_only=(
            "SeqGAN's recipe pre-trains the agent's token policy by MLE and its rollout reward "
            "wants discount 0, which a Q-learning target cannot use"
        ),
        own_pretraining=(
            "pre-trains by MLE on its real sequences already (behaviour cloning on sequence "
            "data); drop --pretrain and set it with --recipe-kwargs mle_epochs=... mle_lr=..."
        ),
        evaluate_checkpoint=_seqgan_checkpoint_metrics,
    ),
)


@dataclass
class PluginRequest:
    """What a run asks of its plug-ins: the user's flags over a preset's or a checkpoint's."""

    reward: str = "env"
    demos: Path | None = None
    reward_kwargs: dict[str, Any] = field(default_factory=dict)
    gail_base: dict[str, Any] = field(default_factory=dict)
    pretrain: str | None = None
    pretrain_kwargs: dict[str, Any] = field(default_factory=dict)
    bc_base: dict[str, Any] = field(default_factory=dict)
    recipe_kwargs: dict[str, Any] = field(default_factory=dict)
    recipe_base: dict[str, Any] = field(default_factory=dict)
    frozen_base: dict[str, Any] = field(default_factory=dict)
    """A frozen reward model's recorded reading (``{"reward": ...}``), kept on resume."""
    resolved: dict[str, Any] = field(default_factory=dict)
    """The configs chosen (``assemble_plugins`` fills it), for checkpoints to record."""

    @classmethod
    def from_settings(
        cls, settings: Any, recorded: dict[str, Any] | None, preset_recipe: dict[str, Any]
    ) -> PluginRequest:
        """The request of ``TrainSettings``; a resumed run (``recorded``) keeps its own."""
        flags = {
            "reward_kwargs": dict(settings.reward_kwargs),
            "pretrain_kwargs": dict(settings.pretrain_kwargs),
            "recipe_kwargs": dict(settings.recipe_kwargs),
        }
        if recorded is None:
            return cls(
                settings.reward,
                settings.demos,
                pretrain=settings.pretrain,
                recipe_base=dict(preset_recipe),
                **flags,
            )
        gail = dict(recorded.get("gail") or recorded.get("airl") or {})
        if "hidden_sizes" in gail:
            gail["hidden_sizes"] = tuple(gail["hidden_sizes"])
        return cls(
            recorded.get("reward", "env"),
            Path(recorded["demos"]) if recorded.get("demos") else None,
            gail_base=gail,
            pretrain=recorded.get("pretrain"),
            bc_base=recorded.get("bc") or {},
            recipe_base=recorded.get("recipe") or {},
            frozen_base=recorded.get("frozen_reward") or {},
            **flags,
        )

    def meta(self) -> dict[str, Any]:
        """The run's plug-in choices as a checkpoint records them."""
        return {
            "reward": self.reward,
            "demos": str(self.demos) if self.demos else None,
            "pretrain": self.pretrain,
            **self.resolved,
        }


def assemble_plugins(
    request: PluginRequest,
    env: gym.Env,
    algo_cls: AgentClass,
    factory: EnvFactory,
    env_name: str,
) -> tuple[list[Plugin], EnvFactory]:
    """The plug-ins ``request`` asks for on ``env`` (an unwrapped probe), and the env factory
    (a frozen reward model of the env's own kind becomes an env option)."""
    plugins: list[Plugin] = []
    resolved: dict[str, Any] = {
        "gail": None,
        "airl": None,
        "bc": None,
        "recipe": None,
        "frozen_reward": None,
    }
    policy_agent = isinstance(algo_cls, type) and issubclass(algo_cls, OnPolicyAgent)
    recipe = env_recipe(env_capabilities(env), env_name)
    if recipe is not None:
        if not policy_agent and recipe.policy_agents_only:
            raise UserError(
                f"--algo {algo_cls.name} cannot train {env_name}: {recipe.policy_agents_only}; "
                "use --algo ppo or --algo reinforce"
            )
        if request.pretrain is not None and recipe.own_pretraining:
            raise UserError(f"{env_name} {recipe.own_pretraining}")
        options = config_from_overrides(
            recipe.config, request.recipe_base, request.recipe_kwargs, "--recipe-kwargs"
        )
        resolved["recipe"] = dataclasses.asdict(options)
        plugins += recipe.plugins(options)
    elif request.recipe_kwargs:
        raise UserError(
            "--recipe-kwargs configure SeqGAN-v0's recipe only; for behaviour cloning use "
            "--pretrain bc --pretrain-kwargs"
        )
    if request.pretrain is not None:
        if request.pretrain not in PRETRAIN_KINDS:
            raise UserError(
                f"--pretrain must be one of {', '.join(PRETRAIN_KINDS)}, got {request.pretrain!r}"
            )
        if request.demos is None:
            raise UserError("--pretrain bc needs --demos FILE (make one with record_demos.py)")
        if not policy_agent:
            raise UserError(
                f"--pretrain bc fits a policy, and --algo {algo_cls.name} has none; use "
                "--algo ppo or --algo reinforce"
            )
        bc = config_from_overrides(
            BCConfig, request.bc_base, request.pretrain_kwargs, "--pretrain bc"
        )
        shape = load_demos(request.demos)["obs"].shape[1:]
        if shape != env.observation_space.shape:
            raise UserError(
                f"the demonstrations' observations have shape {shape}, {env_name}'s "
                f"{env.observation_space.shape}; record them on the same env"
            )
        resolved["bc"] = dataclasses.asdict(bc)
        plugins.append(BehaviourCloning(request.demos, bc))
    elif request.pretrain_kwargs:
        raise UserError("--pretrain-kwargs configure --pretrain bc only")
    plugins += _reward_plugins(request, env, resolved, algo_cls.name, policy_agent)
    reward = request.reward
    if reward.startswith("model:") and hasattr(env, "frozen_reward_kwargs"):
        # The env's own reward model (SeqGAN-v0's discriminator), loaded there, frozen.
        own = env.frozen_reward_kwargs(reward.removeprefix("model:"))
        factory = dataclasses.replace(factory, kwargs={**factory.kwargs, **own})
        request.reward = "env"
    request.resolved = resolved
    return plugins, factory


def _reward_plugins(
    request: PluginRequest,
    env: gym.Env,
    resolved: dict[str, Any],
    algo: str,
    policy_agent: bool,
) -> list[Plugin]:
    """GAIL's or AIRL's learned reward or a frozen reward model, after checking the flags."""
    reward, demos = request.reward, request.demos
    adversarial = {"gail": GAILConfig, "airl": AIRLConfig}
    if reward not in ("env", *adversarial) and not reward.startswith("model:"):
        raise UserError(f"--reward must be env, gail, airl or model:PATH, got {reward!r}")
    if reward in adversarial and demos is None:
        raise UserError(f"--reward {reward} needs --demos FILE (make one with record_demos.py)")
    frozen = reward.startswith("model:") and not hasattr(env, "frozen_reward_kwargs")
    reading = {**request.frozen_base, **request.reward_kwargs} if frozen else {}
    ranks_demos = reading.get("reward") in EXPERT_READINGS
    uses_demos = reward in adversarial or request.pretrain is not None or ranks_demos
    if demos is not None and not uses_demos:
        raise UserError(
            "--demos is only used with --reward gail, --reward airl, --pretrain bc or a frozen "
            f"AIRL reward read as {' or '.join(EXPERT_READINGS)}"
        )
    if reward.startswith("model:") and not Path(reward.removeprefix("model:")).is_file():
        raise UserError(f"reward model file not found: {reward.removeprefix('model:')}")
    if request.reward_kwargs and reward not in adversarial and not frozen:
        raise UserError("--reward-kwargs configure --reward gail, airl or model:PATH only")
    if frozen:
        if set(reading) - {"reward"} or reading.get("reward", FROZEN_READINGS[0]) not in (
            FROZEN_READINGS
        ):
            raise UserError(
                f"--reward model:PATH takes one option, reward={'|'.join(FROZEN_READINGS)} "
                f"(how a frozen AIRL reward is read), got {reading}"
            )
        if reading:  # checked before anything is written
            path = reward.removeprefix("model:")
            check_frozen_reading(load_checkpoint(Path(path)), path, reading["reward"])
        if ranks_demos and demos is None:  # (once the file is known to be AIRL's)
            raise UserError(
                f"reward={reading['reward']} ranks g among the expert's states: add --demos FILE"
            )
    if reward in adversarial and demos is not None:  # without demos it was refused above
        options = config_from_overrides(
            adversarial[reward], request.gail_base, request.reward_kwargs, f"--reward {reward}"
        )
        if reward == "airl" and not is_vector_space(env.observation_space):
            raise UserError(
                f"--reward airl takes vector observations (a float Box), not "
                f"{env.observation_space}; use --reward gail"
            )
        if reward == "airl" and not policy_agent:
            raise UserError(
                f"--reward airl reads the policy's log-probabilities, and --algo {algo} has "
                "no policy; use --algo ppo or --algo reinforce"
            )
        load_demos(demos)  # a bad file fails here, before anything is written
        resolved[reward] = dataclasses.asdict(options)
        plugin = LearnedRewardPlugin(options, demos)
    elif frozen:
        resolved["frozen_reward"] = reading or None
        if ranks_demos and demos is not None:  # without demos it was refused above
            load_demos(demos)  # a bad file fails here, before anything is written
        plugin = LearnedRewardPlugin(
            demos=demos if ranks_demos else None,
            model=reward.removeprefix("model:"),
            reading=reading.get("reward"),
        )
    else:
        return []
    return [plugin, plugin.discriminator_log()]


__all__ = [
    "RECIPES",
    "DiscriminatorLog",
    "PeriodicCheckpoints",
    "Plugin",
    "PluginRequest",
    "Recipe",
    "Run",
    "assemble_plugins",
    "env_recipe",
    "register_recipe",
]
