"""The imitation library's GAIL and AIRL on the imitation-mujoco suite's demonstrations: the
reference beside advrl's (``advrl/benchmarks/imitation_mujoco.py``).

imitation 1.0.1 pins gymnasium~=0.29 and stable-baselines3~=2.2, which cannot share an
environment with advrl (gymnasium 1.x), so this runs in its own venv and imports nothing
from advrl:

    python -m venv /tmp/imitvenv
    /tmp/imitvenv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    /tmp/imitvenv/bin/pip install imitation "gymnasium[mujoco]"
    /tmp/imitvenv/bin/python advrl/benchmarks/imitation_library_mujoco.py \\
        benchmarks/imitation_mujoco/demos_Hopper-v5_4.npz Hopper gail 2000000 1

gymnasium 0.29 has the ``-v4`` MuJoCo envs, not ``-v5``: the same observations, actions,
health checks and rewards bar one step (v5 fixed details of contact forces and info, none of which
Hopper's or HalfCheetah's observation uses, and stopped paying Hopper's healthy reward of 1 on
the step that ends an episode by a fall: at most 1 of a return in the thousands), so the
``-v5`` demonstrations are used as they are, and the runs train and are scored on ``-v4``.
The learner is SB3's PPO with the suite's ``LEARNER_HP`` (CleanRL's settings: 64x64 tanh, lr
3e-4 decayed linearly, 2048 steps, batch 64, 10 epochs), its observations normalised inside
the policy by running statistics, as the library's tuned configurations do
(``NormalizeFeaturesExtractor``). Not by ``VecNormalize``: the library records the agent's
transitions from the env it is given, so a ``VecNormalize`` there feeds the discriminator
normalised agent states beside raw expert ones, which differ by their scale alone (the
suite's first six reference runs did so, and trained at a learning rate of 0 as well: see
``learning_rate``). The reward net is built as the library's own scripts build it
(``imitation/scripts/ingredients/reward.py``): inputs and output normalised by running
statistics (``NormalizedRewardNet``). The output normalisation reaches AIRL's learner; GAIL's
learner gets -log(1 - D) of the raw logit (``RewardNetFromDiscriminatorLogit`` calls the
net's forward, which the normaliser leaves alone), in the library's scripts too. The
discriminator trains after every 2048-step rollout on expert and
agent transitions in 16 steps of min(256, the demonstrations' size) each. Prints one JSON line:
the greedy true return over 10 episodes (from seed + 10,000), env steps, wall time, how far
the policy's parameters moved (``policy_moved``; none is an error) and the training curve
(the mean true return of the last 100 episodes, every 10 rounds).
"""

import json
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data.types import Transitions
from imitation.policies.base import NormalizeFeaturesExtractor
from imitation.rewards.reward_nets import (
    BasicRewardNet,
    BasicShapedRewardNet,
    NormalizedRewardNet,
)
from imitation.util.networks import RunningNorm
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

ROUND = 2048
"""Env steps per round: one PPO rollout, then the discriminator's updates."""
LEARNING_RATE = 3e-4
"""PPO's learning rate at the start, decayed linearly to 0 over the budget."""
CURVE_ROUNDS = 10
"""Rounds (of 2,048 steps) between two points of the training curve: the mean true return
of the learner's last 100 episodes."""


