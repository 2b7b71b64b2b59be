"""ale-py's C++ vector env as advrl's Atari training path (``--vec auto``)."""

import gymnasium as gym
import numpy as np
import pytest

from advrl.core.vec import finished_episodes
from advrl.envs.atari import AtariTrainingSignals, ale_vector_env, wrap_atari
from advrl.envs.make import make_vector_env, resolve_env

BREAKOUT = "ALE/Breakout-v5"


def wrapper_path(env_id: str, num_envs: int, **kwargs) -> gym.vector.VectorEnv:
    """The single-env wrappers' path, deterministic like the C++ one below."""

    def make() -> gym.Env:
        env = gym.make(env_id, frameskip=1, **kwargs)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        return wrap_atari(env, training=True, noop_max=0, fire_reset=False)

    return gym.vector.SyncVectorEnv(
        [make] * num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )


def test_auto_picks_the_cpp_vector_env_for_ale_ids_and_sync_otherwise():
    envs = make_vector_env(resolve_env(BREAKOUT), 2)
    assert isinstance(envs, AtariTrainingSignals)
    assert envs.single_observation_space.shape == (4, 84, 84)
    envs.close()
    sync = make_vector_env(resolve_env(BREAKOUT), 2, "sync")
    assert isinstance(sync, gym.vector.SyncVectorEnv)
    sync.close()
    # an option the C++ env cannot take falls back to the wrappers
    rgb = make_vector_env(resolve_env(BREAKOUT, {"obs_type": "grayscale"}), 1)
    assert isinstance(rgb, gym.vector.SyncVectorEnv)
    rgb.close()


def test_both_paths_agree_frame_for_frame_where_their_semantics_coincide():
    # No no-op starts, no FIRE on reset, no sticky actions: both are deterministic, and they
    # agree up to the first lost life. Their stacks differ only while the reset padding is
    # in them (zeros against copies); after a lost life SB3's wrapper plays one NOOP that
    # the C++ env does not.
    options = {"repeat_action_probability": 0.0}
    cpp = ale_vector_env(BREAKOUT, 1, noop_max=0, fire_reset=False, **options)
    python = wrapper_path(BREAKOUT, 1, **options)
    obs_c, _ = cpp.reset(seed=3)
    obs_p, _ = python.reset(seed=3)
    assert np.array_equal(obs_c[:, -1], obs_p[:, -1])
    rng = np.random.default_rng(0)
    for step in range(400):
        actions = rng.integers(0, 4, size=1)
        obs_c, rew_c, term_c, _, info_c = cpp.step(actions)
        obs_p, rew_p, term_p, _, info_p = python.step(actions)
        assert np.array_equal(rew_c, rew_p) and np.array_equal(term_c, term_p), step
        if term_c.any():  # the first lost life, at the same step on both
            assert np.array_equal(info_c["final_obs"][0], info_p["final_obs"][0])
            break
        if step >= 3:
            assert np.array_equal(obs_c, obs_p), step
    assert 10 < step < 399


def test_episode_statistics_count_whole_games():
    envs = ale_vector_env(BREAKOUT, 1)
    envs.reset(seed=0)
    rng = np.random.default_rng(2)
    lives_lost = 0
    for steps in range(1, 5001):
        _, _, terminated, _, info = envs.step(rng.integers(0, 4, size=1))
        lives_lost += int(terminated[0])
        done = finished_episodes(info)
        if done:
            _, _, length = done[0]
            assert length == steps  # one episode across all five lives
            assert lives_lost == 5
            break
    else:
        pytest.fail("no game ended in 5,000 steps")


def test_life_loss_ends_the_learners_episode_with_its_last_frame_and_clipped_rewards():
    envs = ale_vector_env(BREAKOUT, 2)
    envs.reset(seed=0)
    rng = np.random.default_rng(1)
    seen_loss = False
    for _ in range(2000):
        obs, reward, terminated, truncated, info = envs.step(rng.integers(0, 4, size=2))
        assert set(np.unique(reward)) <= {-1.0, 0.0, 1.0}
        assert np.array_equal(info["_final_obs"], terminated | truncated)
        for i in np.flatnonzero(terminated & (info["lives"] > 0)):
            seen_loss = True  # the game goes on: its last frame is the next one
            assert np.array_equal(info["final_obs"][i], obs[i])
        if seen_loss:
            break
    assert seen_loss
    envs.close()


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_agents_train_on_the_cpp_path(algo, tmp_path):
    from advrl.train import TrainSettings, train

    summary = train(
        TrainSettings(env=BREAKOUT, algo=algo, total_steps=512, num_envs=2, eval_episodes=0,
                      run_dir=tmp_path / algo, device="cpu",
                      hp={"learning_starts": 100, "buffer_size": 1000} if algo == "dqn" else {})
    )  # fmt: skip
    assert summary["total_steps"] >= 512
