#!/usr/bin/env python
"""Benchmark advrl against its references: ``python scripts/benchmark.py --suite ppo``."""

import sys

# torch before advrl: SB3 trains in this process too, and must see OpenMP's default wait
# policy, as its users do; advrl would otherwise ask idle OpenMP threads to sleep, which
# OpenMP reads once, when torch loads (advrl.core.threads). advrl's MLP runs take one
# thread, which no wait policy touches; where both libraries take every core (Atari),
# both wait alike.
import torch  # noqa: F401  (imported for its side effect on the OpenMP runtime)

from advrl.cli.benchmark import benchmark_main

if __name__ == "__main__":
    sys.exit(benchmark_main())