def main(demos_path: str, env_name: str, method: str, steps: int, seed: int) -> None:
    env_id = f"{env_name}-v4"
    demos = np.load(demos_path)
    transitions = Transitions(
        obs=demos["obs"].astype(np.float32),
        acts=demos["actions"].astype(np.float32),
        infos=np.array([{}] * len(demos["obs"])),
        next_obs=demos["next_obs"].astype(np.float32),
        dones=demos["terminals"].astype(bool),
    )
    # Monitor sits under the library's reward wrapper, so it sees the env's true reward: the
    # learner's training return, kept every CURVE_ROUNDS rounds as the run's curve.
    venv = DummyVecEnv([lambda: Monitor(gym.make(env_id))])
    venv.seed(seed)
    # Observations normalised in the policy: the env stays raw, like the demonstrations.
    normalize_in_policy = {
        "features_extractor_class": NormalizeFeaturesExtractor,
        "features_extractor_kwargs": {"normalize_class": RunningNorm},
    }
    # Whole rounds of 2,048 steps, rounded up as advrl's rollouts are (2M: 2,000,896 steps).
    budget = -(-steps // ROUND) * ROUND
    learner = PPO(
        "MlpPolicy",
        venv,
        policy_kwargs=normalize_in_policy,
        learning_rate=LEARNING_RATE,  # the first round's; the schedule below takes over
        n_steps=ROUND,
        batch_size=64,
        n_epochs=10,
        gamma=0.99,
        gae_lambda=0.95,
        clip_range=0.2,
        ent_coef=0.0,
        vf_coef=0.5,
        max_grad_norm=0.5,
        seed=seed,
        device="cpu",
    )
    net_cls = BasicShapedRewardNet if method == "airl" else BasicRewardNet
    # The library's own defaults (imitation/scripts/ingredients/reward.py): inputs and the
    # reward the learner sees both normalised by running statistics.
    reward_net = NormalizedRewardNet(
        net_cls(venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm),
        normalize_output_layer=RunningNorm,
    )
    trainer_cls = AIRL if method == "airl" else GAIL
    trainer = trainer_cls(
        demonstrations=transitions,
        # The library draws its batches without replacement: at most the demonstrations'
        # size (4 subsampled trajectories are ~190 steps), else advrl's GAIL batch of 256.
        demo_batch_size=min(256, 2 ** int(np.log2(len(transitions)))),
        gen_replay_buffer_capacity=ROUND * 4,
        n_disc_updates_per_round=16,
        venv=venv,
        gen_algo=learner,
        reward_net=reward_net,
        allow_variable_horizon=True,
    )

    def learning_rate(_progress_remaining: float) -> float:
        """3e-4 decayed linearly over the whole budget, as CleanRL's (1 - rounds done /
        rounds) is. Not SB3's progress_remaining: the library calls ``learn`` once per
        round, so that reaches 0 by the end of every round's rollout, the moment PPO's
        update reads it, and a schedule of it trains at a learning rate of 0 throughout."""
        steps_before_round = max(learner.num_timesteps - ROUND, 0)
        return LEARNING_RATE * (1.0 - steps_before_round / budget)

    learner.lr_schedule = learning_rate
    initial = torch.nn.utils.parameters_to_vector(learner.policy.parameters()).detach().clone()
    # One thread, as each of advrl's trials gets (one CPU each, two at a time): two
    # processes of torch's default two threads would fight over the two cores.
    torch.set_num_threads(1)
    start = time.perf_counter()
    curve: list[list[float]] = []

    def keep_curve(round_index: int) -> None:
        if (round_index + 1) % CURVE_ROUNDS == 0 and learner.ep_info_buffer:
            recent = [float(info["r"]) for info in learner.ep_info_buffer]
            curve.append([float(learner.num_timesteps), float(np.mean(recent))])

    trainer.train(budget, callback=keep_curve)
    wall = time.perf_counter() - start
    # How far the policy moved from its initialisation: 0 would mean it never trained.
    moved = torch.nn.utils.parameters_to_vector(learner.policy.parameters()).detach() - initial
    policy_moved = float(moved.norm())
    if policy_moved == 0.0:
        raise SystemExit("the learner's policy never changed: its learning rate was 0")
    eval_env = DummyVecEnv([lambda: Monitor(gym.make(env_id))])
    eval_env.seed(seed + 10_000)
    returns, _ = evaluate_policy(
        learner, eval_env, n_eval_episodes=10, deterministic=True, return_episode_rewards=True
    )
    print(
        json.dumps(
            {
                "method": f"imitation_{method}",
                "env": f"{env_name}-v5",
                "env_id_run": env_id,
                "demos": len(demos["episode_returns"]),
                "seed": seed,
                "return": float(np.mean(returns)),
                "env_steps": int(learner.num_timesteps),
                "wall_s": wall,
                "policy_moved": policy_moved,
                "curve": curve,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
