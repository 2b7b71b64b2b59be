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


@pytest.mark.parametrize("env_id", ["ALE/Pong-v5", "BreakoutNoFrameskip-v4"])
def test_atari_gets_the_dqn_preprocessing(env_id):
    from gymnasium.wrappers import ClipReward, FrameStackObservation
    from stable_baselines3.common.atari_wrappers import EpisodicLifeEnv

    from advrl.envs.make import make_env, resolve_env

    factory = resolve_env(env_id)

    def wrappers(env):
        found = []
        while isinstance(env, gym.Wrapper):
            found.append(type(env))
            env = env.env
        return found

    train_env, eval_env = make_env(factory), make_env(factory, training=False)
    obs, _ = train_env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert train_env.unwrapped._frameskip == 1  # the wrapper skips, max-pooling frames
    assert {EpisodicLifeEnv, ClipReward, FrameStackObservation} <= set(wrappers(train_env))
    assert EpisodicLifeEnv not in wrappers(eval_env) and ClipReward not in wrappers(eval_env)
    # Episode statistics sit under the preprocessing (the list runs outer to inner), so they
    # see the raw game: whole games, unclipped scores.
    chain = wrappers(train_env)
    stats = chain.index(gym.wrappers.RecordEpisodeStatistics)
    assert stats > chain.index(gym.wrappers.AtariPreprocessing)
