"""GAIL on CartPole: demonstrations, learning from the discriminator only, frozen reuse."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
from conftest import run_script
from gymnasium.spaces import Discrete
from sklearn.metrics import roc_auc_score
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from advrl.core.checkpoint import load_checkpoint
from advrl.core.demos import load_demos
from advrl.core.errors import UserError
from advrl.envs.make import make_vector_env, resolve_env
from advrl.gan.transitions import load_transition_reward_model, pair_features
from advrl.plan import plan_run
from advrl.plugins.gail import (
    SATURATED_PHASES,
    GAILConfig,
    LearnedReward,
    LearnedRewardPlugin,
)
from advrl.train import TrainSettings, train

# The tests that read the expert run in one xdist worker, so that it is trained once, not once
# in each worker (about 30 s of CI's time).
expert_group = pytest.mark.xdist_group("cartpole_expert")


@pytest.fixture(scope="module")
def expert(tmp_path_factory):
    """A PPO CartPole expert (500) and 10 recorded episodes of it."""
    root = tmp_path_factory.mktemp("gail")
    summary = train(
        TrainSettings(
            env="CartPole-v1", algo="ppo", seed=2, eval_episodes=3, run_dir=root / "expert"
        )
    )
    assert summary["eval_return_mean"] >= 475
    demos = root / "demos.npz"
    result = run_script(
        "record_demos.py", summary["checkpoint"], "--episodes", "10", "--out", str(demos)
    )
    assert result.returncode == 0, result.stderr
    return root, demos


@expert_group
def test_record_demos_writes_whole_episodes(expert):
    _, path = expert
    demos = load_demos(path)
    assert len(demos["episode_returns"]) == 10
    assert len(demos["obs"]) == len(demos["actions"]) == len(demos["next_obs"])
    assert demos["dones"].sum() == 10 and demos["dones"][-1]
    assert demos["episode_returns"].mean() >= 475
    # next_obs of a step is the obs of the following step inside an episode
    inside = np.flatnonzero(~demos["dones"][:-1])
    np.testing.assert_array_equal(demos["next_obs"][inside], demos["obs"][inside + 1])


@expert_group
def test_ppo_learns_cartpole_from_the_gail_reward_alone(expert):
    root, demos = expert
    run_dir = root / "gail"
    summary = train(
        TrainSettings(
            env="CartPole-v1",
            algo="ppo",
            seed=2,  # seeds 1-6 end at 500 but seed 5 (57): README, GAIL
            total_steps=100_000,
            reward="gail",
            demos=demos,
            run_dir=run_dir,
        )
    )
    assert summary["eval_return_mean"] >= 450, summary["eval_returns"]
    assert summary["discriminator_phases"] > 10
    tags = EventAccumulator(str(run_dir)).Reload().Tags()["scalars"]
    assert "charts/true_episodic_return" in tags
    assert "charts/episodic_return" not in tags  # the env's reward is for reference only
    assert "discriminator/accuracy" in tags

    # CartPole would also be solved by any positive per-step reward (-log(1 - D) > 0 is
    # GAIL's survival bias), so check that the reward learned the expert: it ranks the
    # expert's (state, action) pairs above those of a uniformly random policy. Measured AUC
    # on seeds 1-6: 0.54 (a run that collapsed) to 0.75 with the default agent_history; the
    # discriminator without it (agent_history=0) forgets non-expert play: 0.53 on this seed.
    auc = expert_over_random_auc(summary["reward_model"], demos)
    assert auc >= 0.55, auc

    # The saved reward model is reusable, frozen, as another run's reward.
    reuse = train(
        TrainSettings(
            env="CartPole-v1",
            algo="ppo",
            seed=3,
            total_steps=2048,
            eval_episodes=1,
            reward=f"model:{summary['reward_model']}",
            run_dir=root / "reuse",
        )
    )
    assert reuse["discriminator_phases"] == 0


@expert_group
def test_a_reading_of_airls_g_is_refused_for_gails_reward_file(expert, tmp_path):
    """It says the file is GAIL's, not that --demos is missing (expert_rank also takes it)."""
    _, demos = expert
    gail = train(
        TrainSettings(env="CartPole-v1", algo="ppo", total_steps=256, reward="gail", demos=demos,
                      eval_episodes=0, run_dir=tmp_path / "gail")
    )  # fmt: skip
    with pytest.raises(UserError, match=r"reward=expert_rank reads a frozen AIRL reward; .*GAIL"):
        plan_run(
            TrainSettings(env="CartPole-v1", algo="ppo", reward=f"model:{gail['reward_model']}",
                          reward_kwargs={"reward": "expert_rank"}, run_dir=tmp_path / "refused")
        )  # fmt: skip


