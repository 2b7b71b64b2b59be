"""Side-by-side benchmarks of advrl's agents and Stable-Baselines3 on the same work.

Each case trains our agent and its SB3 counterpart with the same hyperparameters, network
sizes, number of envs and env steps, in one process, seed by seed, alternating between the
two so that machine noise hits both alike. Each runs as its users run it: ours with advrl's
thread policy (``train_agent.py``'s), SB3 with torch's default threads; each run records
its count. It reports the median over seeds of the final
greedy return, the steps until the mean of the last 10 training episodes reaches the
threshold, wall time and SPS, and the ratios ours / SB3.
"""

from __future__ import annotations

import functools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advrl.agents import get_algorithm
from advrl.agents.encoders import splits_over_threads
from advrl.benchmarks import append_journal
from advrl.core.checkpoint import write_json_atomic
from advrl.core.config import config_from_overrides
from advrl.core.logger import RunLogger
from advrl.core.seeding import seed_everything
from advrl.core.threads import apply_threads, plan_threads
from advrl.envs.atari import atari_make_kwargs, is_atari_id
from advrl.envs.make import make_vector_env, resolve_env
from advrl.evaluation import evaluate
from advrl.presets import find_preset
from advrl.sweeps.aggregate import Aggregate, aggregate_scores, format_aggregate


@dataclass
class Case:
    """One benchmark: our algorithm and SB3's equivalent on one env."""

    name: str
    env: str
    total_steps: int
    num_envs: int
    threshold: float
    algo: str
    hp: dict[str, Any]
    sb3_factory: Callable[[Any, int], Any] | None
    """(vector env, seed) -> an SB3 model configured like ``hp``; None runs ours only."""
    note: str = ""
    evaluate: bool = True
    """Measure the final greedy return (off for fixed-length speed runs)."""
    max_seeds: int | None = None
    """Run only the first this many seeds (long Atari runs)."""
    extra: Callable[[], dict[str, tuple[float, float]]] | None = None
    """Other measurements, metric -> (ours, SB3's), reported in a second table."""


@dataclass
class RunResult:
    impl: str
    seed: int
    final_return: float | None
    steps_to_threshold: int | None
    wall_time_s: float
    sps: float
    curve: list[tuple[int, float]] = field(default_factory=list)
    """(env step, raw episode return) of every training episode; kept out of the suite JSON."""
    threads: int | None = None
    """torch's intra-op threads the run trained with (None: a run journaled before this)."""
    update_s: float | None = None
    """Seconds in the gradient phase (our on-policy agents' ``update``, SB3's ``train``);
    the rest of ``wall_time_s`` is rollouts and bookkeeping. None: an agent without a
    separate phase (our DQN), or a run journaled before this."""


@dataclass
class CaseResult:
    case: str
    env: str
    total_steps: int
    threshold: float
    runs: list[RunResult] = field(default_factory=list)
    extra: dict[str, tuple[float, float]] = field(default_factory=dict)

    def reached(self, impl: str) -> str:
        """How many seeds reached the threshold, as 'k/n'."""
        runs = [r for r in self.runs if r.impl == impl]
        return f"{sum(r.steps_to_threshold is not None for r in runs)}/{len(runs)}"

    def median(self, impl: str, key: str) -> float | None:
        """Median over the seeds that have a value (threshold steps: those that reached it)."""
        values = self._values(impl, key)
        return float(statistics.median(values)) if values else None

    def mean(self, impl: str, key: str) -> float | None:
        """Mean over the seeds that have a value: a failed seed shows here, not in the median."""
        values = self._values(impl, key)
        return float(statistics.fmean(values)) if values else None

    def final_aggregates(self) -> dict[str, Aggregate]:
        """Each implementation's final returns over seeds: IQM with rliable's 95% interval."""
        scores = {impl: self._values(impl, "final_return") for impl in ("advrl", "sb3")}
        return aggregate_scores(scores)

    def _values(self, impl: str, key: str) -> list[float]:
        values = [getattr(r, key) for r in self.runs if r.impl == impl]
        return [v for v in values if v is not None]


