"""Does SeqGAN-v0's discriminator learn "real" or memorise its reals? The README's table.

One early-stopped MLE generator on the paper's oracle (the recipe's default), then for each
discriminator setting a fresh discriminator trained against fresh samples of that fixed
generator, measured on its own training reals, on the held-out reals it never saw and on
new samples, after every round:

    python -m advrl.benchmarks.seqgan_memorisation                                  # the table
    python -m advrl.benchmarks.seqgan_memorisation --data-seed 1 --schedule cpu --all  # selection

``--schedule issue``: 20 rounds of 5,000 fresh samples, 3 epochs each (the finding in the
issue); ``short``: its first 5 rounds (for the paper's CNN, which takes over 20 minutes for
20). ``--schedule cpu``: the CPU default's run as it was, 6 + 32 rounds of 1,024;
``pretrain``: 48 rounds of 1,024, to choose how many the CPU default pre-trains.
Settings are chosen on ``--data-seed 1`` (other oracle samples, another split, another
initialisation) and reported on ``--data-seed 0``. Writes ``--out`` as JSON. Needs
../shared/benchmarks/seqgan_oracle.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from advrl.benchmarks.seqgan import PAPER_ORACLE, new_agent, recipe_options
from advrl.core.seeding import seed_everything
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.plugins.seqgan_recipe import SeqGANRecipe

SETTINGS: dict[str, dict[str, Any]] = {
    "before (dropout 0.25, nothing else)": {"d_weight_decay": 0.0, "d_token_noise": 0.0},
    "weight decay 0.1": {"d_weight_decay": 0.1},
    "weight decay 1.0": {"d_weight_decay": 1.0},
    "dropout 0.5": {"d_dropout": 0.5},
    "label smoothing 0.2": {"d_label_smoothing": 0.2},
    "token noise 0.1": {"d_token_noise": 0.1},
    "token noise 0.3": {"d_token_noise": 0.3},
    "token noise 0.5": {"d_token_noise": 0.5},
    "token noise 0.7": {"d_token_noise": 0.7},
    "token noise 0.5, weight decay 1.0": {"d_token_noise": 0.5, "d_weight_decay": 1.0},
    "token noise 0.5, early stopping": {"d_token_noise": 0.5, "d_patience": 1},
    "token noise 0.3, weight decay 0.1": {"d_token_noise": 0.3, "d_weight_decay": 0.1},
    "token noise 0.3, label smoothing 0.2": {"d_token_noise": 0.3, "d_label_smoothing": 0.2},
    "token noise 0.3, dropout 0.5": {"d_token_noise": 0.3, "d_dropout": 0.5},
    "early stopping, patience 1": {"d_patience": 1},
    "token noise 0.3, early stopping": {"d_token_noise": 0.3, "d_patience": 1},
    "fresh reals every round (upper bound)": {"d_fresh_reals": True, "d_token_noise": 0.0},
}
TABLE = (
    "before (dropout 0.25, nothing else)",
    "token noise 0.5",
    "fresh reals every round (upper bound)",
)
"""The README's rows; ``--all`` runs every setting above (the selection)."""
SCHEDULES = {
    "issue": [(20, 5000)],
    "short": [(5, 5000)],
    "cpu": [(6, 1024), (32, 1024)],
    "pretrain": [(48, 1024)],
}
"""Phases of (rounds, negatives per round)."""


def heldout_auc(game: SequenceGame, fake: torch.Tensor) -> float:
    """P(a held-out real scores above a fresh sample): how well D ranks unseen reals."""
    real = game.reward_model.scores(game.d_heldout).float().cpu()
    fake_scores = game.reward_model.scores(fake).float().cpu()
    return (real[:, None] > fake_scores[None, :]).float().mean().item()


def line(row: dict[str, float]) -> str:
    """One round's measurement in a line: mean logits, gap, called-real rates, AUC."""
    return (
        f"logit train {row['d_train_real_logit']:+.2f} held-out {row['d_heldout_real_logit']:+.2f}"
        f" fake {row['d_fake_logit']:+.2f} gap {row['d_memorisation_gap']:.2f}  called real: "
        f"train {row['d_train_real_called_real']:.1%} held-out "
        f"{row['d_heldout_real_called_real']:.1%} fake {row['d_fake_called_real']:.1%}  "
        f"AUC {row['auc_heldout_vs_fake']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="issue")
    parser.add_argument("--discriminator", choices=("small", "paper"), default="small")
    parser.add_argument("--only", nargs="*", choices=sorted(SETTINGS), help="these settings")
    parser.add_argument("--all", action="store_true", help="every setting (the selection)")
    parser.add_argument("--every-round", action="store_true", help="print every round")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    oracle = PAPER_ORACLE / "target_params.npz"
    if not oracle.exists():
        raise SystemExit(f"needs the paper's oracle at {oracle}")
    torch.set_num_threads(2)
    base = {
        "oracle_params": str(oracle),
        "data_seed": args.data_seed,
        "init_seed": args.data_seed,
        "device": "cpu",
        "discriminator": args.discriminator,
    }
    seed_everything(args.data_seed)
    game = SequenceGame(SeqGANConfig(**base))
    agent, _ = new_agent(game, "ppo", torch.device("cpu"))
    recipe = SeqGANRecipe(game, agent.policy, torch.device("cpu"), recipe_options("default"))
    start = time.perf_counter()
    recipe.pretrain_mle(args.data_seed)
    print(
        f"MLE: {time.perf_counter() - start:.0f} s, best epoch {recipe.best_epoch}, "
        f"NLL-test {recipe.nll_test():.3f}",
        flush=True,
    )
    results: dict[str, Any] = {
        "data_seed": args.data_seed,
        "schedule": args.schedule,
        "discriminator": args.discriminator,
        "mle_nll_test": recipe.nll_test(),
    }
    chosen = args.only or (list(SETTINGS) if args.all else TABLE)
    for name, options in SETTINGS.items():
        if name not in chosen:
            continue
        setting = SequenceGame(SeqGANConfig(**base, **options))
        setting.update_rollout_policy(recipe.generator)
        rows = []
        for rounds, negatives in SCHEDULES[args.schedule]:
            setting.config.d_negatives = negatives
            for _ in range(rounds):
                row = setting.train_discriminator(1)
                row["auc_heldout_vs_fake"] = heldout_auc(
                    setting, setting.generate(recipe.generator, 1000)
                )
                rows.append(row)
                if args.every_round:
                    print(f"{name:40s} after {len(rows):3d} rounds: {line(row)}", flush=True)
            print(f"{name:40s} after {len(rows):3d} rounds: {line(rows[-1])}", flush=True)
        results[name] = {"options": options, "rounds": rows}
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