def expert_over_random_auc(reward_model: str, demos) -> float:
    """How well a saved CartPole reward model ranks the expert's (state, action) pairs above
    those of a uniformly random policy (ROC AUC; 0.5 is chance)."""
    space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    model = load_transition_reward_model(reward_model, space, Discrete(2))
    data = load_demos(demos)
    expert_reward = model.reward(pair_features(data["obs"], data["actions"], Discrete(2)))
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    random_obs, random_actions = [], []
    for _ in range(2000):
        action = env.action_space.sample()
        random_obs.append(obs)
        random_actions.append(action)
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    random_reward = model.reward(
        pair_features(np.stack(random_obs), np.array(random_actions), Discrete(2))
    )
    labels = np.r_[np.ones(len(expert_reward)), np.zeros(len(random_reward))]
    return float(roc_auc_score(labels, np.r_[expert_reward.numpy(), random_reward.numpy()]))


@expert_group
def test_ppo_learns_cartpole_from_an_ebgan_energy_reward(expert):
    """The EBGAN discriminator (an autoencoder's energy, reward exp(-E)) in GAIL's place.
    Measured: 500 on seeds 1-3, and BEGAN's and the loss-sensitive GAN's 500 on seed 2."""
    root, demos = expert
    summary = train(
        TrainSettings(env="CartPole-v1", algo="ppo", seed=2, total_steps=100_000,
                      reward="gail", demos=demos, reward_kwargs={"discriminator": "ebgan"},
                      run_dir=root / "ebgan")
    )  # fmt: skip
    assert summary["eval_return_mean"] >= 450, summary["eval_returns"]
    assert load_checkpoint(summary["reward_model"])["config"]["discriminator"] == "ebgan"
    # Measured on seeds 1-3: AUC 0.91, 0.93, 0.89 (the classifier's: 0.54-0.75 on seeds 1-6).
    assert expert_over_random_auc(summary["reward_model"], demos) >= 0.8