def steps_to_threshold(
    curve: list[tuple[int, float]], threshold: float, window: int = 10
) -> int | None:
    """First step at which the mean return of the last ``window`` episodes reaches threshold."""
    returns = [r for _, r in curve]
    for i in range(window, len(curve) + 1):
        if np.mean(returns[i - window : i]) >= threshold:
            return curve[i - 1][0]
    return None


def time_calls(obj: Any, method: str) -> list[float]:
    """Wrap ``obj.method``, on this instance only, to add each call's seconds to the one-item
    list returned (read it after training)."""
    spent = [0.0]
    inner = getattr(obj, method)

    @functools.wraps(inner)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    setattr(obj, method, timed)
    return spent


def run_ours(case: Case, seed: int, eval_episodes: int) -> RunResult:
    """Our agent as ``train_agent.py`` runs it: torch's threads from advrl's thread policy
    (one for an MLP, every core for a CNN or token LSTM: ``advrl.core.threads``), put back
    afterwards so that SB3 runs with torch's default, as its users run it."""
    seed_everything(seed)
    algo_cls = get_algorithm(case.algo)
    config = config_from_overrides(algo_cls.Config, case.hp, {}, case.algo)
    factory = resolve_env(case.env)
    envs = make_vector_env(factory, case.num_envs)
    torch_default = torch.get_num_threads()
    plan = plan_threads(None, splits_over_threads(envs.single_observation_space), case.num_envs)
    apply_threads(plan)
    agent = algo_cls(
        envs.single_observation_space, envs.single_action_space, config, torch.device("cpu")
    )
    update_s = time_calls(agent, "update") if hasattr(agent, "update") else None
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            logger = RunLogger(Path(log_dir), case.total_steps)
            start = time.perf_counter()
            agent.learn(envs, case.total_steps, logger, seed=seed)
            wall = time.perf_counter() - start
            logger.close()
    finally:
        torch.set_num_threads(torch_default)
    envs.close()
    final = None
    if case.evaluate:
        final = float(evaluate(agent, factory, eval_episodes, seed=seed + 10_000).mean())
    return RunResult(
        "advrl",
        seed,
        final,
        steps_to_threshold(logger.curve, case.threshold),
        wall,
        agent.global_step / wall,
        logger.curve,
        plan.torch,
        None if update_s is None else update_s[0],
    )


