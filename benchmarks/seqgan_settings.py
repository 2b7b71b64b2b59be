"""Adversarial settings on the paper's oracle, each from the same MLE generator and
discriminator: the experiments behind the README's SeqGAN-v0 paragraph.

    python benchmarks/seqgan_settings.py                # the README's list (about 25 min)
    python benchmarks/seqgan_settings.py --updates 16   # a quicker look

Prints NLL-oracle (5,000 samples) and NLL-test after every 16 generator updates
(``--eval-every``), and their change from the MLE generator's. Needs
../shared/benchmarks/seqgan_oracle.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from advrl.agents import get_algorithm
from advrl.benchmark_seqgan import PAPER_ORACLE
from advrl.config import config_from_overrides
from advrl.envs.seqgan import SeqGANConfig, SeqGANEnv, SeqGANVectorEnv, SequenceGame
from advrl.gan.metrics import nll_oracle
from advrl.gan.seqgan import SeqGANRecipe
from advrl.logger import RunLogger
from advrl.presets import find_preset
from advrl.train import seed_everything

PLAIN = {"baseline": False, "normalize_advantage": False, "value_coef": 0.0}
"""SeqGAN's estimator (the REINFORCE preset)."""
LEARNED = {"baseline": True, "normalize_advantage": True, "value_coef": 0.5}
"""REINFORCE's usual form: a learned value baseline and normalised advantages."""
SETTINGS: list[tuple[str, str, dict[str, Any], int]] = [
    ("reinforce, learned baseline, lr 1e-3", "reinforce", {**LEARNED, "lr": 1e-3}, 32),
    ("reinforce, learned baseline, lr 1e-2", "reinforce", {**LEARNED, "lr": 1e-2}, 32),
    ("reinforce, no baseline, lr 1e-2", "reinforce", {**PLAIN, "lr": 1e-2}, 32),
    ("reinforce, no baseline, lr 3e-3", "reinforce", {**PLAIN, "lr": 3e-3}, 64),
    ("reinforce, no baseline, lr 1e-3", "reinforce", {**PLAIN, "lr": 1e-3}, 48),
    ("ppo, lr 1e-3", "ppo", {"lr": 1e-3}, 32),
]
SAMPLES = 5_000
EVAL_EVERY = 16


def measure(recipe: SeqGANRecipe) -> tuple[float, float]:
    """NLL-oracle of ``SAMPLES`` generated sequences and NLL-test."""
    return nll_oracle(recipe.game.oracle, recipe.sample(SAMPLES)), recipe.nll_test()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--updates", type=int, help="generator updates for every setting")
    parser.add_argument("--only", help="run the settings whose name contains this text")
    parser.add_argument("--eval-every", type=int, default=EVAL_EVERY, help="updates")
    args = parser.parse_args()
    oracle = PAPER_ORACLE / "target_params.npz"
    if not oracle.exists():
        raise SystemExit(f"needs the paper's oracle at {oracle}")
    device = torch.device("cpu")
    seed_everything(args.seed)
    game = SequenceGame(SeqGANConfig(oracle_params=str(oracle), device="cpu"))
    space = SeqGANEnv(game=game).observation_space

    def new_agent(algo: str, overrides: dict[str, Any]) -> tuple[Any, int]:
        found = find_preset(algo, "SeqGAN-v0", "default")
        cls = get_algorithm(algo)
        hp = {**found.hp, "gamma": 0.0, **overrides}
        config = config_from_overrides(cls.Config, hp, {}, algo)
        return cls(space, gym.spaces.Discrete(game.vocab_size), config, device), found.num_envs

    agent, num_envs = new_agent("ppo", {})
    recipe = SeqGANRecipe(game, agent.policy, device)
    recipe.pretrain_mle(args.seed)
    recipe.pretrain_discriminator()
    base_oracle, base_test = measure(recipe)
    print(f"MLE, epoch {recipe.best_epoch}: NLL-oracle {base_oracle:.3f} NLL-test {base_test:.3f}")
    generator = copy.deepcopy(agent.policy.logits_module().state_dict())
    game_state = game.state_dict()

    for name, algo, overrides, updates in SETTINGS:
        if args.only and args.only not in name:
            continue
        seed_everything(args.seed)
        agent, num_envs = new_agent(algo, overrides)
        agent.policy.logits_module().load_state_dict(generator)
        game.load_state_dict(game_state, agent.policy.logits_module())
        game.d_history.clear()
        run = SeqGANRecipe(game, agent.policy, device)
        run.after_update()
        envs = gym.wrappers.vector.RecordEpisodeStatistics(
            SeqGANVectorEnv(num_envs=num_envs, game=game)
        )
        count, start = 0, time.perf_counter()

        def on_update(
            _step: int, run: SeqGANRecipe = run, name: str = name, start: float = start
        ) -> None:
            nonlocal count
            run.after_update()
            count += 1
            if count % args.eval_every == 0:
                nll_o, nll_t = measure(run)
                print(
                    f"{name} @ {count}: NLL-oracle {nll_o:.3f} ({nll_o - base_oracle:+.3f})  "
                    f"NLL-test {nll_t:.3f} ({nll_t - base_test:+.3f})  "
                    f"{time.perf_counter() - start:.0f} s",
                    flush=True,
                )

        steps = (args.updates or updates) * num_envs * game.length
        with tempfile.TemporaryDirectory() as log_dir:
            logger = RunLogger(Path(log_dir), steps, on_update=on_update)
            agent.learn(envs, steps, logger, seed=args.seed)
            logger.close()


if __name__ == "__main__":
    main()
