"""Adversarial imitation (GAIL, Ho & Ermon 2016; AIRL, Fu et al. 2018) on any Gymnasium env,
and frozen reward models, as a trainer plug-in that replaces the env's reward.

``LearnedReward`` wraps a vector env: each step's reward becomes a reward model's reward
of the (observation, action) pair, with the env's own reward left in the episode statistics
(``RecordEpisodeStatistics`` sits inside each env) for logging as
``charts/true_episodic_return``, never for learning. With expert demonstrations it is GAIL:
every ``d_every`` env steps the discriminator takes ``d_steps`` minibatch steps, expert pairs
(real) against the agent's pairs (fake): its most recent ones, and, for half of each batch, a
uniform sample of its earlier ones (``agent_history``, like the imitation library's generator
replay buffer). Without demonstrations it is a frozen reward model (``--reward model:PATH``).

The discriminator (``advrl.gan.transitions``) is an MLP over the standardised observation and
the action, or the Nature CNN for image observations; the reward is -log(1 - D) by default.
Note that this reward is always positive, which on its own rewards survival: on CartPole
that alone solves the task (a known GAIL bias, Kostrikov et al. 2019); ``log_d`` is the
always-negative alternative.

AIRL (``--reward airl``, ``advrl.gan.airl``) replaces the discriminator by
exp(f) / (exp(f) + pi(a | s)) over whole transitions, f = g(s) + gamma h(s') - h(s); its
logit f - log pi is the agent's reward, and g alone the reward it leaves behind
(``reward_model.pt``, which ``--reward model:PATH`` trains a fresh agent on).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from advrl.core.checkpoint import load_checkpoint
from advrl.core.demos import load_demos
from advrl.core.errors import UserError
from advrl.core.stats import mean_metrics
from advrl.gan.airl import (
    AIRLDiscriminator,
    airl_reward_from_state,
    make_airl_reward_model,
    save_airl_reward_model,
    transition_features,
)
from advrl.gan.reward_model import BaseRewardModel
from advrl.gan.transitions import (
    feature_size,
    make_transition_reward_model,
    pair_features,
    save_transition_reward_model,
    transition_reward_from_state,
)
from advrl.plugins.base import DiscriminatorLog, Plugin, Run


@dataclass
class GAILConfig:
    """Options of the GAIL reward (``--reward-kwargs``)."""

    d_every: int = 2048
    """Env steps (over all envs) between discriminator phases."""
    d_steps: int = 10
    """Discriminator minibatch steps per phase."""
    batch_size: int = 256
    """Expert and agent pairs per discriminator step (each)."""
    lr: float = 3e-4
    """Adam learning rate of the discriminator."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden widths of the discriminator MLP."""
    loss: str = "non_saturating"
    """A GAN loss from advrl.gan.GAN_LOSSES (for the classifier discriminator)."""
    reward: str = "default"
    """How the reward reads the discriminator (default: -log(1 - D) for BCE losses,
    exp(-E) for an energy)."""
    discriminator: str = "classifier"
    """classifier (an MLP trained with ``loss``), or an energy model: ebgan, began or
    lsgan_ls (``advrl.gan.energy``)."""
    agent_history: int = 20_000
    """Past agent pairs kept, a uniform sample of the whole run, as extra negatives: half of
    each fake batch. D then keeps scoring earlier, non-expert behaviour low instead of
    forgetting it once the agent is expert-like. 0: the latest pairs only (Ho & Ermon)."""

    def make_reward_model(
        self, observation_space: gym.Space, action_space: gym.Space
    ) -> BaseRewardModel:
        """A fresh transition discriminator with these options."""
        return make_transition_reward_model(
            observation_space,
            action_space,
            self.hidden_sizes,
            self.loss,
            self.lr,
            self.reward,
            self.discriminator,
        )

    saver = staticmethod(save_transition_reward_model)
    """Writes the trained discriminator, its options and input size as a reward model file."""

    def save_reward_model(
        self,
        path: Path,
        model: BaseRewardModel,
        observation_space: gym.Space,
        action_space: gym.Space,
    ) -> Path:
        """Write the trained discriminator as a frozen reward model file."""
        options = dataclasses.asdict(self)
        return self.saver(path, model, options, observation_space, action_space)

    def validate(self) -> list[str]:
        problems = []
        for name in ("d_every", "d_steps", "batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.agent_history < 0:
            problems.append(f"agent_history must be >= 0, got {self.agent_history}")
        if self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        return problems


PolicyLogProb = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``log_prob(obs, actions)``: log pi(a | s) of each row under the agent's current policy."""


class LearnedReward(gym.vector.VectorWrapper):
    """Replace a vector env's rewards with a reward model's; train it on demos (GAIL, AIRL).

    A GAIL discriminator reads (observation, action) pairs. An AIRL one (``transitions``)
    reads whole transitions: the next observation (the final one where an episode ended),
    whether the step terminated, and log pi(a | s) of the action under the agent's current
    policy, which ``policy_log_prob`` supplies once the agent exists.
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        reward_model: BaseRewardModel,
        demos: dict[str, np.ndarray] | None = None,
        config: GAILConfig | None = None,
        seed: int = 0,
        transitions: bool = False,
    ) -> None:
        super().__init__(env)
        self.reward_model = reward_model
        reward_model.discriminator.eval()  # it scores every step; update() trains it
        self.config = config or GAILConfig()
        self.transitions = transitions
        self.policy_log_prob: PolicyLogProb | None = None
        space = env.single_action_space
        self.expert: tuple[np.ndarray, ...] | None = None
        if demos is not None:
            features = pair_features(demos["obs"][:1], demos["actions"][:1], space).shape[1]
            if features != feature_size(env.single_observation_space, space):
                raise UserError(
                    f"the demonstrations have {features} features per (obs, action) pair, "
                    f"this env {feature_size(env.single_observation_space, space)}; record "
                    "them on the same env"
                )
            self.expert = (demos["obs"], demos["actions"])
            if transitions:
                self.expert += (demos["next_obs"], demo_terminals(demos))
        self.rng = np.random.default_rng(seed)
        self._obs: np.ndarray | None = None
        # The agent's latest steps, kept as the env gave them (uint8 frames stay uint8):
        # (obs, actions), and for AIRL (obs, actions, next_obs, terminals).
        self._recent: list[tuple[np.ndarray, ...]] = []
        self._since_phase = 0
        # A reservoir (uniform) sample of all earlier agent steps, filled phase by phase.
        self._past: tuple[np.ndarray, ...] | None = None
        self._past_seen = 0
        self.history: list[dict[str, float]] = []

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._obs = np.asarray(obs)
        return obs, info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("LearnedReward.step() before reset()")
        prev_obs, actions = self._obs, np.asarray(actions)
        obs, _, terminated, truncated, infos = self.env.step(actions)
        self._obs = np.asarray(obs)
        step: tuple[np.ndarray, ...] = (prev_obs, actions)
        if self.transitions:
            step += (true_next_obs(self._obs, terminated | truncated, infos), terminated)
        rewards = self.reward_model.reward(self.features(step)).cpu().numpy().astype(np.float64)
        if self.expert is not None:
            self._recent.append(step)
            self._since_phase += len(actions)
            if self._since_phase >= self.config.d_every:
                self.train_discriminator()
        return obs, rewards, terminated, truncated, infos

    def features(self, step: tuple[np.ndarray, ...]) -> torch.Tensor:
        """The reward model's input rows for a batch of steps (see the class docstring)."""
        space = self.env.single_action_space
        if not self.transitions:
            return pair_features(step[0], step[1], space)
        if self.policy_log_prob is None:
            raise RuntimeError("AIRL's reward needs the policy's log-probabilities; set "
                               "policy_log_prob before stepping")  # fmt: skip
        obs, actions, next_obs, terminals = step
        log_probs = self.policy_log_prob(obs, actions)
        return transition_features(obs, actions, next_obs, terminals, log_probs, space)

    def train_discriminator(self) -> dict[str, float]:
        """``d_steps`` steps of expert steps (real) against agent steps (fake): the latest
        ones, and half from the earlier ones once there are any (``agent_history``)."""
        cfg = self.config
        agent = tuple(np.concatenate(parts) for parts in zip(*self._recent, strict=True))
        self._recent, self._since_phase = [], 0
        if self.expert is None:
            raise RuntimeError("a frozen reward model has no demonstrations to train on")
        past_size = min(self._past_seen, cfg.agent_history)
        n_past = cfg.batch_size // 2 if past_size else 0
        steps = []
        for _ in range(cfg.d_steps):
            e = self.rng.integers(len(self.expert[0]), size=cfg.batch_size)
            a = self.rng.integers(len(agent[0]), size=cfg.batch_size - n_past)
            fake = tuple(part[a] for part in agent)
            if n_past:
                if self._past is None:
                    raise RuntimeError("agent steps were counted but none were kept")
                p = self.rng.integers(past_size, size=n_past)
                fake = tuple(
                    np.concatenate([f, past[p]]) for f, past in zip(fake, self._past, strict=True)
                )
            real = tuple(part[e] for part in self.expert)
            steps.append(self.reward_model.update(self.features(real), self.features(fake)))
        self._remember(agent)
        # Until the next phase D only scores, every step: leave it in eval mode for that.
        self.reward_model.discriminator.eval()
        self.history.append(mean_metrics(steps))
        return self.history[-1]

    def _remember(self, agent: tuple[np.ndarray, ...]) -> None:
        """Reservoir sampling (Vitter's algorithm R) of the agent's steps into ``_past``."""
        capacity = self.config.agent_history
        if capacity == 0:
            return
        if self._past is None:
            self._past = tuple(np.empty((capacity, *x.shape[1:]), x.dtype) for x in agent)
        count = len(agent[0])
        index = self._past_seen + np.arange(count)  # each step's index in the run
        slot = np.where(index < capacity, index, self.rng.integers(0, index + 1))
        kept = slot < capacity
        for past, part in zip(self._past, agent, strict=True):
            past[slot[kept]] = part[kept]
        self._past_seen += count


def true_next_obs(obs: np.ndarray, ended: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
    """The observation each env reached: after an episode end, its final observation (the
    vector env has already reset it and returned the first of the next episode)."""
    ended_at = np.flatnonzero(ended)
    if ended_at.size == 0:
        return obs
    next_obs = obs.copy()
    for i in ended_at:
        next_obs[i] = infos["final_obs"][i]
    return next_obs


def demo_terminals(demos: dict[str, np.ndarray]) -> np.ndarray:
    """Which demonstration steps terminated (no future): ``terminals`` where recorded; older
    files only have ``dones``, which also count time-limit truncations."""
    return demos["terminals"] if "terminals" in demos else demos["dones"]


@dataclass
class AIRLConfig(GAILConfig):
    """Options of the AIRL reward (``--reward airl --reward-kwargs``)."""

    reward: str = "neg_log_one_minus_d"
    """How the agent's reward reads D = sigmoid(f - log pi): -log(1 - D), always positive, as
    GAIL's. ``logit`` (f - log pi, Fu et al.'s log D - log(1 - D)) is negative wherever D
    calls the agent fake, and on an env that ends episodes on failure that rewards failing
    early: on Hopper-v5 (seed 11, 150k steps) the agent's episodes fell from 122 steps to 21
    and its true return to 37, where -log(1 - D) reached 1,374. A frozen AIRL reward is read
    the same way: g, or softplus(g) for this default."""
    state_only: bool = True
    """g reads the state alone (the disentangled reward that transfers) instead of (s, a)."""
    gamma: float | None = None
    """Discount of the shaping term gamma h(s'); None takes the agent's."""
    gradient_penalty: float | None = None
    """Weight of WGAN-GP's penalty on g's gradient, in standardised state units, at points
    between the expert's and the agent's states (``advrl.gan.airl.AIRLRewardModel``): a
    smoother g off the expert's states, for transfer. None: the loss's own (none for the
    cross-entropy losses)."""

    def make_reward_model(
        self, observation_space: gym.Space, action_space: gym.Space
    ) -> BaseRewardModel:
        """A fresh AIRL discriminator; its discount is the agent's, set when learning starts
        unless ``gamma`` is given."""
        return make_airl_reward_model(
            observation_space,
            action_space,
            0.99 if self.gamma is None else self.gamma,
            self.hidden_sizes,
            self.state_only,
            self.loss,
            self.lr,
            self.reward,
            self.gradient_penalty,
        )

    saver = staticmethod(save_airl_reward_model)

    def validate(self) -> list[str]:
        problems = super().validate()
        if self.gamma is not None and not 0 <= self.gamma <= 1:
            problems.append(f"gamma must be in [0, 1] or none, got {self.gamma}")
        if self.gradient_penalty is not None and self.gradient_penalty < 0:
            problems.append(f"gradient_penalty must be >= 0 or none, got {self.gradient_penalty}")
        return problems


def load_frozen_reward_model(
    path: str | Path,
    observation_space: gym.Space,
    action_space: gym.Space,
    reading: str | None = None,
    expert_pairs: torch.Tensor | None = None,
) -> BaseRewardModel:
    """The reward in a ``reward_model.pt``: GAIL's discriminator, or AIRL's g read as
    ``reading`` (None: as saved; a reading that ranks g among the expert's states takes
    their ``expert_pairs``)."""
    state = load_checkpoint(Path(path))
    check_frozen_reading(state, path, reading)
    if state.get("kind") == "airl":
        return airl_reward_from_state(
            state, path, observation_space, action_space, reading, expert_pairs
        )
    return transition_reward_from_state(state, path, observation_space, action_space)


def check_frozen_reading(state: dict[str, Any], path: str | Path, reading: str | None) -> None:
    """Refuse a reading (``reward=``) of a saved reward model other than AIRL's."""
    if reading is not None and state.get("kind") != "airl":
        raise UserError(f"reward={reading} reads a frozen AIRL reward; {path} is GAIL's")


SATURATED_PHASES = 20
"""Discriminator phases in a row that tell expert from agent almost perfectly before a run
says its reward has saturated. On the imitation-mujoco benchmark HalfCheetah's AIRL (policy
started at log std -2) got there 82k steps in; no Hopper run with 16 trajectories had one."""


def saturated(phase: dict[str, float]) -> bool:
    """A discriminator phase whose D is almost never wrong and calls the agent's steps fake
    with near certainty (accuracy >= 0.99, the agent's mean D <= 0.01), so that a reward read
    from D is near its floor on every step the agent takes. Losses without a probability
    (WGAN, energies) never count."""
    return phase.get("accuracy", 0.0) >= 0.99 and phase.get("fake_prob", 1.0) <= 0.01


def saturation_warning(step: int, airl: bool, log_std_init: float | None = None) -> str:
    """The one line a run says when its discriminator saturates: what, and what may help
    (``log_std_init``: the Gaussian policy's starting log std, if it has one)."""
    weaker = "a weaker D (fewer d_steps, a lower lr in --reward-kwargs) may help"
    if airl and log_std_init is not None and log_std_init < 0:
        fix = (
            f"AIRL's D holds -log pi(a | s), and the policy started narrow (log_std_init="
            f"{log_std_init:g}), which makes the expert's actions improbable: start it wider "
            "(--hp log_std_init=0)"
        )
    elif airl:
        fix = f"AIRL's D holds -log pi(a | s), which a narrowing policy makes large; {weaker}"
    else:
        fix = weaker
    return (
        f"warning: the discriminator saturated at step {step:,} ({SATURATED_PHASES} phases in "
        "a row with accuracy >= 0.99 and the agent's D <= 0.01): the agent's reward is near "
        "its floor on every step, and learning may stall (HalfCheetah's AIRL learned nothing "
        f"from such a D). {fix}; see docs/guides/imitation.md"
    )


class LearnedRewardPlugin(Plugin):
    """GAIL or AIRL (``--reward gail|airl --demos FILE``), or a frozen reward model
    (``--reward model:PATH``): wraps the envs in ``LearnedReward``, checkpoints the reward
    model, and saves it as ``reward_model.pt`` at the end. It warns, once, when the
    discriminator saturates (``saturated``), and the run's summary says at which step."""

    name = "learned_reward"
    learned_reward = True

    def __init__(
        self,
        config: GAILConfig | None = None,
        demos: Path | None = None,
        model: str | None = None,
        reading: str | None = None,
    ) -> None:
        self.config, self.demos, self.model_path, self.reading = config, demos, model, reading
        self._wrapper: LearnedReward | None = None
        self._phases_seen = 0
        self._saturated_streak = 0
        self.saturated_at: int | None = None

    @property
    def wrapper(self) -> LearnedReward:
        """The envs' reward wrapper, made by ``wrap_envs``."""
        if self._wrapper is None:
            raise RuntimeError("the reward wrapper is made in wrap_envs, which has not run")
        return self._wrapper

    def discriminator_log(self) -> DiscriminatorLog:
        """GAIL's discriminator phases as curves."""
        return DiscriminatorLog(lambda run: self.wrapper.history)

    def wrap_envs(self, run: Run, envs: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
        obs_space, act_space = envs.single_observation_space, envs.single_action_space
        if self.model_path is not None:
            expert = None
            if self.demos is not None:  # a reading that ranks g among the expert's states
                demos = load_demos(self.demos)
                expert = pair_features(demos["obs"], demos["actions"], act_space)
            model = load_frozen_reward_model(
                self.model_path, obs_space, act_space, self.reading, expert
            )
            self._wrapper = LearnedReward(envs, model)
        else:
            if self.config is None or self.demos is None:
                raise RuntimeError("GAIL needs its config and demonstrations (--demos)")
            model = self.config.make_reward_model(obs_space, act_space)
            demos = load_demos(self.demos)
            airl = isinstance(self.config, AIRLConfig)
            self._wrapper = LearnedReward(envs, model, demos, self.config, run.seed, airl)
        return self.wrapper

    def before_learn(self, run: Run) -> None:
        """AIRL reads the agent's policy: its log-probabilities and, by default, its discount."""
        wrapper = self.wrapper
        self._phases_seen = len(wrapper.history)  # pre-training's phases are not watched
        if not wrapper.transitions:
            return
        log_prob = getattr(run.agent, "log_prob", None)
        if log_prob is None:
            raise UserError(
                f"--reward airl needs the policy's log-probabilities, and --algo "
                f"{run.agent.name} has no policy; use --algo ppo or --algo reinforce"
            )
        wrapper.policy_log_prob = log_prob
        config = wrapper.config
        if isinstance(config, AIRLConfig) and config.gamma is None:
            discriminator = wrapper.reward_model.discriminator
            if isinstance(discriminator, AIRLDiscriminator):
                discriminator.gamma = float(run.agent.config.gamma)

    def after_update(self, run: Run, step: int) -> None:
        """Watch each new discriminator phase for saturation; say so once per run."""
        history = self.wrapper.history
        for phase in history[self._phases_seen :]:
            self._saturated_streak = self._saturated_streak + 1 if saturated(phase) else 0
            if self._saturated_streak == SATURATED_PHASES and self.saturated_at is None:
                self.saturated_at = step
                log_std_init = getattr(getattr(run.agent, "config", None), "log_std_init", None)
                run.logger.say(saturation_warning(step, self.wrapper.transitions, log_std_init))
        self._phases_seen = len(history)

    def state_dict(self, run: Run) -> dict[str, Any]:
        """The reward model's state, and the saturation watch's, so that a resumed run goes on
        counting saturated phases and does not warn twice."""
        watch = {"streak": self._saturated_streak, "at": self.saturated_at}
        return {**self.wrapper.reward_model.state_dict(), "saturation": watch}

    def load_state_dict(self, run: Run, state: dict[str, Any]) -> None:
        watch = state.get("saturation", {})  # checkpoints before the watch have none
        self._saturated_streak = int(watch.get("streak", 0))
        self.saturated_at = watch.get("at")
        self.wrapper.reward_model.load_state_dict(state)

    def summary(self, run: Run) -> dict[str, Any]:
        envs = self.wrapper
        path = envs.config.save_reward_model(
            run.run_dir / "reward_model.pt",
            envs.reward_model,
            envs.single_observation_space,
            envs.single_action_space,
        )
        history = envs.history
        return {
            "reward_model": str(path),
            "discriminator_phases": len(history),
            "discriminator_accuracy": history[-1].get("accuracy") if history else None,
            "discriminator_saturated_at": self.saturated_at,
        }
