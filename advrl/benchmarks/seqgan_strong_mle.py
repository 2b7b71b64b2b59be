"""Tune MLE on SeqGAN's oracle: the strong baseline a frontier needs (issue 13, part 3).

Each configuration trains MLE with early stopping on a seeded 10% validation split of the
10,000 training sequences and is *chosen* on that split's NLL alone; NLL-test and
NLL-oracle (10,000 samples at temperature 1) are reported for every configuration but
choose nothing. Results go to ``benchmarks/seqgan_strong_mle/results.json``, one entry
per configuration, written after each one (a rerun skips those already there).

    python -m advrl.benchmarks.seqgan_strong_mle \
        --config 32,32,0.0,1e-2,64 --config 64,64,0.3,1e-2,64

A configuration is ``embed,hidden,dropout,lr,batch``. Caccia et al. (2020) report about
9.40 NLL-oracle and 7.61 NLL-test for their MLE chosen on NLL-test (2-layer LSTM of 128,
variational dropout 0.6, lr 1e-3, batch 256, up to 300 epochs on a GPU).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from advrl.benchmarks import RESULTS, SHARED_BENCHMARKS
from advrl.benchmarks.seqgan import new_agent
from advrl.core.checkpoint import write_json_atomic
from advrl.core.seeding import seed_everything
from advrl.envs.seqgan import SeqGANConfig, SequenceGame
from advrl.plugins.seqgan_recipe import SeqGANRecipe, SeqGANRecipeConfig

ORACLE = SHARED_BENCHMARKS / "seqgan_oracle"
OUT = RESULTS / "seqgan_strong_mle" / "results.json"
INIT = "seqgan"
"""The token policy's initialisation (``advrl.agents.networks.seqgan_init``); runs made
before it, with PyTorch's and the RL heads' defaults, are kept as ``torch``."""


def run_one(spec: str, seed: int, max_epochs: int, patience: int) -> dict:
    """Train one MLE configuration; its validation curve and its reported metrics."""
    embed, hidden, dropout, lr, batch = spec.split(",")
    seed_everything(seed)
    game = SequenceGame(
        SeqGANConfig(
            device="cpu",
            data_seed=seed,
            init_seed=seed,
            oracle_params=str(ORACLE / "target_params.npz"),
        )
    )
    device = torch.device("cpu")
    agent, _ = new_agent(
        game, "reinforce", device, "paper", {"token_lstm": (int(embed), int(hidden))}
    )
    config = SeqGANRecipeConfig(
        mle_epochs=max_epochs,
        mle_lr=float(lr),
        mle_batch_size=int(batch),
        mle_patience=patience,
        mle_dropout=float(dropout),
    )
    recipe = SeqGANRecipe(game, agent.policy, device, config)

    def log(epoch: int, loss: float, val: float | None) -> None:
        print(f"  {spec} epoch {epoch}: loss {loss:.4f} validation {val:.4f}", flush=True)

    start = time.perf_counter()
    recipe.pretrain_mle(seed, log)
    wall = time.perf_counter() - start
    recipe.generator.eval()
    oracle = recipe.nll_oracle(recipe.sample(10_000))
    return {
        "config": spec,
        "seed": seed,
        "init": INIT,
        "val_nll": min(recipe.val_nll),
        "val_curve": recipe.val_nll,
        "best_epoch": recipe.best_epoch,
        "epochs_run": len(recipe.val_nll),
        "mle_wall_s": wall,
        "nll_test": recipe.nll_test(),
        **oracle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", action="append", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=3)
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {"runs": []}
    done = {(run["config"], run["seed"], run.get("init", "torch")) for run in results["runs"]}
    for spec in args.config:
        if (spec, args.seed, INIT) in done:
            continue
        run = run_one(spec, args.seed, args.max_epochs, args.patience)
        print(
            f"{spec}: validation {run['val_nll']:.4f} at epoch {run['best_epoch']}, "
            f"NLL-oracle {run['nll_oracle']:.3f} NLL-test {run['nll_test']:.3f}, "
            f"{run['mle_wall_s']:.0f} s",
            flush=True,
        )
        results["runs"].append(run)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(OUT, results)
    current = [run for run in results["runs"] if run.get("init", "torch") == INIT]
    best = min(current, key=lambda run: run["val_nll"])
    print(f"chosen on validation NLL: {best['config']} (seed {best['seed']}, {INIT} init)")


if __name__ == "__main__":
    main()
