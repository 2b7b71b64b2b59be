"""The reference for advrl's GAIL: the imitation library's GAIL on SB3's PPO, CartPole-v1.

imitation 1.0.1 pins gymnasium~=0.29 and stable-baselines3~=2.2.1, which cannot share an
environment with advrl (gymnasium 1.x), so this runs in its own venv:

    python -m venv /tmp/imitvenv && /tmp/imitvenv/bin/pip install torch==2.13.0 imitation
    /tmp/imitvenv/bin/python advrl/benchmarks/imitation_gail_cartpole.py DEMOS.npz [STEPS]

DEMOS.npz is what advrl's ``scripts/record_demos.py`` wrote (the same 10 expert episodes
advrl's GAIL test uses). PPO gets advrl's CartPole preset (rl-baselines3-zoo's: 8 envs,
n_steps 32, batch 256, 20 epochs, gamma 0.98, gae_lambda 0.8, lr 1e-3). Prints the greedy
true return over 10 episodes and the wall time.
"""

import sys
import time

import gymnasium as gym
import numpy as np
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data.types import Transitions
from imitation.rewards.reward_nets import BasicRewardNet
from imitation.util.networks import RunningNorm
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

demos = np.load(sys.argv[1])
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
transitions = Transitions(
    obs=demos["obs"].astype(np.float32),
    acts=demos["actions"].astype(np.int64),
    infos=np.array([{}] * len(demos["obs"])),
    next_obs=demos["next_obs"].astype(np.float32),
    dones=demos["dones"].astype(bool),
)
venv = DummyVecEnv([lambda: gym.make("CartPole-v1")] * 8)
venv.seed(1)
learner = PPO(
    "MlpPolicy",
    venv,
    n_steps=32,
    batch_size=256,
    n_epochs=20,
    gamma=0.98,
    gae_lambda=0.8,
    learning_rate=1e-3,
    ent_coef=0.0,
    seed=1,
    device="cpu",
)
reward_net = BasicRewardNet(
    venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm
)
trainer = GAIL(
    demonstrations=transitions,
    demo_batch_size=256,
    gen_replay_buffer_capacity=2048,
    n_disc_updates_per_round=10,
    venv=venv,
    gen_algo=learner,
    reward_net=reward_net,
    allow_variable_horizon=True,
)
start = time.perf_counter()
trainer.train(steps)
wall = time.perf_counter() - start
mean, std = evaluate_policy(learner, gym.make("CartPole-v1"), n_eval_episodes=10)
print(
    f"imitation GAIL + SB3 PPO, CartPole-v1, {steps} steps: true return {mean:.1f} ± {std:.1f}, "
    f"wall {wall:.1f} s"
)