@expert_group
def test_behaviour_cloning_alone_reaches_450_on_cartpole(expert):
    """BC and MLE are one mechanism: maximum likelihood of the demonstrations, no RL step."""
    root, demos = expert
    summary = train(
        TrainSettings(
            env="CartPole-v1",
            algo="ppo",
            seed=1,
            total_steps=0,
            pretrain="bc",
            demos=demos,
            run_dir=root / "bc",
        )
    )
    assert summary["total_steps"] == 0
    assert summary["eval_return_mean"] >= 450
    pretrain = summary["pretrain"]
    assert pretrain["kind"] == "bc" and 1 <= pretrain["bc_best_epoch"] <= len(pretrain["bc_losses"])
    assert pretrain["bc_val_nll"][pretrain["bc_best_epoch"] - 1] == min(pretrain["bc_val_nll"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pretrain", "bc"], "needs --demos"),
        (["--pretrain-kwargs", "epochs=3"], "configure --pretrain bc only"),
        (["--recipe-kwargs", "mle_epochs=3"], "SeqGAN-v0's recipe only"),
        (["--total-steps", "0"], "allowed with --pretrain"),
        (["--num-envs", "0"], "--num-envs must be at least 1"),
        (["--reward", "gail"], "needs --demos"),
        (["--reward", "gail", "--demos", "missing.npz"], "not found"),
        (["--reward", "model:missing.pt"], "not found"),
        (["--reward", "sometimes"], "--reward must be"),
        (["--demos", "x.npz"], "only used with --reward gail"),
    ],
)
def test_bad_reward_options_are_one_line_errors(args, message, tmp_path):
    result = run_script(
        "train_agent.py", "--env", "CartPole-v1", "--algo", "ppo", *args, cwd=tmp_path
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_agent_history_is_a_uniform_sample_of_the_whole_run():
    """The discriminator's past negatives: 1,000 of 10,000 pairs, every part of the run kept."""
    envs = make_vector_env(resolve_env("CartPole-v1"), 2)
    space = envs.single_observation_space
    demos = {"obs": np.zeros((10, 4), np.float32), "actions": np.zeros(10, np.int64)}
    config = GAILConfig(agent_history=1000)
    learned = LearnedReward(
        envs, config.make_reward_model(space, envs.single_action_space), demos, config
    )
    for phase in range(20):  # pair k of the run carries k in its first feature
        obs = np.zeros((500, 4), np.float32)
        obs[:, 0] = np.arange(phase * 500, (phase + 1) * 500)
        learned._remember((obs, np.zeros(500, np.int64)))
    kept = learned._past[0][:, 0]
    assert len(np.unique(kept)) == 1000
    assert abs(kept.mean() - 4999.5) < 300  # the standard error is 91
    assert np.histogram(kept, bins=10, range=(0, 10_000))[0].min() >= 60  # 100 expected
    envs.close()


def test_gail_on_image_observations_uses_the_cnn_discriminator(tmp_path):
    """Pong frames (4x84x84 uint8): demos record and a GAIL run trains a CNN discriminator."""
    env_kwargs = {"max_episode_steps": 400}
    expert = train(
        TrainSettings(
            env="ALE/Pong-v5", algo="ppo", seed=1, total_steps=512, num_envs=2,
            env_kwargs=env_kwargs, eval_episodes=0, run_dir=tmp_path / "expert",
            hp={"n_steps": "128"},
        )
    )  # fmt: skip
    demos = tmp_path / "demos.npz"
    result = run_script(
        "record_demos.py", expert["checkpoint"], "--episodes", "1", "--out", str(demos)
    )
    assert result.returncode == 0, result.stderr
    assert load_demos(demos)["obs"].dtype == np.uint8
    summary = train(
        TrainSettings(
            env="ALE/Pong-v5", algo="ppo", seed=1, total_steps=512, num_envs=2,
            env_kwargs=env_kwargs, eval_episodes=0, run_dir=tmp_path / "gail",
            hp={"n_steps": "128"}, reward="gail", demos=demos,
            reward_kwargs={"d_every": "128", "d_steps": "2", "batch_size": "32"},
        )
    )  # fmt: skip
    assert summary["discriminator_phases"] == 4
    model = load_transition_reward_model(
        summary["reward_model"],
        gym.spaces.Box(0, 255, (4, 84, 84), np.uint8),
        gym.spaces.Discrete(6),
    )
    assert type(model.discriminator).__name__ == "ImagePairDiscriminator"


def test_list_hp_shows_the_gail_options():
    result = run_script(
        "train_agent.py", "--env", "CartPole-v1", "--algo", "ppo", "--reward", "gail", "--list-hp"
    )
    assert result.returncode == 0, result.stderr
    assert "options of --reward gail, set with --reward-kwargs" in result.stdout
    assert "agent_history=20000  [int]" in result.stdout


@pytest.mark.parametrize(
    ("airl", "log_std_init", "fix"),
    [
        (True, -2.0, "started narrow (log_std_init=-2), which makes the expert's actions"),
        (True, 0.0, "a narrowing policy makes large; a weaker D (fewer d_steps"),
        (False, -2.0, "may help"),
    ],
)
def test_a_saturated_discriminator_is_reported_once_with_what_may_help(airl, log_std_init, fix):
    """20 phases in a row with accuracy >= 0.99 and the agent's D <= 0.01 (HalfCheetah's AIRL
    from a narrow policy) warn once, at the step they are seen, saying what may help; a phase in
    between that D does not call the agent's steps fake with near certainty resets the count."""
    said: list[str] = []
    agent = SimpleNamespace(
        name="ppo",
        log_prob=lambda obs, actions: None,
        config=SimpleNamespace(log_std_init=log_std_init),
    )
    run = SimpleNamespace(logger=SimpleNamespace(say=said.append), agent=agent)
    plugin = LearnedRewardPlugin()  # with what it reads of its wrapper
    plugin._wrapper = SimpleNamespace(history=[], transitions=airl, config=None)
    stuck = {"accuracy": 0.995, "fake_prob": 0.004}
    healthy = {"accuracy": 0.8, "fake_prob": 0.3}

    def phases(*new: dict, step: int) -> None:
        plugin.wrapper.history.extend(new)
        plugin.after_update(run, step)

    plugin.before_learn(run)
    phases(healthy, step=2048)
    phases(*[stuck] * (SATURATED_PHASES - 1), step=40_960)
    phases({"accuracy": 0.995, "fake_prob": 0.02}, step=43_008)  # D(agent) not yet ~0
    phases(*[stuck] * (SATURATED_PHASES - 1), step=81_920)
    assert said == [] and plugin.saturated_at is None
    phases(stuck, step=83_968)
    phases(*[stuck] * 30, step=145_408)
    assert plugin.saturated_at == 83_968
    (line,) = said
    assert "saturated at step 83,968" in line and "\n" not in line
    assert fix in line and ("--hp log_std_init=0" in line) == (airl and log_std_init < 0)


def test_the_saturation_watch_goes_on_across_a_resume():
    """A run cut off one saturated phase short of the warning warns at its first saturated
    phase after the resume, and a run that has warned does not warn again once resumed."""
    said: list[str] = []
    agent = SimpleNamespace(name="ppo", config=SimpleNamespace(log_std_init=0.0))
    run = SimpleNamespace(logger=SimpleNamespace(say=said.append), agent=agent)
    stuck = {"accuracy": 0.995, "fake_prob": 0.004}

    def plugin_resumed_from(state: dict | None) -> LearnedRewardPlugin:
        plugin = LearnedRewardPlugin()
        model = SimpleNamespace(state_dict=lambda: {"loss": "non_saturating"})
        model.load_state_dict = lambda loaded: setattr(model, "loaded", loaded)
        plugin._wrapper = SimpleNamespace(history=[], transitions=False, reward_model=model)
        if state is not None:
            plugin.load_state_dict(run, state)
            assert model.loaded["loss"] == "non_saturating"
        plugin.before_learn(run)
        return plugin

    first = plugin_resumed_from(None)
    first.wrapper.history.extend([stuck] * (SATURATED_PHASES - 1))
    first.after_update(run, 40_960)
    second = plugin_resumed_from(first.state_dict(run))
    second.wrapper.history.append(stuck)
    second.after_update(run, 43_008)
    assert second.saturated_at == 43_008 and len(said) == 1
    third = plugin_resumed_from(second.state_dict(run))
    third.wrapper.history.extend([stuck] * SATURATED_PHASES)
    third.after_update(run, 90_112)
    assert third.saturated_at == 43_008 and len(said) == 1
    assert plugin_resumed_from({"loss": "non_saturating"}).saturated_at is None  # an old one
