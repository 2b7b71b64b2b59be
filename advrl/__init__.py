"""advrl: a reinforcement-learning gym suite where a GAN discriminator is a reward model.

Importing the package registers its environments with Gymnasium, so
``gymnasium.make("GridWorld-v0")`` works after ``import advrl`` and
``gymnasium.make("advrl:GridWorld-v0")`` works in a fresh interpreter.
"""

from advrl.core.threads import sleep_idle_threads

sleep_idle_threads()  # before anything imports torch: OpenMP reads it once (advrl.core.threads)

from advrl.envs import register_envs  # noqa: E402

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "register_envs"]
