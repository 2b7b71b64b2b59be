#!/usr/bin/env python
"""Train an agent: ``python scripts/train_agent.py --env GridWorld-v0 --algo reinforce``."""

import sys

from advrl.cli.train_agent import train_main

if __name__ == "__main__":
    sys.exit(train_main())
