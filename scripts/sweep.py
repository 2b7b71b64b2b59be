#!/usr/bin/env python
"""Sweep seeds and hyperparameters on Ray Tune: ``python scripts/sweep.py --env CartPole-v1
--algo ppo --seeds 10``."""

import sys

from advrl.cli.sweep import sweep_main

if __name__ == "__main__":
    sys.exit(sweep_main())
