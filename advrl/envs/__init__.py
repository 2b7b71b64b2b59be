"""advrl's environments and their Gymnasium registration."""

import gymnasium as gym

from advrl.envs.gridworld import GridWorldEnv
from advrl.envs.solver import Solution, policy_arrows, value_iteration

ADVRL_ENV_IDS = ("GridWorld-v0", "SeqGAN-v0")


def register_envs() -> None:
    """Register advrl's env ids with Gymnasium; calling it again is harmless."""
    if "GridWorld-v0" not in gym.registry:
        gym.register(
            id="GridWorld-v0",
            entry_point="advrl.envs.gridworld:GridWorldEnv",
            max_episode_steps=100,
        )
    if "SeqGAN-v0" not in gym.registry:
        # No time limit: an episode is one sequence and ends by itself.
        gym.register(
            id="SeqGAN-v0",
            entry_point="advrl.envs.seqgan:SeqGANEnv",
            vector_entry_point="advrl.envs.seqgan:SeqGANVectorEnv",
        )


__all__ = [
    "ADVRL_ENV_IDS",
    "GridWorldEnv",
    "Solution",
    "policy_arrows",
    "register_envs",
    "value_iteration",
]
