#!/usr/bin/env python
"""Evaluate a checkpoint: ``python scripts/evaluate.py runs/<run>/checkpoints/final.pt``."""

import sys

from advrl.cli.evaluate import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
