"""DQN, Double DQN and Dueling DQN: targets on small tensors, episode ends, learning."""

import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from test_learning import optimal_gridworld_return

from advrl.agents import ALGORITHMS, check_spaces, get_algorithm
from advrl.agents.dqn import DQN, QNetwork, dueling_q, linear_schedule, td_target
from advrl.agents.replay import FrameStackReplayBuffer, ReplayBuffer
from advrl.core.checkpoint import load_checkpoint
from advrl.core.errors import UserError
from advrl.core.logger import RunLogger
from advrl.evaluation import evaluate
from advrl.plugins import Plugin, Run
from advrl.train import TrainSettings, train

CPU = torch.device("cpu")
VARIANTS = ["dqn", "double_dqn", "dueling_dqn", "dueling_double_dqn"]


def test_dqn_target_takes_the_target_networks_max():
    rewards, terminated = torch.tensor([1.0, 0.5]), torch.tensor([0.0, 0.0])
    next_q_target = torch.tensor([[2.0, 5.0, 1.0], [-1.0, -3.0, -2.0]])
    target = td_target(rewards, terminated, next_q_target, gamma=0.5)
    assert torch.allclose(target, torch.tensor([1.0 + 0.5 * 5.0, 0.5 + 0.5 * -1.0]))


def test_double_dqn_target_uses_online_argmax_and_target_evaluation():
    rewards, terminated = torch.tensor([1.0, 0.5]), torch.tensor([0.0, 0.0])
    next_q_target = torch.tensor([[2.0, 5.0, 1.0], [-1.0, -3.0, -2.0]])
    next_q_online = torch.tensor([[9.0, 0.0, 0.0], [0.0, 0.0, 7.0]])  # picks actions 0 and 2
    target = td_target(rewards, terminated, next_q_target, 0.5, next_q_online)
    # The target network's values of the online network's choices, not either max.
    assert torch.allclose(target, torch.tensor([1.0 + 0.5 * 2.0, 0.5 + 0.5 * -2.0]))


def test_termination_cuts_the_bootstrap_and_truncation_keeps_it():
    rewards = torch.tensor([1.0, 1.0])
    terminated = torch.tensor([1.0, 0.0])  # the second transition was truncated, not ended
    next_q = torch.tensor([[4.0, 3.0], [4.0, 3.0]])
    for online in (None, next_q):
        target = td_target(rewards, terminated, next_q, 0.9, online)
        assert torch.allclose(target, torch.tensor([1.0, 1.0 + 0.9 * 4.0]))


def test_dueling_aggregation_subtracts_the_mean_advantage():
    value = torch.tensor([[10.0], [0.0]])
    advantages = torch.tensor([[1.0, 2.0, 6.0], [-1.0, 1.0, 0.0]])
    q = dueling_q(value, advantages)
    assert torch.allclose(q, torch.tensor([[8.0, 9.0, 13.0], [-1.0, 1.0, 0.0]]))
    assert torch.allclose(q.mean(dim=1), value.squeeze(1))  # V is the mean of Q over actions


def test_dueling_network_combines_its_streams():
    net = QNetwork(gym.spaces.Box(-1, 1, (3,)), 4, (8,), dueling=True)
    obs = torch.randn(5, 3)
    features = net.torso(obs)
    value, advantages = net.value(features), net.advantage(features)
    expected = value + advantages - advantages.mean(dim=1, keepdim=True)
    assert torch.allclose(net(obs), expected)
    assert not hasattr(QNetwork(gym.spaces.Discrete(3), 2, (), dueling=False), "value")


def test_epsilon_decays_linearly_then_stays():
    assert linear_schedule(1.0, 0.1, 100, 0) == 1.0
    assert linear_schedule(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 100, 100) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.1, 100, 10_000) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.1, 0, 0) == 0.1


@pytest.mark.parametrize("name", VARIANTS)
def test_each_name_is_one_implementation_with_its_flags(name):
    algo = get_algorithm(name)
    assert algo.name == name and issubclass(algo, DQN) and ALGORITHMS[name] is algo
    config = algo.Config()
    assert (config.double, config.dueling) == ("double" in name, "dueling" in name)
    # --algo dqn --hp double=true dueling=true is the same run as --algo dueling_double_dqn.
    flags = {"double": config.double, "dueling": config.dueling}
    assert dataclasses.asdict(DQN.Config(**flags)) == dataclasses.asdict(config)


