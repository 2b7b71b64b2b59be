"""Device resolution: ``auto`` picks CUDA when torch sees it; asking for CUDA without it is
a UserError that names the fix."""

from __future__ import annotations

import torch

from advrl.errors import UserError


def resolve_device(name: str, flag: str = "--device") -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` as a ``torch.device``; ``flag`` names the
    option in the message (``--device``, or an env option such as SeqGAN-v0's ``device``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(
            f"{flag} {name} asked for, but torch sees no CUDA device; use {flag} cpu or auto"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise UserError(f"{flag} must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)
