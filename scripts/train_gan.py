#!/usr/bin/env python
"""Train a DCGAN on images: ``python scripts/train_gan.py`` (scikit-learn's 8x8 digits)."""

import sys

from advrl.cli.train_gan import train_gan_main

if __name__ == "__main__":
    sys.exit(train_gan_main())