def test_continuous_actions_are_refused_with_the_fix():
    env = gym.make("Pendulum-v1")
    with pytest.raises(UserError, match="cannot handle") as error:
        check_spaces(DQN, env.observation_space, env.action_space, "Pendulum-v1")
    assert "Discrete" in str(error.value) and "ppo" in str(error.value)


class Countdown(gym.Env):
    """obs = steps taken; action 1 at step 2 terminates, otherwise a 4-step time limit."""

    observation_space = gym.spaces.Box(0, 10, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        terminated = self.t == 2 and action == 1
        return np.array([self.t], np.float32), 1.0, terminated, False, {}


def run_learn(agent, env_fns, steps, tmp_path):
    envs = gym.vector.SyncVectorEnv(env_fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    logger = RunLogger(Path(tmp_path), steps)
    agent.learn(envs, steps, logger, seed=0)
    logger.close()
    return agent


def test_episode_ends_store_the_real_last_observation(tmp_path):
    """Truncated: next obs is the final obs and terminated = 0; terminated: terminated = 1."""
    config = DQN.Config(
        learning_starts=10**6, buffer_size=1000, hidden_sizes=(8,), exploration_final_eps=1.0
    )
    env = Countdown()
    agent = DQN(env.observation_space, env.action_space, config, CPU)
    make = lambda: gym.wrappers.TimeLimit(Countdown(), max_episode_steps=4)  # noqa: E731
    run_learn(agent, [make, make], 200, tmp_path)
    batch = agent.buffer.get(np.arange(len(agent.buffer)))
    obs, next_obs = batch.observations[:, 0], batch.next_observations[:, 0]
    assert torch.equal(next_obs, obs + 1)  # never the reset observation 0
    terminated = batch.terminated.bool()
    assert terminated.any() and torch.all(next_obs[terminated] == 2)
    truncated = next_obs == 4
    assert truncated.any() and not terminated[truncated].any()


def test_hard_target_update_copies_and_polyak_averages(tmp_path):
    space = gym.spaces.Box(0, 10, (1,), np.float32)
    for tau in (1.0, 0.25):
        config = DQN.Config(
            tau=tau, target_update_interval=50, learning_starts=10, hidden_sizes=(8,), lr=0.05
        )
        agent = DQN(space, gym.spaces.Discrete(2), config, CPU)
        before = [p.clone() for p in agent.target_net.parameters()]
        make = lambda: gym.wrappers.TimeLimit(Countdown(), max_episode_steps=4)  # noqa: E731
        run_learn(agent, [make], 49, tmp_path / str(tau))
        assert all(
            torch.equal(a, b) for a, b in zip(before, agent.target_net.parameters(), strict=True)
        )
        # One more step reaches step 50: the target moves toward the trained online network.
        run_learn(agent, [make], 50, tmp_path / f"{tau}b")
        for target, old, new in zip(
            agent.target_net.parameters(), before, agent.q_net.parameters(), strict=True
        ):
            assert not torch.equal(old, new)
            assert torch.allclose(target, old + tau * (new.detach() - old), atol=1e-7)
            if tau == 1.0:
                assert torch.equal(target, new.detach())


def test_agent_on_frame_stacks_uses_the_frame_buffer(tmp_path):
    class Noise(gym.Env):
        observation_space = gym.spaces.Box(0, 255, (36, 36), np.uint8)
        action_space = gym.spaces.Discrete(3)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.np_random.integers(0, 255, (36, 36), dtype=np.uint8), {}

        def step(self, action):
            obs = self.np_random.integers(0, 255, (36, 36), dtype=np.uint8)
            return obs, float(action == 1), bool(self.np_random.random() < 0.05), False, {}

    def make():
        env = gym.wrappers.TimeLimit(Noise(), max_episode_steps=30)
        return gym.wrappers.FrameStackObservation(env, 4)

    config = DQN.Config(
        learning_starts=64, batch_size=8, buffer_size=500, hidden_sizes=(), double=True
    )
    env = make()
    agent = DQN(env.observation_space, env.action_space, config, CPU)
    run_learn(agent, [make, make], 300, tmp_path)
    assert isinstance(agent.buffer, FrameStackReplayBuffer) and agent.n_updates > 0
    agent.config.frame_stack_buffer = False
    assert isinstance(agent.make_buffer(2, np.random.default_rng(0)), ReplayBuffer)
    assert agent.act(env.reset()[0][None]).shape == (1,)


def test_resume_restores_networks_optimizer_and_step(tmp_path):
    summary = train(
        TrainSettings(
            env="CartPole-v1",
            algo="dueling_double_dqn",
            total_steps=1500,
            run_dir=tmp_path / "run",
            eval_episodes=1,
            device="cpu",
            hp={"learning_starts": "500", "train_freq": "4", "gradient_steps": "1"},
        )
    )
    checkpoint = load_checkpoint(summary["checkpoint"])
    assert checkpoint["run"]["algo"] == "dueling_double_dqn"
    assert checkpoint["config"]["double"] and checkpoint["config"]["dueling"]
    state = checkpoint["agent"]
    assert {"q_net", "target_net", "optimizer", "global_step", "n_updates"} <= set(state)
    assert state["global_step"] == 1500 and state["n_updates"] == (1500 - 500) // 4 + 1
    algo = get_algorithm(checkpoint["run"]["algo"])
    env = gym.make("CartPole-v1")
    config = algo.Config(**checkpoint["config"])
    agent = algo(env.observation_space, env.action_space, config, CPU)
    agent.load_state_dict(state)
    assert agent.global_step == 1500
    # Epsilon continues from the step: a 2000-step run is past its decay.
    assert agent.epsilon(2000) == config.exploration_final_eps
    resumed = train(TrainSettings(resume=Path(summary["checkpoint"]), total_steps=2500))
    assert resumed["total_steps"] == 2500


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_reaches_the_optimal_gridworld_return(name, tmp_path):
    optimal = optimal_gridworld_return()
    summary = train(
        TrainSettings(
            env="GridWorld-v0",
            algo=name,
            total_steps=6_000,
            seed=1,
            run_dir=tmp_path / "run",
            eval_episodes=3,
            device="cpu",
        )
    )
    assert summary["eval_return_mean"] == pytest.approx(optimal, abs=0.01)


class StopWhenSolved(Plugin):
    """Every ``every`` env steps, the greedy mean return over 10 episodes (seed 10,001, as
    the run's final evaluation); learning stops at the first of at least ``threshold``."""

    name = "stop_when_solved"

    def __init__(self, every: int, threshold: float) -> None:
        self.every, self.threshold = every, threshold
        self.means: list[tuple[int, float]] = []

    def after_update(self, run: Run, step: int) -> None:
        if step < self.every * (len(self.means) + 1):
            return
        mean = float(evaluate(run.agent, run.factory, 10, seed=10_001).mean())
        self.means.append((step, mean))
        if mean >= self.threshold:
            run.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_solves_cartpole_within_50k_steps(name, tmp_path):
    """On two of seeds 1-3, a greedy mean of at least 475 over 10 episodes at a 5,000-step
    point within 50k steps.

    The preset anneals the learning rate, so the final policy is usually the solved one;
    DQN's greedy policy on CartPole can still flip between 500 and 250 from one phase of
    gradient steps to the next, so the policy is evaluated every 5,000 steps, and a run stops
    at the first that solves it. The claim is over seeds because one seed's outcome is not
    stable across CPUs: after the floating-point numbers moved (2026-12-06, same packages),
    seeds 1-6 of Dueling Double DQN and of Double DQN each solved 5 of 6 (seed 1, resp. 4,
    peaked at 399.1 and 295.8), where a day before seeds 1-2, resp. 1-7, had all solved. Seeds
    run in order until two solve, so a third runs only when one of the first two fails.
    """
    runs: list[list[tuple[int, float]]] = []
    solved_runs = 0
    for seed in (1, 2, 3):
        solved = StopWhenSolved(every=5_000, threshold=475)
        summary = train(
            TrainSettings(
                env="CartPole-v1",
                algo=name,
                total_steps=50_000,
                seed=seed,
                run_dir=tmp_path / f"run{seed}",
                eval_episodes=10,
                device="cpu",
            ),
            plugins=[solved],
        )
        runs.append(solved.means)
        step, mean = solved.means[-1]
        if mean >= solved.threshold:
            # The run stopped there, and its final evaluation (the same episodes) is that
            # policy's.
            assert summary["total_steps"] == step and summary["eval_return_mean"] == mean
            solved_runs += 1
        if solved_runs == 2:
            return
    pytest.fail(f"{name} solved CartPole on fewer than 2 of seeds 1-3: {runs}")
