"""Adversarial settings on the paper's oracle, each from the same MLE generator and
discriminator: the experiments behind the README's SeqGAN-v0 paragraph.

    python -m advrl.benchmarks.seqgan_settings                # the README's list (about 25 min)
    python -m advrl.benchmarks.seqgan_settings --updates 16   # a quicker look

Prints NLL-oracle (5,000 samples) and NLL-test after every 16 generator updates
(``--eval-every``), and their change from the MLE generator's. Needs
../shared/benchmarks/seqgan_oracle.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from advrl.benchmarks.seqgan import PAPER_ORACLE, adversarial_run, new_agent, saved_start
from advrl.core.seeding import seed_everything
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.gan.metrics import nll_oracle
from advrl.plugins.seqgan_recipe import SeqGANRecipe
from advrl.presets import find_preset

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
    if recipe.game.oracle is None:
        raise ValueError("NLL-oracle needs a game with an oracle (oracle_params)")
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
    agent, _ = new_agent(game, "ppo", device)
    recipe = SeqGANRecipe(game, agent.policy, device)
    recipe.pretrain_mle(args.seed)
    recipe.pretrain_discriminator()
    base_oracle, base_test = measure(recipe)
    print(f"MLE, epoch {recipe.best_epoch}: NLL-oracle {base_oracle:.3f} NLL-test {base_test:.3f}")
    with saved_start(recipe) as saved:
        for name, algo, overrides, updates in SETTINGS:
            if args.only and args.only not in name:
                continue
            count, start = 0, time.perf_counter()

            def report(run: SeqGANRecipe, name: str = name, start: float = start) -> None:
                nonlocal count
                count += 1
                if count % args.eval_every == 0:
                    nll_o, nll_t = measure(run)
                    print(
                        f"{name} @ {count}: NLL-oracle {nll_o:.3f} ({nll_o - base_oracle:+.3f})  "
                        f"NLL-test {nll_t:.3f} ({nll_t - base_test:+.3f})  "
                        f"{time.perf_counter() - start:.0f} s",
                        flush=True,
                    )

            num_envs = find_preset(algo, "SeqGAN-v0").num_envs
            steps = (args.updates or updates) * num_envs * game.length
            adversarial_run(
                saved,
                game.config,
                algo,
                steps,
                args.seed,
                device,
                hp=overrides,
                after_update=report,
            )


if __name__ == "__main__":
    main()
