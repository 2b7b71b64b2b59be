"""Static types: mypy, configured in pyproject.toml, finds no error in the package."""

import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow  # about 30 s on 2 cores
def test_mypy_finds_no_error():
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
