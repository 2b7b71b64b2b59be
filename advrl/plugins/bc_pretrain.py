"""Behaviour cloning before RL (``--pretrain bc --demos FILE``): the agent's policy is fit to
the demonstrations by maximum likelihood (``advrl.agents.bc``), then RL or GAIL continues
from it. The same mechanism is SeqGAN-v0's MLE on its real sequences."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from advrl.agents.bc import BCConfig, action_nll, fit_likelihood
from advrl.agents.networks import obs_to_tensor
from advrl.agents.rollout import OnPolicyAgent
from advrl.core.demos import load_demos
from advrl.plugins.base import Plugin, Run


class BehaviourCloning(Plugin):
    """Fits ``run.agent.policy`` to (obs, action) demonstrations before learning starts."""

    name = "bc"

    def __init__(self, demos: Path, config: BCConfig) -> None:
        self.demos, self.config = demos, config
        self.result: dict[str, Any] = {}

    def before_learn(self, run: Run) -> None:
        if run.resumed:
            return
        if not isinstance(run.agent, OnPolicyAgent):
            raise TypeError(
                f"behaviour cloning fits a policy, and {type(run.agent).__name__} has none"
            )
        demos = load_demos(self.demos)
        policy = run.agent.policy
        obs = obs_to_tensor(demos["obs"], run.device)
        actions = torch.as_tensor(demos["actions"], device=run.device)
        if actions.is_floating_point():
            actions = actions.float()
        if policy.obs_norm is not None:
            # The policy reads standardised observations: start their statistics from the
            # demonstrations, which RL then keeps updating with the agent's own.
            policy.obs_norm.update(obs)
        cfg = self.config

        def log(epoch: int, loss: float, val_nll: float | None) -> None:
            run.logger.scalars({"bc_loss": loss}, "pretrain/", epoch)
            if val_nll is not None:
                run.logger.scalars({"bc_val_nll": val_nll}, "pretrain/", epoch)
            if epoch % 10 == 0 or epoch == cfg.epochs:
                val = "" if val_nll is None else f"  validation NLL {val_nll:.4f}"
                run.logger.say(f"bc: epoch {epoch}/{cfg.epochs}  loss {loss:.4f}{val}")

        start = time.perf_counter()
        rows = torch.arange(len(obs), device=run.device)
        fit = fit_likelihood(policy, action_nll(policy, obs, actions), rows, cfg, run.seed, log)
        seconds = time.perf_counter() - start
        run.logger.say(
            f"bc: kept epoch {fit.best_epoch} of {len(fit.losses)} on {len(obs):,} "
            f"demonstration steps ({seconds:.1f} s)"
        )
        self.result = {
            "bc_losses": fit.losses,
            "bc_val_nll": fit.val_nll,
            "bc_best_epoch": fit.best_epoch,
            "bc_demo_steps": len(obs),
            "bc_seconds": seconds,
        }

    def summary(self, run: Run) -> dict[str, Any]:
        return {"pretrain": {"kind": "bc", "demos": str(self.demos), **self.result}}