def run_sb3(case: Case, seed: int, eval_episodes: int) -> RunResult:
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    class Curve(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.curve: list[tuple[int, float]] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.curve.append((self.num_timesteps, float(info["episode"]["r"])))
            return True

    assert case.sb3_factory is not None, f"{case.name} has no SB3 counterpart"
    seed_everything(seed)
    envs = _sb3_env(case.env, case.num_envs, seed)
    model = case.sb3_factory(envs, seed)
    train_s = time_calls(model, "train")
    curve = Curve()
    start = time.perf_counter()
    model.learn(case.total_steps, callback=curve)
    wall = time.perf_counter() - start
    final = None
    if case.evaluate:
        # Atari: SB3's own stack, whose Monitor sits under the AtariWrapper, so that
        # evaluate_policy counts whole games (all lives) in raw score, as our evaluate does.
        eval_env = (
            _sb3_env(case.env, 1, seed + 10_000)
            if is_atari_id(case.env)
            else make_vec_env(case.env, n_envs=1, seed=seed + 10_000)
        )
        trained_statistics = model.get_vec_normalize_env()
        if trained_statistics is not None:  # evaluate with the training statistics, frozen
            from stable_baselines3.common.vec_env import VecNormalize

            eval_env = VecNormalize(eval_env, training=False, norm_reward=False)
            eval_env.obs_rms = trained_statistics.obs_rms.copy()
        returns, _ = evaluate_policy(
            model,
            eval_env,
            n_eval_episodes=eval_episodes,
            deterministic=True,
            return_episode_rewards=True,
        )
        final = float(np.mean(returns))
    return RunResult(
        "sb3",
        seed,
        final,
        steps_to_threshold(curve.curve, case.threshold),
        wall,
        model.num_timesteps / wall,
        curve.curve,
        torch.get_num_threads(),
        train_s[0],
    )


def _sb3_env(env_id: str, num_envs: int, seed: int) -> Any:
    """SB3's own env stack: its AtariWrapper and frame stack for Atari, plain otherwise.

    ``ALE/...-v5`` ids get ``frameskip=1`` as ours do, so that the AtariWrapper's frame skip
    of 4 is the only one; their sticky actions (0.25) stay on, as in ours."""
    from stable_baselines3.common.env_util import make_atari_env, make_vec_env
    from stable_baselines3.common.vec_env import VecFrameStack

    if is_atari_id(env_id):
        envs = make_atari_env(
            env_id, n_envs=num_envs, seed=seed, env_kwargs=atari_make_kwargs(env_id)
        )
        return VecFrameStack(envs, n_stack=4)
    return make_vec_env(env_id, n_envs=num_envs, seed=seed)


def _reinforce_cases() -> list[Case]:
    from stable_baselines3 import A2C

    hp: dict[str, Any] = {
        "lr": 2e-3,
        "n_steps": 256,
        "gamma": 0.99,
        "value_coef": 0.5,
        "entropy_coef": 0.0,
        "max_grad_norm": 0.5,
        "normalize_advantage": True,
        "hidden_sizes": (64, 64),
    }

    def sb3(envs: Any, seed: int) -> Any:
        # A2C with lambda = 1, one Adam step per batch and normalised advantages is
        # REINFORCE with a learned baseline: the same estimator and the same update.
        return A2C(
            "MlpPolicy",
            envs,
            learning_rate=hp["lr"],
            n_steps=hp["n_steps"],
            gamma=hp["gamma"],
            gae_lambda=1.0,
            vf_coef=hp["value_coef"],
            ent_coef=hp["entropy_coef"],
            max_grad_norm=hp["max_grad_norm"],
            normalize_advantage=True,
            use_rms_prop=False,
            seed=seed,
            device="cpu",
            policy_kwargs={"net_arch": dict(pi=[64, 64], vf=[64, 64])},
        )

    # Threshold 300: a stochastic REINFORCE policy's training curve rarely averages 475
    # within this budget for either library, so 300 is where learning speed shows.
    case = Case(
        name="reinforce-cartpole",
        env="CartPole-v1",
        total_steps=150_000,
        num_envs=4,
        threshold=300.0,
        algo="reinforce",
        hp=hp,
        sb3_factory=sb3,
        note="SB3 reference: A2C with gae_lambda=1, Adam, normalised advantages",
    )
    return [case]


def sb3_ppo(
    hp: dict[str, Any],
    policy: str,
    net_arch: Any,
    policy_kwargs: dict[str, Any] | None = None,
    normalize: bool = False,
) -> Callable[[Any, int], Any]:
    """SB3's PPO with our PPO's ``hp``: the learning rate annealed linearly unless
    ``anneal_lr`` is false, as ours; with ``normalize``, on a ``VecNormalize`` env (our
    ``normalize_obs`` and ``normalize_reward``)."""
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.vec_env import VecNormalize

    def make(envs: Any, seed: int) -> Any:
        lr = hp["lr"]
        return SB3PPO(
            policy,
            VecNormalize(envs, gamma=hp["gamma"]) if normalize else envs,
            learning_rate=(lambda progress: progress * lr) if hp.get("anneal_lr", True) else lr,
            n_steps=hp["n_steps"],
            batch_size=hp["batch_size"],
            n_epochs=hp["n_epochs"],
            gamma=hp["gamma"],
            gae_lambda=hp["gae_lambda"],
            clip_range=hp["clip_coef"],
            clip_range_vf=hp["clip_coef"] if hp.get("clip_value_loss") else None,
            ent_coef=hp["entropy_coef"],
            vf_coef=hp.get("value_coef", 0.5),
            max_grad_norm=hp.get("max_grad_norm", 0.5),
            seed=seed,
            device="cpu",
            policy_kwargs={"net_arch": net_arch, **(policy_kwargs or {})},
        )

    return make


def sb3_ppo_mujoco(hp: dict[str, Any]) -> Callable[[Any, int], Any]:
    """SB3's PPO as rl-baselines3-zoo runs it on MuJoCo: our ``hp`` (the zoo's, constant
    learning rate) on a ``VecNormalize`` env, ReLU networks of our widths, log std from
    ``log_std_init``, no orthogonal init."""
    from torch import nn

    widths = list(hp["hidden_sizes"])
    extra = {"log_std_init": hp["log_std_init"], "ortho_init": False, "activation_fn": nn.ReLU}
    return sb3_ppo(hp, "MlpPolicy", dict(pi=widths, vf=widths), extra, normalize=True)


def _mujoco_ppo_cases() -> list[Case]:
    """PPO on Hopper-v5 for 1M steps with rl-baselines3-zoo's tuned settings on both sides."""
    hp = find_preset("ppo", "Hopper-v5").hp
    return [
        Case(
            name="ppo-hopper",
            env="Hopper-v5",
            total_steps=1_000_000,
            num_envs=1,
            threshold=2000.0,
            algo="ppo",
            hp=hp,
            sb3_factory=sb3_ppo_mujoco(hp),
            note="rl-baselines3-zoo's tuned Hopper PPO, VecNormalize on SB3's side and the "
            "agent's own statistics on ours",
        )
    ]


def _ppo_cases() -> list[Case]:
    cartpole = dict(find_preset("ppo", "CartPole-v1").hp, hidden_sizes=(64, 64))
    atari = find_preset("ppo", "PongNoFrameskip-v4").hp
    return [
        Case(
            name="ppo-cartpole",
            env="CartPole-v1",
            total_steps=100_000,
            num_envs=8,
            threshold=475.0,
            algo="ppo",
            hp=cartpole,
            sb3_factory=sb3_ppo(cartpole, "MlpPolicy", dict(pi=[64, 64], vf=[64, 64])),
            note="rl-zoo's tuned CartPole PPO on both sides",
        ),
        Case(
            name="ppo-pong-speed",
            env="PongNoFrameskip-v4",
            total_steps=10_240,
            num_envs=8,
            threshold=float("inf"),
            algo="ppo",
            hp=atari,
            sb3_factory=sb3_ppo(atari, "CnnPolicy", []),
            evaluate=False,
            max_seeds=1,
            note="fixed-length training-speed run with CleanRL's Atari PPO settings",
        ),
    ]


def _dqn_cases() -> list[Case]:
    from stable_baselines3 import DQN as SB3DQN

    def sb3_dqn(hp: dict[str, Any], policy: str, net_arch: list[int]) -> Callable[[Any, int], Any]:
        def make(envs: Any, seed: int) -> Any:
            lr = hp["lr"]
            return SB3DQN(
                policy,
                envs,
                learning_rate=(lambda progress: progress * lr) if hp.get("anneal_lr") else lr,
                buffer_size=hp["buffer_size"],
                learning_starts=hp["learning_starts"],
                batch_size=hp["batch_size"],
                tau=hp.get("tau", 1.0),
                gamma=hp["gamma"],
                train_freq=hp["train_freq"],
                gradient_steps=hp["gradient_steps"],
                target_update_interval=hp["target_update_interval"],
                exploration_fraction=hp["exploration_fraction"],
                exploration_initial_eps=hp.get("exploration_initial_eps", 1.0),
                exploration_final_eps=hp["exploration_final_eps"],
                max_grad_norm=hp.get("max_grad_norm", 10.0),
                seed=seed,
                device="cpu",
                policy_kwargs={"net_arch": net_arch},
            )

        return make

    cartpole = find_preset("dqn", "CartPole-v1").hp
    # A fixed-length speed run: the Nature settings with a 100k buffer, learning from 5k.
    atari = dict(
        find_preset("dqn", "PongNoFrameskip-v4").hp, buffer_size=100_000, learning_starts=5_000
    )
    return [
        Case(
            name="dqn-cartpole",
            env="CartPole-v1",
            total_steps=50_000,
            num_envs=1,
            threshold=475.0,
            algo="dqn",
            hp=cartpole,
            sb3_factory=sb3_dqn(cartpole, "MlpPolicy", list(cartpole["hidden_sizes"])),
            note="rl-zoo's tuned CartPole DQN on both sides",
        ),
        Case(
            name="dqn-pong-speed",
            env="PongNoFrameskip-v4",
            total_steps=20_000,
            num_envs=1,
            threshold=float("inf"),
            algo="dqn",
            hp=atari,
            sb3_factory=sb3_dqn(atari, "CnnPolicy", []),
            evaluate=False,
            max_seeds=1,
            extra=_replay_bytes_per_transition,
            note="fixed-length training-speed run with the Nature DQN settings",
        ),
    ]


def _replay_bytes_per_transition() -> dict[str, tuple[float, float]]:
    """Replay memory per transition for Atari's (4, 84, 84) stacks, ours vs SB3's buffer."""
    import gymnasium as gym
    from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer

    from advrl.agents.replay import FrameStackReplayBuffer

    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    actions, n = gym.spaces.Discrete(18), 10_000
    rng = np.random.default_rng(0)
    ours = FrameStackReplayBuffer(n, space, actions, 1, torch.device("cpu"), rng).nbytes / n

    def sb3(optimize: bool) -> float:
        buffer = SB3ReplayBuffer(
            n,
            space,
            actions,
            "cpu",
            optimize_memory_usage=optimize,
            handle_timeout_termination=False,
        )
        arrays = [buffer.observations, buffer.actions, buffer.rewards, buffer.dones]
        arrays += [buffer.timeouts] + ([] if optimize else [buffer.next_observations])
        return sum(a.nbytes for a in arrays) / n

    return {
        "replay bytes/transition (SB3 optimize_memory_usage=True)": (ours, sb3(True)),
        "replay bytes/transition (SB3 default)": (ours, sb3(False)),
    }


CLEANRL_DQN_BREAKOUT: dict[str, list[list[float]]] = {
    "CleanRL dqn_atari.py, 1M steps, seeds 1 and 2 (HF model cards)": [
        [1_000_000, 67.1],
        [1_000_000, 102.0],
    ],
}
"""CleanRL's published greedy scores of ``dqn_atari.py`` on BreakoutNoFrameskip-v4 after 1M
steps (Hugging Face model cards ``sdpkjc/BreakoutNoFrameskip-v4-dqn_atari-seed1`` and
``-seed2``: 67.1 ± 69.9 and 102.0 ± 67.7). No point nearer 500k steps is published outside
wandb."""


def _atari_learning_cases() -> list[Case]:
    """Breakout learned on CPU: PPO against SB3's at 1M steps, our DQN alone at 500k.

    DQN keeps the Nature preset (80k learning starts, target every 1000 steps) but spreads
    epsilon's decay over 20% of the run, the same 100k steps as CleanRL's 1M-step run, so
    its first 500k steps are comparable with CleanRL's published curve."""
    ppo = find_preset("ppo", "ALE/Breakout-v5").hp
    dqn = dict(find_preset("dqn", "ALE/Breakout-v5").hp, exploration_fraction=0.2)
    return [
        Case(
            name="ppo-breakout",
            env="ALE/Breakout-v5",
            total_steps=1_000_000,
            num_envs=8,
            threshold=20.0,
            algo="ppo",
            hp=ppo,
            sb3_factory=sb3_ppo(ppo, "CnnPolicy", []),
            max_seeds=1,
            note="CleanRL's Atari PPO settings on both sides; ours on ale-py's C++ vector env",
        ),
        Case(
            name="dqn-breakout",
            env="ALE/Breakout-v5",
            total_steps=500_000,
            num_envs=1,
            threshold=20.0,
            algo="dqn",
            hp=dqn,
            sb3_factory=None,
            max_seeds=1,
            note="Nature DQN preset, epsilon decayed over 100k steps; ours only",
        ),
    ]


SUITES: dict[str, Callable[[], list[Case]]] = {
    "reinforce": _reinforce_cases,
    "ppo": _ppo_cases,
    "dqn": _dqn_cases,
    "atari-learning": _atari_learning_cases,
    "ppo-mujoco": _mujoco_ppo_cases,
}


def suite_case_names(suite: str) -> list[str]:
    """The names of ``suite``'s cases, for ``--cases``."""
    return [case.name for case in SUITES[suite]()]


def run_suite(
    suite: str,
    seeds: list[int],
    eval_episodes: int = 10,
    steps: int | None = None,
    log: Callable[[str], None] = print,
    cases: list[str] | None = None,
    journal: Path | None = None,
) -> list[CaseResult]:
    """Run every case of ``suite`` (or those named in ``cases``) for each seed, ours then
    SB3's, and collect the results.

    With a ``journal`` (a JSON-lines file), every finished run is appended to it as it ends,
    and runs already in it are taken from it instead of run again: a long suite stopped
    part-way resumes where it was.
    """
    done = _read_journal(journal) if journal is not None else {}
    results = []
    for case in SUITES[suite]():
        if cases is not None and case.name not in cases:
            continue
        if steps is not None:
            case.total_steps = steps
        result = CaseResult(case.name, case.env, case.total_steps, case.threshold)
        if case.extra is not None:
            result.extra = case.extra()
        for seed in seeds[: case.max_seeds]:
            for runner in (run_ours, run_sb3) if case.sb3_factory else (run_ours,):
                impl = "advrl" if runner is run_ours else "sb3"
                key = (case.name, case.total_steps, seed, impl)
                if key in done:
                    result.runs.append(done[key])
                    continue
                run = runner(case, seed, eval_episodes)
                result.runs.append(run)
                if journal is not None:
                    entry = {"case": case.name, "total_steps": case.total_steps, **asdict(run)}
                    append_journal(journal, entry)
                final = "-" if run.final_return is None else f"{run.final_return:.2f}"
                log(
                    f"  {case.name} seed {seed} {run.impl:5s}: return {final:>8}  "
                    f"to-threshold {run.steps_to_threshold}  {run.wall_time_s:6.1f}s  "
                    f"{run.sps:8.0f} SPS  {run.threads} torch threads"
                )
        results.append(result)
    return results


def _read_journal(journal: Path) -> dict[tuple[str, int, int, str], RunResult]:
    """The runs a journal holds, by (case, total steps, seed, implementation)."""
    runs = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            case, steps = entry.pop("case"), entry.pop("total_steps")
            entry["curve"] = [tuple(point) for point in entry["curve"]]
            run = RunResult(**entry)
            runs[(case, steps, run.seed, run.impl)] = run
    return runs


def format_table(results: list[CaseResult]) -> str:
    """A markdown table of medians over seeds with ours / SB3 ratios."""
    header = (
        "| case | steps | impl | final return (mean) | final return IQM [95% CI] "
        "| steps to threshold (seeds reaching) | wall time (s) | SPS |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    rows = [header]

    def fmt(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    for r in results:
        aggregates = r.final_aggregates()
        for impl in sorted({run.impl for run in r.runs}):
            interval = format_aggregate(aggregates[impl]) if impl in aggregates else "-"
            rows.append(
                f"| {r.case} | {r.total_steps:,} | {impl} | "
                f"{fmt(r.median(impl, 'final_return'))} ({fmt(r.mean(impl, 'final_return'))}) | "
                f"{interval} | "
                f"{fmt(r.median(impl, 'steps_to_threshold'), 0)} ({r.reached(impl)}) | "
                f"{fmt(r.median(impl, 'wall_time_s'))} | "
                f"{fmt(r.median(impl, 'sps'), 0)} |"
            )
        if "sb3" not in {run.impl for run in r.runs}:  # ours only: no ratio
            continue
        ratio = {
            k: _ratio(r.median("advrl", k), r.median("sb3", k))
            for k in ("final_return", "steps_to_threshold", "wall_time_s", "sps")
        }
        rows.append(
            f"| {r.case} | | **ours/SB3** | {fmt(ratio['final_return'], 2)} | | "
            f"{fmt(ratio['steps_to_threshold'], 2)} | {fmt(ratio['wall_time_s'], 2)} | "
            f"{fmt(ratio['sps'], 2)} |"
        )
    extras = [(r.case, name, *values) for r in results for name, values in r.extra.items()]
    if extras:
        rows += ["", "| case | metric | advrl | sb3 | ours/SB3 |", "|---|---|---|---|---|"]
        for case, name, ours, sb3 in extras:
            rows.append(f"| {case} | {name} | {ours:,.0f} | {sb3:,.0f} | {ours / sb3:.3f} |")
    return "\n".join(rows)


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or not theirs else ours / theirs


def write_curves(
    results: list[CaseResult],
    directory: Path,
    references: dict[str, list[list[float]]] | None = None,
) -> None:
    """Write every run's training curve and final greedy return to ``directory/curves.json``
    ({"CASE IMPL seed N": {"episodic_return": [[step, return], ...], "eval_mean_return":
    [[step, return]]}, ...}, with ``references`` under "references") and draw curves.png.
    Curves of other cases already in the file stay."""
    from advrl.core.curves import plot_learning_curves

    runs: dict[str, dict[str, list[list[float]]]] = {}
    ran = {result.case for result in results}
    previous = directory / "curves.json"
    if previous.exists():  # keep the curves of cases not run this time
        for name, kept in json.loads(previous.read_text())["runs"].items():
            if name.split(" ")[0] not in ran:
                runs[name] = kept
    for result in results:
        for run in result.runs:
            curve: dict[str, list[list[float]]] = {
                "episodic_return": [[float(step), ret] for step, ret in run.curve]
            }
            if run.final_return is not None:
                curve["eval_mean_return"] = [[float(result.total_steps), run.final_return]]
            runs[f"{result.case} {run.impl} seed {run.seed}"] = curve
    write_json_atomic(directory / "curves.json", {"runs": runs, "references": references or {}})
    plot_learning_curves(runs, directory / "curves.png", references)


def _without_curves(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: value for key, value in items if key != "curve"}


def write_json(
    results: list[CaseResult], path: Path, meta: dict[str, Any], merge: bool = False
) -> None:
    """Write the raw per-seed results with the run's metadata (also in each row, as
    ``meta``), and each case's final-return IQM with its 95% interval per implementation
    (``final_return_iqm``). ``merge`` keeps the rows of other cases already in ``path``, so
    a suite's cases can run as separate commands into one file."""
    rows = [
        {
            **asdict(r, dict_factory=_without_curves),
            "final_return_iqm": {k: a.as_dict() for k, a in r.final_aggregates().items()},
            "meta": meta,
        }
        for r in results
    ]
    if merge and path.exists():
        ran = {r.case for r in results}
        old = json.loads(path.read_text())
        rows = [row for row in old["results"] if row["case"] not in ran] + rows
    write_json_atomic(path, {"meta": meta, "results": rows})
