#!/usr/bin/env python
"""Record expert demonstrations: ``python scripts/record_demos.py CHECKPOINT --episodes 10
--out demos.npz`` (for ``train_agent.py --reward gail --demos demos.npz``)."""

import sys

from advrl.cli.record_demos import record_demos_main

if __name__ == "__main__":
    sys.exit(record_demos_main())
