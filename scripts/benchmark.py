#!/usr/bin/env python
"""Benchmark advrl against its references: ``python scripts/benchmark.py --suite ppo``."""

import sys

from advrl.cli.benchmark import benchmark_main

if __name__ == "__main__":
    sys.exit(benchmark_main())
