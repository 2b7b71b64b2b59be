"""Contract tests over every env advrl registers: both env checkers and same-seed determinism."""

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import advrl
from advrl.envs import ADVRL_ENV_IDS


def test_every_advrl_id_is_registered():
    registered = {
        env_id
        for env_id, spec in gym.registry.items()
        if str(spec.entry_point).startswith("advrl.")
    }
    assert registered == set(ADVRL_ENV_IDS)


@pytest.mark.parametrize("env_id", ADVRL_ENV_IDS)
def test_env_checkers_pass(env_id):
    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env, skip_render_check=False)
        sb3_check_env(env, warn=True)


@pytest.mark.parametrize("env_id", ADVRL_ENV_IDS)
def test_same_seed_same_rollout(env_id):
    def rollout(seed):
        env = gym.make(env_id)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        trace = [np.asarray(obs).tolist()]
        for _ in range(200):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            trace.append((np.asarray(obs).tolist(), float(reward), terminated, truncated))
            if terminated or truncated:
                obs, _ = env.reset()
                trace.append(np.asarray(obs).tolist())
        return trace

    assert rollout(3) == rollout(3)
    assert rollout(3) != rollout(4)


def test_module_id_form_works_in_a_fresh_interpreter():
    code = (
        "import gymnasium as gym; env = gym.make('advrl:GridWorld-v0'); print(env.reset(seed=0)[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "8"


def test_register_envs_is_idempotent():
    advrl.register_envs()
    advrl.register_envs()
    assert "GridWorld-v0" in gym.registry
